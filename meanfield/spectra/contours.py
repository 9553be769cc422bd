"""Contour quadratures of the law of d = phi'(sqrt(q) g)^2, g ~ N(0, 1), for free probability.

M_{D^2}(zeta) = E[d/(zeta - d)] is needed for zeta in the upper half plane down to the real support of
d.  Written as an integral over g and moved onto a contour g(t) = t + i c(t) deformed into the complex
plane, it stays the analytic continuation from above when zeta touches the support (on the real axis
the integrand has poles there).  The contour must pass below every pole where d is increasing and above
where it is decreasing (so c has the sign of -d'(g) and vanishes at the turning points of d and at
phi's kinks), stay below phi's complex singularities, and below the spurious roots of d(g) = zeta that
approach the axis in Gaussian-type tails (:func:`_lift_radius`).

- :func:`even_contour`: d even in g and non-increasing in |g| (tanh, erf, sigmoid, and the negative
  half-line of selu/elu): t in [0, 9].
- :func:`general_contour`: smooth d of any shape (silu, gelu, softplus, x erf x): t in [-9, 9], graded
  towards the turning points.
- :func:`piecewise_contour`: phi' piecewise smooth with kinks (Max(x, tanh(x)), formulas mixing
  branches): one piece per interval between kinks, constant pieces as atoms, each smooth piece on its
  own analytic branch of phi'.
"""
from __future__ import annotations

import warnings

import numpy as np
import sympy as sp
from scipy import special
from scipy.optimize import brentq

from ..activations import Activation
from ..errors import ParameterError
from ..formula import X, branch_at
from ..numeric import numpy_function
from .derivative_law import turning_points

__all__ = ["even_contour", "general_contour", "piecewise_contour", "complex_dphi"]

_INV_SQRT2PI = 1.0 / np.sqrt(2.0 * np.pi)


def even_contour(act: Activation, q: float, n: int, shrink: float = 1.0, dphi=None, side: float = 1.0, factor: float = 2.0):
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
        values = (dphi or complex_dphi(act))(side * np.sqrt(q) * g) ** 2
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


def _general_nodes(graded: np.ndarray, per_panel: int, lo: float = -_T_GENERAL, hi: float = _T_GENERAL):
    """Composite Gauss-Legendre on [lo, hi]: panels <= 0.5, halving geometrically down to 1e-6
    towards every point of ``graded`` (turning points of d, kinks: the poles of d/(zeta - d) approach
    the contour there)."""
    breaks = [np.linspace(lo, hi, max(2, int(np.ceil((hi - lo) / 0.5)) + 1))]
    for tk in graded:
        offs = 0.5 * 0.5 ** np.arange(0, 21)
        breaks.append(np.concatenate([[tk], tk - offs, tk + offs]))
    b = np.unique(np.clip(np.concatenate(breaks), lo, hi))
    b = b[np.concatenate([[True], np.diff(b) > 1e-12])]
    u, w = special.roots_legendre(per_panel)
    left, right = b[:-1, None], b[1:, None]
    t = (left + (right - left) * (u + 1) / 2).ravel()
    wt = ((right - left) / 2 * w).ravel()
    return t, wt


def _general_lift(t, turning, sign0: float, kappa: float, width: float, radius: float, ends=()):
    """c(t) = kappa E(t) S(t) K(t) and c'(t): S = sign0 prod_k tanh((t - t_k)/width) has the sign of -d'
    and vanishes at the turning points; K = prod_e |tanh((t - e)/width)| vanishes at the kinks ``ends``
    without changing sign; E = (1 + (t/R)^2)^(-1/2) makes the lift decay like 1/t, which keeps the
    contour below the spurious roots of d(g) = zeta in the Gaussian-type tails (Im g ~ pi/(q Re g), as
    for erf: a lift that does not decay picks up a wrong residue in the tail)."""
    factors = [np.tanh((t - tk) / width) for tk in turning] + [np.abs(np.tanh((t - e) / width)) for e in ends]
    slopes = [(1.0 - np.tanh((t - tk) / width) ** 2) / width for tk in turning] + [
        np.sign(t - e) * (1.0 - np.tanh((t - e) / width) ** 2) / width for e in ends
    ]
    s = sign0 * np.prod(factors, axis=0) if factors else np.full(t.shape, sign0)
    ds = np.zeros_like(t)
    for k in range(len(factors)):
        ds += slopes[k] * np.prod([f for j, f in enumerate(factors) if j != k], axis=0)
    ds *= sign0
    e = 1.0 / np.sqrt(1.0 + (t / radius) ** 2)
    de = -t / radius**2 * e**3
    return kappa * e * s, kappa * (de * s + e * ds)


def general_contour(act: Activation, q: float, n_nodes: int, shrink: float = 1.0):
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
    dphi_c = complex_dphi(act)
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


def complex_dphi(act: Activation):
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


def _gaussian_mass(a: float, b: float) -> float:
    """P(a < g < b), accurate in both tails (a, b may be infinite)."""
    return float(special.ndtr(-a) - special.ndtr(-b)) if a > 0 else float(special.ndtr(b) - special.ndtr(a))


