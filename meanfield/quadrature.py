"""Vectorized composite Gauss-Legendre quadrature against the standard normal density.

``integrate(F, x_points, mean, std)`` computes, for every element i of a batch,

    I_i = integral F(a_i + b_i z, z, i) varphi(z) dz,     varphi = N(0, 1) density,

over |z| <= 38 (beyond it varphi < 1e-313).  The z-axis is cut into panels at fixed points that
follow the Gaussian (0, +-0.75, +-1.5, ..., +-26) and at the images z = (x - a_i)/b_i of the
integrand's own special points ``x_points`` (kinks, where a Gauss rule must not straddle, and phi's
scale, geometric around 0 so that tanh-like functions at large b are resolved).  Each panel gets an
8-point and a 16-point Gauss-Legendre rule; a panel whose two values differ by more than
``rtol/4`` times the element's integral of |F| varphi (and more than rounding of its own sum) is
split in four, up to five times (panel by panel, vectorized over all failing panels of all elements).  The 16-point values are summed.
Because the rules converge geometrically on smooth pieces, an accepted difference of 1e-11 leaves
the 16-point value accurate far beyond that; the summed differences are reported as the
(conservative) error estimate.

Divergence: a non-finite integrand value, or a share above 1e-12 of integral |F| varphi at
|z| > 32 that is also above 1e-200 in absolute terms (varphi < 1e-222 there, so only integrands
growing like exp(z^2/2) put weight there), raises :class:`~meanfield.errors.DivergentExpectationError`: the
integrand grows about as fast as the Gaussian decays (e.g. exp(x^2) at q >= 1/4), or overflows.
"""
from __future__ import annotations

import math

import numpy as np
from numpy.polynomial.legendre import leggauss

from .errors import DivergentExpectationError, QuadratureError

__all__ = ["integrate", "Z_MAX", "RTOL"]

Z_MAX = 38.0
RTOL = 1e-11
_TAIL = 32.0  # integrand mass beyond this |z| means growth as fast as exp(z^2/2)
_BASE = np.array([0.0, 0.75, 1.5, 2.5, 3.5, 5.0, 7.0, 9.5, 13.0, 18.0, 26.0, Z_MAX])
_BASE_BREAKS = np.concatenate([-_BASE[:0:-1], _BASE])
_LOW, _HIGH = leggauss(8), leggauss(16)
_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)
_CHUNK_NODES = 2_000_000  # nodes evaluated at once (memory bound: a few arrays of this size)
_GIVE_UP = 1e-7  # relative error estimate above which the unconverged result is refused
_SPLIT, _LEVELS = 4, 5  # failing panels are split in 4, at most 5 times (4^5 = 1024 pieces)
_ROUNDING = 64 * np.finfo(float).eps


def _evaluate(F, lo, hi, elem, mean, std):
    """Both rules on the panels [lo, hi] of batch elements ``elem``: (high, low, |high|, tail)."""
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    n_lo = _LOW[0].size
    t = np.concatenate([_LOW[0], _HIGH[0]])
    w = np.concatenate([_LOW[1], _HIGH[1]])
    z = mid[:, None] + half[:, None] * t
    wz = half[:, None] * w * (_INV_SQRT2PI * np.exp(-0.5 * z * z))
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        x = mean[elem][:, None] + std[elem][:, None] * z
        vals = np.broadcast_to(np.asarray(F(x, z, elem), dtype=float), z.shape)
        if not np.all(np.isfinite(vals)):
            row, col = np.argwhere(~np.isfinite(vals))[0]
            i = elem[row]
            raise DivergentExpectationError(
                f"the integrand is not finite (overflow, or outside phi's domain) at x = "
                f"{x[row, col]:.6g} for a Gaussian of mean {mean[i]:.6g} and standard deviation "
                f"{std[i]:.6g}; the expectation diverges or exceeds double precision"
            )
        contrib = vals * wz
    low = contrib[:, :n_lo].sum(axis=1)
    high_terms = contrib[:, n_lo:]
    high = high_terms.sum(axis=1)
    absolute = np.abs(high_terms)
    tail = np.where(np.abs(z[:, n_lo:]) > _TAIL, absolute, 0.0).sum(axis=1)
    return high, low, absolute.sum(axis=1), tail


