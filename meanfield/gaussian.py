"""Gaussian expectations of activations: closed forms first, quadrature otherwise.

Notation (docs/conventions.md §2): z, z1, z2 ~ N(0, 1) independent; u1 = sqrt(q1) z1,
u2 = sqrt(q2) (c z1 + sqrt(1 - c^2) z2).

================================  =======================================================
``second_moment(act, q)``         V(q)  = E[phi(sqrt(q) z)^2]
``derivative_moment(act, q)``     D(q)  = E[phi'(sqrt(q) z)^2]
``second_moment_slope(act, q)``   V'(q) = E[phi(sqrt(q) z)^2 (z^2 - 1)] / (2q)  (differentiates the
                                  Gaussian density in its variance, so no phi'' is needed at kinks)
``cross_moment(act, q1, q2, c)``  E[phi(u1) phi(u2)]
``derivative_cross_moment``       E[phi'(u1) phi'(u2)]
``expectation(f, q)``             E[f(sqrt(q) z)] for any vectorized f
``q_derivative(f, q, order)``     d^k/dq^k E[f(sqrt(q) z)] = E[f(sqrt(q) z) He_2k(z)] / (2q)^k, k = 1, 2
``smoothed(f, mean, std)``        E[f(mean + std Z)]
================================  =======================================================

Every function broadcasts its numeric arguments like numpy.  Route, in order of preference: the
closed forms of :mod:`meanfield.closed_forms`; for bivariate expectations the conditional
(inner) closed form E_Z[phi(a + bZ)] inside one outer quadrature over z1; otherwise the panel
quadrature of :mod:`meanfield.quadrature` (nested for bivariate integrals), split at the kinks and
at phi's scale.  Quadrature accuracy: the 12- and 24-point rules agree to 1e-11 of the integral of
|integrand| (the returned value is far more accurate than that); tests against 30-digit mpmath
show <= 1e-12 relative for smooth and kinked built-ins over q in [1e-6, 1e3].
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from numpy.polynomial.hermite_e import hermegauss
from numpy.polynomial.legendre import leggauss

from .activations import Activation
from .closed_forms import ClosedForms, closed_forms
from .quadrature import integrate

__all__ = [
    "expectation",
    "smoothed",
    "second_moment",
    "derivative_moment",
    "second_moment_slope",
    "q_derivative",
    "cross_moment",
    "derivative_cross_moment",
    "hermite_coefficients",
    "CorrelationKernel",
]

#: x-points that follow phi's own scale (geometric around 0): quadrature panels break at their images.
SCALE_POINTS = (-16.0, -4.0, -1.0, -0.25, -0.0625, 0.0, 0.0625, 0.25, 1.0, 4.0, 16.0)


@lru_cache(maxsize=512)
def _forms(act: Activation) -> ClosedForms:
    return closed_forms(act)


def _points(kinks) -> tuple[float, ...]:
    return tuple(sorted(set(SCALE_POINTS) | set(float(k) for k in kinks)))


def _point_value(f, x, kinks):
    """f(x), or the average of the one-sided limits where x sits on a kink (the q -> 0 limit)."""
    x = np.asarray(x, dtype=float)
    on_kink = np.zeros(x.shape, dtype=bool)
    for k in kinks:
        on_kink |= np.abs(x - k) <= 1e-12 * max(1.0, abs(k))
    below, above = np.nextafter(x, -np.inf), np.nextafter(x, np.inf)  # the one-sided neighbours
    return np.where(on_kink, (f(below) + f(above)) / 2, f(x))


def smoothed(f, mean, std, kinks=()) -> np.ndarray:
    """E[f(mean + std Z)], Z ~ N(0, 1), broadcast over ``mean`` and ``std`` (std >= 0).

    std = 0 gives f(mean) (the average of the one-sided limits on a kink).
    """
    mean, std = np.broadcast_arrays(np.asarray(mean, dtype=float), np.asarray(std, dtype=float))
    out = np.empty(mean.shape)
    flat_m, flat_s, flat_o = mean.ravel(), std.ravel(), out.reshape(-1)
    zero = flat_s == 0
    if np.any(zero):
        flat_o[zero] = _point_value(f, flat_m[zero], kinks)
    live = ~zero
    # smooth f and std <= 2 (features of phi at unit scale stay wider than the node spacing):
    # Gauss-Hermite where it verifiably converges.  At large std both rules can miss a narrow
    # feature in the same way (tanh' at q = 3e4 is a spike of width 0.006 between the nodes).
    fast = live & (flat_s <= _GH_FAST_MAX_STD)
    if not kinks and np.any(fast):
        ok, value = _hermite_fast_path(f, flat_m[fast], flat_s[fast])
        flat_o[np.nonzero(fast)[0][ok]] = value[ok]
        live[np.nonzero(fast)[0][ok]] = False
    if np.any(live):
        flat_o[live] = integrate(lambda x, z, idx: f(x), _points(kinks), flat_m[live], flat_s[live])
    return out


_GH_FAST = (hermegauss(64), hermegauss(128))
_GH_FAST_RTOL = 1e-13
_GH_FAST_MAX_STD = 2.0


def _hermite_fast_path(f, mean, std):
    """(accepted mask, values) of E[f(mean + std Z)] by 64- and 128-node Gauss-Hermite rules.

    Accepted where the two agree to 1e-13 of E|f| (then the 128-node value is accurate to far
    better: the rules converge geometrically for smooth f at moderate std); the rest goes to the
    panel quadrature.  A Gauss-Hermite rule is never used across a kink.
    """
    results = []
    for z, w in _GH_FAST:
        with np.errstate(over="ignore", invalid="ignore"):
            vals = f(mean[:, None] + std[:, None] * z)
        results.append((vals @ w, np.abs(vals) @ w))
    (low, _), (high, scale) = results
    norm = np.sqrt(2 * np.pi)
    ok = np.isfinite(high) & np.isfinite(low) & (np.abs(high - low) <= _GH_FAST_RTOL * scale)
    return ok, high / norm


def expectation(f, q, kinks=()) -> np.ndarray:
    """E[f(sqrt(q) z)] for a vectorized function ``f``, broadcast over ``q`` >= 0."""
    return smoothed(f, 0.0, np.sqrt(np.asarray(q, dtype=float)), kinks)


def second_moment(act: Activation, q) -> np.ndarray:
    """V(q) = E[phi(sqrt(q) z)^2] (Poole et al. 2016, eq. 3 without sigma_w^2, sigma_b^2)."""
    q = np.asarray(q, dtype=float)
    forms = _forms(act)
    if forms.V is not None:
        return _with_zero(forms.V, q, act.phi0**2)
    return expectation(lambda x: act.phi(x) ** 2, q, act.kinks)


def derivative_moment(act: Activation, q) -> np.ndarray:
    """D(q) = E[phi'(sqrt(q) z)^2]; chi_1 = sigma_w^2 D(q*) (Schoenholz et al. 2017, eq. 5)."""
    q = np.asarray(q, dtype=float)
    forms = _forms(act)
    if forms.D is not None:
        return _with_zero(forms.D, q, act.dphi0_squared)
    return expectation(lambda x: act.dphi(x) ** 2, q, act.kinks)


def second_moment_slope(act: Activation, q) -> np.ndarray:
    """V'(q) = dV/dq = E[(phi(sqrt(q) z)^2 - phi(0)^2) (z^2 - 1)] / (2q).

    Equal to E[phi'^2 + phi phi''] (Stein's lemma) for smooth phi; the form used here needs no
    phi'', so it is exact at kinks.  At q = 0 the limit phi'(0)^2 + phi(0) phi''(0) is returned
    (one-sided averages at a kink).
    """
    q = np.asarray(q, dtype=float)
    forms = _forms(act)
    limit = act.dphi0_squared + act.phi0 * float(_point_value(act.d2phi, np.array([0.0]), act.kinks)[0])
    if forms.dV is not None:
        return _with_zero(forms.dV, q, limit)
    flat = q.ravel()
    out = np.full(flat.shape, limit)
    live = flat > 0
    if np.any(live):
        ql = flat[live]

        phi0_sq = act.phi0**2  # E[z^2 - 1] = 0: subtracting phi(0)^2 removes the O(1) cancellation

        def F(x, z, idx):
            return (act.phi(x) ** 2 - phi0_sq) * (z * z - 1.0)

        out[live] = integrate(F, _points(act.kinks), np.zeros_like(ql), np.sqrt(ql)) / (2 * ql)
    return out.reshape(q.shape)


_HERMITE_EVEN = {1: lambda z: z * z - 1.0, 2: lambda z: (z * z - 6.0) * z * z + 3.0}


def q_derivative(f, q, order: int = 1, kinks=()) -> np.ndarray:
    """d^k/dq^k E[f(sqrt(q) z)] for k = ``order`` in {1, 2}, q > 0 (broadcast).

    Differentiating the Gaussian density in its variance: d/dq N(x; 0, q) = (1/2) d^2/dx^2 N, so
    d^k/dq^k E[f(sqrt(q) z)] = E[(f(sqrt(q) z) - f(0)) He_2k(z)] / (2q)^k with He_2 = z^2 - 1,
    He_4 = z^4 - 6 z^2 + 3 (E[He_2k] = 0: subtracting f(0) removes an O(1) cancellation).  No derivative
    of f is needed, so kinks are exact (the panel quadrature splits there).
    """
    if order not in _HERMITE_EVEN:
        raise ValueError(f"order must be 1 or 2, got {order!r}")
    q = np.asarray(q, dtype=float)
    flat = q.ravel()
    f0 = float(_point_value(f, np.array([0.0]), kinks)[0])
    he = _HERMITE_EVEN[order]

    def F(x, z, idx):
        return (f(x) - f0) * he(z)

    value = integrate(F, _points(kinks), np.zeros_like(flat), np.sqrt(flat))
    return (value / (2 * flat) ** order).reshape(q.shape)


def _with_zero(fn, q, at_zero):
    """Evaluate a closed form, with its q -> 0 limit where q == 0 (closed forms may divide by q)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.asarray(fn(q), dtype=float)
    return np.where(q == 0, at_zero, out)


# ----------------------------------------------------------------------------------------------
# bivariate
# ----------------------------------------------------------------------------------------------
_GH_NODES, _GH_ORDER = 360, 160
_MEHLER_RTOL = 1e-12
_ALIAS_TAIL = 1e-9
_FINE_Q_MAX = 100.0


def _normalized_hermite(z: np.ndarray) -> np.ndarray:
    """He_k(z)/sqrt(k!) for k = 0.._GH_ORDER (columns), by the stable normalized recurrence."""
    H = np.empty((z.size, _GH_ORDER + 1))
    H[:, 0], H[:, 1] = 1.0, z
    for k in range(1, _GH_ORDER):
        H[:, k + 1] = (z * H[:, k] - np.sqrt(k) * H[:, k - 1]) / np.sqrt(k + 1)
    return H


@lru_cache(maxsize=2)
def _hermite_table(fine: bool):
    """Nodes z and W[i, k] = w_i He_k(z_i)/sqrt(k!) for E[f(z) He_k(z)]/sqrt(k!) = f(z) @ W.

    ``fine=False``: the 360-node Gauss-Hermite rule (the largest numpy's hermegauss builds).
    ``fine=True``: 8-point Gauss-Legendre on 260 panels of width 0.1 over |z| <= 13 (beyond, the
    integrand is below 1e-16 for every order <= 160), which resolves f(sqrt(q) z) for smooth f with
    features of width >= 0.15 in z (tanh up to q ~ 100).
    """
    if fine:
        t, w = leggauss(8)
        edges = np.linspace(-13.0, 13.0, 261)
        mid, half = (edges[:-1] + edges[1:]) / 2, np.diff(edges) / 2
        z = (mid[:, None] + half[:, None] * t).ravel()
        w = (half[:, None] * w).ravel() * np.exp(-z * z / 2) / np.sqrt(2 * np.pi)
    else:
        z, w = hermegauss(_GH_NODES)
        w = w / np.sqrt(2 * np.pi)
    return z, w[:, None] * _normalized_hermite(z)


def hermite_coefficients(f, q, *, fine: bool = False) -> np.ndarray:
    """a_k(q) = E[f(sqrt(q) z) He_k(z)] / sqrt(k!), k = 0..160, for every q (shape q.shape + (161,)).

    Mehler's formula then gives E[f(u1) f(u2)] = sum_k a_k(q1) a_k(q2) c^k.  The default
    360-node Gauss-Hermite rule is accurate for smooth f at moderate q (its aliasing error is about
    the coefficients of order >= 560); ``fine=True`` uses a dense composite Gauss-Legendre rule that
    has no aliasing (slower).  Callers verify the completeness sum_k a_k^2 = E[f^2].
    """
    q = np.asarray(q, dtype=float)
    z, WH = _hermite_table(fine)
    with np.errstate(over="ignore", invalid="ignore"):
        vals = f(np.sqrt(q)[..., None] * z)
    return vals @ WH


class _HermiteSeries:
    """Hermite coefficients a_k(q) of f(sqrt(q) z) for a batch of q (1-D), with their tails.

    Mehler: E[f(u1) f(u2)] = sum_k a_k(q1) a_k(q2) c^k.  Truncation after order K:
    |remainder| <= |c|^(K+1) sqrt(T1 T2), T = E[f^2] - sum_{k<=K} a_k^2 (Cauchy-Schwarz); a value is
    certified when this is below rtol sqrt(E[f(u1)^2] E[f(u2)^2]), neither T is negative beyond
    rounding, and both series are ``resolved`` (Gauss-Hermite coefficients whose energy beyond order
    160 is below 1e-9 of E[f^2], so that aliasing is negligible, or dense Gauss-Legendre ones).
    """

    def __init__(self, f, moment, q):
        q = np.asarray(q, dtype=float).ravel()
        a = hermite_coefficients(f, q)
        self.m = np.asarray(moment(q), dtype=float).ravel()
        # Gauss-Hermite aliasing: a_k is off by about the coefficients of order >= 2n - 1 - K;
        # their effect is negligible (< 1e-13, checked against mpmath for tanh) when the energy
        # beyond order K is below 1e-9 of E[f^2].  Elsewhere (q up to _FINE_Q_MAX) the
        # coefficients are recomputed with the dense Gauss-Legendre rule, which has no aliasing.
        self.resolved = self.m - np.sum(a * a, axis=1) <= _ALIAS_TAIL * self.m
        redo = ~self.resolved & (q <= _FINE_Q_MAX)
        if np.any(redo):
            a[redo] = hermite_coefficients(f, q[redo], fine=True)
            self.resolved = self.resolved | redo
        self.aT = np.ascontiguousarray(a.T)
        self._cumulative = np.cumsum(self.aT**2, axis=0)
        self.trim(1e-17)

    def trim(self, rtol: float) -> None:
        """Keep the fewest orders K whose tail is below rtol E[f^2] for every element (if any)."""
        tails = self.m - self._cumulative
        good = np.all(tails <= rtol * self.m, axis=1)
        keep = int(np.argmax(good)) + 1 if np.any(good) else self._cumulative.shape[0]
        self.order = keep
        self.tail = tails[keep - 1]

    def pair(self, other: "_HermiteSeries", c, i=None, j=None, rtol: float = _MEHLER_RTOL):
        """(series, certified) for elements i of self with elements j of other, correlation c.

        ``i``, ``j`` are index arrays (default: all, elementwise); ``c`` may carry extra trailing
        axes (several correlations per element).
        """
        i = np.arange(self.m.size) if i is None else np.asarray(i, dtype=int)
        j = np.arange(other.m.size) if j is None else np.asarray(j, dtype=int)
        c = np.asarray(c, dtype=float)
        extra = (1,) * (c.ndim - i.ndim)
        order = min(self.order, other.order)
        uniform = self is other and np.ptp(self.m) == 0 and np.all(self.aT[:order] == self.aT[:order, :1])
        if uniform:  # every element has the same coefficients: a scalar polynomial in c
            coef = self.aT[:order, 0] ** 2
            series = np.full(np.broadcast_shapes(i.shape + extra, c.shape), coef[-1])
            for k in range(order - 2, -1, -1):
                series *= c
                series += coef[k]
        else:
            series = (self.aT[order - 1][i] * other.aT[order - 1][j]).reshape(i.shape + extra) * c
            for k in range(order - 2, -1, -1):
                series += (self.aT[k][i] * other.aT[k][j]).reshape(i.shape + extra)
                if k:
                    series *= c
        m1, m2 = self.m[i].reshape(i.shape + extra), other.m[j].reshape(j.shape + extra)
        t1 = (self.m - self._cumulative[order - 1])[i].reshape(i.shape + extra)
        t2 = (other.m - other._cumulative[order - 1])[j].reshape(j.shape + extra)
        bound = np.abs(c) ** order * np.sqrt(np.abs(t1 * t2))
        resolved = (self.resolved[i] & other.resolved[j]).reshape(i.shape + extra)
        ok = (
            np.isfinite(series)
            & resolved
            & (bound <= rtol * np.sqrt(m1 * m2))
            & (t1 >= -rtol * m1)
            & (t2 >= -rtol * m2)
        )
        return series, ok


def _mehler(f, moment, q1, q2, c):
    """Mehler series for E[f(u1) f(u2)] (flat arrays) and the mask where it is certified."""
    s1 = _HermiteSeries(f, moment, q1)
    s2 = s1 if np.array_equal(q1, q2) else _HermiteSeries(f, moment, q2)
    return s1.pair(s2, c)


class CorrelationKernel:
    """E[phi(u1) phi(u2)] and E[phi'(u1) phi'(u2)] as functions of c at fixed equal variances q.

    Built once for a batch of q (1-D), then evaluated for many c (shape (len(q),) or
    (len(q), m)): closed forms where they exist, the Mehler series (Hermite coefficients computed
    once) for smooth activations where it is certified, quadrature for the rest.  Used by the
    correlation fixed point, depth scales and phase diagrams, which evaluate many c per q.
    """

    def __init__(self, act: Activation, q, V=None, D=None):
        self.act = act
        self.q = np.asarray(q, dtype=float).ravel()
        #: the one-dimensional moments (exact by default; phase diagrams pass interpolants)
        self.V = V or (lambda v: second_moment(act, v))
        self.D = D or (lambda v: derivative_moment(act, v))
        forms = _forms(act)
        self._series = None
        if forms.C is None and forms.inner is None and act.is_smooth:
            self._series = (
                _HermiteSeries(act.phi, self.V, self.q),
                _HermiteSeries(act.dphi, self.D, self.q),
            )

    def _evaluate(self, which: int, c, idx):
        idx = np.arange(self.q.size) if idx is None else np.asarray(idx, dtype=int)
        c = np.asarray(c, dtype=float)
        q = self.q[idx].reshape(idx.shape + (1,) * (c.ndim - idx.ndim))
        direct = (cross_moment, derivative_cross_moment)[which]
        if self._series is None:
            return direct(self.act, q, q, c)
        series = self._series[which]
        value, ok = series.pair(series, c, idx, idx)
        value = np.array(np.broadcast_to(value, np.broadcast_shapes(q.shape, c.shape)))
        ok = np.broadcast_to(ok, value.shape)
        if not np.all(ok):
            qb = np.broadcast_to(q, value.shape)
            cb = np.broadcast_to(c, value.shape)
            value[~ok] = direct(self.act, qb[~ok], qb[~ok], cb[~ok])
        return value

    def C(self, c, idx=None):
        """E[phi(u1) phi(u2)] for the elements ``idx`` (default all), correlation c."""
        return self._evaluate(0, c, idx)

    def Cd(self, c, idx=None):
        """E[phi'(u1) phi'(u2)] for the elements ``idx`` (default all), correlation c."""
        return self._evaluate(1, c, idx)


def _bivariate(f, g, inner, f_kinks, g_kinks, q1, q2, c, moment=None) -> np.ndarray:
    """E[f(u1) g(u2)]: Mehler's series where certified (f = g smooth, ``moment`` = E[f^2]),
    else one outer integral over z1 of f(sqrt(q1) z1) E_Z2[g(u2) | z1]."""
    q1, q2, c = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (q1, q2, c)))
    shape = q1.shape
    q1, q2, c = q1.ravel(), q2.ravel(), c.ravel()
    if moment is not None:  # c = 1 with equal variances is a one-dimensional expectation
        diagonal = (c == 1) & (q1 == q2)
        if np.any(diagonal):
            out = np.empty(q1.shape)
            out[diagonal] = moment(q1[diagonal])
            rest = ~diagonal
            if np.any(rest):
                out[rest] = _bivariate(f, g, inner, f_kinks, g_kinks, q1[rest], q2[rest], c[rest], moment)
            return out.reshape(shape)
    if moment is not None and inner is None and not f_kinks:
        out, ok = _mehler(f, moment, q1, q2, c)
        if not np.all(ok):
            rest = ~ok
            out[rest] = _bivariate(f, g, inner, f_kinks, g_kinks, q1[rest], q2[rest], c[rest])
        return out.reshape(shape)
    r1, r2 = np.sqrt(q1), np.sqrt(q2)
    s = r2 * np.sqrt(np.clip(1.0 - c * c, 0.0, None))
    slope = r2 * c  # conditional mean of u2 is slope * z1

    g_points = _points(g_kinks)
    if inner is None:
        def inner(m, sd):  # noqa: E306 - the nested quadrature route
            return smoothed(g, m, sd, g_kinks)

    def F(x, z, idx):
        m = slope[idx][:, None] * z
        sd = np.broadcast_to(s[idx][:, None], m.shape)
        deg = sd == 0
        if np.any(deg):
            value = np.empty(m.shape)
            value[deg] = _point_value(g, m[deg], g_kinks)
            value[~deg] = inner(m[~deg], sd[~deg])
        else:
            value = inner(m, sd)
        return f(x) * value

    # outer panels: f's own points in x = u1, and the x-images of g's points (u2 = k <=> z1 = k/slope)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        images = np.asarray(g_points)[None, :] * (r1 / slope)[:, None]
    images = np.where(np.isfinite(images), images, 0.0)
    points = np.concatenate([np.broadcast_to(np.asarray(_points(f_kinks)), (q1.size, len(_points(f_kinks)))), images], axis=1)
    return integrate(F, points, np.zeros_like(r1), r1).reshape(shape)


def _check_c(c):
    c = np.asarray(c, dtype=float)
    return np.clip(c, -1.0, 1.0)


def _pair_moment(act: Activation, q1, q2, c, derivative: bool) -> np.ndarray:
    forms = _forms(act)
    c = _check_c(c)
    closed = forms.Cd if derivative else forms.C
    if closed is not None:
        return np.asarray(closed(np.asarray(q1, float), np.asarray(q2, float), c), dtype=float)
    f = act.dphi if derivative else act.phi
    inner = forms.dinner if derivative else forms.inner
    moment = derivative_moment if derivative else second_moment
    return _bivariate(f, f, inner, act.kinks, act.kinks, q1, q2, c, lambda q: moment(act, q))


def cross_moment(act: Activation, q1, q2, c) -> np.ndarray:
    """E[phi(u1) phi(u2)] for pre-activation variances q1, q2 and correlation c."""
    return _pair_moment(act, q1, q2, c, derivative=False)


def derivative_cross_moment(act: Activation, q1, q2, c) -> np.ndarray:
    """E[phi'(u1) phi'(u2)]: the slope of the correlation map times q/sigma_w^2 (Price's theorem)."""
    return _pair_moment(act, q1, q2, c, derivative=True)
