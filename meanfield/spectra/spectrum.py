"""The spectrum of J J^T for a deep random network at its fixed point: :class:`JacobianSpectrum`.

Built on :mod:`meanfield.spectra.freeprob`.  Conventions (docs/conventions.md §4-5): J = D^L W^L ... D^1 W^1 with every
pre-activation at q*, lambda = eigenvalue of J J^T (a squared singular value), mean chi_1^L.

- one orthogonal layer (L = 1): lambda = sigma_w^2 d exactly, so pdf, cdf, atoms and support come
  from the law of d itself, inverted on the monotone pieces of phi'(sqrt(q) g)^2
  (:mod:`meanfield.spectra.derivative_law`): exact, also where the density of d is singular inside its
  support (silu, gelu, x erf x) and for kinked phi (selu, elu, leaky relu);
- ``pdf``: the density of the absolutely continuous part (known atoms subtracted from G first);
- ``atoms``: from rank arguments (docs/conventions.md §5; Bercovici-Voiculescu): an atom of d at 0
  (relu, hard-tanh) of mass m gives mass m at 0; for orthogonal weights an atom of d at v > 0 of mass
  m gives mass max(0, 1 - L(1 - m)) at (sigma_w^2 v)^L (linear orthogonal: everything);
- accuracy for smooth activations: the contour quadrature of the law of D^2 uses ``n_nodes`` = 400
  Gauss-Legendre nodes (graded towards g = 0); densities agree with 1600 nodes to ~1e-7 relative
  (tanh, erf; tests/meanfield/test_freeprob_general.py checks 1e-6 against the exact L = 1 law);
- ``cdf``: atoms plus the continuous part integrated from the top edge down (deep spectra hold most
  of their mass near 0, rho ~ lambda^(1/L - 1)): Gauss-Legendre panels in a square-root variable on
  [0.02, 1] lambda_max and in log lambda on [1e-30, 0.02] lambda_max (1e-30: the float64 resolution
  of a sampled product); below 1e-30 lambda_max the remaining continuous mass follows the power law
  that matches the density and the mass there.
  For L >= 2 or Gaussian weights the free convolution smooths the singularities of the law of d,
  and the panels agree with adaptive quadrature of the density to ~1e-8 (silu, gelu, x erf x);
- ``mean``, ``var``, ``moment(k)``: closed forms from the S-transform series;
- ``support()``: (0, lambda_max) with lambda_max the largest point of the support, atoms included;
- ``ppf`` (the smallest lambda with cdf >= p, atoms included), ``isf`` (the smallest lambda with sf <= q,
  solved on the survival function itself, accurate near the top edge) and ``rvs`` by inversion;
- a law of lambda with scipy.stats' method names (:class:`meanfield.laws.Law`): ``logpdf``, ``logcdf``,
  ``sf``, ``logsf``, ``median``, ``interval``, ``stats``, ``skew``, ``kurtosis`` (Fisher by default),
  ``expect`` and ``rvs(size, random_state=...)`` are derived from the above; ``sf`` is the continuous mass
  above lambda read off the same panels (no 1 - cdf cancellation near the top edge).
"""
from __future__ import annotations

from functools import cached_property

import numpy as np
from numpy.polynomial import legendre
from scipy.optimize.elementwise import find_root

from .. import validation as check
from ..activations import activation
from ..errors import DivergentFixedPointError, ParameterError
from ..laws import Law, _quad
from ..maps import fixed_point
from .derivative_law import derivative_law
from ..trajectory import layer_parameters, trajectory
from .freeprob import WEIGHTS, BernoulliLayersSolver, SpectrumSolver, d2_law, spectrum_moments
from .layers import LayeredSolver, LayerLaw, group_layers, layered_moments, zero_atom

__all__ = ["JacobianSpectrum", "jacobian_spectrum"]

MAX_LAYER_LAWS = 5000  # distinct laws of D^2 in one layered spectrum (memory and time grow like their number)
_FLOOR = 1e-30  # relative to lambda_max (the float64 resolution of a sampled product): below it the
#                cdf continues the density as the power law that matches it and the mass at the floor
_SPLIT = 0.02
_PANEL_NODES = 8
_TOP_PANELS, _LOW_PANELS = 40, 56
_BELOW_FLOOR = 1e-6  # continuous mass below the floor that the panels determine (their error: ~1e-10)


