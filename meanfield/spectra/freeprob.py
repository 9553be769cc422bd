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

import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy as sp
from scipy import special
from scipy.optimize import brentq

from ..activations import Activation
from ..errors import ParameterError
from ..formula import X
from ..gaussian import expectation
from ..numeric import numpy_function
from .derivative_law import derivative_law, turning_points

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


def _contour(act: Activation, q: float, n: int, shrink: float = 1.0, dphi=None, side: float = 1.0, factor: float = 2.0):
    """Deformed contour g(t) = t + i c(t), t = 9 u^2 in [0, 9], and weights factor varphi(g) g'(t) dt.

    d(t) = dphi(side sqrt(q) g)^2 is non-increasing in t >= 0: for even d (odd phi with |phi'|
    decreasing: tanh, erf, ...; ``factor`` 2 counts both halves of the g-line) and for the negative
    half-line of selu/elu (``side`` -1, ``factor`` 1, ``dphi`` the analytic branch scale alpha e^x).
    The poles of d/(zeta - d) move below the contour as zeta enters the upper half plane;
    c(t) = kappa tanh(t) lifts the contour by kappa, kept below phi's complex singularities and the
    spurious roots of d(g) = zeta (kappa <= 0.6 of their distance).
    """
    u, w = special.roots_legendre(n)
    u = (u + 1.0) / 2  # t = 9 u^2 clusters the nodes near g = 0, where the poles of d/(zeta - d)
    t = 9.0 * u * u  # approach the contour when zeta nears the top of the support of d
    w = w / 2 * 18.0 * u
    kappa = shrink * min(1.5, 0.6 * _singularity_distance(act) / np.sqrt(q)) if q > 0 else 0.0
    real_dphi = (lambda x: np.real(dphi(x))) if dphi is not None else act.dphi
    radius = _lift_radius(lambda g: real_dphi(side * np.sqrt(q) * g) ** 2, kappa)
    e = 1.0 / np.sqrt(1.0 + (t / radius) ** 2)
    c = kappa * np.tanh(t) * e
    dc = kappa / np.cosh(t) ** 2 * e - kappa * np.tanh(t) * t / radius**2 * e**3
    g = t + 1j * c
    weights = factor * _INV_SQRT2PI * np.exp(-0.5 * g * g) * (1.0 + 1j * dc) * w
    with np.errstate(all="ignore"):
        values = (dphi or _complex_dphi(act))(side * np.sqrt(q) * g) ** 2
    return values, weights


def _lift_radius(d, kappa: float) -> float:
    """R such that c(t) = kappa tanh(t) / sqrt(1 + (t/R)^2) stays below 0.6 of the distance to the
    spurious roots of d(g) = zeta on t in (0, 9] (inf when the constant lift kappa tanh t already does).

    Near a real root g0 of d(g) = |zeta|, d(g) ~ d(g0) exp(s (g - g0)) with s = (log d)'(g0), so the roots
    of d(g) = zeta = |zeta| e^(i theta) sit at g0 + i (2 pi k - theta) / |s|: for theta in [0, pi] (zeta in
    the upper half plane, where the subordination keeps it) the nearest one above the axis is at least
    pi/|s| away.  |s| grows with g for Gaussian-type tails (erf: s = -4 q g), which is where the bottom of
    the spectrum lives (small zeta <-> large g).  A lift that does not decay there passes above a spurious
    root and takes the wrong residue: the density at small lambda then comes out on a wrong branch (erf
    at depth 4: twice the true density below 1e-6).
    """
    t = np.linspace(0.05, 9.0, 400)
    h = 1e-4
    with np.errstate(all="ignore"):
        s = (np.log(d(t + h)) - np.log(d(t - h))) / (2 * h)
    bound = 0.6 * np.pi / np.where(np.isfinite(s) & (s != 0), np.abs(s), 1e-300)
    lift = kappa * np.tanh(t)
    over = lift > bound
    if not np.any(over):
        return np.inf
    return float(max(np.min(t[over] / np.sqrt((lift[over] / bound[over]) ** 2 - 1.0)), 0.05))


_T_GENERAL = 9.0  # the full-line contour runs over t in [-9, 9] (Gaussian weight e^-40.5 beyond)


