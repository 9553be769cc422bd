"""The law of d = phi'(sqrt(q) g)^2, g ~ N(0, 1), on the real axis, by inversion on monotone pieces.

This is the exact spectrum of J J^T for one orthogonal layer (J = D W with W W^T = sigma_w^2 I, so
lambda = sigma_w^2 d), and an independent check of the free-probability machinery elsewhere.

The real g-line is cut at phi's kinks and at the turning points of d (sign changes of
d'(g) = 2 sqrt(q) phi'(sqrt(q) g) phi''(sqrt(q) g)).  On each piece d is either constant (an atom of
the Gaussian mass of the piece: relu, leaky relu, hard-tanh, the positive side of selu/elu) or
strictly monotone, and then

    P(d <= y; piece) = Gaussian mass of {g in piece: d(g) <= y}   (one root of d(g) = y),
    density(y; piece) = varphi(g*) / |d'(g*)|,  d(g*) = y,

with the roots found by Chandrupatla's method, vectorized over y and pieces.  The g-line is truncated
at |g| = 12 (Gaussian mass 3.6e-33 beyond).  Accuracy: cdf to ~1e-14 absolute; pdf to ~1e-12
relative except within ~1e-8 (relative) of the values of d at turning points, where the density has
an inverse-square-root singularity, and near a limit of d as |g| -> infinity (x erf x: d -> 1 from
above), where float d resolves d - limit only to ~1e-16: the density within 1e-12 of the limit is
good to ~1e-4 relative, and the mass that d puts within 1e-16 of it (~1e-5 for x erf x at q = 2)
sits at the limit itself in the cdf.
"""
from __future__ import annotations

from functools import cached_property

import numpy as np
from scipy import special
from scipy.optimize import brentq
from scipy.optimize.elementwise import find_root

from .. import validation as check
from ..activations import Activation, activation

__all__ = ["DerivativeLaw", "derivative_law", "turning_points"]

SPAN = 12.0  # |g| <= SPAN: the Gaussian mass beyond is 3.6e-33
_INV_SQRT2PI = 1.0 / np.sqrt(2.0 * np.pi)


def turning_points(act: Activation, q: float, span: float = 9.0) -> np.ndarray:
    """Sign changes of d'(g) = 2 sqrt(q) phi'(sqrt(q) g) phi''(sqrt(q) g) on [-span, span], refined
    by brentq (at a kink where the sign flips, brentq converges to the kink)."""
    sq = np.sqrt(q)

    def dd(t):
        return float(np.asarray(act.dphi(np.array([sq * t])) * act.d2phi(np.array([sq * t])))[0])

    grid = np.linspace(-span, span, int(400 * span) + 1)
    s = np.sign(act.dphi(sq * grid) * act.d2phi(sq * grid))
    roots = []
    nz = np.flatnonzero(s != 0)
    for a, b in zip(nz[:-1], nz[1:]):
        if s[a] != s[b]:
            roots.append(grid[a + 1] if b == a + 2 else brentq(dd, grid[a], grid[b], xtol=1e-15, rtol=1e-15))
    return np.array(roots)


