"""Free probability for Jacobian spectra (Pennington, Schoenholz, Ganguli 2017, 2018).

J = D_L W_L ... D_1 W_1 with every pre-activation at q*; the spectrum is that of lambda, the
eigenvalues of J J^T.  Transforms (docs/conventions.md §5):

    M_X(z) = sum_k m_k z^-k,   S_X(w) = (1 + w)/(w M_X^-1(w)),   S_{JJ^T} = (S_{D^2} S_{W^T W})^L,
    S_{W^T W}(w) = sigma_w^-2/(1 + w) (Gaussian),  sigma_w^-2 (orthogonal),
    G(z) = (M(z) + 1)/z,   rho(lambda) = -Im G(lambda + i0)/pi.

The law of d = D^2 = phi'(sqrt(q*) g)^2, g ~ N(0, 1) (:class:`D2Law`), is either a finite set of
atoms (linear, relu, leaky relu, hard-tanh: phi' piecewise constant), or an atom at scale^2 plus a
continuous part from the negative half-line (selu, elu), or, for smooth phi, a continuous law whose transform M_{D^2}(zeta) = E[d/(zeta - d)] is computed on a contour deformed
into the complex g-plane, so that it stays the analytic continuation from the upper half plane
when zeta touches the real support of d (section 3 of the notes).

Solving z = M_J^{-1}(m) for the subordination variable zeta (m = M_{D^2}(zeta) evaluated forward):

    z = sigma_w^{2L} ((1 + m)/m) A(m)^L (m zeta/(1 + m))^L,   A = 1 + m (Gaussian), 1 (orthogonal),

by Newton's method on F = log(rhs/z), continued from far above the spectrum down to the real axis
for every point separately (the only reliable branch selection: the sign of Im G does not pick the
root).  Moments come in closed form from the series of log S (never from a density).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import special
from scipy.optimize import brentq

from ..activations import Activation
from ..errors import ParameterError
from ..gaussian import expectation
from .contours import even_contour, general_contour, piecewise_contour
from .derivative_law import derivative_law

__all__ = [
    "D2Law", "d2_law", "WEIGHTS", "spectrum_moments", "SpectrumSolver", "BernoulliLayersSolver",
    "weights_s_transform",
]

WEIGHTS = ("gaussian", "orthogonal")
_INV_SQRT2PI = 1.0 / np.sqrt(2.0 * np.pi)


@dataclass(frozen=True)
class D2Law:
    """The law of d = phi'(sqrt(q) g)^2.

    ``atoms``: ((value, mass), ...) of the discrete part (empty for a continuous law).
    ``weights``/``values``: the continuous part as a complex quadrature on a deformed contour:
    E[f(d); continuous part] = sum_j weights_j f(values_j) for f analytic on the way (None if the
    law is discrete).  selu and elu have both: an atom at scale^2 (x > 0) and a continuous part.
    ``moments_exact``: mu_k = E[d^k], k = 1..K (real quadrature / exact sums).
    ``accuracy``: estimated relative error of M near the support (general smooth contour: the
    change against twice the nodes per panel; 0.0 where not estimated).
    ``interior``: values inside the support of d where its density is singular (local extrema of
    d, its limits as |g| -> infinity, an atom inside the continuous part): at one orthogonal layer
    the spectrum is then taken from :mod:`meanfield.spectra.derivative_law`, deeper the free convolution
    smooths them.
    """

    activation: str
    q: float
    atoms: tuple[tuple[float, float], ...]
    values: np.ndarray | None
    weights: np.ndarray | None
    max_d: float
    moments_exact: np.ndarray
    accuracy: float = 0.0
    interior: tuple[float, ...] = ()

    @property
    def _total_weight(self) -> complex:
        return complex(np.sum(self.weights))

    @property
    def discrete(self) -> bool:
        return self.values is None

    def mu(self, k: int) -> float:
        """mu_k = E[d^k] (k >= 1)."""
        return float(self.moments_exact[k - 1])

    def M(self, zeta):
        """M(zeta) = E[d/(zeta - d)] and its derivative -E[d/(zeta - d)^2], vectorized (complex)."""
        zeta = np.asarray(zeta, dtype=complex)
        m = np.zeros_like(zeta)
        dm = np.zeros_like(zeta)
        for value, mass in self.atoms:
            r = value / (zeta - value)
            m += mass * r
            dm -= mass * r / (zeta - value)
        if self.discrete:
            return m, dm
        # d/(zeta - d) = zeta/(zeta - d) - 1:  M = zeta S0 - W,  M' = S0 - zeta S1,
        # S0 = sum w/(zeta - d), S1 = sum w/(zeta - d)^2, W = sum w (= the continuous mass up to
        # quadrature error); einsum, not BLAS: multi-threaded zgemv on many small calls stalls when
        # cores are shared
        inv = 1.0 / (zeta[..., None] - self.values)
        s0 = np.einsum("...j,j->...", inv, self.weights)
        s1 = np.einsum("...j,j->...", inv * inv, self.weights)
        return m + zeta * s0 - self._total_weight, dm + s0 - zeta * s1


    def s_transform(self, w):
        """S_{D^2}(w) = (1 + w)/(w zeta(w)), zeta = M^{-1}(w), for w in (-1, 0) or (0, inf) or complex.

        Bernoulli laws (atoms {0, 1}, P(d = 1) = p) in closed form, (1 + w)/(w + p); otherwise
        M(zeta) = w is inverted by Newton's method from zeta = mu_1 / w + (second-moment term).
        """
        w = np.asarray(w, dtype=complex)
        atoms = dict(self.atoms)
        if self.discrete and set(atoms) <= {0.0, 1.0}:
            return (1 + w) / (w + atoms.get(1.0, 0.0))
        zeta = self.mu(1) / w + self.mu(2) / self.mu(1)  # M(zeta) ~ mu_1/zeta + mu_2/zeta^2
        for _ in range(100):
            m, dm = self.M(zeta)
            step = (m - w) / dm
            zeta = zeta - step
            if np.all(np.abs(step) <= 1e-15 * np.abs(zeta)):
                break
        return (1 + w) / (w * zeta)


def weights_s_transform(weights: str, sigma_w2: float, w):
    """S_{W^T W}(w): sigma_w^-2/(1 + w) for Gaussian (Marchenko-Pastur), sigma_w^-2 for orthogonal."""
    w = np.asarray(w, dtype=complex)
    if weights == "gaussian":
        return 1.0 / (sigma_w2 * (1 + w))
    if weights == "orthogonal":
        return np.full(w.shape, 1.0 / sigma_w2, dtype=complex)
    raise ParameterError(f"weights must be one of {WEIGHTS}, got {weights!r}")


_N_MOMENTS = 12
_LIFT_SHRINK = (1.0, 0.5, 0.25, 0.125, 0.0625)


def _discrete(act: Activation, q: float):
    """Atoms of d for phi' piecewise constant (linear, relu, leaky relu, hard-tanh)."""
    if act.family == "linear":
        return ((1.0, 1.0),)
    if act.family == "relu":
        a = act.params.get("slope", 0.0)
        return ((a * a, 0.5), (1.0, 0.5)) if a > 0 else ((0.0, 0.5), (1.0, 0.5))
    if act.family == "selu" and act.params["alpha"] == 0:  # elu with alpha = 0: a scaled relu
        return ((0.0, 0.5), (act.params.get("scale", 1.0) ** 2, 0.5))
    if act.family == "hardtanh":
        p = float(special.erf(1.0 / np.sqrt(2.0 * q))) if q > 0 else 1.0
        return ((0.0, 1.0 - p), (1.0, p))
    return None