def _general_nodes(turning: np.ndarray, per_panel: int):
    """Composite Gauss-Legendre on [-T, T]: panels <= 0.5, halving geometrically down to 1e-6
    towards every turning point of d (the poles of d/(zeta - d) approach the contour there)."""
    T = _T_GENERAL
    breaks = [np.linspace(-T, T, int(2 * T / 0.5) + 1)]
    for tk in turning:
        offs = 0.5 * 0.5 ** np.arange(0, 21)
        breaks.append(np.concatenate([[tk], tk - offs, tk + offs]))
    b = np.unique(np.clip(np.concatenate(breaks), -T, T))
    b = b[np.concatenate([[True], np.diff(b) > 1e-12])]
    u, w = special.roots_legendre(per_panel)
    lo, hi = b[:-1, None], b[1:, None]
    t = (lo + (hi - lo) * (u + 1) / 2).ravel()
    wt = ((hi - lo) / 2 * w).ravel()
    return t, wt


def _general_lift(t, turning, sign0: float, kappa: float, width: float, radius: float):
    """c(t) = kappa E(t) S(t) and c'(t): S = sign0 prod_k tanh((t - t_k)/width) has the sign of -d'
    and vanishes at the turning points; E = (1 + (t/R)^2)^(-1/2) makes the lift decay like 1/t, which
    keeps the contour below the spurious roots of d(g) = zeta in the Gaussian-type tails
    (Im g ~ pi/(q Re g), as for erf: a lift that does not decay picks up a wrong residue in the tail)."""
    th = np.tanh((t[:, None] - turning[None, :]) / width)
    s = sign0 * np.prod(th, axis=1)
    ds = np.zeros_like(t)
    for k in range(len(turning)):
        others = np.prod(np.delete(th, k, axis=1), axis=1)
        ds += (1.0 - th[:, k] ** 2) / width * others
    ds *= sign0
    e = 1.0 / np.sqrt(1.0 + (t / radius) ** 2)
    de = -t / radius**2 * e**3
    return kappa * e * s, kappa * (de * s + e * ds)


