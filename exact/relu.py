"""Exact finite-width laws of Gaussian ReLU networks (Burkholz & Dubatovka 2019; docs/conventions.md §6).

Network (docs/conventions.md §6): widths [n_0, n_1, ..., n_L]; h^l = W^l x^{l-1} + b^l, x^l = relu(h^l) for the
hidden layers l = 1..L-1 ("depth" = L - 1 hidden layers); the output is one pre-activation h^L_1;
W^l_ij ~ N(0, sigma_w^2 / n_{l-1}), b^l_i ~ N(0, sigma_b^2); the input x^0 is fixed with
|x^0|^2 = ``input_norm2`` (default n_0).

Given x^{l-1} the pre-activations of layer l are iid N(0, s_l), s_l = sigma_w^2 |x^{l-1}|^2 / n_{l-1}
+ sigma_b^2, so the squared signal is a Markov chain (R1, R2):

    |x^l|^2 = s_l chi^2_{K_l},  K_l ~ Bin(n_l, 1/2)   (chi^2_0 = 0: an atom at 0, the dead layer),
    s_{l+1} = sigma_b^2 + sigma_w^2 |x^l|^2 / n_l,     h^L_i | s_L ~ N(0, s_L).

The laws are computed by the log-grid Nystrom method (:mod:`exact.grid`) and the
moments by the exact recursion (:mod:`exact.moments`).  Stated accuracy (checked in the
tests by halving the grid step, by the mass balance, and against independent mpmath routes): CDFs
to ~1e-13 absolute, densities to ~1e-10 relative wherever cdf and sf exceed ~1e-15 (the continuous
part of a law is resolved relative to its own mass, also for nets that are almost surely dead).

Parameter sharing (looks-linear; Balduzzi et al. 2017, Burkholz & Dubatovka 2019; docs/conventions.md §7):
physical weights [[W0, -W0], [-W0, W0]] (first layer [W0; -W0], last [W0, -W0]), biases [b0, -b0]
(last layer b0), W0 ~ N(0, sigma_w^2 / n_{l-1}).  Then z^l = x^l_top - x^l_bottom = W0 z^{l-1} + b0
exactly and |x^l|^2 = |z^l|^2: the same chain with K_l = n_l (no atoms).  ``widths`` are the
template's; physical hidden widths are 2 n_l.  sigma_w^2 = 1 is the critical (norm-preserving) choice
here, the analogue of He's 2.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from scipy.special import gammaln, ndtri

import meanfield as mf
from meanfield import simulate as mfsim
from meanfield import validation as check
from meanfield.errors import ParameterError
from meanfield.init import looks_linear_layers
from meanfield.progress import progress_bar

from .distributions import PositiveLaw, ScaleMixtureLaw
from .grid import TAIL_MASS, LogGammaMixture, SourcePoints, grid_step
from .moments import log_moments_chain

__all__ = ["ReLUNetwork", "NetworkSample", "NetworkSummary"]

#: orders of the exact moments used for the Markov bounds of the grids' upper ends
_MARKOV_ORDERS = 64
#: largest dense Nystrom matrix kept for reuse (sigma_b^2 > 0), 128 MB
_DENSE_ELEMENTS = 16_000_000
#: elements per stacked weight array in Monte Carlo batches (~32 MB of float64)
_MC_ELEMENTS = 4_000_000


@dataclass
class _Layer:
    """Hidden layer l: the law of M_l = |x^l|^2 / n_l."""

    n: int
    zero: float  # P(M_l = 0)
    source: SourcePoints | None  # law of log s_l as points, pushed through the kernel of width n
    nodes: np.ndarray | None = None  # grid of log M_l
    p: np.ndarray | None = None  # density of log M_l at the nodes
    m0: int = 0  # zero bias: lattice index of the first node

    @property
    def table(self):
        """Nodes and the cumulative trapezoid CDF there (brackets for ppf)."""
        if self.nodes is None:
            return None
        h = self.nodes[1] - self.nodes[0] if self.nodes.size > 1 else 1.0
        w = h * self.p
        return self.nodes, np.cumsum(w) - 0.5 * w


class NetworkSample(dict):
    """Monte Carlo record of :meth:`ReLUNetwork.sample`; entries by key or attribute.

    Keys: ``"preactivation_variance"`` (n_networks, L): s^l of each network (s^1 is deterministic);
    ``"squared_norm"`` (n_networks, L-1): |x^l|^2 of the hidden layers (physical, with sharing);
    ``"output"`` (n_networks,): h^L_1.
    """

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass(frozen=True)
class NetworkSummary:
    """Per-layer numbers of :meth:`ReLUNetwork.summary` (index l - 1 is layer l = 1..L).

    Attributes
    ----------
    q : mean-field q^l.
    mean, median, q05, q95 : exact mean (= q^l), median and 5 % / 95 % quantiles of s^l.
    dead : probability that some hidden layer below l had no active unit (the signal reaching layer l
        no longer depends on the input; with sigma_b^2 = 0 then s^l = 0).
    kurtosis : kurtosis of one pre-activation h^l_i, 3 E[(s^l)^2] / E[s^l]^2 (3 in mean field).
    output_ks_mean_field : KS distance sup |F_f - Phi(. / sqrt(q^L))| between the exact output law
        and the mean-field Gaussian, on a grid of quantiles.
    text : readable statement of the finite-width effects.
    """

    layers: np.ndarray
    q: np.ndarray
    mean: np.ndarray
    median: np.ndarray
    q05: np.ndarray
    q95: np.ndarray
    dead: np.ndarray
    kurtosis: np.ndarray
    output_ks_mean_field: float
    text: str = field(repr=False)

    def __str__(self) -> str:
        return self.text


class ReLUNetwork:
    """Exact layer-by-layer laws of a Gaussian ReLU network at initialization.

    Parameters
    ----------
    widths : sequence of int
        [n_0, n_1, ..., n_L], at least two entries, each >= 1 (with sharing: the template's widths).
    sigma_w2, sigma_b2 : float
        Weight and bias variances (>= 0); W_ij ~ N(0, sigma_w2 / fan_in).
    input_norm2 : float or None
        |x^0|^2 (>= 0); None means n_0 (inputs of mean square 1).
    parameter_sharing : bool
        The looks-linear initialization (see the module docstring).

    Notes
    -----
    Laws (each a :class:`~exact.distributions.Law`): :meth:`preactivation_variance` (s^l, l = 1..L),
    :meth:`squared_norm` (|x^l|^2, l = 1..L-1), :meth:`output` (h^L_1).  Layers are 1-based.
    The grids are built in the constructor; laws are views on them.
    """

    def __init__(
        self,
        widths: Sequence[int],
        sigma_w2: float = 2.0,
        sigma_b2: float = 0.0,
        input_norm2: float | None = None,
        parameter_sharing: bool = False,
    ):
        widths = check.widths(widths)
        if not isinstance(parameter_sharing, (bool, np.bool_)):
            raise ParameterError(f"parameter_sharing must be True or False, got {parameter_sharing!r}")
        self.widths = widths
        self.sigma_w2 = _scalar("sigma_w2", sigma_w2)
        self.sigma_b2 = _scalar("sigma_b2", sigma_b2)
        self.input_norm2 = float(widths[0]) if input_norm2 is None else _scalar("input_norm2", input_norm2)
        self.parameter_sharing = bool(parameter_sharing)
        self.depth = len(widths) - 1
        self.s1 = self.sigma_w2 * self.input_norm2 / widths[0] + self.sigma_b2
        hidden = widths[1:-1]
        self._h = grid_step(hidden or [1], self.parameter_sharing)
        self._kernels = {n: LogGammaMixture(n, self.parameter_sharing, self._h) for n in set(hidden)}
        self._log_s = self._log_m = None
        self._moments(_MARKOV_ORDERS)
        self._layers: list[_Layer] = []
        self._build()

    # ------------------------------------------------------------------------------------------
    # exact moments (R4)
    # ------------------------------------------------------------------------------------------
    def _moments(self, jmax: int):
        if self._log_s is None or self._log_s.shape[1] <= jmax:
            self._log_s, self._log_m = log_moments_chain(
                self.widths, self.sigma_w2, self.sigma_b2, self.s1, max(jmax, 8), self.parameter_sharing
            )
        return self._log_s, self._log_m

    def _log_moment_s(self, l: int):
        return lambda k: self._moments(k)[0][l - 1, k]

    def _log_moment_y(self, l: int):
        return lambda k: k * np.log(self.widths[l]) + self._moments(k)[1][l - 1, k]

    def _log_moment_f(self, k: int) -> float:
        if k % 2:
            return -np.inf
        j = k // 2
        log_double_factorial = j * np.log(2.0) + gammaln(j + 0.5) - 0.5 * np.log(np.pi)  # (2j-1)!!
        return log_double_factorial + self._moments(j)[0][self.depth - 1, j]

    # ------------------------------------------------------------------------------------------
    # grids (method A)
    # ------------------------------------------------------------------------------------------
    def _death(self, n: int) -> float:
        """P(K = 0) for a layer of width n."""
        return 0.0 if self.parameter_sharing else float(2.0**-n)

    def _s_points(self, l: int):
        """Law of s_l as (P(s_l = 0), points psi = log s, weights)."""
        if l == 1:
            return (0.0, np.array([np.log(self.s1)]), np.ones(1)) if self.s1 > 0 else (1.0, np.empty(0), np.empty(0))
        prev = self._layers[l - 2]
        sb2, sw2 = self.sigma_b2, self.sigma_w2
        if sb2 > 0 and (sw2 == 0 or prev.source is None):
            return 0.0, np.array([np.log(sb2)]), np.ones(1)
        if sb2 == 0 and (sw2 == 0 or prev.source is None):
            return 1.0, np.empty(0), np.empty(0)
        w = self._h * prev.p
        psi = np.logaddexp(np.log(sb2), np.log(sw2) + prev.nodes) if sb2 > 0 else np.log(sw2) + prev.nodes
        if sb2 > 0:
            return 0.0, np.concatenate([[np.log(sb2)], psi]), np.concatenate([[prev.zero], w])
        return prev.zero, psi, w

    def _ranges(self) -> tuple[np.ndarray, np.ndarray]:
        """Grid ends of log M_l (l = 1..L-1) cutting < TAIL_MASS at each end.

        The cut is TAIL_MASS times P(M_l > 0), so that the continuous part keeps its relative accuracy.
        Top: Markov, P(M > x) <= E[M^k] / x^k with the exact moments, k <= 64.  Bottom: Chernoff,
        P(0 < M < x) <= x^t E[M^-t; M > 0], with E[s_{l+1}^-t] <= min(sb2^-t, P(M_l = 0) sb2^-t +
        sw2^-t E[M_l^-t; M_l > 0]) (s >= max(sb2, sw2 M)) and E[M^-t; M > 0] = E[s^-t] E[G^-t; K >= kmin]
        for the kernel as truncated (exact for sigma_b^2 = 0).
        """
        log_s, log_m = self._moments(_MARKOV_ORDERS)
        hidden = self.widths[1:-1]
        # relative to the continuous mass P(M_l > 0) >= prod_{j<=l} (1 - 2^-n_j): conditional accuracy
        # also for nets that are almost surely dead
        log_eps = np.log(TAIL_MASS) + np.cumsum([np.log1p(-self._death(n)) for n in hidden])
        k = np.arange(1, _MARKOV_ORDERS + 1)
        with np.errstate(invalid="ignore"):
            hi = np.min((log_m[:, 1:] - log_eps[:, None]) / k, axis=1)
        t_max = max(self._kernels[n].kmin for n in hidden) / 2.0
        t = np.concatenate([np.geomspace(0.01, 0.45, 12), np.linspace(0.5, 0.995, 12) * t_max])
        log_sb2 = np.log(self.sigma_b2) if self.sigma_b2 > 0 else np.inf
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            log_sw2 = np.log(self.sigma_w2)
            log_n = -t * np.log(self.s1)  # log E[s_1^-t]
            lo = np.empty(len(hidden))
            for i, n in enumerate(hidden):
                log_mneg = log_n + self._kernels[n].negative_moment(t)
                bound = (log_eps[i] - log_mneg) / t
                lo[i] = np.max(np.where(np.isfinite(bound), bound, -np.inf))
                via_m = -t * log_sw2 + log_mneg
                if self.sigma_b2 > 0:
                    revived = np.log(self._death(n)) - t * log_sb2 if self._death(n) > 0 else -np.inf
                    log_n = np.minimum(-t * log_sb2, np.logaddexp(revived, via_m))
                else:
                    log_n = via_m
        return lo, hi

    def _build(self):
        hidden = self.widths[1:-1]
        if not hidden:
            return
        lo, hi = self._ranges()
        h = self._h
        sb2, sw2 = self.sigma_b2, self.sigma_w2
        if sb2 > 0:  # one common grid, a Nystrom matrix per distinct width
            start = np.floor(np.nanmin(lo) / h) * h
            nodes = start + h * np.arange(int(np.ceil((np.nanmax(hi) - start) / h)) + 1)
            psi_nodes = np.logaddexp(np.log(sb2), np.log(sw2) + nodes) if sw2 > 0 else None
            matrices = {}
            last_use = {n: l for l, n in enumerate(hidden, start=1)}
            uses = {n: hidden[1:].count(n) for n in set(hidden)}
        for l, n in enumerate(hidden, start=1):
            kernel = self._kernels[n]
            zero_s, psi, w = self._s_points(l)
            zero = zero_s + (1.0 - zero_s) * self._death(n)
            if psi.size == 0:
                self._layers.append(_Layer(n, zero, None))
                continue
            source = SourcePoints(kernel, psi, w)
            if sb2 > 0:
                prev = self._layers[-1] if l > 1 else None
                if l == 1 or sw2 == 0 or prev.source is None:  # a single source point
                    p = kernel.pdf(nodes - psi[0]) * w[0]
                elif uses[n] > 1 and nodes.size**2 <= _DENSE_ELEMENTS:
                    if n not in matrices:
                        matrices[n] = kernel.matrix(nodes, psi_nodes)
                    p = matrices[n] @ (h * prev.p) + prev.zero * kernel.pdf(nodes - np.log(sb2))
                    if last_use[n] == l:
                        del matrices[n]  # dense M x M: keep only the matrices still needed
                else:  # used once, or too large to store: the same Nystrom sum, evaluated directly
                    p = source.density(nodes)
                self._layers.append(_Layer(n, zero, source, nodes, p))
            else:  # zero bias: lattice log M_l = log s_1 + (l-1) log sigma_w^2 + m h, Toeplitz kernel
                base = np.log(self.s1) + (l - 1) * np.log(sw2)
                m_lo = int(np.floor((lo[l - 1] - base) / h))
                m_hi = int(np.ceil((hi[l - 1] - base) / h))
                k0, gvec = kernel.lattice(h)
                if l == 1:
                    m0, p = k0, gvec
                else:
                    prev = self._layers[-1]
                    m0 = prev.m0 + k0
                    p = h * np.convolve(prev.p, gvec)
                a, b = max(m_lo, m0), min(m_hi, m0 + p.size - 1)
                p = p[a - m0 : b - m0 + 1]
                self._layers.append(_Layer(n, zero, source, base + h * np.arange(a, b + 1), p, a))

    # ------------------------------------------------------------------------------------------
    # laws
    # ------------------------------------------------------------------------------------------
    def _layer_index(self, l, last: int, what: str) -> int:
        l = check.positive_int("l", l)
        if l > last:
            raise ParameterError(
                f"l must be a layer number 1..{last} for {what} of a network with widths {self.widths}, got {l}"
            )
        return l

    def preactivation_variance(self, l: int) -> PositiveLaw:
        """Law of s^l = sigma_w^2 |x^{l-1}|^2 / n_{l-1} + sigma_b^2, l = 1..L.

        s^1 is deterministic: a point mass, i.e. a law whose only atom is (s^1, 1) (``atom`` is its
        mass at 0, so 0 unless s^1 = 0), pdf 0, cdf a unit step at s^1.  For l >= 2 the law has an atom
        of mass P(x^{l-1} = 0) at sigma_b^2 (at 0 without bias) and a density above it.
        """
        l = self._layer_index(l, self.depth, "s^l")
        sampler = lambda rng, size: self._chain(rng, size, "s", l)  # noqa: E731
        name = f"s^{l} of {self._describe()}"
        if l == 1:
            return PositiveLaw(self.s1, 0.0, 1.0, None, None, self._log_moment_s(1), sampler, name)
        prev = self._layers[l - 2]
        return PositiveLaw(
            self.sigma_b2, self.sigma_w2, prev.zero, prev.source, prev.table, self._log_moment_s(l), sampler, name
        )

    def squared_norm(self, l: int) -> PositiveLaw:
        """Law of |x^l|^2 = s^l chi^2_{K_l}, l = 1..L-1 (atom at 0 of mass P(x^l = 0): the dead layer).

        With parameter sharing: the physical |x^l|^2 = |z^l|^2 = s^l chi^2_{n_l}, no atom.
        """
        l = self._layer_index(l, self.depth - 1, "|x^l|^2")
        layer = self._layers[l - 1]
        sampler = lambda rng, size: self._chain(rng, size, "y", l)  # noqa: E731
        return PositiveLaw(
            0.0, float(layer.n), layer.zero, layer.source, layer.table, self._log_moment_y(l), sampler,
            f"|x^{l}|^2 of {self._describe()}",
        )

    def output(self) -> ScaleMixtureLaw:
        """Law of one output unit h^L_i: N(0, s^L) mixed over the law of s^L.

        Atom at 0 of mass P(s^L = 0) (sigma_b^2 = 0 and the network died).  For sigma_b^2 = 0 the
        density is infinite at exactly 0 (pdf(0) = inf) whenever some hidden layer can have one active
        unit; it is finite for z != 0.
        """
        zero, psi, w = self._s_points(self.depth)
        can_have_one = any(n == 1 or not self.parameter_sharing for n in self.widths[1:-1])
        pdf0_inf = self.sigma_b2 == 0 and self.depth >= 2 and psi.size > 0 and can_have_one
        sampler = lambda rng, size: self._chain(rng, size, "f", self.depth)  # noqa: E731
        return ScaleMixtureLaw(zero, psi, w, pdf0_inf, self._log_moment_f, sampler, f"output of {self._describe()}")

    def dead_probability(self) -> float:
        """P(some hidden layer has no active unit) = 1 - prod_{l<L} (1 - 2^-n_l) (0 with sharing).

        With or without bias this is the probability that the output no longer depends on the
        input; it is 1 if the signal is identically 0 (s^1 = 0, or
        sigma_w^2 = sigma_b^2 = 0 with a hidden layer beyond the first).
        """
        if any(layer.source is None for layer in self._layers):
            return 1.0
        return abs(float(np.expm1(np.sum([np.log1p(-self._death(n)) for n in self.widths[1:-1]]))))

    def mean_field(self) -> np.ndarray:
        """Mean-field q^1..q^L: q^1 = s^1, q^{l+1} = meanfield.variance_map(relu, sigma_w2, sigma_b2, q^l)
        (linear with sharing: the template is a linear net), shape (L,).  E[s^l] = q^l exactly."""
        act = "linear" if self.parameter_sharing else "relu"
        q = [self.s1]
        for _ in range(self.depth - 1):
            q.append(float(mf.variance_map(act, self.sigma_w2, self.sigma_b2, q[-1])))
        return np.array(q)

    def _describe(self) -> str:
        share = ", parameter sharing" if self.parameter_sharing else ""
        return f"widths {self.widths}, sigma_w2={self.sigma_w2:g}, sigma_b2={self.sigma_b2:g}{share}"

    def __repr__(self) -> str:
        return f"ReLUNetwork({self._describe()}, input_norm2={self.input_norm2:g})"

    # ------------------------------------------------------------------------------------------
    # summary
    # ------------------------------------------------------------------------------------------
    def summary(self) -> NetworkSummary:
        """Per-layer mean-field q, exact mean/median/quantiles of s^l, death and kurtosis, and a text."""
        L = self.depth
        q = self.mean_field()
        laws = [self.preactivation_variance(l) for l in range(1, L + 1)]
        mean = np.array([law.mean() for law in laws])
        quant = np.array([law.ppf(np.array([0.05, 0.5, 0.95])) for law in laws])
        with np.errstate(over="ignore", invalid="ignore"):
            kurt = np.array([3.0 * law.moment(2) / law.mean() ** 2 if law.mean() > 0 else np.nan for law in laws])
        deaths = [self._death(n) for n in self.widths[1:-1]]
        dead = np.concatenate([[0.0], 0.0 - np.expm1(np.cumsum(np.log1p(-np.array(deaths))))]) if L > 1 else np.zeros(1)
        if any(layer.source is None for layer in self._layers):
            first = next(i for i, layer in enumerate(self._layers) if layer.source is None)
            dead[first + 1 :] = 1.0
        out = self.output()
        qs = np.linspace(0.001, 0.999, 999)
        ks = float(np.max(np.abs(out.cdf(np.sqrt(q[-1]) * ndtri(qs)) - qs))) if q[-1] > 0 else float("nan")
        lines = [f"Exact finite-width laws, {self._describe()}, |x^0|^2 = {self.input_norm2:g}"]
        lines.append(f"{'l':>4} {'q (mean field)':>15} {'E s^l':>12} {'median':>12} {'5%':>12} {'95%':>12} {'P(dead)':>10} {'kurtosis':>10}")
        for i in range(L):
            lines.append(
                f"{i + 1:>4} {q[i]:>15.6g} {mean[i]:>12.6g} {quant[i, 1]:>12.6g} {quant[i, 0]:>12.6g} "
                f"{quant[i, 2]:>12.6g} {dead[i]:>10.3g} {kurt[i]:>10.4g}"
            )
        ratio = quant[-1, 1] / q[-1] if q[-1] > 0 else float("nan")
        lines.append(
            f"The mean of s^l equals mean field at every layer (E s^L = q^L = {q[-1]:.6g}), but the typical "
            f"signal does not: median(s^L) / q^L = {ratio:.4g}."
        )
        lines.append(
            f"Output h^L: kurtosis {out.kurtosis():.6g} (Gaussian: 3), atom at 0 {out.atom:.3g}, "
            f"KS distance from the mean-field N(0, q^L): {ks:.3g}; P(some hidden layer dead) = "
            f"{self.dead_probability():.3g}."
        )
        return NetworkSummary(
            np.arange(1, L + 1), q, mean, quant[:, 1], quant[:, 0], quant[:, 2], dead, kurt, ks, "\n".join(lines)
        )

    # ------------------------------------------------------------------------------------------
    # sampling
    # ------------------------------------------------------------------------------------------
    def _chain(self, rng: np.random.Generator, size: int, what: str, l: int) -> np.ndarray:
        """Exact samples of the Markov chain (R2): K ~ Bin(n, 1/2), |x|^2 = s 2 Gamma(K/2), s' = sb2 + sw2 |x|^2/n."""
        s = np.full(size, self.s1)
        for j, n in enumerate(self.widths[1:], start=1):
            if what == "s" and j == l:
                return s
            if what == "f" and j == self.depth:
                return np.sqrt(s) * rng.standard_normal(size)
            k = np.full(size, n) if self.parameter_sharing else rng.binomial(n, 0.5, size)
            y = s * 2.0 * rng.gamma(k / 2.0)
            if what == "y" and j == l:
                return y
            s = self.sigma_b2 + self.sigma_w2 * y / n
        raise AssertionError("unreachable")

    def sample(self, n_networks: int, seed=None, progress: bool = False) -> NetworkSample:
        """Monte Carlo from real sampled networks (every weight and bias drawn).

        Networks are drawn in batches through :func:`meanfield.simulate.sample_layers` (Gaussian
        weights; with sharing the template weights through :func:`meanfield.simulate.sample_weights`
        and the physical shared-weight ReLU net built from them by
        :func:`meanfield.init.looks_linear_layers`) and run by
        :func:`meanfield.simulate.propagate` on the input x^0 = sqrt(input_norm2 / n_0) (1, ..., 1).

        Parameters
        ----------
        n_networks : int
        seed : int, SeedSequence, Generator, None or meanfield.simulate.NetworkStreams
            One stream for all batches (results depend on n_networks only through the batch split);
            NetworkStreams (of length n_networks, without sharing): one stream per network, so
            network k does not depend on the others.
        progress : bool
            tqdm bar over batches (silently off without tqdm).

        Returns
        -------
        NetworkSample
            "preactivation_variance" (n_networks, L): s^l = sigma_w^2 |x^{l-1}|^2 / n_{l-1} + sigma_b^2
            (template widths with sharing); "squared_norm" (n_networks, L-1): physical |x^l|^2;
            "output" (n_networks,): h^L_1.
        """
        n_networks = check.positive_int("n_networks", n_networks)
        if not isinstance(progress, (bool, np.bool_)):
            raise ParameterError(f"progress must be True or False, got {progress!r}")
        if isinstance(seed, mfsim.NetworkStreams):
            if len(seed) != n_networks:
                raise ParameterError(f"n_networks={n_networks} but {len(seed)} network streams were given")
            if self.parameter_sharing:
                raise ParameterError("the looks-linear sampler draws from one Generator: give an int seed, not NetworkStreams")
            rng = seed
        else:
            rng = check.generator(seed)
        return _sample(self.widths, self.sigma_w2, self.sigma_b2, self.input_norm2, self.parameter_sharing,
                       n_networks, rng, progress)


def _sample(widths, sw2: float, sb2: float, input_norm2: float, sharing: bool, n_networks: int, rng,
            progress: bool = False) -> NetworkSample:
    """:meth:`ReLUNetwork.sample` for checked arguments: ``rng`` a Generator (one stream for all
    batches) or NetworkStreams (no sharing; each batch takes its networks' streams, so network k
    depends on its own stream only)."""
    L = len(widths) - 1
    per_net = max(a * b for a, b in zip(widths[:-1], widths[1:])) * (4 if sharing else 1)
    batch = int(max(1, min(n_networks, _MC_ELEMENTS // per_net)))
    x0 = np.full(widths[0], np.sqrt(input_norm2 / widths[0]))
    s_all = np.empty((n_networks, L))
    y_all = np.empty((n_networks, L - 1))
    f_all = np.empty(n_networks)
    starts = range(0, n_networks, batch)
    for start in progress_bar(starts, len(starts), bool(progress), f"ReLU networks {widths}"):
        b = min(batch, n_networks - start)
        rows = slice(start, start + b)
        if sharing:
            layers = looks_linear_layers(widths, False, rng, sw2, sb2, b)
        else:
            streams = rng[start:start + b] if isinstance(rng, mfsim.NetworkStreams) else rng
            layers = mfsim.sample_layers(streams, widths, sw2, sb2, "gaussian", b)
        s_all[rows, 0] = sw2 * input_norm2 / widths[0] + sb2
        for l, (_, _, h) in enumerate(mfsim.propagate("relu", layers, x0), start=1):
            if l == L:
                f_all[rows] = h[:, 0]
                break
            y = np.sum(np.maximum(h, 0.0) ** 2, axis=-1)
            y_all[rows, l - 1] = y
            s_all[rows, l] = sb2 + sw2 * y / widths[l]
    return NetworkSample(preactivation_variance=s_all, squared_norm=y_all, output=f_all)


def _scalar(name: str, value) -> float:
    arr = check.nonnegative(name, value)
    if arr.ndim != 0:
        raise ParameterError(f"{name} must be a single number, got an array of shape {arr.shape}")
    return float(arr)