@lru_cache(maxsize=256)
def _law(act: Activation, q: float, n_nodes: int) -> D2Law:
    atoms = _discrete(act, q)
    if atoms is None and act.kinks and act.family != "selu" and q > 0:
        # a formula whose phi' is piecewise constant (abs(x), Max(x, 0.2*x), clipping): its atoms
        real = derivative_law(act, q)
        if real.continuous_top is None:
            atoms = tuple(real.atoms)
    if atoms is None and q == 0:
        # the limit q -> 0+: d takes the one-sided values phi'(0-)^2, phi'(0+)^2 with mass 1/2 each
        # (one value with certainty where phi' is continuous at 0: smooth phi, elu with alpha = 1)
        left, right = (float(v) ** 2 for v in act.dphi(np.array([-1e-300, 1e-300])))
        same = abs(left - right) <= 1e-12 * max(left, right, 1e-300)
        atoms = ((act.dphi0_squared, 1.0),) if same else tuple(sorted([(left, 0.5), (right, 0.5)]))
    mus = np.array(
        [float(expectation(lambda x, k=k: act.dphi(x) ** (2 * k), q, act.kinks)) for k in range(1, _N_MOMENTS + 1)]
    )
    if atoms is not None:
        mus = np.array([sum(m * v**k for v, m in atoms) for k in range(1, _N_MOMENTS + 1)])
        return D2Law(act.name, q, atoms, None, None, max(v for v, _ in atoms), mus)
    kinked = bool(act.kinks) and act.family != "selu"
    g = np.linspace(0.0, 9.0, 2001)
    d_plus, d_minus = act.dphi(np.sqrt(q) * g) ** 2, act.dphi(-np.sqrt(q) * g) ** 2
    scale = max(float(np.max(d_plus)), 1e-300)
    general = np.max(np.abs(d_plus - d_minus)) > 1e-12 * scale or np.any(np.diff(d_plus) > 1e-12 * scale)
    # the lift must stay below phi's complex singularities; their distance is known for tanh and
    # erf only, so the lift is halved until the contour transform agrees with the real-axis
    # integral at two probe points away from the support (tanh(k x) needs 1/k of tanh's lift)
    probe = None
    for shrink in _LIFT_SHRINK:
        accuracy, interior, atoms = 0.0, (), ()
        if act.family == "selu":
            # phi' = scale on x > 0 (an atom of mass 1/2 at scale^2) and scale alpha e^x on x < 0 (a
            # continuous law on (0, (scale alpha)^2), decreasing along the negative half-line)
            scale, alpha = act.params.get("scale", 1.0), act.params["alpha"]
            atoms = ((scale * scale, 0.5),)
            values, weights = even_contour(
                act, q, n_nodes, shrink, lambda x: scale * alpha * np.exp(x), side=-1.0, factor=1.0
            )
            max_d = max(scale * scale, (scale * alpha) ** 2)
            if 0 < scale * scale < (scale * alpha) ** 2:
                interior = (scale * scale,)
        elif kinked:
            # phi' piecewise smooth (Max(x, tanh(x)), ...): atoms for constant pieces, a contour per
            # smooth piece on its own analytic branch, vanishing at the kinks
            atoms, values, weights, max_d, accuracy, interior = piecewise_contour(act, q, n_nodes, shrink)
        elif general:
            # d(g) not even/non-increasing (silu, gelu, softplus, x erf x, ...): full-line contour
            # lifted against the sign of d'(g), graded towards the turning points of d
            values, weights, max_d, accuracy, interior = general_contour(act, q, n_nodes, shrink)
        else:
            values, weights = even_contour(act, q, n_nodes, shrink)
            max_d = float(act.dphi(np.array([0.0]))[0] ** 2)
        law = D2Law(act.name, q, atoms, values, weights, max_d, mus, accuracy, interior)
        if probe is None:
            probe = np.array([2.0 * max_d + 0.5j * max_d, 0.5 * max_d + 1j * max_d])
            real_axis = np.array([_real_axis_m(act, q, z) for z in probe])
        if np.max(np.abs(law.M(probe)[0] - real_axis)) <= 1e-9 * np.max(np.abs(real_axis)):
            return law
    raise ParameterError(
        f"the contour transform of phi'(x)^2 for {act.name} does not match the real-axis integral even "
        f"with a lift of {_LIFT_SHRINK[-1]:g} of the default (complex singularities of phi' too close to "
        "the real axis): not supported"
    )