def _gaussian_mass(a, b):
    """P(a < g < b) for a <= b, accurate in both tails."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.where(a > 0, special.ndtr(-a) - special.ndtr(-b), special.ndtr(b) - special.ndtr(a))


class DerivativeLaw:
    """Law of d = phi'(sqrt(q) g)^2: atoms (constant pieces of d) plus a density (monotone pieces).

    Parameters
    ----------
    act : activation name, formula or :class:`~meanfield.activations.Activation`
    q : float
        Pre-activation variance (> 0).

    Attributes
    ----------
    atoms : list of (value, mass)
        Values of d taken on whole intervals of g, with their Gaussian masses.
    support : (lo, hi)
        Smallest and largest value of d on |g| <= 12.
    continuous_top : float or None
        Largest value of the continuous part (None when d takes finitely many values).
    """

    def __init__(self, act, q: float):
        self.act = activation(act)
        self.q = check.positive("q", q, scalar=True)
        sq = np.sqrt(self.q)
        cuts = [k / sq for k in self.act.kinks if abs(k / sq) < SPAN]
        breaks = np.unique(np.concatenate([[-SPAN, SPAN], cuts, turning_points(self.act, self.q, SPAN)]))
        lo, hi = breaks[:-1], breaks[1:]
        sample = lo[:, None] + (hi - lo)[:, None] * np.linspace(0.0, 1.0, 65)[1:-1]
        d = self._d(sample)
        scale = max(float(np.max(np.abs(d))), 1e-300)
        flat = np.ptp(d, axis=1) <= 1e-13 * scale
        mass = _gaussian_mass(lo, hi)
        atoms: dict[float, float] = {}
        for v, m in zip(d[flat, d.shape[1] // 2], mass[flat]):
            atoms[float(v)] = atoms.get(float(v), 0.0) + float(m)
        self.atoms = sorted(atoms.items())
        # monotone pieces: ends (open at kinks: one-sided limits from inside), direction
        eps = 1e-12 * np.maximum(1.0, np.abs(np.stack([lo, hi])))
        self._lo, self._hi = lo[~flat], hi[~flat]
        # roots are bracketed just inside the pieces: at a kink phi' takes whatever value the formula
        # gives there (sign(0) = 0 for abs(tanh(x))), not the one-sided limit of the piece
        self._lo_in, self._hi_in = self._lo + eps[0][~flat], self._hi - eps[1][~flat]
        self._d_lo = self._d(self._lo_in)
        self._d_hi = self._d(self._hi_in)
        self._rising = self._d_hi > self._d_lo
        ends = np.concatenate([self._d_lo, self._d_hi, [v for v, _ in self.atoms]])
        self.support = (float(np.min(ends)), float(np.max(ends)))
        #: the largest value of the continuous part (None for a purely atomic law)
        self.continuous_top = float(np.max(ends[: 2 * self._lo.size])) if self._lo.size else None

    def _d(self, g):
        return np.asarray(self.act.dphi(np.sqrt(self.q) * g), dtype=float) ** 2

    def _slope(self, g):
        x = np.sqrt(self.q) * g
        return 2.0 * np.sqrt(self.q) * np.asarray(self.act.dphi(x) * self.act.d2phi(x), dtype=float)

    def _roots(self, y):
        """g* with d(g*) = y on every monotone piece where y lies strictly inside its range
        (shape (n_y, n_pieces); NaN elsewhere)."""
        lo_d = np.minimum(self._d_lo, self._d_hi)
        hi_d = np.maximum(self._d_lo, self._d_hi)
        inside = (y[:, None] > lo_d) & (y[:, None] < hi_d)
        out = np.full(inside.shape, np.nan)
        if np.any(inside):
            i, j = np.nonzero(inside)
            res = find_root(lambda g, t: self._d(g) - t, (self._lo_in[j], self._hi_in[j]), args=(y[i],))
            out[i, j] = res.x
        return out, inside

    @cached_property
    def _piece_mass(self) -> np.ndarray:
        return _gaussian_mass(self._lo, self._hi)

    def _mass(self, y, upper: bool) -> np.ndarray:
        """P(d <= y), or P(d > y) if ``upper``, each summed from its own side (no 1 - cdf cancellation)."""
        y = np.asarray(check.real_array("y", y), dtype=float)
        flat = y.ravel()
        out = np.zeros(flat.shape)
        for v, m in self.atoms:
            out += np.where(flat < v, m, 0.0) if upper else np.where(flat >= v, m, 0.0)
        roots, inside = self._roots(flat)
        g = np.where(inside, roots, np.where(self._rising, self._lo, self._hi))
        # the part of each monotone piece where d <= y (below) or d > y (above)
        low_part = np.where(self._rising, _gaussian_mass(self._lo, g), _gaussian_mass(g, self._hi))
        high_part = np.where(self._rising, _gaussian_mass(g, self._hi), _gaussian_mass(self._lo, g))
        if upper:
            full = flat[:, None] < np.minimum(self._d_lo, self._d_hi)  # the whole piece lies above y
        else:
            full = flat[:, None] >= np.maximum(self._d_lo, self._d_hi)  # the whole piece lies below y
        part = high_part if upper else low_part
        out += np.sum(np.where(full, self._piece_mass, np.where(inside, part, 0.0)), axis=1)
        return np.clip(out, 0.0, 1.0).reshape(y.shape)

    def cdf(self, y) -> np.ndarray:
        """P(d <= y), atoms included (vectorized)."""
        return self._mass(y, upper=False)

    def sf(self, y) -> np.ndarray:
        """P(d > y), atoms included (vectorized; accurate in the upper tail)."""
        return self._mass(y, upper=True)

    def pdf(self, y) -> np.ndarray:
        """Density of the continuous part of d, sum over the roots of varphi(g*)/|d'(g*)|."""
        y = np.asarray(check.real_array("y", y), dtype=float)
        flat = y.ravel()
        roots, inside = self._roots(flat)
        g = np.where(inside, roots, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            dens = _INV_SQRT2PI * np.exp(-0.5 * g * g) / np.abs(self._slope(g))
        return np.sum(np.where(inside, dens, 0.0), axis=1).reshape(y.shape)


def derivative_law(act, q: float) -> DerivativeLaw:
    """The law of phi'(sqrt(q) g)^2 on the real axis (:class:`DerivativeLaw`)."""
    return DerivativeLaw(act, q)
