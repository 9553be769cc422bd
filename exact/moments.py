"""Closed-form moments of the ReLU signal chain (docs/conventions.md §6), in log space.

The chain (Burkholz & Dubatovka 2019; docs/conventions.md §6): s_1 = sigma_w^2 |x^0|^2 / n_0 + sigma_b^2,

    M_l = s_l G_l,   G_l = chi^2_{K_l} / n_l,   K_l ~ Bin(n_l, 1/2)   (K_l = n_l with parameter sharing),
    s_{l+1} = sigma_b^2 + sigma_w^2 M_l.

Moments of G without a sum over the n + 1 binomial terms: E[(chi^2_K)^j | K] = K (K + 2) ... (K + 2j - 2)
is a polynomial in K with nonnegative coefficients in the falling-factorial basis K^(m) = K (K-1) ...
(K-m+1) (from (K + 2j) K^(m) = K^(m+1) + (m + 2j) K^(m)), and E[K^(m)] = n^(m) 2^-m, so

    E[G^j] = n^-j sum_m c_{j,m} n^(m) 2^-m,     c_{j+1,m} = c_{j,m-1} + (m + 2j) c_{j,m},  c_{0,0} = 1,

O(j^2) operations for any width (E[G] = 1/2, E[G^2] = (n + 5) / (4 n): Var G = 5 / (4 n); sharing:
E[G^j] = n^-j n (n + 2) ... (n + 2j - 2), Var G = 2 / n).  Then

    E[M_l^j]        = E[s_l^j] E[G_l^j],
    E[s_{l+1}^j]    = sum_i C(j, i) sigma_b^{2(j-i)} sigma_w^{2i} E[M_l^i]   (sigma_w^{2j} E[M_l^j] without bias),

and the variances without cancellation (s_l and G_l independent, every term >= 0):

    Var M_l = E[s_l^2] Var G_l + Var(s_l) E[G_l]^2,     Var s_{l+1} = sigma_w^4 Var M_l,   Var s_1 = 0.

Every term is >= 0, so the recursions run on logarithms with log-sum-exp: no cancellation, no
overflow (a moment beyond double range is returned as inf by the callers, never NaN).  The binomial
weights give the negative moments E[G^-t; K >= kmin] of the Chernoff bounds of the grid ends.
"""
from __future__ import annotations

import numpy as np
from scipy.special import gammaln, logsumexp
from scipy.stats import binom

__all__ = [
    "log_binomial_weights", "log_moments_G", "log_moments_chain", "log_variances_chain", "log_negative_moment_G",
]

#: widths above this keep only the window |k - n/2| <= 6.5 sqrt(n) + 10 of binomial terms, outside which
#: every weight is < 2 exp(-84.5) < 1e-36 (Hoeffding: P(|K - n/2| >= d) <= 2 exp(-2 d^2 / n))
_WINDOW_WIDTH = 4096