def _real_axis_m(act: Activation, q: float, z: complex) -> complex:
    """E[d/(z - d)] by real-axis quadrature (z off the support of d): the contour check."""
    re = expectation(lambda x: (act.dphi(x) ** 2 / (z - act.dphi(x) ** 2)).real, q, act.kinks)
    im = expectation(lambda x: (act.dphi(x) ** 2 / (z - act.dphi(x) ** 2)).imag, q, act.kinks)
    return complex(float(re), float(im))


def d2_law(act: Activation, q: float, n_nodes: int = 800) -> D2Law:
    """The law of D^2 = phi'(h)^2, h ~ N(0, q) (atoms, or a contour quadrature with ``n_nodes``)."""
    return _law(act, float(q), int(n_nodes))


# ----------------------------------------------------------------------------------------------
# moments in closed form: power series of log S
# ----------------------------------------------------------------------------------------------
def _series_mul(a, b):
    return np.convolve(a, b)[: len(a)]


def _series_inverse(a):
    """Compositional inverse of a(w) = a_1 w + a_2 w^2 + ... (a_0 = 0, a_1 != 0)."""
    n = len(a)
    b = np.zeros(n)
    b[1] = 1.0 / a[1]
    for k in range(2, n):  # fix the w^k coefficient of a(b(w)) - w
        comp = np.zeros(n)
        power = b.copy()
        for j in range(1, n):
            comp += a[j] * power
            power = _series_mul(power, b)
        b[k] -= comp[k] / a[1]
    return b