class JacobianSpectrum(Law):
    """Spectrum of J J^T at depth L (free probability), a law of lambda.  See the module docstring.

    The law answers scipy.stats' questions (:class:`meanfield.laws.Law`): ``pdf`` is the density of the
    absolutely continuous part, ``cdf`` and ``sf`` count the atoms, listed in ``atoms`` (``atom``: the mass
    at 0); moments come from the S-transform series, up to order 8.

    ``kind`` says which spectrum this is: "fixed point" (every layer at q*: the deep limit, or at the one
    variance ``q`` given), "trajectory" (layer l at q^l from the input's q0, with per-layer variances,
    ensembles and widths where given) or "given variances" (layer l at ``q[l - 1]``); ``q_layers`` holds
    the variance every layer's D_l is taken at.  A layered spectrum takes at most ``MAX_LAYER_LAWS``
    distinct variances.
    """

    def __init__(self, act, sigma_w2, sigma_b2, depth, weights="orthogonal", q=None, n_nodes=None, q0=None,
                 widths=None):
        self.act = activation(act)
        self.depth = check.depth(depth)
        L = self.depth
        sw2 = layer_parameters("sigma_w2", sigma_w2, L)
        if np.any(sw2 <= 0):
            raise ParameterError(f"sigma_w2 must be > 0 for a Jacobian spectrum, got {check.shown(sigma_w2)}")
        sb2 = layer_parameters("sigma_b2", sigma_b2, L)
        kinds = [weights] * L if isinstance(weights, str) else list(weights)
        if len(kinds) != L or any(k not in WEIGHTS for k in kinds):
            raise ParameterError(
                f"weights must be one of {WEIGHTS} or a sequence of {L} of them, got {check.shown(weights)}"
            )
        self.widths = None if widths is None else check.widths(widths)
        if self.widths is not None and len(self.widths) != L + 1:
            raise ParameterError(f"widths must list n_0, ..., n_L ({L + 1} numbers), got {len(self.widths)}")
        square = self.widths is None or len(set(self.widths)) == 1
        uniform_params = bool(np.all(sw2 == sw2[0]) and np.all(sb2 == sb2[0]) and len(set(kinds)) == 1)
        self.sigma_w2, self.sigma_b2, self.weights = float(sw2[0]), float(sb2[0]), kinds[0]
        if q0 is not None:
            if q is not None:
                raise ParameterError("give q (one variance for every layer) or q0 (the input's |x|^2/n_0), not both")
            self.q0 = check.nonnegative("q0", q0, scalar=True)
            self.q_layers = trajectory(self.act, sw2, sb2, L, self.q0).q
            self.kind = "trajectory"
        else:
            if not uniform_params and q is None:
                raise ParameterError(
                    "sigma_w2, sigma_b2 or weights differ between layers: give q0 (the input's |x^0|^2/n_0) to "
                    "follow the trajectory; a fixed point q* exists only for identical layers"
                )
            self.q0 = None
            if q is None:
                self.q_layers, self.kind = np.full(L, self._fixed_point()), "fixed point"
            else:
                given = check.nonnegative("q", q)
                self.q_layers = layer_parameters("q", given, L)
                self.kind = "fixed point" if given.ndim == 0 else "given variances"
        self.q = float(self.q_layers[-1])
        distinct_q = np.unique(self.q_layers)
        if distinct_q.size > MAX_LAYER_LAWS:
            raise ParameterError(
                f"the layers sit at {distinct_q.size} distinct variances q^l (depth {L}); a layered spectrum takes at "
                f"most {MAX_LAYER_LAWS} (its cost grows like their number, ~30 ms each for the edge): use a smaller "
                "depth, or the fixed-point spectrum (no q0) for the deep limit"
            )
        self._uniform = uniform_params and square and distinct_q.size == 1
        # contour nodes per law of D^2: 400 for one law; 200 per layer law when the layers differ (each
        # costs a quadrature at every Newton step; 200 and 400 nodes agree to ~1e-10 on tanh/erf trajectories)
        n_nodes = (400 if self._uniform else 200) if n_nodes is None else check.positive_int("n_nodes", n_nodes, 8)
        self._n_nodes = n_nodes
        laws = {float(v): d2_law(self.act, float(v), n_nodes) for v in distinct_q}
        self.law = laws[self.q] if self._uniform else None
        widths_ = self.widths or [1] * (L + 1)
        self._layers = group_layers([
            LayerLaw(laws[float(self.q_layers[l])], float(sw2[l]), kinds[l], widths_[l], widths_[l + 1])
            for l in range(L)
        ])
        # one orthogonal layer: lambda = sigma_w^2 d exactly, so its law is that of d, scaled
        exact = self._uniform and L == 1 and self.weights == "orthogonal" and self.q > 0
        self._one_layer = derivative_law(self.act, self.q) if exact else None
        if not exact:
            self._solver  # built now, so that an unsupported law fails at construction

    def _check_scale(self) -> None:
        """Densities, cdf and support need lambda in double precision: refuse a spectrum whose mean
        prod chi_1^l is beyond 1e+-290 (its moments and the isometry verdict still work, in logs)."""
        if self.law is None and not hasattr(self, "_layers"):
            return
        groups = self._layers if hasattr(self, "_layers") else []
        log_mean = sum(g.count * np.log10(g.sigma_w2 * g.law.mu(1)) for g in groups if g.law.mu(1) > 0)
        if not -290 <= log_mean <= 290:
            raise ParameterError(
                f"the spectrum of J J^T lives at the scale E[lambda] = prod chi_1^l = 1e{log_mean:.0f} (sigma_w2 = "
                f"{self.sigma_w2!r}, depth {self.depth}), outside double precision; choose sigma_w2 nearer the "
                "edge of chaos or a smaller depth"
            )

    @property
    def description(self) -> str:
        """Which spectrum this is, in words."""
        if self.kind == "trajectory":
            return (f"along the trajectory from q0 = {self.q0:.6g} (q^1 = {self.q_layers[0]:.6g}, "
                    f"q^L = {self.q_layers[-1]:.6g})")
        if self.kind == "given variances":
            return f"with layer l at the given q^l (q^1 = {self.q_layers[0]:.6g}, q^L = {self.q_layers[-1]:.6g})"
        return f"at the fixed point q* = {self.q:.6g} (every layer; the deep limit)"

    @classmethod
    def bernoulli_layers(cls, p, sigma_w2, weights="orthogonal") -> "JacobianSpectrum":
        """The spectrum for layers with their own active fractions p_l (d in {0, 1}, P(d = 1) = p_l).

        For a fair comparison with one sampled relu or hard-tanh network, whose active fractions
        fluctuate by sqrt(p(1-p)/N) around p: pass the sampled fractions
        (``meanfield.simulate.conditioned_bernoulli_p(samples)[k]``).  Atoms: 1 - min p_l at 0, and
        for orthogonal weights max(0, 1 - sum_l (1 - p_l)) at sigma_w^(2L).
        """
        p = np.atleast_1d(check.real_array("p", p)).astype(float)
        if p.ndim != 1 or p.size == 0 or np.any((p <= 0) | (p > 1)):
            raise ParameterError(f"p must be a non-empty 1-D array of active fractions in (0, 1], got {p!r}")
        if weights not in WEIGHTS:
            raise ParameterError(f"weights must be one of {WEIGHTS}, got {weights!r}")
        self = cls.__new__(cls)
        self.act, self.law, self.q, self.sigma_b2 = None, None, float("nan"), float("nan")
        self.sigma_w2 = check.positive("sigma_w2", sigma_w2, scalar=True)
        self.depth, self.weights, self._one_layer = p.size, weights, None
        self.kind, self.q0, self.q_layers, self.widths, self._uniform = "sampled layers", None, None, None, False
        self._solver = BernoulliLayersSolver(p, self.sigma_w2, weights)
        self.__dict__["_moments"] = spectrum_moments([np.full(12, pl) for pl in p], self.sigma_w2, p.size, weights)
        atoms = [(0.0, 1.0 - p.min())] if p.min() < 1 else []
        top = max(0.0, 1.0 - np.sum(1.0 - p))
        if weights == "orthogonal" and top > 0:
            atoms.append((self.sigma_w2**p.size, top))
        self.__dict__["atoms"] = atoms
        return self

    @property
    def label(self) -> str:
        """A short description for plots."""
        name = self.act.name if self.act is not None else "Bernoulli layers"
        where = "" if self.kind != "trajectory" else f", from q0 = {self.q0:.3g}"
        return f"{name}, {self.weights}, L = {self.depth}{where}"

    def _fixed_point(self) -> float:
        """q*; for linear and (leaky) relu the law of D^2 does not depend on q, so a divergent
        variance map (sigma_w^2 above the edge) still has a well-defined Jacobian spectrum (q = 1)."""
        try:
            return float(fixed_point(self.act, self.sigma_w2, self.sigma_b2))
        except DivergentFixedPointError:
            if self.act.family in ("linear", "relu"):
                return 1.0
            raise

    @cached_property
    def _solver(self):
        """The free-probability solver (continuation from far above the spectrum): one law for identical
        square layers at one q, else the layered solver (:mod:`meanfield.spectra.layers`)."""
        small = max(50, self._n_nodes // 4)
        if self._uniform:
            coarse = d2_law(self.act, self.q, small)
            return SpectrumSolver(self.law, self.sigma_w2, self.depth, self.weights, coarse)
        coarse = [d2_law(self.act, g.law.q, small) for g in self._layers]
        return LayeredSolver(self._layers, (self.widths or [1])[-1], coarse)

    # ---- closed forms --------------------------------------------------------------------------
    @cached_property
    def _moments(self) -> np.ndarray:
        if self._uniform:
            return spectrum_moments(self.law, self.sigma_w2, self.depth, self.weights, k_max=8)
        return layered_moments(self._layers, (self.widths or [1])[-1], k_max=8)

    def _moment(self, k: int) -> float:
        """E[lambda^k] (atoms included), k = 0..8, from the S-transform series (E[lambda] = chi_1^L)."""
        if k == 0:
            return 1.0
        if k > len(self._moments):
            raise ParameterError(f"moment order must be between 0 and {len(self._moments)}, got {k}")
        return float(self._moments[k - 1])

    @cached_property
    def atoms(self) -> list[tuple[float, float]]:
        """[(location, mass), ...] from rank arguments (Bercovici-Voiculescu for free products).

        An atom of d at 0 of mass m stays an atom of lambda at 0 of mass m (rank of D); for
        orthogonal weights an atom of d at v > 0 of mass m gives mass max(0, 1 - L (1 - m)) at
        (sigma_w^2 v)^L (atoms of mu ⊠ nu need mu({a}) + nu({b}) > 1).  Gaussian weights (W^T W
        without atoms) leave only the atom at 0.  One orthogonal layer: the atoms of d, scaled.
        """
        if self._one_layer is not None:
            return [(self.sigma_w2 * v, m) for v, m in self._one_layer.atoms]
        if not self._uniform:
            return self._layered_atoms()
        out = []
        for v, m in self.law.atoms:
            if v == 0.0:
                out.append((0.0, m))
            elif self.weights == "orthogonal" and 1.0 - self.depth * (1.0 - m) > 0:
                out.append(((self.sigma_w2 * v) ** self.depth, 1.0 - self.depth * (1.0 - m)))
        return out

    def _layered_atoms(self) -> list[tuple[float, float]]:
        """Rank (docs/conventions.md §5): an atom at 0 of mass 1 - rank(J)/n_L.  Square orthogonal layers whose
        laws of d have an atom v_l > 0 of mass m_l add an atom of mass 1 - sum_l (1 - m_l) at prod sigma_l^2 v_l
        (Bercovici-Voiculescu, as for identical layers)."""
        widths = self.widths or [1] * (self.depth + 1)
        out = []
        zero = zero_atom(self._layers, widths[0], widths[-1])
        if zero > 0:
            out.append((0.0, zero))
        square = len(set(widths)) == 1
        if square and all(g.weights == "orthogonal" for g in self._layers):
            tops = [max(((v, m) for v, m in g.law.atoms if v > 0), key=lambda a: a[1], default=None) for g in self._layers]
            if all(t is not None for t in tops):
                mass = 1.0 - sum(g.count * (1.0 - t[1]) for g, t in zip(self._layers, tops))
                if mass > 0:
                    out.append((float(np.prod([(g.sigma_w2 * t[0]) ** g.count for g, t in zip(self._layers, tops)])), mass))
        return out

    @cached_property
    def _continuous_edge(self) -> float:
        """Top of the absolutely continuous part (below a top atom when there is a gap)."""
        if self._one_layer is not None:
            law = self._one_layer
            return self.sigma_w2 * law.continuous_top if law.continuous_top is not None else float("nan")
        return self._solver.upper_edge()

    @cached_property
    def _top(self) -> float:
        edge = self._continuous_edge
        atom_tops = [loc for loc, mass in self.atoms if mass > 0]
        if np.isnan(edge):
            return max(atom_tops) if atom_tops else float("nan")
        return max([edge] + atom_tops)

    def support(self) -> tuple[float, float]:
        """(0, lambda_max): the largest point of the support (continuous edge or atom)."""
        self._check_scale()
        return 0.0, self._top

    # ---- density ---------------------------------------------------------------------------------
    def _pdf(self, flat: np.ndarray) -> np.ndarray:
        """Density of the absolutely continuous part of the law of lambda (flat array); below the cdf's floor
        (1e-30 lambda_max) the power law that the cdf follows there."""
        out = self._solved_pdf(flat)
        if self._one_layer is not None or self.continuous_mass <= 1e-15:
            return out
        # the panels (built once, on demand) know where the floor is
        table = self._cdf_table if np.any((flat > 0) & (flat < _FLOOR * self._density_top)) or "_cdf_table" in \
            self.__dict__ else None
        if table is not None:
            floor, under, beta = table[3:]
            tiny = (flat > 0) & (flat < floor)
            out[tiny] = under * beta * flat[tiny] ** (beta - 1) / floor**beta
        return out

    def _solved_pdf(self, flat: np.ndarray) -> np.ndarray:
        """The density from the exact one-layer law or the free-probability solver."""
        self._check_scale()
        if self.continuous_mass <= 1e-15:
            return np.zeros(flat.shape)
        if self._one_layer is not None:
            return self._one_layer.pdf(flat / self.sigma_w2) / self.sigma_w2
        return self._free_pdf(flat)

    def _free_pdf(self, flat: np.ndarray) -> np.ndarray:
        """-Im G(lambda + i0)/pi from the free-probability solver, atoms' poles subtracted (1-D)."""
        out = np.zeros(flat.shape)
        hi = self._continuous_edge if np.isfinite(self._continuous_edge) else self._top
        live = (flat > 0) & (flat < hi * (1 + 1e-12))
        if np.any(live):
            x = flat[live]
            scale = max(self.mean(), np.sqrt(max(self.moment(2), 0.0)))
            # the final height: small against x, the scale, and the distance to any atom (whose
            # pole is subtracted below; a height comparable to that distance would smear it)
            near = np.full(x.shape, scale)
            for loc, _ in self.atoms:
                if loc > 0:
                    near = np.minimum(near, np.abs(x - loc))
            y_end = 1e-9 * np.minimum(np.minimum(x, scale), np.maximum(near, 1e-6 * x))
            G = self._solver.green(x, scale, y_end)
            z = x + 1j * y_end
            for loc, mass in self.atoms:
                G = G - mass / (z - loc)
            out[live] = np.maximum(-G.imag / np.pi, 0.0)
        return out

    def singular_value_pdf(self, s) -> np.ndarray:
        """Density of the singular values s = sqrt(lambda): 2 s pdf(s^2)."""
        s = np.asarray(check.real_array("s", s), dtype=float)
        return np.where(s > 0, 2 * s * self.pdf(s * s), 0.0)

    # ---- cdf ---------------------------------------------------------------------------------
    @cached_property
    def _density_top(self) -> float:
        """The top of the absolutely continuous part (the support's top when that is an atom's place only
        in the absence of a finite continuous edge)."""
        edge = self._continuous_edge
        return edge if np.isfinite(edge) else self._top

    @cached_property
    def _cdf_table(self):
        """Panels (in the integration variables) with Legendre coefficients of the integrand; the square-
        root variable ends at the top of the continuous part (an inverse-square-root edge there), not at
        an atom above it."""
        hi = self._density_top
        if not np.isfinite(hi) or self.continuous_mass <= 1e-15:
            return None
        xs = _SPLIT * hi
        t, w = legendre.leggauss(_PANEL_NODES)
        # top piece: x = hi - (hi - xs)(1 - u)^2, u in [0, 1]; bottom: x = exp(s)
        u_edges = np.linspace(0.0, 1.0, _TOP_PANELS + 1)
        s_edges = np.linspace(np.log(_FLOOR * hi), np.log(xs), _LOW_PANELS + 1)
        for x0 in self._singular_points:  # panels graded geometrically towards each of them
            if xs < x0 < hi:
                u_edges = _graded(u_edges, 1 - np.sqrt((hi - x0) / (hi - xs)))
            elif _FLOOR * hi < x0 <= xs:
                s_edges = _graded(s_edges, np.log(x0))
        pieces = []
        for edges, kind in ((s_edges, "log"), (u_edges, "sqrt")):
            mid, half = (edges[:-1] + edges[1:]) / 2, np.diff(edges) / 2
            v = mid[:, None] + half[:, None] * t
            if kind == "log":
                x, dx = np.exp(v), np.exp(v)
            else:
                x, dx = hi - (hi - xs) * (1 - v) ** 2, 2 * (hi - xs) * (1 - v)
            f = self._solved_pdf(x.ravel()).reshape(x.shape) * dx
            lost = ~np.all(np.isfinite(f), axis=1)
            if kind == "log":
                # a panel where the density vanishes although it is positive further down: the solver lost
                # the branch there (layers that differ, far below anything a float64 product resolves)
                positive_below = np.concatenate([[False], np.cumsum(np.any(f > 0, axis=1))[:-1] > 0])
                lost |= np.any(f == 0, axis=1) & positive_below
            if kind == "log" and np.any(lost):
                # the solver gave up at some tiny lambda: the panels start above the highest failure and the
                # power law takes over below
                keep = np.arange(f.shape[0]) > np.max(np.nonzero(lost)[0])
                edges, half, f = edges[np.concatenate([[False], keep]) | np.concatenate([keep, [False]])], half[keep], f[keep]
            coef = np.array([legendre.legfit(t, row, _PANEL_NODES - 1) for row in f])
            pieces.append([kind, edges, half, coef, (f * w).sum(axis=1) * half])
        floor = float(np.exp(pieces[0][1][0]))
        below, beta, scale = self._floor_law(floor, sum(piece[4].sum() for piece in pieces))
        for piece in pieces:
            piece[3], piece[4] = piece[3] * scale, piece[4] * scale
        return hi, xs, pieces, floor, below, beta

    def _floor_law(self, floor: float, panels: float) -> tuple[float, float, float]:
        """(mass below the floor, beta, scale of the panels) for F(lambda) = F(f) (lambda/f)^beta below the
        floor f.  Where the panels leave at least _BELOW_FLOOR of the continuous mass below f, that remainder
        is F(f) and beta matches the density f rho(f) (beta = 1/L for relu-like spectra, rho ~
        lambda^(1/L - 1)).  Where they leave less (or more than all), the remainder is the panels' own error
        (~1e-10): beta is then the log-slope of the density, 1 + log10(rho(10 f)/rho(f)), F(f) = f rho(f)/beta,
        and the panels are scaled to hold the rest, so that the cdf stays relatively accurate far below
        the panels' error and sums to the continuous mass."""
        mass = self.continuous_mass
        density = self._solved_pdf(np.array([floor, 10 * floor])) * np.array([floor, 10 * floor])
        if mass - panels >= _BELOW_FLOOR:
            below = mass - panels
            beta = density[0] / below if density[0] > 0 else 1.0 / self.depth
            return below, min(max(beta, 1e-3), 1.0), 1.0
        if density[0] > 0 and density[1] > 0 and np.all(np.isfinite(density)):
            beta = min(max(float(np.log10(density[1] / density[0])), 1e-3), 1.0)  # f rho(f) ~ f^beta
            below = min(density[0] / beta, _BELOW_FLOOR)
        else:
            beta, below = 1.0 / self.depth, 0.0
        return below, beta, (mass - below) / panels

    @cached_property
    def _singular_points(self) -> list[float]:
        """Where the density may have an integrable singularity: for orthogonal weights the products
        (sigma_w^2 v)^L of an atom v > 0 of d (relu, hard-tanh at L = 2: |lambda - x0|^(-1/2)); for sampled
        Bernoulli layers with one smallest active fraction, the square-root edge above the gap over the atom at 0
        (:meth:`meanfield.spectra.freeprob.BernoulliLayersSolver.lower_edge`)."""
        if self.kind == "sampled layers":
            edge = self._solver.lower_edge()
            return [edge] if edge > 0 else []
        if self.law is None or self.weights != "orthogonal" or not self._uniform:
            return []
        points = [(self.sigma_w2 * v) ** self.depth for v, _ in self.law.atoms if v > 0]
        return [x for x in points if x < self._top * (1 - 1e-9)]  # the top edge has its own variable

    def _continuous_split(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(continuous mass at or below, continuous mass above) each point, each summed from its own end of
        the panels (mass below from 0 where lambda < 0.02 lambda_max, mass above from the top edge otherwise),
        so that both stay relatively accurate in their tails."""
        mass = self.continuous_mass
        below, above = np.where(flat > 0, mass, 0.0), np.where(flat > 0, 0.0, mass)
        table = self._cdf_table
        if table is None:
            return below, above
        hi, xs, pieces, floor, under, beta = table
        (_, s_edges, s_half, s_coef, s_mass), (_, u_edges, u_half, u_coef, u_mass) = pieces
        top = (flat >= xs) & (flat < hi)
        above[top] = _integral(1 - np.sqrt((hi - flat[top]) / (hi - xs)), u_edges, u_half, u_coef, u_mass, True)
        below[top] = mass - above[top]
        low = (flat >= floor) & (flat < xs)
        below[low] = under + _integral(np.log(flat[low]), s_edges, s_half, s_coef, s_mass, False)
        tiny = (flat > 0) & (flat < floor)  # below the floor: the remaining mass as a power law lambda^beta
        below[tiny] = under * (flat[tiny] / floor) ** beta
        inside = low | tiny
        above[inside] = mass - below[inside]
        return np.clip(below, 0.0, mass), np.clip(above, 0.0, mass)

    def _cdf(self, flat: np.ndarray) -> np.ndarray:
        """P(lambda <= lam), atoms included; the continuous part from the panels."""
        self._check_scale()
        if self._one_layer is not None:
            return self._one_layer.cdf(flat / self.sigma_w2)
        out = self._continuous_split(flat)[0]
        for loc, mass in self.atoms:
            out += np.where(flat >= loc, mass, 0.0)
        return np.clip(out, 0.0, 1.0)

    def _sf(self, flat: np.ndarray) -> np.ndarray:
        """P(lambda > lam), atoms included: the continuous mass above lam summed from the top edge (accurate
        near it, where 1 - cdf cancels)."""
        self._check_scale()
        if self._one_layer is not None:
            return self._one_layer.sf(flat / self.sigma_w2)
        out = self._continuous_split(flat)[1]
        for loc, mass in self.atoms:
            out += np.where(flat < loc, mass, 0.0)
        return np.clip(out, 0.0, 1.0)

    def _expect_continuous(self, func, points: np.ndarray) -> float:
        """The integral of func(lambda) pdf(lambda) between points[0] and points[-1], on the cdf's panels: on
        each panel, adaptive quadrature (relative 1e-10) of func times the panel's Legendre interpolant of the
        density in the panel's variable (log lambda below 0.02 lambda_max, the square-root variable of the top
        edge above), and the power law below the floor in w = (lambda/floor)^beta.  So expect(1, lb, ub) is
        cdf(ub) - cdf(lb), and no quadrature point costs a free-probability solve."""
        table = self._cdf_table if self._one_layer is None else None
        if table is None:
            return super()._expect_continuous(func, points) if self._one_layer is not None else 0.0
        hi, xs, pieces, floor, under, beta = table
        a, b = max(float(points[0]), 0.0), min(float(points[-1]), hi)
        total = 0.0
        if a < floor and under > 0:  # F = under w, lambda = floor w^(1/beta)
            w = lambda x: (x / floor) ** beta  # noqa: E731
            total += under * _quad(lambda v: float(func(floor * v ** (1 / beta))), w(a), w(min(b, floor)), 1e-10)
        maps = {  # variable -> (lambda(v), v(lambda))
            "log": (np.exp, lambda x: np.log(x) if x > 0 else -np.inf),
            "sqrt": (lambda u: hi - (hi - xs) * (1 - u) ** 2, lambda x: 1 - np.sqrt(max(hi - x, 0.0) / (hi - xs))),
        }
        for kind, edges, half, coef, _ in pieces:
            to_x, to_v = maps[kind]
            v0, v1 = to_v(a), to_v(b)
            for k in np.nonzero((edges[1:] > v0) & (edges[:-1] < v1))[0]:
                mid = 0.5 * (edges[k] + edges[k + 1])
                f = lambda v, k=k, mid=mid: float(func(to_x(v))) * legendre.legval((v - mid) / half[k], coef[k])  # noqa: E731
                total += _quad(f, max(v0, edges[k]), min(v1, edges[k + 1]), 1e-10)
        return total

    def _quantile(self, level: np.ndarray, upper: bool) -> np.ndarray:
        """The smallest lambda with cdf(lambda) >= level (``upper``: sf(lambda) <= level), flat arrays.

        Inside an atom's jump the atom's location; elsewhere cdf = level (sf = level) is solved by
        Chandrupatla's method in log lambda (cdf and sf are continuous and monotone between atoms), to
        ~1e-13 relative in lambda.  Level 0 and 1 give the ends of the support.
        """
        top = self._top
        F = self._sf if upper else self._cdf
        out = np.full(level.shape, np.nan)
        out[level >= 1] = 0.0 if upper else top
        out[level <= 0] = top if upper else 0.0
        for loc, mass in sorted(self.atoms):
            at = float(F(np.array([loc]))[0])  # cdf with the atom / sf without it
            before = at - mass if not upper else at + mass
            inside = (level > before) & (level <= at) if not upper else (level >= at) & (level < before)
            out[np.isnan(out) & inside] = loc
        solve = np.isnan(out)
        if np.any(solve):
            lo = np.full(solve.sum(), np.log(1e-300 * top))
            hi = np.full(solve.sum(), np.log(top))
            res = find_root(lambda u, target: F(np.exp(u)) - target, (lo, hi), args=(level[solve],),
                            tolerances={"xatol": 1e-14, "xrtol": 4e-16})
            out[solve] = np.exp(res.x)
        return out

    def _ppf(self, p: np.ndarray) -> np.ndarray:
        return self._quantile(p, upper=False)

    def _isf(self, q: np.ndarray) -> np.ndarray:
        return self._quantile(q, upper=True)

    def mass_below(self, lam: float) -> float:
        """Continuous plus atomic mass at or below ``lam`` (the cdf), for Monte Carlo comparisons."""
        return float(self.cdf(lam))

    def plot(self, ax=None, samples=None, **kwargs):
        """Density of log10 lambda over the bulk of the law (its range from the quantiles), its atoms, and an
        optional histogram of ``samples`` (:class:`meanfield.simulate.JacobianSamples` or eigenvalues);
        ``kwargs`` (color, label, linestyle, ...) go to the curve's ``Axes.plot``; returns the Axes
        (:func:`meanfield.plotting.plot_spectrum`)."""
        from ..plotting import plot_spectrum

        return plot_spectrum(self, ax=ax, samples=samples, **kwargs)


def _graded(edges: np.ndarray, point: float, levels: int = 50) -> np.ndarray:
    """``edges`` plus edges at point -/+ h 2^-k (k = 0..levels, h = the local panel width), clipped
    to the range of ``edges``: an inverse-square-root singularity at ``point`` then leaves out a mass
    of order (h 2^-levels)^(1/2) ~ 1e-8 h^(1/2) from the Gauss-Legendre panels' reach."""
    h = float(np.max(np.diff(edges)))
    offsets = h * 0.5 ** np.arange(levels + 1)
    new = np.concatenate([edges, [point], point - offsets, point + offsets])
    new = np.unique(np.clip(new, edges[0], edges[-1]))
    return new[np.concatenate([[True], np.diff(new) > 1e-15 * max(1.0, abs(point))])]


def _integral(v, edges, half, coef, masses, upper: bool):
    """Integral of the tabulated integrand from each v to the end of the last panel (``upper``), or from the
    start of the first panel to each v, each summed from its own end (vectorized)."""
    v = np.asarray(v, dtype=float)
    k = np.clip(np.searchsorted(edges, v) - 1, 0, len(masses) - 1)
    t = (v - (edges[k] + edges[k + 1]) / 2) / half[k]
    anti = np.array([legendre.legint(c) for c in coef])  # antiderivative per panel
    vander = legendre.legvander(np.stack([np.full_like(t, 1.0 if upper else -1.0), t]), anti.shape[1] - 1)
    at_end = np.einsum("ij,ij->i", vander[0], anti[k])
    at_t = np.einsum("ij,ij->i", vander[1], anti[k])
    if upper:
        rest = np.concatenate([np.cumsum(masses[::-1])[::-1][1:], [0.0]])  # mass of the panels after k
        return (at_end - at_t) * half[k] + rest[k]
    rest = np.concatenate([[0.0], np.cumsum(masses)[:-1]])  # mass of the panels before k
    return (at_t - at_end) * half[k] + rest[k]


def jacobian_spectrum(act, sigma_w2, sigma_b2, depth, weights="orthogonal", *, q0=None, widths=None,
                      **kwargs) -> JacobianSpectrum:
    """The spectrum of J J^T of a depth-L network (see :class:`JacobianSpectrum`).

    Parameters
    ----------
    act : str, callable or Activation
    sigma_w2, sigma_b2 : float or sequence of L floats
        Weight and bias variances, per layer if sequences.
    depth : int
        Number of weight layers L.
    weights : {"orthogonal", "gaussian"} or a sequence of L of them
    q0 : float or None
        The input's second moment |x^0|^2 / n_0: then q^1 = sigma_w,1^2 q0 + sigma_b,1^2 and D_l is taken at q^l
        for l = 1..L (the network as it is at each layer; docs/conventions.md §2, §4).  None: every layer at
        the fixed point q* (the deep limit; identical layers only).
    widths : sequence of L + 1 ints or None
        [n_0, ..., n_L]: J is n_L x n_0 and its aspect ratios enter the free product (the spectrum of the
        n_L x n_L matrix J J^T, with an atom at 0 where the rank allows).  None: square layers.
    **kwargs
        ``q`` (the variance D_l is taken at: one for every layer, or a sequence of L), ``n_nodes`` (contour
        nodes of the law of D^2).
    """
    return JacobianSpectrum(act, sigma_w2, sigma_b2, depth, weights, q0=q0, widths=widths, **kwargs)
