"""Mean-field maps: variance map, correlation map, fixed point q*, chi_1 and depth scales.

Conventions (docs/conventions.md §2; Poole et al. 2016, Schoenholz et al. 2017): W_ij ~ N(0, sigma_w^2/N),
b_i ~ N(0, sigma_b^2), q = variance of a pre-activation, V(q) = E[phi(sqrt(q) z)^2],
D(q) = E[phi'(sqrt(q) z)^2].

- variance map  q -> sigma_w^2 V(q) + sigma_b^2
- correlation map  c -> (sigma_w^2 E[phi(u1) phi(u2)] + sigma_b^2) / q',  u1, u2 of variance q
  and correlation c, q' = sigma_w^2 V(q) + sigma_b^2 the next layer's variance (= q at q*)
- q*: the attracting fixed point reached from q^1 = q0, by a bracket from a cached table of V on a
  log grid and Chandrupatla's method (scipy.optimize.elementwise.find_root) on the exact map
- chi_1 = sigma_w^2 D(q*);  q-map slope s_q = sigma_w^2 V'(q*);  xi_q = -1/log s_q;
  chi_c = sigma_w^2 E[phi'(u1) phi'(u2)] at the stable correlation fixed point c*,  xi_c = -1/log chi_c
  (infinite on the edge of chaos).

All functions accept an activation name, formula, callable or :class:`Activation`, and broadcast
their numeric arguments; scalars in give floats out.

**Dropout** (Schoenholz et al. 2017, section 5; docs/conventions.md §10): ``dropout=p`` drops each unit of
x^l = phi(h^l) with probability p and scales the kept ones by 1/(1 - p) (inverted dropout, as PyTorch), with
independent masks for every input.  With keep = 1 - p:

- q-map  q -> sigma_w^2 V(q) / keep + sigma_b^2 (the map of sigma_w^2 / keep without dropout);
- c-map  c -> (sigma_w^2 E[phi(u1) phi(u2)] + sigma_b^2) / q'  (independent masks: no 1/keep);
- chi_1 = sigma_w^2 D(q*) / keep (the mean squared singular value of one layer's Jacobian D M W with the
  mask M: the factor of a squared gradient norm per layer), s_q = sigma_w^2 V'(q*) / keep;
- c-map(1) = 1 - p (1 - sigma_b^2 / q*) < 1: c = 1 is no fixed point, c* < 1 everywhere, and the slope
  chi_c = sigma_w^2 E[phi'(u1) phi'(u2)] at c* stays below 1: there is no edge of chaos.  The c-map is convex
  on [0, 1] (Mehler: a power series with coefficients a_k^2 >= 0) with c-map(0) >= 0, so c* >= 0 and
  chi_c <= (c-map(1) - c*)/(1 - c*) <= c-map(1): xi_c <= -1/log(1 - p (1 - sigma_b^2 / q*))
  (:attr:`Propagation.xi_c_bound`).

p = 0 (the default) runs exactly the code without dropout.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from scipy.optimize.elementwise import find_root

from . import validation as check
from .activations import Activation, activation
from .errors import DivergentExpectationError, DivergentFixedPointError, ParameterError
from .gaussian import (
    CorrelationKernel,
    cross_moment,
    derivative_moment,
    second_moment,
    second_moment_slope,
)

__all__ = [
    "variance_map",
    "correlation_map",
    "fixed_point",
    "chi1",
    "q_slope",
    "correlation_fixed_point",
    "depth_scales",
    "DepthScales",
    "depth_scale_from_rate",
    "Propagation",
    "propagation",
    "Q_MAX",
]

#: |chi_1 - 1| below which a point is reported as critical.
CRITICAL_TOLERANCE = 1e-9
#: Largest variance the fixed-point search follows; beyond it q is declared divergent.
Q_MAX = 1e30
_GRID = np.geomspace(1e-12, Q_MAX, 42 * 6 + 1)  # 6 points per decade


def _effective_sw2(sw2, p: float):
    """sigma_w^2 / (1 - p): with dropout p the variance map (and chi_1, s_q) of one input is that of this weight
    variance without dropout; p = 0 returns ``sw2`` itself."""
    return sw2 if p == 0 else sw2 / (1.0 - p)


def _scalar_or_array(values: np.ndarray, shape: tuple):
    out = np.asarray(values, dtype=float).reshape(shape)
    return float(out) if out.ndim == 0 else out


@lru_cache(maxsize=128)
def _v_table(act: Activation) -> np.ndarray:
    """V on the search grid; +inf where the expectation diverges or overflows."""
    values = np.full(_GRID.size, np.inf)
    try:
        values[:] = second_moment(act, _GRID)
    except DivergentExpectationError:
        for i, q in enumerate(_GRID):  # find where it stops being representable (rare path)
            try:
                values[i] = float(second_moment(act, q))
            except DivergentExpectationError:
                break
    return values


def variance_map(act, sigma_w2, sigma_b2, q, *, dropout=0.0):
    """One layer of the variance map, q -> sigma_w^2 V(q) + sigma_b^2 (Poole et al. 2016, eq. 3).

    Parameters
    ----------
    act : str, callable or Activation
    sigma_w2, sigma_b2, q : array_like
        Weight variance, bias variance and pre-activation variance, all >= 0 (broadcast).
    dropout : float
        Drop probability p in [0, 1): q -> sigma_w^2 V(q)/(1 - p) + sigma_b^2 (module docstring).

    Returns
    -------
    float or ndarray
    """
    act = activation(act)
    p = check.dropout(dropout)
    sw2, sb2, q = np.broadcast_arrays(
        check.nonnegative("sigma_w2", sigma_w2), check.nonnegative("sigma_b2", sigma_b2), check.nonnegative("q", q)
    )
    return _scalar_or_array(_effective_sw2(sw2, p) * second_moment(act, q) + sb2, sw2.shape)


#: A homogeneous activation's sigma_w^2 within this many ulps of its marginal value 1/D is that value
#: (torch's calculate_gain("relu")**2 = 2.0000000000000004 means the critical He initialization).
MARGINAL_ULPS = 8


def homogeneous_slope(act: Activation, sw2) -> np.ndarray:
    """sigma_w^2 D of a positively homogeneous activation (V(q) = D q: the variance map is linear), with
    values within :data:`MARGINAL_ULPS` ulps of 1 snapped to exactly 1 (the marginal, critical point)."""
    r = np.asarray(sw2, dtype=float) * float(derivative_moment(act, 1.0))
    return np.where(np.abs(r - 1.0) <= MARGINAL_ULPS * np.finfo(float).eps, 1.0, r)


def _homogeneous_fixed_point(act: Activation, sw2, sb2, q0) -> np.ndarray:
    """q* of the linear map q -> r q + sigma_b^2 (r = sigma_w^2 D) reached from q0: sigma_b^2/(1 - r) for
    r < 1, q0 itself at the marginal point r = 1 with sigma_b^2 = 0 (every q is fixed), else inf."""
    r = homogeneous_slope(act, sw2)
    with np.errstate(divide="ignore", invalid="ignore"):
        below = np.where(r < 1, sb2 / (1.0 - r), np.inf)
    return np.where((r == 1) & (sb2 == 0), q0, below)


def _rate(act: Activation, sw2, q, moment) -> np.ndarray:
    """sigma_w^2 D(q) or sigma_w^2 V'(q); for a homogeneous phi both are the constant slope of its linear
    map, snapped to 1 at the marginal point (:func:`homogeneous_slope`)."""
    if act.homogeneous:
        return np.broadcast_to(homogeneous_slope(act, sw2), np.broadcast_shapes(np.shape(sw2), np.shape(q)))
    return sw2 * moment(act, q)


def _divergence_error(act: Activation, sw2: float, sb2: float, q0: float) -> DivergentFixedPointError:
    head = f"the variance map of {act.name} with sigma_w2={sw2!r}, sigma_b2={sb2!r} has no finite fixed point"
    if act.homogeneous:
        D = float(derivative_moment(act, 1.0))
        return DivergentFixedPointError(
            f"{head}: {act.name} is positively homogeneous, so the map is linear, q -> sigma_w2 D q + sigma_b2 "
            f"with D = {D!r} and sigma_w2 D = {sw2 * D!r}; a finite fixed point needs sigma_w2 < {1 / D!r}, or "
            f"sigma_w2 = {1 / D!r} (up to {MARGINAL_ULPS} ulps) with sigma_b2 = 0, where every q is a fixed point"
        )
    return DivergentFixedPointError(
        f"{head} above q0={q0!r}: q grows past {Q_MAX:g} with depth (any phi growing like |x| does this for "
        "large sigma_w2); choose a smaller sigma_w2"
    )


def _fixed_point(act: Activation, sw2, sb2, q0, *, diverge: str = "raise", V=None) -> np.ndarray:
    """Vectorized q*; ``diverge="inf"`` returns inf instead of raising; ``V`` replaces the exact
    second moment (phase diagrams pass a verified interpolant).  Homogeneous activations (linear,
    relu, leaky relu, abs) take the closed form of their linear map."""
    sw2, sb2, q0 = (np.asarray(v, dtype=float) for v in np.broadcast_arrays(sw2, sb2, q0))
    shape = sw2.shape
    sw2, sb2, q0 = sw2.ravel(), sb2.ravel(), q0.ravel()
    if act.homogeneous:
        result = _homogeneous_fixed_point(act, sw2, sb2, q0)
    else:
        result = _searched_fixed_point(act, sw2, sb2, q0, V or (lambda q: second_moment(act, q)))
    if diverge == "raise" and np.any(np.isinf(result)):
        i = np.nonzero(np.isinf(result))[0][0]
        raise _divergence_error(act, float(sw2[i]), float(sb2[i]), float(q0[i]))
    return result.reshape(shape)


def _searched_fixed_point(act: Activation, sw2, sb2, q0, V) -> np.ndarray:
    """q* by a sign change of sigma_w^2 V(q) + sigma_b^2 - q on the cached table, refined by Chandrupatla."""
    u0, inverse = np.unique(q0, return_inverse=True)
    g0 = sw2 * V(u0)[inverse.ravel()] + sb2 - q0
    table = _v_table(act)
    with np.errstate(invalid="ignore"):
        G = sw2[:, None] * table[None, :] + sb2[:, None] - _GRID[None, :]
    result = np.where(g0 == 0, q0, np.nan)
    lo, hi = np.full(q0.size, np.nan), np.full(q0.size, np.nan)

    up = g0 > 0
    above = (_GRID[None, :] > q0[:, None]) & (G <= 0)
    has_up = above.any(axis=1)
    k = np.argmax(above, axis=1)
    sel = up & has_up
    hi[sel] = _GRID[k[sel]]
    lo[sel] = np.maximum(q0[sel], _GRID[np.maximum(k[sel] - 1, 0)])
    result[up & ~has_up] = np.inf

    down = g0 < 0
    below = (_GRID[None, :] < q0[:, None]) & (G >= 0)
    has_down = below.any(axis=1)
    k = _GRID.size - 1 - np.argmax(below[:, ::-1], axis=1)
    sel = down & has_down
    lo[sel] = _GRID[k[sel]]
    hi[sel] = np.minimum(q0[sel], _GRID[np.minimum(k[sel] + 1, _GRID.size - 1)])
    # no sign change down to the bottom of the grid: q* = 0 if 0 is a fixed point, else in (0, grid[0])
    g_at_zero = sw2 * act.phi0**2 + sb2
    bottom = down & ~has_down
    result[bottom & (g_at_zero == 0)] = 0.0
    sel = bottom & (g_at_zero > 0)
    lo[sel], hi[sel] = 0.0, np.minimum(q0[sel], _GRID[0])

    solve = np.isnan(result)
    if np.any(solve):
        def g(q, w, b):
            return w * V(q) + b - q

        res = find_root(g, (lo[solve], hi[solve]), args=(sw2[solve], sb2[solve]))
        result[solve] = res.x
    return result


def fixed_point(act, sigma_w2, sigma_b2, q0=1.0, *, dropout=0.0):
    """The fixed point q* of the variance map reached from q^1 = q0.

    The iteration q -> sigma_w^2 V(q) + sigma_b^2 is monotone for the usual activations, so it
    converges to the first root of sigma_w^2 V(q) + sigma_b^2 - q in the direction it moves from q0
    (an attracting fixed point, or q* = 0 in the degenerate ordered case sigma_b^2 = 0, phi(0) = 0).
    The root is bracketed on a log grid and refined to machine precision; no plain iteration.

    Parameters
    ----------
    act : str, callable or Activation
    sigma_w2, sigma_b2 : array_like
        Weight and bias variances (>= 0), broadcast together with q0.
    q0 : array_like
        Variance of the first layer's pre-activations, q^1 = sigma_w^2 |x|^2/n_0 + sigma_b^2 (> 0).
    dropout : float
        Drop probability p in [0, 1) of inverted dropout on every hidden layer: the q-map becomes
        q -> sigma_w^2 V(q)/(1 - p) + sigma_b^2 (module docstring).

    Returns
    -------
    float or ndarray

    Raises
    ------
    DivergentFixedPointError
        If q grows without bound (beyond Q_MAX = 1e30), e.g. relu with sigma_w^2 > 2 (1 - p).
    """
    act = activation(act)
    sw2 = check.nonnegative("sigma_w2", sigma_w2)
    sb2 = check.nonnegative("sigma_b2", sigma_b2)
    q0 = check.positive("q0", q0)
    p = check.dropout(dropout)
    shape = np.broadcast_shapes(sw2.shape, sb2.shape, q0.shape)
    return _scalar_or_array(_dropout_fixed_point(act, sw2, sb2, q0, p), shape)


def _dropout_fixed_point(act: Activation, sw2, sb2, q0, p: float) -> np.ndarray:
    """:func:`_fixed_point` with dropout p (the map of sigma_w^2/(1 - p)), its divergence error saying so."""
    if p == 0:
        return _fixed_point(act, sw2, sb2, q0)
    try:
        return _fixed_point(act, _effective_sw2(sw2, p), sb2, q0)
    except DivergentFixedPointError as exc:
        raise DivergentFixedPointError(
            f"with dropout {p!r} the variance map is that of sigma_w2/(1 - dropout) without dropout: {exc}"
        ) from None


def _q_or_fixed_point(act, sw2, sb2, q, p: float = 0.0):
    if q is None:
        return _dropout_fixed_point(act, sw2, sb2, 1.0, p)
    return check.nonnegative("q", q)


def chi1(act, sigma_w2, sigma_b2, q=None, *, dropout=0.0):
    """chi_1 = sigma_w^2 E[phi'(sqrt(q) z)^2] (Schoenholz et al. 2017, eq. 5).

    The slope of the correlation map at c = 1 and the mean squared singular value of one layer's
    Jacobian.  ``q=None`` evaluates it at the fixed point q* reached from q^1 = 1.  With ``dropout=p``
    (inverted, module docstring) it is sigma_w^2 D(q) / (1 - p), the mean squared singular value of
    D M W (the gradient factor per layer); the slope of the correlation map at c = 1 is then
    (1 - p) chi_1.
    """
    act = activation(act)
    sw2 = check.nonnegative("sigma_w2", sigma_w2)
    sb2 = check.nonnegative("sigma_b2", sigma_b2)
    p = check.dropout(dropout)
    q = _q_or_fixed_point(act, sw2, sb2, q, p)
    sw2, q = np.broadcast_arrays(_effective_sw2(sw2, p), q)
    shape = np.broadcast_shapes(sw2.shape, sb2.shape)
    return _scalar_or_array(np.broadcast_to(_rate(act, sw2, q, derivative_moment), shape), shape)


def q_slope(act, sigma_w2, sigma_b2, q=None):
    """Slope of the variance map, s_q = sigma_w^2 V'(q); q* is stable iff s_q < 1.

    ``q=None`` evaluates it at q* reached from q^1 = 1.
    """
    act = activation(act)
    sw2 = check.nonnegative("sigma_w2", sigma_w2)
    sb2 = check.nonnegative("sigma_b2", sigma_b2)
    q = _q_or_fixed_point(act, sw2, sb2, q)
    shape = np.broadcast_shapes(sw2.shape, sb2.shape, np.shape(q))
    return _scalar_or_array(np.broadcast_to(_rate(act, sw2, q, second_moment_slope), shape), shape)


def _one_sided_slopes(act: Activation) -> tuple[float, float, float]:
    """(a, b, v): phi'(0-), phi'(0+) and v = (a^2 + b^2)/2 (the local homogeneous approximation at 0)."""
    a, b = (float(x) for x in act.dphi(np.array([-1e-200, 1e-200])))
    return a, b, (a * a + b * b) / 2


def _small_q_cmap(a: float, b: float, v: float, c):
    """The q -> 0 limit of the correlation map (sigma_b^2 = 0, phi(0) = 0): the ABReLU arc-cosine map of the
    one-sided slopes a, b (Cho & Saul 2009), c itself for phi differentiable at 0."""
    return ((a - b) ** 2 * np.sqrt(1 - c**2) / (2 * np.pi) + (v - (a - b) ** 2 * np.arccos(c) / (2 * np.pi)) * c) / v


def _cmap(act, sw2, sb2, q, c, keep: float = 1.0):
    """Correlation map at variance q (both inputs), normalised by the next layer's variance
    sigma_w^2 V(q)/keep + sigma_b^2 (keep = 1 - dropout).

    Where the next variance is 0 (q = 0, sigma_b^2 = 0, phi(0) = 0) the map is 0/0; its limit q -> 0 is
    that of the local homogeneous approximation phi(x) ~ b x (x > 0), a x (x < 0) with a, b the one-sided
    slopes at 0: the ABReLU arc-cosine map (Cho & Saul 2009),
    c' = keep [(a - b)^2 sqrt(1 - c^2) / (2 pi) + ((a^2 + b^2)/2 - (a - b)^2 arccos(c) / (2 pi)) c] / ((a^2 + b^2)/2),
    which is keep c for phi differentiable at 0.
    """
    q_next = sw2 * second_moment(act, q) / keep + sb2
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.asarray((sw2 * cross_moment(act, q, q, c) + sb2) / q_next, dtype=float)
    degenerate = np.broadcast_to(q_next == 0, out.shape)
    if np.any(degenerate):
        a, b, v = _one_sided_slopes(act)
        if v == 0 or np.any(np.broadcast_to(sw2, out.shape)[degenerate] == 0):
            raise ParameterError(
                f"the correlation map of {act.name} is undefined where both signals vanish (q = 0 and "
                "sigma_b2 = 0) and phi is flat at 0 or sigma_w2 = 0: the next layer's variance is 0"
            )
        cc = np.broadcast_to(c, out.shape)[degenerate]
        out = np.array(out)
        out[degenerate] = keep * _small_q_cmap(a, b, v, cc)
    return out


def correlation_map(act, sigma_w2, sigma_b2, c, q=None, *, dropout=0.0):
    """One layer of the correlation map (Poole et al. 2016, eq. 5).

    c -> (sigma_w^2 E[phi(u1) phi(u2)] + sigma_b^2) / q',  u1, u2 ~ N(0, q) with correlation c,
    q' = sigma_w^2 V(q) + sigma_b^2 (equal to q at the fixed point, the default ``q=None``).  With
    ``dropout=p`` (independent inverted-dropout masks for the two inputs, module docstring)
    q' = sigma_w^2 V(q)/(1 - p) + sigma_b^2 and ``q=None`` is the fixed point with dropout.
    """
    act = activation(act)
    sw2 = check.nonnegative("sigma_w2", sigma_w2)
    sb2 = check.nonnegative("sigma_b2", sigma_b2)
    c = check.correlation("c", c)
    p = check.dropout(dropout)
    q = _q_or_fixed_point(act, sw2, sb2, q, p)
    sw2, sb2, q, c = np.broadcast_arrays(sw2, sb2, q, c)
    return _scalar_or_array(_cmap(act, sw2, sb2, q, c, 1.0 - p), sw2.shape)


_C_LADDER = 1.0 - np.array([1.0, 0.5, 0.1] + [10.0**-k for k in range(2, 13)])


def _correlation_fixed_point(act, sw2, sb2, q, V=None, D=None, keep: float = 1.0):
    """(c*, chi_c) on flat arrays: c* = 1 and chi_c = chi_1 when chi_1 <= 1, else c* in [0, 1).

    c-map(0) = (sigma_w^2 E[phi]^2 + sigma_b^2)/q >= 0, and c-map(1 - d) < 1 - d for small d when
    chi_1 > 1, so the first sign change of c-map(c) - c on a ladder 0, 0.5, 0.9, 0.99, ...,
    1 - 1e-12 brackets the stable fixed point, refined by Chandrupatla's method.  The bivariate
    expectations are built once for the chaotic points only (:class:`CorrelationKernel`).
    ``V``, ``D`` replace the exact one-dimensional moments (phase diagrams pass interpolants).
    With dropout (keep = 1 - p < 1) c-map(1) < 1 at every point, so every point is solved this way
    (``q`` is then the fixed point with dropout; points with q* = 0 take the q -> 0 limit map).
    """
    V = V or (lambda v: second_moment(act, v))
    D = D or (lambda v: derivative_moment(act, v))
    chi_c = homogeneous_slope(act, sw2) if act.homogeneous else sw2 * D(q)
    c_star = np.ones_like(q)
    if keep < 1:
        vanished = q == 0
        if np.any(vanished):
            c_star[vanished], chi_c[vanished] = _vanished_correlation_fixed_point(act, keep)
        chaotic = np.nonzero(~vanished)[0]
    else:
        chaotic = np.nonzero(chi_c > 1)[0]
    if chaotic.size == 0:
        return c_star, chi_c
    w, b, qq = sw2[chaotic], sb2[chaotic], q[chaotic]
    kernel = CorrelationKernel(act, qq, V, D)
    q_next = w * V(qq) / keep + b  # = q* up to rounding
    every = np.arange(chaotic.size)

    def g(c, i, w_, b_, qn):
        return (w_ * kernel.C(c, i) + b_) / qn - c

    # climb the ladder only as far as each element needs (c near 1 is the expensive end)
    k = np.zeros(chaotic.size, dtype=int)
    found = np.zeros(chaotic.size, dtype=bool)
    for step, c in enumerate(_C_LADDER):
        live = np.nonzero(~found)[0]
        if live.size == 0:
            break
        below = g(np.full(live.size, c), every[live], w[live], b[live], q_next[live]) < 0
        k[live[below]] = step
        found[live[below]] = True
    # k == 0: c-map(0) < 0 only by rounding, so c* = 0; no sign change up to 1 - 1e-12: c* ~ 1
    values = np.where(found & (k == 0), 0.0, 1.0)
    solve = found & (k > 0)
    if np.any(solve):
        lo, hi = _C_LADDER[k[solve] - 1], _C_LADDER[k[solve]]
        res = find_root(g, (lo, hi), args=(every[solve], w[solve], b[solve], q_next[solve]))
        values[solve] = res.x
    c_star[chaotic] = values
    chi_c[chaotic] = w * kernel.Cd(values)
    return c_star, chi_c


def _vanished_correlation_fixed_point(act: Activation, keep: float) -> tuple[float, float]:
    """(c*, slope) of the q -> 0 limit c -> keep h(c) of the correlation map with dropout (q* = 0: the signals
    vanish; h the ABReLU map of phi's one-sided slopes at 0, :func:`_small_q_cmap`).  Smooth phi: h(c) = c, so
    c* = 0 with slope keep; a kink: keep h(c) - c > 0 at 0 and keep - 1 < 0 at 1 brackets c*.  NaN where phi
    is flat at 0 (no signal at all)."""
    a, b, v = _one_sided_slopes(act)
    if v == 0:
        return np.nan, np.nan
    if a == b:
        return 0.0, keep
    res = find_root(lambda c: keep * _small_q_cmap(a, b, v, c) - c, (np.array([0.0]), np.array([1.0])))
    c = float(res.x[0])
    return c, keep * (v - (a - b) ** 2 * np.arccos(c) / (2 * np.pi)) / v


def correlation_fixed_point(act, sigma_w2, sigma_b2, q0=1.0, *, dropout=0.0):
    """The stable fixed point c* of the correlation map at q* reached from q0 (1 when ordered; < 1 everywhere
    with ``dropout`` > 0, module docstring)."""
    act = activation(act)
    sw2 = check.nonnegative("sigma_w2", sigma_w2)
    sb2 = check.nonnegative("sigma_b2", sigma_b2)
    p = check.dropout(dropout)
    sw2, sb2 = np.broadcast_arrays(sw2, sb2)
    q = _dropout_fixed_point(act, sw2, sb2, check.positive("q0", q0), p)
    c_star = _correlation_fixed_point(act, sw2.ravel(), sb2.ravel(), q.ravel(), keep=1.0 - p)[0]
    return _scalar_or_array(c_star, sw2.shape)


class DepthScales(NamedTuple):
    """Depth scales of Schoenholz et al. 2017: xi_q (variance) and xi_c (correlation)."""

    xi_q: float | np.ndarray
    xi_c: float | np.ndarray


def depth_scale_from_rate(rate):
    """xi = -1/log(rate): infinite for rate >= 1 (marginal or unstable), 0 for rate = 0."""
    rate = np.asarray(rate, dtype=float)
    with np.errstate(divide="ignore"):
        return np.where(rate >= 1, np.inf, -1.0 / np.log(np.where(rate >= 1, 0.5, rate)))


def depth_scales(act, sigma_w2, sigma_b2, q0=1.0, *, dropout=0.0) -> DepthScales:
    """Depth scales xi_q = -1/log(s_q) and xi_c = -1/log(chi_c) (Schoenholz et al. 2017, eqs. 7, 9).

    s_q = sigma_w^2 V'(q*) is the slope of the variance map at q*; chi_c = sigma_w^2
    E[phi'(u1) phi'(u2)] at the stable correlation fixed point c* (chi_c = chi_1 in the ordered
    phase, where c* = 1).  Both are infinite on the edge of chaos (chi_1 = 1).  At q* = 0 (the
    degenerate ordered case) s_q = chi_1 and xi_q = xi_c.  q* is the fixed point reached from q0.
    With ``dropout`` > 0 xi_c is finite everywhere (module docstring).
    """
    p = propagation(act, sigma_w2, sigma_b2, q0, dropout=dropout)
    return DepthScales(p.xi_q, p.xi_c)


@dataclass(frozen=True)
class Propagation:
    """Everything the mean-field maps say about one (activation, sigma_w^2, sigma_b^2, q^1).

    Attributes (floats, or arrays for array input): q_star, chi1, q_slope (s_q), xi_q, c_star,
    chi_c, xi_c, the ``dropout`` rate, and ``phase``: "ordered" (chi_1 < 1), "chaotic" (> 1) or
    "critical" (|chi_1 - 1| <= 1e-9); with dropout chi_1 is the gradient factor per layer and
    "critical" means gradients neither vanish nor explode, while xi_c stays finite (module docstring).
    """

    activation: str
    sigma_w2: float | np.ndarray
    sigma_b2: float | np.ndarray
    q0: float | np.ndarray
    q_star: float | np.ndarray
    chi1: float | np.ndarray
    q_slope: float | np.ndarray
    xi_q: float | np.ndarray
    c_star: float | np.ndarray
    chi_c: float | np.ndarray
    xi_c: float | np.ndarray
    dropout: float = 0.0

    @property
    def xi_c_bound(self):
        """The bound xi_c <= -1/log(1 - p (1 - sigma_b^2/q*)) of dropout p (module docstring); inf for p = 0.

        With sigma_b^2 = 0 it is -1/log(1 - p) at every point (q* = 0 included).
        """
        q = np.asarray(self.q_star, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            shrink = np.where(q > 0, 1.0 - np.asarray(self.sigma_b2) / q, 1.0)
        out = depth_scale_from_rate(1.0 - self.dropout * shrink)
        return float(out) if out.ndim == 0 else out

    @property
    def phase(self):
        """"ordered", "chaotic" or "critical" (|chi_1 - 1| <= 1e-9), elementwise for arrays."""
        chi = np.asarray(self.chi1)
        out = np.where(np.abs(chi - 1) <= CRITICAL_TOLERANCE, "critical", np.where(chi < 1, "ordered", "chaotic"))
        return str(out) if out.ndim == 0 else out


def propagation(act, sigma_w2, sigma_b2, q0=1.0, *, dropout=0.0) -> Propagation:
    """q*, chi_1, the q-map slope, xi_q, c*, chi_c and xi_c at once (shared work, broadcast).

    Parameters
    ----------
    act : str, callable or Activation
    sigma_w2, sigma_b2 : array_like
        Weight and bias variances (>= 0).
    q0 : array_like
        The first layer's variance q^1 (> 0); q* is the fixed point reached from it.
    dropout : float
        Drop probability p in [0, 1) (module docstring).
    """
    act = activation(act)
    sw2 = check.nonnegative("sigma_w2", sigma_w2)
    sb2 = check.nonnegative("sigma_b2", sigma_b2)
    q0 = check.positive("q0", q0)
    p = check.dropout(dropout)
    sw2, sb2, q0 = np.broadcast_arrays(sw2, sb2, q0)
    shape = sw2.shape
    w, b = sw2.ravel(), sb2.ravel()
    q = _dropout_fixed_point(act, w, b, q0.ravel(), p)
    chi = _rate(act, _effective_sw2(w, p), q, derivative_moment)
    s_q = _rate(act, _effective_sw2(w, p), q, second_moment_slope)
    c_star, chi_c = _correlation_fixed_point(act, w, b, q, keep=1.0 - p)
    out = [_scalar_or_array(v, shape) for v in (sw2, sb2, q0, q, chi, s_q, depth_scale_from_rate(s_q), c_star, chi_c, depth_scale_from_rate(chi_c))]
    return Propagation(act.name, *out, dropout=p)