def _log_series(a):
    """log(a(w)) for a_0 = 1, as a power series."""
    n = len(a)
    out = np.zeros(n)
    x = a.copy()
    x[0] = 0.0
    power = x.copy()
    for j in range(1, n):
        out += (-1) ** (j + 1) * power / j
        power = _series_mul(power, x)
    return out


def _exp_series(a):
    """exp(a(w)) for a_0 = 0."""
    n = len(a)
    out = np.zeros(n)
    out[0] = 1.0
    term = out.copy()
    for j in range(1, n):
        term = _series_mul(term, a) / j
        out += term
    return out


def _normalised_log_s(moments: np.ndarray) -> np.ndarray:
    """Series of log(m_1 S(w)) from the moments m_1..m_K of a law (m_1 S(0) = 1)."""
    n = len(moments) + 1
    psi = np.zeros(n)
    psi[1:] = moments / moments[0] ** np.arange(1, n)  # moments of X/m_1
    chi = _series_inverse(psi)  # psi^-1(w)
    # S(w) = (1 + w) chi(w) / w  ->  drop the w factor: chi(w)/w has constant 1 (normalised)
    ratio = np.zeros(n)
    ratio[: n - 1] = chi[1:]
    s = _series_mul(np.r_[1.0, 1.0, np.zeros(n - 2)], ratio)
    return _log_series(s)