def _evaluate_chunked(F, lo, hi, elem, mean, std):
    step = max(1, _CHUNK_NODES // (_LOW[0].size + _HIGH[0].size))
    parts = [
        _evaluate(F, lo[k : k + step], hi[k : k + step], elem[k : k + step], mean, std)
        for k in range(0, lo.size, step)
    ]
    return [np.concatenate(p) for p in zip(*parts)] if parts else [np.empty(0)] * 4


def integrate(F, x_points, mean, std, *, rtol: float = RTOL, return_error: bool = False):
    """Integrate ``F(x, z, idx)`` against the standard normal density in z, with x = mean + std*z.

    Parameters
    ----------
    F : callable
        ``F(x, z, idx)`` with x, z of shape (rows, nodes) and ``idx`` (rows,) the batch element of
        every row (rows may repeat an element: index per-element parameters with it); returns
        values of the same shape.
    x_points : array_like, shape (k,) or (batch, k)
        Special points of the integrand in x (kinks, scales), shared by the batch or per element;
        panels are split at their z images.
    mean, std : array_like
        1-D arrays (same length, the batch); std > 0.
    rtol : float
        Required agreement of the two rules relative to integral |F| varphi of the element.
    return_error : bool
        Also return the error estimate of every element.

    Returns
    -------
    ndarray (and ndarray of error estimates)
    """
    mean = np.ascontiguousarray(mean, dtype=float).ravel()
    std = np.ascontiguousarray(std, dtype=float).ravel()
    n = mean.size
    xp = np.asarray(x_points, dtype=float)
    xp = np.broadcast_to(xp if xp.ndim == 2 else xp[None, :], (n, xp.shape[-1] if xp.size else 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        moving = (xp - mean[:, None]) / std[:, None]
    breaks = np.concatenate([np.broadcast_to(_BASE_BREAKS, (n, _BASE_BREAKS.size)), moving], axis=1)
    breaks = np.sort(np.clip(np.nan_to_num(breaks, nan=0.0), -Z_MAX, Z_MAX), axis=1)
    lo, hi = breaks[:, :-1].ravel(), breaks[:, 1:].ravel()
    elem = np.repeat(np.arange(n), breaks.shape[1] - 1)
    keep = hi > lo
    lo, hi, elem = lo[keep], hi[keep], elem[keep]

    value, error, scale, tail = (np.zeros(n) for _ in range(4))
    for level in range(_LEVELS + 1):
        high, low, absolute, tail_part = _evaluate_chunked(F, lo, hi, elem, mean, std)
        err = np.abs(high - low)
        if level == 0:
            scale = np.bincount(elem, absolute, minlength=n)
            tail = np.bincount(elem, tail_part, minlength=n)
            # beyond |z| = 32 varphi < 1e-222: a share above 1e-200 there needs exp(z^2/2) growth
            bad = (tail > 1e-12 * scale) & (tail > 1e-200)
            if np.any(bad):
                i = np.nonzero(bad)[0][0]
                raise DivergentExpectationError(
                    f"the expectation over a Gaussian of mean {mean[i]:.6g} and standard deviation "
                    f"{std[i]:.6g} is not negligible beyond {_TAIL:g} standard deviations: the "
                    "integrand grows about as fast as the Gaussian decays, so it diverges or is not "
                    "representable (reduce q or use an activation of slower growth)"
                )
        # a panel is accepted when its two rules agree to rtol/4 of the element's integral |F|
        # (or when the difference is at the rounding level of the panel's own sum)
        ok = (err <= 0.25 * rtol * scale[elem]) | (err <= _ROUNDING * absolute) | (level == _LEVELS)
        value += np.bincount(elem[ok], high[ok], minlength=n)
        error += np.bincount(elem[ok], err[ok], minlength=n)
        if np.all(ok):
            break
        bad = ~ok
        frac = np.arange(_SPLIT + 1) / _SPLIT
        edges = lo[bad, None] + (hi[bad] - lo[bad])[:, None] * frac
        lo, hi = edges[:, :-1].ravel(), edges[:, 1:].ravel()
        elem = np.repeat(elem[bad], _SPLIT)
    # after the last level, disagreement at the level of the integrand's own rounding noise is
    # accepted (reported by return_error); a real failure is a large disagreement
    failed = error > _GIVE_UP * scale + 1e-15
    if np.any(failed):
        i = np.nonzero(failed)[0][0]
        raise QuadratureError(
            f"quadrature did not converge (rtol {rtol:g}) for a Gaussian of mean {mean[i]:.6g} and "
            f"standard deviation {std[i]:.6g} (error estimate {error[i]:.3g} of {scale[i]:.3g}); the "
            "integrand has unresolved features (pass its kinks to meanfield.activation(..., kinks=...))"
        )
    return (value, error) if return_error else value
