"""Verified piecewise-Chebyshev interpolants of V(q), D(q) and V'(q) for grid computations.

V, D and V' are smooth functions of q > 0 for every activation (Gaussian smoothing removes the
kinks), so a piecewise Chebyshev interpolant in u = log q reproduces them to rounding.  Each
function is sampled on 17 Chebyshev points per octave (q from 1e-12 to the largest tabulated
variance), and every panel is checked against the exact quadrature at its 16 interior midpoints;
a panel that misses the tolerance (1e-12 relative to max|f| on the panel) is halved, at most six
times; what still fails (quadrature noise in a near-cancelling V') is left to the exact routine.
Outside the tabulated range the exact routines are called.  Phase diagrams use these tables, so a
200 x 200 grid costs a few hundred exact evaluations instead of hundreds of thousands.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np
from numpy.polynomial import chebyshev as C

from .activations import Activation
from .errors import DivergentExpectationError
from .gaussian import derivative_moment, second_moment, second_moment_slope

__all__ = ["Moments", "exact_moments", "tabulated_moments", "PiecewiseChebyshev"]

_DEGREE = 16
_RTOL = 1e-12
_MAX_HALVINGS = 6  # panels still failing at 1/64 octave are left to the exact routine
_Q_LO = 1e-12


class PiecewiseChebyshev:
    """f(q) on [q_lo, q_hi] by Chebyshev polynomials in log q on verified panels."""

    def __init__(self, f: Callable, q_lo: float, q_hi: float):
        self.f = f
        edges = np.log(np.geomspace(q_lo, q_hi, max(2, int(np.ceil(np.log2(q_hi / q_lo))) + 1)))
        nodes = np.cos(np.pi * (np.arange(_DEGREE + 1) + 0.5) / (_DEGREE + 1))  # Chebyshev points
        checks = np.cos(np.pi * np.arange(1, _DEGREE + 1) / (_DEGREE + 1))  # between the nodes
        vander_nodes, vander_checks = C.chebvander(nodes, _DEGREE), C.chebvander(checks, _DEGREE)
        lo, hi = edges[:-1], edges[1:]
        done_lo, done_hi, done_coef = [], [], []
        for _ in range(_MAX_HALVINGS + 1):
            if lo.size == 0:
                break
            mid, half = (lo + hi) / 2, (hi - lo) / 2
            values = f(np.exp(mid[:, None] + half[:, None] * nodes)).reshape(lo.size, -1)
            coef = np.linalg.solve(vander_nodes, values.T).T
            exact = f(np.exp(mid[:, None] + half[:, None] * checks)).reshape(lo.size, -1)
            approx = coef @ vander_checks.T
            scale = np.maximum(np.max(np.abs(values), axis=1), np.max(np.abs(exact), axis=1))
            ok = np.max(np.abs(approx - exact), axis=1) <= _RTOL * scale + 1e-300
            done_lo.append(lo[ok]), done_hi.append(hi[ok]), done_coef.append(coef[ok])
            lo, hi = np.concatenate([lo[~ok], mid[~ok]]), np.concatenate([mid[~ok], hi[~ok]])
        order = np.argsort(np.concatenate(done_lo))
        self.lo = np.concatenate(done_lo)[order]
        self.hi = np.concatenate(done_hi)[order]
        self.coef = np.concatenate(done_coef)[order]
        self.unresolved = lo.size  # panels that never met the tolerance (then f is used there)
        self.q_lo, self.q_hi = q_lo, q_hi

    def __call__(self, q) -> np.ndarray:
        q = np.asarray(q, dtype=float)
        flat = q.ravel()
        out = np.empty(flat.shape)
        inside = (flat >= self.q_lo) & (flat <= self.q_hi)
        if np.any(inside):
            u = np.log(flat[inside])
            k = np.clip(np.searchsorted(self.hi, u), 0, self.hi.size - 1)
            t = (2 * u - self.lo[k] - self.hi[k]) / (self.hi[k] - self.lo[k])
            inside_panel = (u >= self.lo[k]) & (u <= self.hi[k])
            # Clenshaw recurrence, vectorized over points with per-point coefficients
            coef = self.coef[k]
            b1 = np.zeros_like(t)
            b2 = np.zeros_like(t)
            for j in range(_DEGREE, 0, -1):
                b1, b2 = coef[:, j] + 2 * t * b1 - b2, b1
            values = coef[:, 0] + t * b1 - b2
            idx = np.nonzero(inside)[0]
            out[idx[inside_panel]] = values[inside_panel]
            inside[idx[~inside_panel]] = False  # a gap left by an unresolved panel
        if np.any(~inside):
            out[~inside] = self.f(flat[~inside])
        return out.reshape(q.shape)


@dataclass(frozen=True)
class Moments:
    """The one-dimensional Gaussian moments of an activation used by the variance map."""

    V: Callable
    D: Callable
    dV: Callable


def exact_moments(act: Activation) -> Moments:
    """Closed forms or adaptive quadrature at every call."""
    return Moments(
        lambda q: second_moment(act, q), lambda q: derivative_moment(act, q), lambda q: second_moment_slope(act, q)
    )


class _Lazy:
    """A PiecewiseChebyshev built on first call (V' is needed only for slopes and depth scales)."""

    def __init__(self, f, lo, hi):
        self._args, self._table = (f, lo, hi), None

    def __call__(self, q):
        if self._table is None:
            self._table = PiecewiseChebyshev(*self._args)
        return self._table(q)


@lru_cache(maxsize=64)
def tabulated_moments(act: Activation, q_hi: float = 1e9) -> Moments:
    """Verified interpolants of V, D, V' on [1e-12, q_hi] (shrunk to where V is finite); each is
    built on its first call."""
    exact = exact_moments(act)
    top = q_hi
    while top > 1.0:
        try:
            exact.V(np.geomspace(top / 4, top, 8))
            break
        except DivergentExpectationError:
            top /= 16
    return Moments(*(_Lazy(f, _Q_LO, top) for f in (exact.V, exact.D, exact.dV)))