def spectrum_moments(law, sigma_w2: float, depth: int, weights: str, k_max: int = 8) -> np.ndarray:
    """Moments m_1..m_kmax of the spectrum of J J^T from the S-transform series (closed form).

    log(m_1 S_J) = sum_l log(mu_1^(l) S_{D_l^2}) + L log(S_W sigma_w^2), m_1 = sigma_w^(2L) prod mu_1^(l);
    the moments of J J^T / m_1 follow by inverting the series.  Exact up to the accuracy of mu_k
    (1e-12).  ``law``: one :class:`D2Law` for every layer, or a sequence of moment arrays
    (mu_1, mu_2, ...), one per layer (then ``depth`` is their number).
    """
    k_max = min(k_max, _N_MOMENTS)
    if isinstance(law, D2Law):  # every layer alike: one distinct law, counted depth times
        counts = {tuple(law.moments_exact[:k_max]): int(depth)}
    else:
        counts = {}
        for mu in law:
            key = tuple(np.asarray(mu, float)[:k_max])
            counts[key] = counts.get(key, 0) + 1
    n_layers = sum(counts.values())
    n = k_max + 1
    log_sw = np.zeros(n)
    if weights == "gaussian":  # sigma_w^2 S_W = 1/(1 + w): log = -log(1 + w)
        log_sw[1:] = -((-1.0) ** (np.arange(1, n) + 1)) / np.arange(1, n)
    log_s = n_layers * log_sw
    for mu, count in counts.items():
        log_s = log_s + count * _normalised_log_s(np.array(mu))
    s = _exp_series(log_s)  # m_1 S_J(w)
    # S(w) = (1 + w) chi(w)/w  =>  chi(w) = w S(w)/(1 + w)
    inv_one_plus = (-1.0) ** np.arange(n)
    chi = np.zeros(n)
    chi[1:] = _series_mul(s, inv_one_plus)[: n - 1]
    psi = _series_inverse(chi)
    log_m1 = sum(count * np.log(sigma_w2 * mu[0]) for mu, count in counts.items())
    with np.errstate(over="ignore"):
        return psi[1:] * np.exp(log_m1 * np.arange(1, n))


# ----------------------------------------------------------------------------------------------
# the density: continuation of the subordination equation from far above the spectrum
# ----------------------------------------------------------------------------------------------
class _Continuation:
    """Continuation of a spectral equation F(v; z) = 0 from far above the spectrum to the axis.

    Subclasses give the unknown's starting value at large |z| (``_initial``), the residual
    ``_residual(v, log_z, far) -> (F, dF/dv, m)`` with m = M_J(z), and the depth ``L``.
    """

    L: int
    #: the ratio of successive heights below 1e-3 scale
    near_ratio: float = 0.02

    def solve(self, x, scale: float, y_end=None):
        """(m, v) at z = x + i y_end, continued from far above; x real array (> 0).

        Heights fall geometrically (ratio 0.5, then ``near_ratio`` below 1e-3 scale, where the root
        moves little) from 50 (max x + scale) to y_end = 1e-9 min(x, scale) (default); damped Newton
        from the previous height at each, on the points still moving (loosely while far above the
        axis: there it only has to stay on the branch).
        """
        x = np.asarray(x, dtype=float)
        y_end = 1e-9 * np.minimum(np.abs(x), scale) if y_end is None else np.broadcast_to(y_end, x.shape)
        y = np.full(x.shape, 50.0 * (np.max(np.abs(x)) + scale))
        v = self._initial(x + 1j * y)
        m = np.zeros(x.shape, dtype=complex)
        live = np.ones(x.shape, dtype=bool)
        while np.any(live):
            idx = np.nonzero(live)[0]
            far = bool(np.min(y[idx]) > 1e-3 * scale)
            v[idx], m[idx] = self._newton(v[idx], np.log(x[idx] + 1j * y[idx]), far)
            live[idx[y[idx] <= y_end[idx]]] = False
            ratio = np.where(y > 1e-3 * scale, 0.5, self.near_ratio)
            y = np.where(live, np.maximum(ratio * y, y_end), y)
        return m, v

    def green(self, x, scale: float, y_end) -> np.ndarray:
        """G(z) = (1 + M_J(z))/z at z = x + i y_end."""
        m, _ = self.solve(x, scale, y_end)
        return (1 + m) / (np.asarray(x) + 1j * np.asarray(y_end))

    def _newton(self, v, log_z, far: bool):
        """Damped Newton (|step| <= |v|/2); stops at |step| <= tol |v| or |F| at its rounding floor
        (F sums O(L) logarithms: ~ (L + 1) eps)."""
        tol = 1e-8 if far else 1e-12
        v = v.copy()
        m = np.zeros_like(v)
        active = np.ones(v.shape, dtype=bool)
        f_floor = 8 * (self.L + 1) * np.finfo(float).eps
        for _ in range(60):
            idx = np.nonzero(active)[0]
            if idx.size == 0:
                break
            F, dF, mm = self._residual(v[idx], log_z[idx], far)
            m[idx] = mm
            step = F / dF
            limit = 0.5 * np.abs(v[idx])
            big = np.abs(step) > limit
            step[big] *= limit[big] / np.abs(step[big])
            v[idx] -= step
            converged = (np.abs(F) < f_floor) | (np.abs(step) < tol * np.abs(v[idx]))
            active[idx[converged]] = False
        if np.any(active):
            idx = np.nonzero(active)[0]
            _, _, m[idx] = self._residual(v[idx], log_z[idx], far)
        return v, m

    def _edge_from_scan(self, grid) -> float:
        """lambda_max from the last sign change of d log z/dv on a real grid (nan if none)."""

        def dlogz(v):
            _, dF, _ = self._residual(np.array([v + 0j]), np.array([0.0 + 0j]), False)
            return float(dF[0].real)

        grid = np.asarray(grid, dtype=float)
        _, dF, _ = self._residual(grid + 0j, np.zeros(grid.shape, dtype=complex), False)
        sign = np.sign(dF.real)
        change = np.nonzero(sign[:-1] * sign[1:] < 0)[0]
        if change.size == 0:
            return float("nan")
        k = change[-1]
        root = brentq(dlogz, grid[k], grid[k + 1], xtol=1e-15 * abs(grid[k]), rtol=1e-15)
        F, _, _ = self._residual(np.array([root + 0j]), np.array([0.0 + 0j]), False)
        return float(abs(np.exp(F[0])))  # F = log(rhs) at log z = 0: rhs = z(v) on the real axis