def _general_contour(act: Activation, q: float, n_nodes: int, shrink: float = 1.0):
    """Full-line contour g(t) = t + i c(t), t in [-9, 9], for smooth phi with d(g) neither even nor
    monotone in |g| (silu, gelu, softplus, x erf x, ...).

    For zeta = x + iy, y -> 0+, the pole of d/(zeta - d) near a real g0 with d(g0) = x sits at
    g0 + i y/d'(g0): the contour must pass below it where d' > 0 and above where d' < 0, so c has the
    sign of -d' and vanishes at the turning points (:func:`_general_lift`), where the nodes are graded
    (:func:`_general_nodes`, ``max(8, n_nodes // 50)`` nodes per panel).  Weights
    varphi(g) g'(t) w_t.  Returns (values, weights, max_d, accuracy) with accuracy the largest
    relative change of M near the support against twice the nodes per panel.
    """
    sq = np.sqrt(q)
    dphi_c = _complex_dphi(act)
    turning = turning_points(act, q, _T_GENERAL)
    grid = np.linspace(-_T_GENERAL, _T_GENERAL, 3601)
    slope = act.dphi(sq * grid) * act.d2phi(sq * grid)
    left = grid < (turning[0] if len(turning) else np.inf)
    sign_left = -np.sign(slope[left][np.argmax(np.abs(slope[left]))])
    sign0 = sign_left * (-1.0) ** len(turning)
    kappa = shrink * min(1.0, 0.6 * _singularity_distance(act) / sq)
    width = kappa
    radius = max(0.3 * np.pi / (q * kappa), 1.0)
    wide = np.linspace(-40.0, 40.0, 80001) * sq
    max_d = float(max(np.max(act.dphi(wide) ** 2), *(act.dphi(sq * turning) ** 2 if len(turning) else [0.0])))
    min_d = float(np.min(act.dphi(sq * grid) ** 2))

    def build(per_panel):
        t, wt = _general_nodes(turning, per_panel)
        c, dc = _general_lift(t, turning, sign0, kappa, width, radius)
        g = t + 1j * c
        weights = _INV_SQRT2PI * np.exp(-0.5 * g * g) * (1.0 + 1j * dc) * wt
        with np.errstate(all="ignore"):
            values = dphi_c(sq * g) ** 2
        return values, weights

    per_panel = max(8, n_nodes // 50)
    values, weights = build(per_panel)
    values2, weights2 = build(2 * per_panel)
    # accuracy probe: inside the support, at the turning values, close to the real axis
    xs = np.concatenate([np.linspace(min_d, max_d, 7)[1:-1], act.dphi(sq * turning) ** 2])
    span = max(max_d - min_d, 1e-300)
    zeta = np.concatenate([xs + 1e-3j * span, xs + 1e-7j * span])

    def m(v, w):
        return zeta * np.sum(w / (zeta[:, None] - v), axis=1) - np.sum(w)

    m1, m2 = m(values, weights), m(values2, weights2)
    accuracy = float(np.max(np.abs(m1 - m2) / np.maximum(np.abs(m2), 1e-300)))
    ends = act.dphi(sq * np.array([-40.0, 40.0])) ** 2
    special_values = np.concatenate([act.dphi(sq * turning) ** 2, ends])
    tol = 1e-9 * max_d
    interior = tuple(sorted(float(v) for v in special_values if min_d + tol < v < max_d - tol))
    return values, weights, max_d, accuracy, interior


def _complex_dphi(act: Activation):
    """phi' that accepts complex arguments (the built-ins' scipy helpers such as expit do not)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", np.exceptions.ComplexWarning)
            if np.iscomplexobj(act.dphi(np.array([0.5 + 0.5j]))):
                return act.dphi
        raise TypeError("phi' dropped the imaginary part")
    except (TypeError, np.exceptions.ComplexWarning):
        if act.expr is None:
            raise ParameterError(
                f"the Jacobian spectrum of {act.name} needs phi' at complex arguments; "
                "pass the activation as a formula (or a callable that accepts complex numpy arrays)"
            ) from None
        return numpy_function(sp.diff(act.expr, X), complex_safe=True)


def _singularity_distance(act: Activation) -> float:
    """Distance of phi's nearest complex singularity from the real axis (in x), for the contour lift."""
    if act.name == "tanh":
        return np.pi / 2
    if act.family == "erf":
        return 1.0  # erf' = e^{-x^2}: entire, but |e^{-x^2}| grows off the axis; a unit lift is safe
    return np.pi / 2


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
    if act.kinks and act.family != "selu":
        raise ParameterError(
            f"Jacobian spectra of {act.name} are not supported: phi' is neither piecewise constant "
            "(linear, relu, leaky relu, hard-tanh), nor smooth, nor of the selu/elu form"
        )
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
            values, weights = _contour(
                act, q, n_nodes, shrink, lambda x: scale * alpha * np.exp(x), side=-1.0, factor=1.0
            )
            max_d = max(scale * scale, (scale * alpha) ** 2)
            if 0 < scale * scale < (scale * alpha) ** 2:
                interior = (scale * scale,)
        elif general:
            # d(g) not even/non-increasing (silu, gelu, softplus, x erf x, ...): full-line contour
            # lifted against the sign of d'(g), graded towards the turning points of d
            values, weights, max_d, accuracy, interior = _general_contour(act, q, n_nodes, shrink)
        else:
            values, weights = _contour(act, q, n_nodes, shrink)
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
    layers = [law.moments_exact] * depth if isinstance(law, D2Law) else [np.asarray(mu, float) for mu in law]
    n = k_max + 1
    log_sw = np.zeros(n)
    if weights == "gaussian":  # sigma_w^2 S_W = 1/(1 + w): log = -log(1 + w)
        log_sw[1:] = -((-1.0) ** (np.arange(1, n) + 1)) / np.arange(1, n)
    distinct = {tuple(mu[:k_max]) for mu in layers}
    log_s = len(layers) * log_sw
    for mu in distinct:
        count = sum(tuple(m[:k_max]) == mu for m in layers)
        log_s = log_s + count * _normalised_log_s(np.array(mu))
    s = _exp_series(log_s)  # m_1 S_J(w)
    # S(w) = (1 + w) chi(w)/w  =>  chi(w) = w S(w)/(1 + w)
    inv_one_plus = (-1.0) ** np.arange(n)
    chi = np.zeros(n)
    chi[1:] = _series_mul(s, inv_one_plus)[: n - 1]
    psi = _series_inverse(chi)
    log_m1 = sum(np.log(sigma_w2 * mu[0]) for mu in layers)
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

    def solve(self, x, scale: float, y_end=None):
        """(m, v) at z = x + i y_end, continued from far above; x real array (> 0).

        Heights fall geometrically (ratio 0.5, then 0.02 below 1e-3 scale, where the root moves
        little) from 50 (max x + scale) to y_end = 1e-9 min(x, scale) (default); damped Newton from
        the previous height at each, on the points still moving (loosely while far above the axis:
        there it only has to stay on the branch).
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
            ratio = np.where(y > 1e-3 * scale, 0.5, 0.02)
            y = np.where(live, np.maximum(ratio * y, y_end), y)
        return m, v

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
    """

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
        """lambda_max: the critical point of z(m) for real m > 0 (nan if z is monotone there)."""
        return self._edge_from_scan(np.geomspace(1e-12, 1e8, 600))
