"""Closed-form moments of the ReLU signal chain (docs/conventions.md §6), in log space.

The chain (Burkholz & Dubatovka 2019; docs/conventions.md §6): s_1 = sigma_w^2 |x^0|^2 / n_0 + sigma_b^2,

    M_l = s_l G_l,   G_l = chi^2_{K_l} / n_l,   K_l ~ Bin(n_l, 1/2)   (K_l = n_l with parameter sharing),
    s_{l+1} = sigma_b^2 + sigma_w^2 M_l.

With (a)_j the rising factorial Gamma(a + j) / Gamma(a) and w_k = C(n, k) 2^-n,

    E[G^j]          = (2/n)^j sum_{k>=1} w_k (k/2)_j            (j >= 1; E[G^0] = 1),
    E[M_l^j]        = E[s_l^j] E[G_l^j],
    E[s_{l+1}^j]    = sum_i C(j, i) sigma_b^{2(j-i)} sigma_w^{2i} E[M_l^i].

Every term is >= 0, so the recursion is evaluated on the logarithms with log-sum-exp: no cancellation,
no overflow (a moment beyond double range is returned as inf by the callers, never NaN).  The same
functions give the negative moments E[G^-t; K >= 1] used for the Chernoff bounds of the grid ends.
"""
from __future__ import annotations

import numpy as np
from scipy.special import gammaln, logsumexp
from scipy.stats import binom

__all__ = ["log_binomial_weights", "log_moments_G", "log_moments_chain", "log_negative_moment_G"]


def log_binomial_weights(n: int, sharing: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Active counts k = 1..n and log w_k, w_k = P(K = k) = C(n, k) 2^-n (sharing: k = n only, w = 1)."""
    if sharing:
        return np.array([n]), np.zeros(1)
    k = np.arange(0, n + 1)
    logw = binom.logpmf(k, n, 0.5)  # accurate to a few ulps (gammaln differences lose ~1e-14 at n = 100)
    logw -= logsumexp(logw)  # sum_{k>=0} w_k = 1 to rounding
    return k[1:], logw[1:]


def log_moments_G(n: int, jmax: int, sharing: bool = False) -> np.ndarray:
    """log E[G^j] for j = 0..jmax, G = chi^2_K / n (atom at 0 of mass 2^-n included: E[G^0] = 1)."""
    k, logw = log_binomial_weights(n, sharing)
    a = k / 2.0
    j = np.arange(jmax + 1)[:, None]
    terms = logw[None, :] + gammaln(a[None, :] + j) - gammaln(a[None, :])
    out = j[:, 0] * np.log(2.0 / n) + logsumexp(terms, axis=1)
    out[0] = 0.0
    return out


def log_negative_moment_G(n: int, t: np.ndarray, kmin: int = 1, sharing: bool = False) -> np.ndarray:
    """log E[G^-t; K >= kmin] for an array of t > 0 (+inf where t >= kmin/2: the moment diverges)."""
    k, logw = log_binomial_weights(n, sharing)
    keep = k >= kmin
    k, logw = k[keep], logw[keep]
    t = np.asarray(t, dtype=float)
    a = k / 2.0
    with np.errstate(invalid="ignore"):
        terms = logw[None, :] + gammaln(a[None, :] - t[:, None]) - gammaln(a[None, :])
    out = -t * np.log(2.0 / n) + logsumexp(terms, axis=1)
    return np.where(t[:] < a.min(), out, np.inf)


def _xlog(i: np.ndarray, x: float) -> np.ndarray:
    """i log x with the convention 0 log 0 = 0 (x^0 = 1 even for x = 0)."""
    if x > 0:
        return i * np.log(x)
    return np.where(i == 0, 0.0, -np.inf)


def log_moments_chain(
    widths: list[int], sigma_w2: float, sigma_b2: float, s1: float, jmax: int, sharing: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """log E[s_l^j] (l = 1..L) and log E[M_l^j] (l = 1..L-1) for j = 0..jmax.

    Returns
    -------
    log_s : ndarray, shape (L, jmax + 1)
        Row l - 1 holds log E[s_l^j].
    log_m : ndarray, shape (L - 1, jmax + 1)
        Row l - 1 holds log E[M_l^j], M_l = |x^l|^2 / n_l.
    """
    depth = len(widths) - 1
    j = np.arange(jmax + 1)
    # log C(j, i) sigma_b^{2(j-i)} sigma_w^{2i}, shape (j, i); -inf above the diagonal
    i = j[None, :]
    jj = j[:, None]
    with np.errstate(invalid="ignore"):
        comb = gammaln(jj + 1) - gammaln(i + 1) - gammaln(np.maximum(jj - i, 0) + 1)
        coef = comb + _xlog(np.maximum(jj - i, 0), sigma_b2) + _xlog(i, sigma_w2)
    coef = np.where(i <= jj, coef, -np.inf)
    log_s = np.empty((depth, jmax + 1))
    log_m = np.empty((max(depth - 1, 0), jmax + 1))
    log_s[0] = _xlog(j, s1)
    for l in range(1, depth):
        log_m[l - 1] = log_s[l - 1] + log_moments_G(widths[l], jmax, sharing)
        with np.errstate(divide="ignore"):
            log_s[l] = logsumexp(coef + log_m[l - 1][None, :], axis=1)
    return log_s, log_m