def _fold(F):
    """Imaginary part of a log residual folded into (-pi, pi]."""
    return F.real + 1j * np.angle(np.exp(1j * F.imag))


class SpectrumSolver(_Continuation):
    """Solve z = M_J^{-1}(m) for the subordination variable zeta (one law of D^2 for every layer)."""

    def __init__(self, law: D2Law, sigma_w2: float, depth: int, weights: str, coarse: D2Law | None = None):
        self.law, self.sigma_w2, self.L, self.weights = law, float(sigma_w2), int(depth), weights
        #: a cheaper quadrature of the same law, used while the spectral variable is far from the axis
        self.coarse = coarse or law
        self.log_sw2L = self.L * np.log(self.sigma_w2)
        self.chi = self.sigma_w2 * law.mu(1)

    def _initial(self, z):
        # M_J(z) ~ chi^L / z and M_{D^2}(zeta) ~ mu_1 / zeta at large |z|
        return self.law.mu(1) * z * np.exp(-self.L * np.log(self.chi))

    def _residual(self, zeta, log_z, far=False):
        m, dm = (self.coarse if far else self.law).M(zeta)
        L = self.L
        log_m, log_1m = np.log(m), np.log(1 + m)
        log_rhs = self.log_sw2L + log_1m - log_m + L * (log_m + np.log(zeta) - log_1m)
        coef = 1 / (1 + m) - 1 / m + L / m - L / (1 + m)
        if self.weights == "gaussian":
            log_rhs = log_rhs + L * log_1m
            coef = coef + L / (1 + m)
        return _fold(log_rhs - log_z), dm * coef + L / zeta, m

    def upper_edge(self) -> float:
        """lambda_max: the first critical point of z(zeta) on the real axis above max d."""
        top = self.law.max_d
        edge = self._edge_from_scan(top * (1.0 + np.geomspace(1e-12, 1e8, 400)))
        if np.isnan(edge) and self.law.discrete and len(self.law.atoms) > 1:
            lo_atom = sorted(v for v, _ in self.law.atoms)[-2]
            edge = self._edge_from_scan(lo_atom + (top - lo_atom) * np.linspace(1e-9, 1 - 1e-9, 400))
        if np.isnan(edge) and not self.law.discrete and self.weights == "orthogonal":
            # z(zeta) decreases all the way to the edge of the support of d, where m -> inf and
            # z -> sigma_w^(2L) (max d)^L (e.g. L = 1: lambda = sigma_w^2 d exactly)
            return float(np.exp(self.log_sw2L + self.L * np.log(top)))
        return edge