def log_binomial_weights(n: int, sharing: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Active counts k >= 1 and log w_k, w_k = P(K = k) = C(n, k) 2^-n (sharing: k = n only, w = 1).

    All k = 1..n for n <= 4096; above, the window |k - n/2| <= 6.5 sqrt(n) + 10, which holds all but
    < 1e-36 of the mass (the terms outside are below every truncation of :mod:`exact.grid`).
    """
    if sharing:
        return np.array([n]), np.zeros(1)
    if n <= _WINDOW_WIDTH:
        k = np.arange(0, n + 1)
    else:
        d = int(np.ceil(6.5 * np.sqrt(n))) + 10
        k = np.arange(max(n // 2 - d, 0), min(n // 2 + d, n) + 1)
    logw = binom.logpmf(k, n, 0.5)  # accurate to a few ulps (gammaln differences lose ~1e-14 at n = 100)
    logw -= logsumexp(logw)  # sum of the weights = 1 to rounding
    keep = k >= 1
    return k[keep], logw[keep]


def log_moments_G(n: int, jmax: int, sharing: bool = False) -> np.ndarray:
    """log E[G^j] for j = 0..jmax, G = chi^2_K / n (the atom at 0 of mass 2^-n included: E[G^0] = 1).

    Falling-factorial expansion of the module docstring: O(jmax^2), no sum over the binomial terms.
    """
    j = np.arange(jmax + 1)
    if sharing:
        return -j * np.log(n) + np.concatenate([[0.0], np.cumsum(np.log(n + 2.0 * j[:-1]))])
    m = np.arange(jmax + 1)
    with np.errstate(divide="ignore"):
        # log E[K^(m)] = sum_{i<m} log(n - i) - m log 2  (-inf for m > n)
        log_fall = np.concatenate([[0.0], np.cumsum(np.log(np.maximum(n - m[:-1], 0).astype(float)))])
        log_ek = log_fall - m * np.log(2.0)
    out = np.empty(jmax + 1)
    lc = np.full(jmax + 2, -np.inf)
    lc[0] = 0.0
    out[0] = 0.0
    for jj in range(jmax):
        with np.errstate(divide="ignore"):
            grow = lc[: jj + 2] + np.log(m[: jj + 2] + 2.0 * jj)  # (m + 2j) c_{j,m}
        shifted = np.concatenate([[-np.inf], lc[: jj + 1]])
        lc[: jj + 2] = np.logaddexp(grow, shifted)
        out[jj + 1] = logsumexp(lc[: jj + 2] + log_ek[: jj + 2]) - (jj + 1) * np.log(n)
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

    Cost O(L jmax^2) with bias (the binomial sum), O(L jmax) without.

    Returns
    -------
    log_s : ndarray, shape (L, jmax + 1)
        Row l - 1 holds log E[s_l^j].
    log_m : ndarray, shape (L - 1, jmax + 1)
        Row l - 1 holds log E[M_l^j], M_l = |x^l|^2 / n_l.
    """
    depth = len(widths) - 1
    j = np.arange(jmax + 1)
    log_s = np.empty((depth, jmax + 1))
    log_m = np.empty((max(depth - 1, 0), jmax + 1))
    log_s[0] = _xlog(j, s1)
    if sigma_b2 > 0:
        # log C(j, i) sigma_b^{2(j-i)} sigma_w^{2i}, shape (j, i); -inf above the diagonal
        i = j[None, :]
        jj = j[:, None]
        with np.errstate(invalid="ignore"):
            comb = gammaln(jj + 1) - gammaln(i + 1) - gammaln(np.maximum(jj - i, 0) + 1)
            coef = comb + _xlog(np.maximum(jj - i, 0), sigma_b2) + _xlog(i, sigma_w2)
        coef = np.where(i <= jj, coef, -np.inf)
    log_g = {n: log_moments_G(n, jmax, sharing) for n in set(widths[1:-1])}
    for l in range(1, depth):
        log_m[l - 1] = log_s[l - 1] + log_g[widths[l]]
        with np.errstate(divide="ignore"):
            if sigma_b2 > 0:
                log_s[l] = logsumexp(coef + log_m[l - 1][None, :], axis=1)
            else:
                log_s[l] = _xlog(j, sigma_w2) + log_m[l - 1]
    return log_s, log_m


def log_variances_chain(widths: list[int], sigma_w2: float, log_s: np.ndarray, sharing: bool = False):
    """log Var s_l (l = 1..L) and log Var M_l (l = 1..L-1) by the cancellation-free recursion of the
    module docstring, from the exact log E[s_l], log E[s_l^2] (columns 1, 2 of ``log_s``)."""
    depth = len(widths) - 1
    log_var_s = np.full(depth, -np.inf)
    log_var_m = np.full(max(depth - 1, 0), -np.inf)
    with np.errstate(divide="ignore"):
        log_sw4 = 2 * np.log(sigma_w2)
        for l in range(1, depth):
            n = widths[l]
            log_var_g = np.log(2.0 / n) if sharing else np.log(1.25 / n)
            log_mean_g = 0.0 if sharing else np.log(0.5)
            log_var_m[l - 1] = np.logaddexp(log_s[l - 1, 2] + log_var_g, log_var_s[l - 1] + 2 * log_mean_g)
            log_var_s[l] = log_sw4 + log_var_m[l - 1]
    return log_var_s, log_var_m
