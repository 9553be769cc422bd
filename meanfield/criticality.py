"""The edge of chaos: critical sigma_w^2 for given sigma_b^2, with stability and reasons.

On a fixed point q* of the variance map, chi_1 = 1 means (docs/conventions.md §2)

    sigma_w^2 = 1 / D(q*),    sigma_b^2 = S(q*) := q* - V(q*) / D(q*),

and chi_1 < 1 (ordered) iff S(q*) < sigma_b^2.  For a given sigma_b^2 the roots of
S(q) = sigma_b^2 are found by scanning a log grid of q (1e-8 .. 1e6, cached per activation) for
sign changes and refining each with Chandrupatla's method; every root is reported with the slope
s_q = sigma_w^2 V'(q*) of the variance map (stable iff s_q < 1: the edge of chaos of GELU and swish
at small sigma_b^2 sits on an UNSTABLE fixed point that a network started at q^1 = 1 never
reaches).  Special cases with their reasons:

- positively homogeneous phi (relu, leaky relu, linear): S = 0 for every q.  At sigma_b^2 = 0 the
  critical point is sigma_w^2 = 1/D (2 for relu, 2/(1+a^2) for leaky relu) and every q is a fixed
  point (marginal); for sigma_b^2 > 0 there is none (q grows by sigma_b^2 every layer).
- sigma_b^2 = 0, phi(0) = 0, S(q) > 0 for small q (tanh, erf, sin, selu, gelu, ...): the
  degenerate limit q* -> 0 with sigma_w^2 = 1/phi'(0)^2 (one-sided average at a kink).
- no root (softplus, sigmoid at large sigma_b^2, ...): "none", with the side every fixed point is on.

With dropout p (inverted, docs/conventions.md §10) the variance map and chi_1 are those of sigma_w^2/(1 - p)
without dropout, so chi_1 = 1 at (1 - p) times the critical sigma_w^2 above, with the same q* and
stability; but there is no edge of chaos any more: the correlation map has c* < 1 and a finite xi_c
(Schoenholz et al. 2017), reported in ``c_star`` and ``xi_c``.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy.optimize.elementwise import find_root

from . import validation as check
from .activations import Activation, activation
from .gaussian import derivative_moment, second_moment, second_moment_slope
from .maps import _correlation_fixed_point, depth_scale_from_rate

__all__ = ["CriticalRoot", "CriticalPoint", "critical_point", "critical_sigma_w2"]

_Q_GRID = np.geomspace(1e-8, 1e6, 14 * 8 + 1)  # 8 points per decade


@dataclass(frozen=True)
class CriticalRoot:
    """One solution of chi_1 = 1 at a fixed point: sigma_w^2, q*, q-map slope, stability."""

    sigma_w2: float
    q_star: float
    q_slope: float
    stable: bool


@dataclass(frozen=True)
class CriticalPoint:
    """The edge of chaos for one sigma_b^2.

    Attributes
    ----------
    sigma_w2, q_star : float
        The reported critical point (NaN when none exists).  With several roots, the stable one of
        smallest q*, else the one of smallest q*; all are in ``roots``.
    stable : bool or None
        Whether q* attracts (q-map slope <= 1; marginal cases count as stable); None when none.
    q_slope : float
        s_q = sigma_w^2 V'(q*).
    status : str
        "critical", "unstable", "degenerate" (q* -> 0 limit), "marginal" (every q is a fixed
        point) or "none".
    reason : str
        A sentence explaining the status.
    roots : tuple of CriticalRoot
    dropout : float
        The drop probability p (module docstring); sigma_w2 and every root's sigma_w2 include the factor 1 - p.
    c_star, xi_c : float
        The stable correlation fixed point and the correlation depth scale at the reported point: 1 and inf on
        an edge of chaos (p = 0), c* < 1 and a finite xi_c with dropout, NaN when there is no point.
    """

    activation: str
    sigma_b2: float
    sigma_w2: float
    q_star: float
    stable: bool | None
    q_slope: float
    status: str
    reason: str
    roots: tuple[CriticalRoot, ...] = field(default_factory=tuple)
    dropout: float = 0.0
    c_star: float = 1.0
    xi_c: float = math.inf

    def __str__(self) -> str:
        if self.status == "none":
            return f"{self.activation}, sigma_b2={self.sigma_b2:g}: no critical point ({self.reason})"
        return (
            f"{self.activation}, sigma_b2={self.sigma_b2:g}: sigma_w2={self.sigma_w2:.12g}, "
            f"q*={self.q_star:.6g}, q-map slope={self.q_slope:.6g} [{self.status}] {self.reason}"
        )


@lru_cache(maxsize=128)
def _s_table(act: Activation) -> np.ndarray:
    """S(q) = q - V(q)/D(q) on the scan grid."""
    return _Q_GRID - second_moment(act, _Q_GRID) / derivative_moment(act, _Q_GRID)


def _S(act, q):
    return q - second_moment(act, q) / derivative_moment(act, q)


def _is_homogeneous(act, S) -> bool:
    return bool(np.all(np.abs(S) <= 1e-10 * _Q_GRID))


def _resolved_sign(act: Activation, sb2: np.ndarray) -> np.ndarray:
    """sign(S(q) - sigma_b^2) on the grid, 0 where it is within rounding (|.| <= 1e-11 q).

    S = q - V/D cancels to O(q^2) or O(q^3) at small q (tanh, sin, hard-tanh), where its computed
    sign is noise; such points carry no sign information.
    """
    h = _s_table(act)[None, :] - sb2[:, None]
    return np.where(np.abs(h) <= 1e-11 * _Q_GRID, 0.0, np.sign(h))


def _roots(act: Activation, sb2: np.ndarray) -> list[list[float]]:
    """All roots q of S(q) = sigma_b^2 on the grid range, for every sigma_b^2 (vectorized)."""
    sign = _resolved_sign(act, sb2)
    rows, lefts, rights = [], [], []
    for r in range(sign.shape[0]):  # pair consecutive resolved signs (a handful per row)
        idx = np.nonzero(sign[r])[0]
        flips = np.nonzero(sign[r, idx[:-1]] != sign[r, idx[1:]])[0]
        rows += [r] * flips.size
        lefts += list(idx[flips])
        rights += list(idx[flips + 1])
    roots: list[list[float]] = [[] for _ in sb2]
    if rows:
        b = sb2[np.asarray(rows)]
        res = find_root(lambda q, b_: _S(act, q) - b_, (_Q_GRID[lefts], _Q_GRID[rights]), args=(b,))
        for r, q in zip(rows, res.x):
            roots[r].append(float(q))
    return roots


def _analyse(act: Activation, sb2: float, qs: list[float]) -> CriticalPoint:
    name = act.name
    S = _s_table(act)
    if _is_homogeneous(act, S):
        sw2 = float(1.0 / derivative_moment(act, 1.0))
        if sb2 == 0:
            return CriticalPoint(
                name, sb2, sw2, 1.0, True, 1.0, "marginal",
                f"phi is positively homogeneous: at sigma_w2 = {sw2:.12g} the variance map is the identity, "
                "every q is a fixed point (q* = q^1, reported for q^1 = 1) and chi_1 = 1 at every depth",
            )
        return CriticalPoint(
            name, sb2, float("nan"), float("nan"), None, float("nan"), "none",
            f"phi is positively homogeneous, so chi_1 = sigma_w2 D does not depend on q; chi_1 = 1 needs "
            f"sigma_w2 = {sw2:.12g}, where the variance map is q -> q + sigma_b2 and q diverges for sigma_b2 > 0",
            c_star=math.nan, xi_c=math.nan,
        )
    roots = []
    if qs:
        q = np.asarray(qs)
        sw2 = 1.0 / derivative_moment(act, q)
        slope = sw2 * second_moment_slope(act, q)
        roots = [CriticalRoot(float(w), float(x), float(s), bool(s <= 1.0)) for w, x, s in zip(sw2, q, slope)]
    degenerate = None
    resolved = _resolved_sign(act, np.array([sb2]))[0]
    first = resolved[np.nonzero(resolved)[0][0]] if np.any(resolved) else 0.0
    if sb2 == 0 and act.phi0 == 0 and act.dphi0_squared > 0 and first > 0:
        sw2 = 1.0 / act.dphi0_squared
        # at sigma_w2 = 1/phi'(0)^2 the q-map is q + sigma_w2 V''(0) q^2/2 + ...: stable iff it bends down
        # first grid q where the bend is resolved (hard-tanh is exactly linear until clipping shows)
        g = sw2 * second_moment(act, _Q_GRID) - _Q_GRID
        resolved_g = np.nonzero(np.abs(g) > 1e-11 * _Q_GRID)[0]
        bends_down = bool(resolved_g.size and g[resolved_g[0]] < 0)
        degenerate = CriticalRoot(float(sw2), 0.0, 1.0, bends_down)
    if degenerate is not None:
        how = (
            "q decays to 0 from any q^1 (the q-map bends below the diagonal)"
            if degenerate.stable
            else "but any q > 0 grows away from 0 (the q-map bends above the diagonal), so this is only marginal"
        )
        extra = f"; {len(roots)} further root(s) with q* > 0 in roots" if roots else ""
        return CriticalPoint(
            name, sb2, degenerate.sigma_w2, 0.0, degenerate.stable, 1.0, "degenerate",
            f"sigma_b2 = 0 and phi(0) = 0: the edge of chaos is the limit q* -> 0, sigma_w2 = 1/phi'(0)^2; "
            f"{how}{extra}",
            (degenerate, *roots),
        )
    if not roots:
        signs = resolved[resolved != 0]
        side = "ordered (chi_1 < 1)" if np.all(signs < 0) else "chaotic (chi_1 > 1)" if np.all(signs > 0) else "ordered or chaotic"
        return CriticalPoint(
            name, sb2, float("nan"), float("nan"), None, float("nan"), "none",
            f"S(q) = q - V(q)/D(q) never equals sigma_b2 for q in [1e-8, 1e6]: every fixed point is {side}",
            c_star=math.nan, xi_c=math.nan,
        )
    stable = [r for r in roots if r.stable]
    best = stable[0] if stable else roots[0]
    status = "critical" if best.stable else "unstable"
    if best.stable:
        reason = f"q* is attracting (q-map slope {best.q_slope:.6g} <= 1)"
    else:
        reason = (
            f"q* is UNSTABLE (q-map slope {best.q_slope:.6g} > 1): a network started at q^1 = 1 does not "
            "reach it, so this edge of chaos is not realised in practice"
        )
    if len(roots) > 1:
        reason += f"; {len(roots)} roots of chi_1 = 1, all listed in roots"
    return CriticalPoint(name, sb2, best.sigma_w2, best.q_star, best.stable, best.q_slope, status, reason, tuple(roots))


def _critical_points(act: Activation, sb2: np.ndarray) -> list[CriticalPoint]:
    flat = sb2.ravel()
    return [_analyse(act, float(b), qs) for b, qs in zip(flat, _roots(act, flat))]


def _with_dropout(act: Activation, point: CriticalPoint, p: float) -> CriticalPoint:
    """``point`` (without dropout) moved to dropout p: sigma_w^2 times 1 - p, its c* and xi_c computed."""
    keep = 1.0 - p
    roots = tuple(dataclasses.replace(r, sigma_w2=r.sigma_w2 * keep) for r in point.roots)
    if point.status == "none":
        return dataclasses.replace(point, roots=roots, dropout=p, c_star=math.nan, xi_c=math.nan)
    sw2 = point.sigma_w2 * keep
    c, chi_c = _correlation_fixed_point(act, np.array([sw2]), np.array([point.sigma_b2]), np.array([point.q_star]), keep=keep)
    xi = float(depth_scale_from_rate(chi_c[0]))
    reason = (
        f"{point.reason}; with dropout {p:g} chi_1 = 1 (gradients neither vanish nor explode) at {keep:g} times "
        f"the critical sigma_w2 without dropout, but there is no edge of chaos: c* = {float(c[0]):.6g} < 1 and "
        f"xi_c = {xi:.6g} layers is finite"
    )
    return dataclasses.replace(point, sigma_w2=sw2, reason=reason, roots=roots, dropout=p, c_star=float(c[0]), xi_c=xi)


def critical_point(act, sigma_b2=0.0, *, dropout=0.0):
    """The edge of chaos chi_1 = 1 for bias variance ``sigma_b2``, with stability and a reason.

    Parameters
    ----------
    act : str, callable or Activation
    sigma_b2 : float or array_like
        Bias variance(s) >= 0.
    dropout : float
        Drop probability p in [0, 1) of inverted dropout: the point where chi_1 = sigma_w^2 D(q*)/(1 - p) = 1,
        with its (finite) correlation depth scale (module docstring).

    Returns
    -------
    CriticalPoint, or a list of them (flattened) for array input.
    """
    act = activation(act)
    sb2 = check.nonnegative("sigma_b2", sigma_b2)
    p = check.dropout(dropout)
    points = _critical_points(act, sb2)
    if p > 0:
        points = [_with_dropout(act, point, p) for point in points]
    return points[0] if sb2.ndim == 0 else points


def critical_sigma_w2(act, sigma_b2=0.0):
    """Critical sigma_w^2 (chi_1 = 1) for every sigma_b^2; NaN only where none exists.

    The reason for a NaN, the q*, the stability and every further root are in
    :func:`critical_point`.  Vectorized over ``sigma_b2`` (one scan of S(q), one batched root
    solve).
    """
    act = activation(act)
    sb2 = check.nonnegative("sigma_b2", sigma_b2)
    values = np.array([p.sigma_w2 for p in _critical_points(act, sb2)]).reshape(sb2.shape)
    return float(values) if values.ndim == 0 else values
