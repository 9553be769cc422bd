"""Free probability for networks whose layers differ: the trajectory, per-layer variances, rectangular widths.

Layer l has weights W_l (n_l x n_{l-1}, Gaussian or orthogonal, variance sigma_l^2 / n_{l-1}) and
D_l = diag(phi'(h^l)) with its own law of d_l = D_l^2 (at q^l on the trajectory).  Writing A_l = D_l W_l
A_{l-1}, the nonzero spectrum of A_l A_l^T is that of (A_{l-1} A_{l-1}^T)^(1/2) W_l^T D_l^2 W_l
(A_{l-1} A_{l-1}^T)^(1/2); moving a law between dimensions n -> n' (same nonzero eigenvalues, zeros
added or removed) maps S(w) to (1 + w)/(c + w) S(w/c) with c = n/n'.  The factors cancel layer by layer
and leave, for the n_L x n_L matrix J J^T,

    S_{JJ^T}(w) = prod_l S_{D_l^2}(r_l w) S_{W_l W_l^T}(r_l w),     r_l = n_L / n_l,

with S_{W W^T}(u) = sigma^-2 / (1 + (n_l/n_{l-1}) u) (Gaussian: Marchenko-Pastur of ratio n_l/n_{l-1}),
sigma^-2 (orthogonal, n_l <= n_{l-1}) and c (1 + u) / (sigma^2 (c + u)), c = n_{l-1}/n_l (orthogonal,
n_l > n_{l-1}: W W^T has the eigenvalue sigma^2/c with multiplicity n_{l-1}).  Square layers give back
Pennington, Schoenholz & Ganguli's product; the Gaussian products of rectangular matrices give the
Fuss-Catalan (Raney) laws.

The density follows from M^{-1}(m) = (1 + m)/(m S(m)) = z: with zeta_k = M_{D_k}^{-1}(r_k m) for every
distinct layer law k (multiplicity c_k),

    F_0 = log((1 + m)/m) + sum_k c_k [log(r_k m zeta_k) - log(1 + r_k m) - log S_{W_k}(r_k m)] - log z = 0,
    F_k = M_{D_k}(zeta_k) - r_k m = 0,

solved by Newton's method on (m, zeta_1, ..., zeta_K) at once (an arrow-shaped Jacobian, eliminated in
closed form), continued from far above the spectrum down to the real axis point by point as for one
law (:class:`meanfield.spectra.freeprob.SpectrumSolver`).  Atoms: rank J = min(n_0, min_l n_l (1 - a_l))
generically (a_l the mass of d_l at 0), so J J^T has an atom at 0 of mass 1 - rank / n_L.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize.elementwise import find_root

from .freeprob import D2Law, _fold, _N_MOMENTS, _exp_series, _normalised_log_s, _series_inverse, _series_mul

__all__ = ["LayerLaw", "LayeredSolver", "layered_moments", "zero_atom"]


@dataclass(frozen=True)
class LayerLaw:
    """One distinct kind of layer: the law of D^2, sigma_w^2, the ensemble, its widths and its multiplicity."""

    law: D2Law
    sigma_w2: float
    weights: str
    n_in: int
    n_out: int
    count: int = 1

    def key(self) -> tuple:
        return (id(self.law), self.sigma_w2, self.weights, self.n_in, self.n_out)


def group_layers(layers: list[LayerLaw]) -> list[LayerLaw]:
    """Identical consecutive-or-not layers merged into one with their multiplicity (the S-transforms multiply)."""
    groups: dict[tuple, LayerLaw] = {}
    for layer in layers:
        k = layer.key()
        if k in groups:
            g = groups[k]
            groups[k] = LayerLaw(g.law, g.sigma_w2, g.weights, g.n_in, g.n_out, g.count + layer.count)
        else:
            groups[k] = layer
    return list(groups.values())


def _log_s_weights(layer: LayerLaw, r: float, m, w=None):
    """log S_{W W^T}(u) and its derivative in u at u = r m (docs/conventions.md §5; module docstring).  Every
    1 + a m is formed as (1 - a) + a w from w = 1 + m, which does not cancel where m -> -1."""
    w = 1 + m if w is None else w
    gamma = layer.n_out / layer.n_in
    log_s2 = np.log(layer.sigma_w2)
    if layer.weights == "gaussian":
        a = gamma * r
        return -log_s2 - np.log((1 - a) + a * w), -gamma / ((1 - a) + a * w)
    if gamma <= 1:
        return -log_s2 + 0 * m, 0 * m
    c = 1.0 / gamma
    one_u = (1 - r) + r * w
    return np.log(c) - log_s2 + np.log(one_u) - np.log(c + r * m), 1 / one_u - 1 / (c + r * m)


def zero_atom(layers: list[LayerLaw], n0: int, n_last: int) -> float:
    """1 - rank(J)/n_L with rank J = min(n_0, min_l n_l (1 - a_l)), a_l the mass of d_l at 0."""
    ranks = [float(n0)] + [layer.n_out * (1.0 - dict(layer.law.atoms).get(0.0, 0.0)) for layer in layers]
    return max(0.0, 1.0 - min(ranks) / n_last)


def layered_moments(layers: list[LayerLaw], n_last: int, k_max: int = 8) -> np.ndarray:
    """m_1..m_kmax of J J^T (n_L-dimensional) from the series of log S_{JJ^T}(w) = sum_l [log S_{D_l}(r_l w) +
    log S_{W_l}(r_l w)]: closed form, exact up to the accuracy of the mu_k (1e-12)."""
    k_max = min(k_max, _N_MOMENTS)
    n = k_max + 1
    log_s = np.zeros(n)
    powers = np.arange(n)
    log_m1 = 0.0
    for layer in layers:
        r = n_last / layer.n_out
        mu = np.asarray(layer.law.moments_exact[:k_max], dtype=float)
        series = _normalised_log_s(mu) * r**powers  # log(mu_1 S_D(r w))
        gamma = layer.n_out / layer.n_in
        w_series = np.zeros(n)  # log(sigma^2 S_W(r w)): a series with zero constant term
        k = np.arange(1, n)
        if layer.weights == "gaussian":  # -log(1 + gamma r w)
            w_series[1:] = -((-1.0) ** (k + 1)) * (gamma * r) ** k / k
        elif gamma > 1:  # log(1 + r w) - log(1 + r w / c), c = 1/gamma
            w_series[1:] = ((-1.0) ** (k + 1)) * (r**k - (gamma * r) ** k) / k
        log_s = log_s + layer.count * (series + w_series)
        log_m1 += layer.count * np.log(layer.sigma_w2 * mu[0])
    s = _exp_series(log_s)  # m_1 S_J(w)
    inv_one_plus = (-1.0) ** powers
    chi = np.zeros(n)
    chi[1:] = _series_mul(s, inv_one_plus)[: n - 1]
    psi = _series_inverse(chi)
    with np.errstate(over="ignore"):
        return psi[1:] * np.exp(log_m1 * np.arange(1, n))


class LayeredSolver:
    """Solve M_J^{-1}(m) = z for layers with different laws, variances, ensembles and widths."""

    def __init__(self, layers: list[LayerLaw], n_last: int, coarse: list[D2Law] | None = None):
        self.layers = layers
        self.n_last = n_last
        self.r = np.array([n_last / layer.n_out for layer in layers])
        self.c = np.array([layer.count for layer in layers], dtype=float)
        self.L = int(self.c.sum())
        #: cheaper quadratures of the same laws, used while the spectral variable is far from the axis
        self.coarse = coarse or [layer.law for layer in layers]
        self.log_m1 = float(sum(layer.count * np.log(layer.sigma_w2 * layer.law.mu(1)) for layer in layers))

    # ---- residuals ---------------------------------------------------------------------------
    def _residual(self, m, w, zeta, log_z, far: bool):
        """(F0, dF0/dm, G_k, b_k = dG_k/dlog zeta_k) with G_k = log M_k(zeta_k) - log(r_k m); w = 1 + m is
        carried separately (near the bottom of the spectrum m -> -1 and 1 + m would cancel); m (P,), zeta (P, K)."""
        laws = self.coarse if far else [layer.law for layer in self.layers]
        F0 = np.log(w) - np.log(m) - log_z
        d0 = 1 / w - 1 / m
        G = np.empty_like(zeta)
        b = np.empty_like(zeta)
        for k, layer in enumerate(self.layers):
            r, c = self.r[k], self.c[k]
            u = r * m
            one_u = (1 - r) + r * w  # 1 + u, exact where m -> -1 (r = 1: w itself)
            log_sw, dlog_sw = _log_s_weights(layer, r, m, w)
            F0 = F0 + c * (np.log(u) + np.log(zeta[:, k]) - np.log(one_u) - log_sw)
            d0 = d0 + c * r * (1 / u - 1 / one_u - dlog_sw)
            M, dM = laws[k].M(zeta[:, k])
            G[:, k] = _fold(np.log(M) - np.log(u))
            b[:, k] = zeta[:, k] * dM / M
        return _fold(F0), d0, G, b

    def _newton(self, m, w, zeta, log_z, far: bool):
        """Damped Newton in (v, log zeta_k), v = log m while |m| < 1/2 and log(1 + m) beyond (so neither m nor
        1 + m cancels); no unknown changes by more than a factor e^(1/2) a step; stops at steps below ``tol``
        or residuals at their rounding floor."""
        tol = 1e-8 if far else 1e-12
        m, w, zeta = m.copy(), w.copy(), zeta.copy()
        active = np.ones(m.shape, dtype=bool)
        f_floor = 8 * (self.L + 1) * np.finfo(float).eps
        for _ in range(80):
            idx = np.nonzero(active)[0]
            if idx.size == 0:
                break
            mi, wi = m[idx], w[idx]
            F0, d0, G, b = self._residual(mi, wi, zeta[idx], log_z[idx], far)
            by_m = np.abs(mi) < 0.5
            s = np.where(by_m, 1.0, wi / mi)  # (dm/dv)/m
            with np.errstate(all="ignore"):
                step = (-F0 + np.sum(self.c * G / b, axis=1)) / (s * (mi * d0 + np.sum(self.c / b, axis=1)))
                steps = (-G + (s * step)[:, None]) / b
            largest = np.maximum(np.abs(step), np.max(np.abs(steps), axis=1))
            scale = 0.5 / np.maximum(largest, 0.5)
            grow = np.exp(scale * step)
            new_m = np.where(by_m, mi * grow, wi * grow - 1)
            new_w = np.where(by_m, 1 + mi * grow, wi * grow)
            m[idx], w[idx] = new_m, new_w
            zeta[idx] *= np.exp(scale[:, None] * steps)
            small = largest < tol
            resid = (np.abs(F0) < f_floor) & np.all(np.abs(G) < f_floor, axis=1)
            active[idx[small | resid | ~np.isfinite(largest)]] = False
        return m, w, zeta

    def solve(self, x, scale: float, y_end=None):
        """(m, zeta, 1 + m) at z = x + i y_end, continued from far above (heights as in the one-law solver).

        Adaptive: a height where Newton does not converge (the L-fold product makes the equation steep, and a
        full step can land near the singular point m = -1 or another branch) is retried from the last
        converged height with half the log-step, at most 8 times in a row; points that still fail are NaN.
        """
        x = np.asarray(x, dtype=float)
        y_end = 1e-9 * np.minimum(np.abs(x), scale) if y_end is None else np.broadcast_to(y_end, x.shape).astype(float)
        y_done = np.full(x.shape, 50.0 * (np.max(np.abs(x)) + scale))
        z = x + 1j * y_done
        m = np.exp(self.log_m1) / z
        mu1 = np.array([layer.law.mu(1) for layer in self.layers])
        zeta = mu1[None, :] / (self.r[None, :] * m[:, None])
        m, w, zeta = self._newton(m, 1 + m, zeta, np.log(z), True)
        y_try = np.maximum(0.5 * y_done, y_end)
        live = y_done > y_end
        failed = np.zeros(x.shape, dtype=bool)
        halvings = np.zeros(x.shape, dtype=int)
        while np.any(live):
            idx = np.nonzero(live)[0]
            far = bool(np.min(y_try[idx]) > 1e-3 * scale)
            log_z = np.log(x[idx] + 1j * y_try[idx])
            m_new, w_new, zeta_new = self._newton(m[idx], w[idx], zeta[idx], log_z, far)
            F0, _, G, _ = self._residual(m_new, w_new, zeta_new, log_z, far)
            # a converged point whose m or zeta_k moved by more than a factor e has jumped to another branch:
            # retried with a smaller step like a failure (1 + m may legitimately change by more near the axis)
            with np.errstate(all="ignore"):
                moved = np.maximum(np.abs(np.log(m_new / m[idx])), np.max(np.abs(np.log(zeta_new / zeta[idx])), axis=1))
            ok = (np.abs(F0) < 1e-9) & np.all(np.abs(G) < 1e-9, axis=1) & np.isfinite(m_new) & (moved <= 1.0)
            good, bad = idx[ok], idx[~ok]
            m[good], w[good], zeta[good], y_done[good] = m_new[ok], w_new[ok], zeta_new[ok], y_try[good]
            ratio = np.where(y_done[good] > 1e-3 * scale, 0.5, 0.02)
            y_try[good] = np.maximum(ratio * y_done[good], y_end[good])
            live[good[y_done[good] <= y_end[good]]] = False
            # retry the failures with half the log-step, at most 8 times in a row
            y_try[bad] = np.sqrt(y_done[bad] * y_try[bad])
            halvings[good] = 0
            halvings[bad] += 1
            stuck = bad[halvings[bad] > 8]
            failed[stuck] = True
            live[stuck] = False
        m[failed] = np.nan
        w[failed] = np.nan
        return m, zeta, w

    def green(self, x, scale: float, y_end) -> np.ndarray:
        """G(z) = (1 + m)/z at z = x + i y_end, with 1 + m carried without cancellation."""
        _, _, w = self.solve(x, scale, y_end)
        return w / (np.asarray(x) + 1j * np.asarray(y_end))

    # ---- the upper edge ---------------------------------------------------------------------
    def _real_zetas(self, m: np.ndarray, coarse: bool = False) -> np.ndarray:
        """Real zeta_k > max d_k with M_k(zeta_k) = r_k m for real m > 0, shape (len(m), K), by Chandrupatla's
        method in log(zeta - max d) (M_k decreases from M_k(max d+) to 0 there; where r_k m is beyond
        M_k(max d+), finite when d_k has no mass at its top, zeta_k stays at the edge of d_k).  One root
        search for all layers at once (the laws are evaluated each on its own entries)."""
        laws = [self.coarse[k] if coarse else layer.law for k, layer in enumerate(self.layers)]
        K = len(laws)
        tops = np.array([law.max_d for law in laws])
        target = np.asarray(self.r)[None, :] * m[:, None]  # (len(m), K)
        which = np.broadcast_to(np.arange(K), target.shape)

        def f(t, goal, k):
            out = np.empty(t.shape)
            for j in np.unique(k):
                sel = k == j
                out[sel] = np.log(laws[j].M(tops[j] + np.exp(t[sel]) + 0j)[0].real)
            return out - np.log(goal)

        lo = np.broadcast_to(np.log(np.maximum(1e-13 * tops, 1e-300)), target.shape)
        hi = np.log(2.0 * np.array([law.mu(1) for law in laws]) / target + tops + 1.0)
        inside = f(lo, target, which) > 0
        t = lo.copy()
        if np.any(inside):
            t[inside] = find_root(f, (lo[inside], hi[inside]), args=(target[inside], which[inside])).x
        return tops + np.exp(t)

    def _log_z_and_slope(self, m: np.ndarray, coarse: bool = False):
        """log z(m) on the real axis above the spectrum and d log z / d log m (m > 0 real, vectorized; the
        coarse quadratures of the laws for a first scan)."""
        zeta = self._real_zetas(m, coarse)
        log_z = np.log1p(m) - np.log(m)
        slope = 1 / (1 + m) - 1 / m
        for k, layer in enumerate(self.layers):
            u = self.r[k] * m
            log_sw, dlog_sw = _log_s_weights(layer, self.r[k], m)
            M, dM = (self.coarse[k] if coarse else layer.law).M(zeta[:, k] + 0j)
            log_z = log_z + self.c[k] * (np.log(u) + np.log(zeta[:, k]) - np.log1p(u) - log_sw)
            slope = slope + self.c[k] * self.r[k] * (1 / u - 1 / (1 + u) - dlog_sw)
            slope = slope + self.c[k] * (M.real / (zeta[:, k] * dM.real)) / m  # c_k (d log zeta_k / d log m) / m
        return log_z, slope * m

    def upper_edge(self) -> float:
        """lambda_max: z(m) decreases from +inf as real m grows from 0 and turns at the edge (the first zero
        of d log z / d log m, refined on three nested grids); if it never turns, its limit at the largest m."""
        grid = np.geomspace(1e-10, 1e6, 161)
        log_z, slope = self._log_z_and_slope(grid, coarse=True)
        turn = np.nonzero((slope[:-1] < 0) & (slope[1:] >= 0))[0]
        if turn.size == 0:
            return float(np.exp(self._log_z_and_slope(grid[-1:])[0][0]))
        lo, hi = grid[max(turn[0] - 1, 0)], grid[min(turn[0] + 2, grid.size - 1)]  # room for the coarse error
        for _ in range(3):
            grid = np.geomspace(lo, hi, 33)
            log_z, slope = self._log_z_and_slope(grid)
            j = int(np.argmax(slope >= 0))
            lo, hi = grid[max(j - 1, 0)], grid[j]
        return float(np.exp(np.min(self._log_z_and_slope(np.geomspace(lo, hi, 9))[0])))