def piecewise_contour(act: Activation, q: float, n_nodes: int, shrink: float = 1.0):
    """The law of d for phi' piecewise smooth with kinks: atoms for the pieces where phi' is constant,
    a contour quadrature for the others, each on its own analytic branch of phi' (:func:`branch_at`).

    The g-line is cut at the kinks k/sqrt(q) (inside [-9, 9]; the two outer pieces reach to infinity
    for their Gaussian mass).  On a smooth piece the lift has the sign of -d' (vanishing at the turning
    points of d) and vanishes at the kinks that end the piece; nodes are graded towards both.  Returns
    (atoms, values, weights, max_d, accuracy, interior).
    """
    if act.expr is None:
        raise ParameterError(
            f"the Jacobian spectrum of {act.name} needs the analytic branches of phi' between its kinks; "
            "pass the activation as a formula"
        )
    sq = np.sqrt(q)
    T = _T_GENERAL
    cuts = sorted(k / sq for k in act.kinks if abs(k / sq) < T)
    edges = [-np.inf] + cuts + [np.inf]
    kappa = shrink * min(1.0, 0.6 * _singularity_distance(act) / sq)
    radius = max(0.3 * np.pi / (q * kappa), 1.0)
    per_panel = max(8, n_nodes // 50)
    atoms: dict[float, float] = {}
    parts, parts2, specials, real_values = [], [], [], []
    for a, b in zip(edges[:-1], edges[1:]):
        lo, hi = max(a, -T), min(b, T)
        mid = 0.5 * (lo + hi) if np.isfinite(a) and np.isfinite(b) else (hi - 1.0 if np.isinf(a) else lo + 1.0)
        d1 = sp.diff(branch_at(act.expr, float(sq * mid)), X)
        if X not in d1.free_symbols:  # phi' constant on the piece: an atom of d
            value = float(d1) ** 2
            atoms[value] = atoms.get(value, 0.0) + _gaussian_mass(a, b)
            continue
        dphi_r, d2phi_r = numpy_function(d1), numpy_function(sp.diff(d1, X))
        dphi_c = numpy_function(d1, complex_safe=True)
        grid = np.linspace(lo, hi, 2001)[1:-1]
        slope = dphi_r(sq * grid) * d2phi_r(sq * grid)
        sign = np.sign(slope)
        nz = np.flatnonzero(sign != 0)
        turning = [brentq(lambda t: float(dphi_r(sq * t) * d2phi_r(sq * t)), grid[i], grid[j], xtol=1e-14)
                   for i, j in zip(nz[:-1], nz[1:]) if sign[i] != sign[j]]
        first = grid < (turning[0] if turning else np.inf)
        sign0 = -np.sign(slope[first][np.argmax(np.abs(slope[first]))]) * (-1.0) ** len(turning)
        ends = [e for e in (a, b) if np.isfinite(e)]
        turning = np.array(turning)

        def build(nodes, dphi_c=dphi_c, lo=lo, hi=hi, turning=turning, sign0=sign0, ends=ends):
            t, wt = _general_nodes(np.concatenate([turning, ends]), nodes, lo, hi)
            c, dc = _general_lift(t, turning, sign0, kappa, kappa, radius, ends)
            g = t + 1j * c
            with np.errstate(all="ignore"):
                return dphi_c(sq * g) ** 2, _INV_SQRT2PI * np.exp(-0.5 * g * g) * (1.0 + 1j * dc) * wt

        parts.append(build(per_panel))
        parts2.append(build(2 * per_panel))
        real = dphi_r(sq * np.linspace(lo, hi, 4001)) ** 2
        real_values.append(real)
        specials += [float(v) for v in dphi_r(sq * np.concatenate([turning, ends])) ** 2]
    atom_list = tuple(sorted(atoms.items()))
    if not parts:
        return atom_list, None, None, max(v for v, _ in atom_list), 0.0, ()
    values = np.concatenate([p[0] for p in parts])
    weights = np.concatenate([p[1] for p in parts])
    values2 = np.concatenate([p[0] for p in parts2])
    weights2 = np.concatenate([p[1] for p in parts2])
    real = np.concatenate(real_values)
    max_d = float(max([np.max(real)] + [v for v, _ in atom_list]))
    min_d = float(np.min(real))
    span = max(max_d - min_d, 1e-300)
    probe = np.linspace(min_d, max_d, 7)[1:-1]
    zeta = np.concatenate([probe + 1e-3j * span, probe + 1e-7j * span])

    def m(v, w):
        return zeta * np.sum(w / (zeta[:, None] - v), axis=1) - np.sum(w)

    m1, m2 = m(values, weights), m(values2, weights2)
    accuracy = float(np.max(np.abs(m1 - m2) / np.maximum(np.abs(m2), 1e-300)))
    tol = 1e-9 * max_d
    inside = specials + [v for v, _ in atom_list]
    interior = tuple(sorted({v for v in inside if min_d + tol < v < max_d - tol}))
    return atom_list, values, weights, max_d, accuracy, interior