class BernoulliLayersSolver(_Continuation):
    """Layers with their own Bernoulli laws d in {0, 1}, P(d = 1) = p_l (a sampled network's
    active fractions): zeta_l = M_l^{-1}(m) = 1 + p_l/m in closed form, so the unknown is m and

        z = sigma_w^{2L} ((1 + m)/m) A(m)^L prod_l (m + p_l)/(1 + m),  A = 1 + m (Gaussian), 1 (orthogonal).

    Where one layer has the smallest p alone, m -> -min p like z (not like z^(1/k) as for k equal layers): the
    spectrum has a gap above its atom at 0 (two free projections: the continuous part starts at
    (sqrt(p_1 (1 - p_2)) - sqrt(p_2 (1 - p_1)))^2), and log(m + min p) moves as much as log z, so the heights
    near the axis fall by halves (a ratio of 0.02 overshoots onto another branch inside the gap).
    """

    near_ratio = 0.5

    def __init__(self, p, sigma_w2: float, weights: str):
        self.p = np.asarray(p, dtype=float)
        self.sigma_w2, self.L, self.weights = float(sigma_w2), self.p.size, weights
        self.log_sw2L = self.L * np.log(self.sigma_w2)

    def _initial(self, z):
        return np.exp(self.log_sw2L + np.sum(np.log(self.p))) / z  # m ~ m_1 / z

    def _residual(self, m, log_z, far=False):
        L = self.L
        log_1m = np.log(1 + m)
        log_rhs = self.log_sw2L + log_1m - np.log(m) + np.sum(np.log(m[..., None] + self.p), axis=-1) - L * log_1m
        dF = 1 / (1 + m) - 1 / m + np.sum(1 / (m[..., None] + self.p), axis=-1) - L / (1 + m)
        if self.weights == "gaussian":
            log_rhs = log_rhs + L * log_1m
            dF = dF + L / (1 + m)
        return _fold(log_rhs - log_z), dF, m

    def upper_edge(self) -> float:
        """The top of the continuous part: the critical point of z(m) for real m > 0; for orthogonal weights
        with an atom at sigma_w^(2L) above it (sum_l (1 - p_l) < 1), where z(m) decreases to sigma_w^(2L) as
        m -> +infinity, the minimum of z(m) over m < -1 (nan if neither exists)."""
        edge = self._edge_from_scan(np.geomspace(1e-12, 1e8, 600))
        if np.isnan(edge) and self.weights == "orthogonal":
            edge = self._edge_from_scan(-1.0 - np.geomspace(1e-12, 1e8, 600))
        return edge

    def lower_edge(self) -> float:
        """The bottom of the continuous part above the atom at 0 where one layer alone has the smallest p:
        the maximum of z(m) over real m between -p_(2) and -min p (z vanishes at both ends; class docstring);
        0.0 where several layers share the smallest p (the density then reaches down to 0)."""
        p = np.sort(self.p)
        if p.size < 2 or p[1] <= p[0] * (1 + 1e-12):
            return 0.0

        def slope(m):
            return float(self._residual(np.array([m + 0j]), np.array([0j]))[1][0].real)

        gap = p[1] - p[0]
        m = brentq(slope, -p[1] + 1e-12 * gap, -p[0] - 1e-12 * gap, xtol=1e-15 * p[1], rtol=1e-15)
        log_z, _, _ = self._residual(np.array([m + 0j]), np.array([0j]))
        return float(np.exp(log_z[0].real))
