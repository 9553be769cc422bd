"""Log-grid Nystrom propagation of the ReLU signal chain (Burkholz & Dubatovka 2019, the layer kernel of docs/conventions.md §6).

Variables: u = log M_l, M_l = |x^l|^2 / n_l, for the hidden layers l = 1..L-1.  Given s_l, log M_l =
log s_l + log G_l with G_l = chi^2_{K_l} / n_l independent of s_l (Burkholz & Dubatovka 2019), so the
continuous part of the density of u is a mixture of translates of the density of log G,

    g_n(t) = sum_{k>=1} w_k exp(a_k y - e^y) / Gamma(a_k),   a_k = k/2,  y = t - log(2/n),
    p_l(v) = sum_j W_j g_n(v - psi_j),

over "source points" psi_j = log s with weights W_j: the single point log s_1 for l = 1 (the first
layer is exact), and for l >= 2 the nodes of the previous layer's grid mapped by
psi(u) = log(sigma_b^2 + sigma_w^2 e^u) with trapezoid weights h p_{l-1}(u), plus the revived atom
(log sigma_b^2, P(M_{l-1} = 0)) when sigma_b^2 > 0.  In log scale every density is analytic (no chi^2_1
singularity, atoms carried separately), so the trapezoid/Nystrom rule converges geometrically in h.

The CDF uses the same sum with the regularized incomplete gamma functions P(a_k, e^y) (Q for the upper
tail), i.e. the trapezoid rule applied to P(log M <= v) = E[P(log G <= v - log s)]: exact up to the
same geometric quadrature error, evaluated at any point without interpolation.

Truncations (all far below the stated accuracy): binomial weights w_k < 1e-22 are dropped (and
terms whose peak stays below 1e-40 of the kernel's); kernel terms below 1e-40 of the kernel peak are
not evaluated; each grid end cuts mass < 1e-30 P(M_l > 0), from a Markov bound with the exact moments
(top) and a Chernoff bound with the exact negative moments of the truncated chain (bottom)
(:mod:`exact.propagation`).

Speed: terms are grouped by the length of their band (the small-k terms have long e^{a y} left tails);
below y = -37 every term factorises exactly in double precision (exp(-e^y) = 1), which turns the far
left of every sum into suffix sums; the incomplete gamma functions of one parity of k follow from
one scipy call by the recurrence P(a, x) = P(a+1, x) + x^a e^-x / Gamma(a+1); the densities of wide
kernels (>= 24 terms) come from a table of log g_n (see :class:`LogGammaMixture`).
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import gammainc, gammaincc, gammaln, logsumexp, polygamma

from .moments import log_binomial_weights, log_negative_moment_G

__all__ = ["LogGammaMixture", "SourcePoints", "grid_step", "TAIL_MASS"]

#: binomial weights below this are dropped from the kernel
DROP_WEIGHT = 1e-22
#: kernel values below this fraction of its peak are treated as 0 (band of the kernel)
KERNEL_TINY = 1e-40
#: mass cut at each end of each layer's grid, relative to P(M_l > 0) (Markov / Chernoff bounds)
TAIL_MASS = 1e-30
#: below this y = t - log(2/n) the kernel terms factorise exactly in double precision (e^y < 1e-16)
FAR_Y = -37.0
#: upper bound on array elements per vectorized chunk
_CHUNK = 2_000_000
#: source points closer than this many sd of the narrowest kernel component are merged (SourcePoints)
MERGE = 1e-7
#: kernels with at least this many binomial terms are tabulated (see LogGammaMixture)
TABLE_TERMS = 24
#: barycentric weights of degree-5 Lagrange interpolation on the stencil offsets -2..3
_OFFSETS = np.arange(-2, 4)
_BARY = np.array([(-1.0) ** j * math.comb(5, j) for j in range(6)])
_STENCIL_LO, _STENCIL_HI = 2, 3
#: table steps per sd of the narrowest kernel component
_TABLE_DENSITY = 64


def grid_step(widths: list[int], sharing: bool) -> float:
    """h = min(1/8, 0.35 sqrt(psi'(n_max/2))): 0.35 sd of the narrowest log-gamma component of the
    kernels of the given widths.

    With sharing the narrowest component is the only one, of shape n/2 for every layer.
    """
    n_max = max(widths)
    return float(min(0.125, 0.35 * np.sqrt(polygamma(1, n_max / 2.0))))


def _log_mode_density(a: np.ndarray) -> np.ndarray:
    """a log a - a - log Gamma(a): Stirling series for a >= 30 (next term < 5e-17), direct below."""
    a = np.asarray(a, dtype=float)
    big = np.maximum(a, 30.0)
    inv = 1.0 / big
    series = 0.5 * np.log(big / (2 * np.pi)) - inv * (1 / 12 - inv**2 * (1 / 360 - inv**2 * (1 / 1260 - inv**2 / 1680)))
    return np.where(a >= 30.0, series, a * np.log(a) - a - gammaln(a))


def _solve_decreasing(target, lo, hi, increasing: bool) -> np.ndarray:
    """Vectorized bisection for f(z) = z - expm1(z) = target on [lo, hi] (f increases for z < 0 and
    decreases for z > 0); 80 halvings of brackets of length <= 1 + |target|: to rounding."""
    lo, hi = np.array(lo, dtype=float), np.array(hi, dtype=float)
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        above = (mid - np.expm1(mid)) >= target
        if increasing:  # f(mid) >= target: the root is at or below mid
            hi, lo = np.where(above, mid, hi), np.where(above, lo, mid)
        else:
            lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    return lo if increasing else hi


def _interpolate(values: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Degree-5 Lagrange interpolation of ``values`` (uniform, unit spacing) at fractional indices
    ``pos`` (2 <= pos < size - 4), barycentric form on the stencil floor(pos) - 2 .. floor(pos) + 3."""
    i = np.floor(pos).astype(np.intp)
    f = pos - i
    node = f == 0.0
    d = np.where(node, 0.5, f)[..., None] - _OFFSETS
    inv = _BARY / d
    y = values[i[..., None] + _OFFSETS]
    out = (inv * y).sum(axis=-1) / inv.sum(axis=-1)
    return np.where(node, values[i], out)


class LogGammaMixture:
    """Law of log G, G = chi^2_K / n, K ~ Bin(n, 1/2) (or K = n with sharing), restricted to K >= 1.

    Parameters
    ----------
    n : int
        Layer width.
    sharing : bool
        Parameter-sharing (looks-linear) layer: K = n, no atom.

    Notes
    -----
    Term k is evaluated only on its band, where it exceeds KERNEL_TINY (1e-40) times a lower bound
    of the peak of g_n; the band ends solve a_k (z - expm1 z) = const on each side of the mode
    (bisection, brackets from z - 1 < z - expm1 z <= z for z < 0 and z - expm1 z <= -z^2/2 for z > 0).
    Kernels of >= TABLE_TERMS terms are tabulated: log g_n on a uniform grid of step
    sqrt(psi'(a_max)) / 64 (1/64 of the sd of the narrowest component) over the whole band, evaluated
    by degree-5 barycentric Lagrange interpolation (error of log g_n ~1e-13 within e^-30 of the peak,
    the rounding level of the log-terms themselves; tests/exact/test_bottleneck.py), so that building
    a wide layer costs O(1) per (node, source) pair instead of O(sqrt(n)) log-gamma terms.
    """

    def __init__(self, n: int, sharing: bool):
        k, logw = log_binomial_weights(n, sharing)
        keep = logw >= np.log(DROP_WEIGHT)
        self.n = n
        self.sharing = bool(sharing)
        self.a = k[keep] / 2.0
        self.logw = logw[keep]
        self.logc = self.logw - gammaln(self.a)
        # the same terms written around their modes, log term = logm_k + a_k (z - expm1 z),
        # z = y - log a_k: no cancellation between a y, e^y and log Gamma(a) ~ a log a (which costs
        # ~1e-13 relative at a ~ 300); logm_k = log w_k + a log a - a - log Gamma(a)
        self.loga = np.log(self.a)
        self.logm = self.logw + _log_mode_density(self.a)
        self.shift = np.log(2.0 / n)
        self.sd = float(np.sqrt(polygamma(1, self.a.max())))  # of the narrowest component
        # a lower bound of the peak of g: its largest value at the modes of up to 64 terms
        probe = self.shift + self.loga[np.unique(np.linspace(0, self.a.size - 1, 64).astype(int))]
        log_floor = logsumexp(self._logterms(probe), axis=1).max() + np.log(KERNEL_TINY)
        c = log_floor - self.logm  # term k is above the floor where a_k (z - expm1 z) >= c_k
        live = c < 0  # the others stay below the floor everywhere
        self.a, self.logw, self.logc, self.loga, self.logm, c = (
            x[live] for x in (self.a, self.logw, self.logc, self.loga, self.logm, c)
        )
        self.kmin = int(round(2 * self.a.min()))
        self.mass = float(np.exp(logsumexp(self.logw)))  # 1 - 2^-n minus the dropped weights
        z_lo = _solve_decreasing(c / self.a, c / self.a - 1.0, c / self.a, increasing=True)
        z_hi = _solve_decreasing(c / self.a, np.zeros_like(c), np.sqrt(-2.0 * c / self.a), increasing=False)
        t_lo = self.shift + self.loga + z_lo
        t_hi = self.shift + self.loga + z_hi
        self._all = np.arange(self.a.size)
        self._table = None
        if self.a.size >= TABLE_TERMS:
            self._build_table(t_lo.min(), t_hi.max())
            groups = [self._all]  # one band: a tabulated evaluation costs the same for every term
        else:
            # terms grouped by the length of their band (the small-k terms have long e^{a y} left
            # tails, the large-k ones short ones), so each group is summed over its own band
            ext = t_hi - t_lo
            gid = np.floor(np.log2(ext / ext.min())).astype(int)
            groups = [np.nonzero(gid == g)[0] for g in np.unique(gid)]
        #: list of (term indices, t_lo, t_hi, mass of the group's terms)
        self.groups = [
            (idx, float(t_lo[idx].min()), float(t_hi[idx].max()), float(np.exp(logsumexp(self.logw[idx]))))
            for idx in groups
        ]
        self.t_lo = min(g[1] for g in self.groups)
        self.t_hi = max(g[2] for g in self.groups)

    def _build_table(self, lo: float, hi: float):
        step = float(np.sqrt(polygamma(1, self.a.max()))) / _TABLE_DENSITY
        t = lo - 4 * step + step * np.arange(int(np.ceil((hi - lo) / step)) + 9)
        rows = max(1, _CHUNK // self.a.size)
        values = np.concatenate([logsumexp(self._logterms(t[s : s + rows]), axis=1) for s in range(0, t.size, rows)])
        self._table = (float(t[0]), step, values)

    def cost(self, terms, fn=None) -> int:
        """Work per evaluation point of ``fn`` (default: the density) over ``terms``, in units of one
        log-gamma term (for chunk sizes): a tabulated density costs about 8."""
        tabulated = self._table is not None and terms is self._all and fn in (None, self.pdf)
        return 8 if tabulated else len(terms)

    def _y(self, t: np.ndarray) -> np.ndarray:
        return np.asarray(t, dtype=float)[..., None] - self.shift

    def _logterms(self, t, terms=slice(None)) -> np.ndarray:
        z = self._y(t) - self.loga[terms]
        return self.logm[terms] + self.a[terms] * (z - np.expm1(z))

    def logpdf(self, t, terms=None) -> np.ndarray:
        """log g_n(t) (over the given terms only, if given).  A tabulated kernel is interpolated inside
        its band and -inf outside (below 1e-40 of its peak: the band's definition); else log-sum-exp."""
        t = np.asarray(t, dtype=float)
        if terms is None:
            terms = self._all
        if self._table is None or terms is not self._all:
            with np.errstate(under="ignore"):
                return logsumexp(self._logterms(t, terms), axis=-1)
        t0, step, values = self._table
        pos = (t - t0) / step
        inside = (pos >= _STENCIL_LO) & (pos < values.size - _STENCIL_HI - 1)
        out = np.full(t.shape, -np.inf)
        if np.any(inside):
            out[inside] = _interpolate(values, pos[inside])
        return out

    def pdf(self, t, terms=None) -> np.ndarray:
        """g_n(t) = sum_k w_k exp(a_k y - e^y) / Gamma(a_k) (over the given terms only, if given)."""
        if terms is None:
            terms = self._all
        if self._table is None or terms is not self._all:
            with np.errstate(under="ignore"):
                return np.exp(self._logterms(t, terms)).sum(axis=-1)
        with np.errstate(under="ignore"):
            return np.exp(self.logpdf(t, terms))

    def _incomplete(self, t, terms, upper: bool) -> np.ndarray:
        """sum_k w_k P(a_k, x) (or Q for ``upper``), x = e^y, over the given terms.

        The a_k of one parity of k step by 1, and P(a, x) = P(a+1, x) + x^a e^-x / Gamma(a+1): P is
        evaluated (scipy gammainc) at the largest a of each parity only and the others by this
        downward recurrence, Q at the smallest a and the others upward (both add positive terms:
        stable).  sum_k w_k P_k = P_top sum_k w_k + sum_m d_m sum_{k<=m} w_k with d_m the increments.
        """
        idx = np.arange(self.a.size)[terms]
        x = np.exp(self._y(t))  # (..., 1)
        logx = np.log(x)
        out = 0.0
        for parity in (0, 1):
            sel = idx[(np.rint(2 * self.a[idx]).astype(int) % 2) == parity]
            if sel.size == 0:
                continue
            a, w = self.a[sel], np.exp(self.logw[sel])
            if sel.size == 1 or np.any(np.diff(a) != 1.0):  # not a run of consecutive shapes
                f = gammaincc if upper else gammainc
                out = out + (w * f(a, x)).sum(axis=-1)
                continue
            with np.errstate(under="ignore"):
                d = np.exp(a[:-1] * logx - x - gammaln(a[:-1] + 1))  # P(a_m) - P(a_{m+1})
            if upper:
                base = gammaincc(a[0], x[..., 0]) * w.sum()
                out = out + base + d @ np.cumsum(w[::-1])[::-1][1:]  # Q(a_k) = Q(a_0) + sum_{m<k} d_m
            else:
                base = gammainc(a[-1], x[..., 0]) * w.sum()
                out = out + base + d @ np.cumsum(w)[:-1]  # P(a_k) = P(a_top) + sum_{m>=k} d_m
        return out

    def cdf(self, t, terms=slice(None)) -> np.ndarray:
        """P(log G <= t, K >= 1) = sum_k w_k P(a_k, e^y) (regularized lower incomplete gamma)."""
        return self._incomplete(t, terms, upper=False)

    def sf(self, t, terms=slice(None)) -> np.ndarray:
        """P(log G > t, K >= 1) = sum_k w_k Q(a_k, e^y) (accurate in the upper tail)."""
        return self._incomplete(t, terms, upper=True)

    def lattice(self, h: float) -> tuple[int, np.ndarray]:
        """Kernel on the lattice t = m h over its band: (first m, g_n(m h))."""
        m0 = int(np.floor(self.t_lo / h))
        m1 = int(np.ceil(self.t_hi / h))
        t = np.arange(m0, m1 + 1) * h
        g = np.zeros(t.size)
        for terms, lo, hi, _ in self.groups:
            band = (t >= lo) & (t <= hi)
            g[band] += self.pdf(t[band], terms)
        return m0, g

    def matrix(self, rows: np.ndarray, cols_psi: np.ndarray) -> np.ndarray:
        """Nystrom matrix K_ij = g_n(rows_i - cols_psi_j) (rows a uniform grid), dense, bands only.

        For sigma_b^2 > 0 narrow layers' kernels reach ~180 log-units to the left, as far as the grid,
        so the matrix is mostly full: it is stored dense and used by BLAS mat-vecs.
        """
        h = rows[1] - rows[0] if rows.size > 1 else 1.0
        out = np.zeros((rows.size, cols_psi.size))
        cols = np.arange(cols_psi.size)
        for terms, t_lo, t_hi, _ in self.groups:
            first = np.ceil((cols_psi + t_lo - rows[0]) / h).astype(int)
            width = int(np.ceil((t_hi - t_lo) / h)) + 2
            step = max(1, _CHUNK // (width * self.cost(terms)))
            for s in range(0, cols.size, step):
                j = cols[s : s + step, None]
                i = first[s : s + step, None] + np.arange(width)[None, :]
                ok = (i >= 0) & (i < rows.size)
                i, jj = i[ok], np.broadcast_to(j, ok.shape)[ok]
                out[i, jj] += self.pdf(rows[i] - cols_psi[jj], terms)  # (i, j) pairs are distinct
        return out

    def negative_moment(self, t: np.ndarray) -> np.ndarray:
        """log E[G^-t; K >= kmin] of the truncated kernel (Chernoff bounds of the grid's lower end)."""
        return log_negative_moment_G(self.n, t, self.kmin, self.sharing)


class SourcePoints:
    """A discrete law of log s (points psi_j, weights W_j) pushed through a layer kernel.

    Evaluates the continuous part of the law of log M = log s + log G:
    density sum_j W_j g(v - psi_j), CDF sum_j W_j P(log G <= v - psi_j), survival function likewise,
    each with the band of g only (outside it g and the CDF/SF of log G are 0 or the full kernel mass).
    """

    def __init__(self, kernel: LogGammaMixture, psi: np.ndarray, weights: np.ndarray):
        # points closer than MERGE (1e-7 sd of the narrowest kernel component) are merged at their
        # weighted mean: with sigma_b^2 > 0 the far-left grid nodes u all map to psi = log(sigma_b^2 +
        # sigma_w^2 e^u) ~ log sigma_b^2, thousands of points in a sliver of the kernel's width.  The
        # first-order error cancels at the mean; the second is (extent / sd)^2 g''/g ~ 1e-14 relative.
        self.kernel = kernel
        psi, weights = np.asarray(psi, dtype=float), np.asarray(weights, dtype=float)
        tol = MERGE * kernel.sd
        cell = np.floor((psi - psi.min()) / tol) if psi.size else psi
        _, inverse = np.unique(cell, return_inverse=True)
        inverse = inverse.ravel()
        mass = np.bincount(inverse, weights=weights)
        count = np.bincount(inverse)
        with np.errstate(invalid="ignore", divide="ignore"):
            centre = np.where(mass > 0, np.bincount(inverse, weights=weights * psi) / mass,
                              np.bincount(inverse, weights=psi) / count)
        self.psi, self.w = centre, mass
        self.cum = np.concatenate([[0.0], np.cumsum(self.w)])
        # the same cumulative sum from the top, for accurate upper tails
        self.rcum = np.concatenate([np.cumsum(self.w[::-1])[::-1], [0.0]])
        # far left of the kernel (y < FAR_Y): exp(-e^y) = 1 and P(a, e^y) = e^{a y}/Gamma(a+1) in double
        # precision, so the terms factorise, sum_j W_j e^{a (v - psi_j - shift)}: suffix sums
        # log sum_{j' >= j} W_j' e^{-a psi_j'} per term, accumulated in log space (no overflow)
        self.t_cut = FAR_Y + kernel.shift
        self._log_suffix = None

    @property
    def log_suffix(self) -> np.ndarray:
        """(terms, points + 1): log sum_{j' >= j} W_j' e^{-a_k psi_j'} (built on first use: only
        narrow kernels reach below FAR_Y)."""
        if self._log_suffix is None:
            with np.errstate(divide="ignore"):
                logw = np.log(self.w)
            terms = logw[None, ::-1] - self.kernel.a[:, None] * self.psi[None, ::-1]
            self._log_suffix = np.concatenate(
                [np.logaddexp.accumulate(terms, axis=1)[:, ::-1], np.full((self.kernel.a.size, 1), -np.inf)], axis=1
            )
        return self._log_suffix

    @property
    def total(self) -> float:
        """Sum of the source weights (= P(s > 0) up to the quadrature error)."""
        return float(self.cum[-1])

    def _band(self, v: np.ndarray, fn, t_lo: float, t_hi: float, terms) -> tuple:
        """sum over psi_j in [v - t_hi, v - t_lo] of W_j fn(v - psi_j, terms), and the band limits."""
        j0 = np.searchsorted(self.psi, v - t_hi, side="left")
        j1 = np.searchsorted(self.psi, v - t_lo, side="right")
        out = np.zeros(v.size)
        counts = j1 - j0
        if v.size == 0 or counts.max() == 0:
            return out, j0, j1
        cost = self.kernel.cost(terms, fn)
        s = 0
        while s < v.size:  # chunks sized by their own widest band (bands are widest near log sigma_b^2)
            step = max(1, _CHUNK // (max(int(counts[s]), 1) * cost))
            width = int(counts[s : s + step].max())
            step = max(1, min(step, _CHUNK // (max(width, 1) * cost)))
            width = int(counts[s : s + step].max())
            sl = slice(s, s + step)
            s += step
            if width == 0:
                continue
            offs = np.arange(width)
            idx = j0[sl, None] + offs[None, :]
            ok = idx < j1[sl, None]
            idx = np.where(ok, idx, 0)
            t = np.where(ok, v[sl, None] - self.psi[idx], 0.5 * (t_lo + t_hi))  # padding: inside the band
            out[sl] = np.where(ok, self.w[idx] * fn(t, terms), 0.0).sum(axis=1)
        return out, j0, j1

    def _evaluate(self, v, fn, below: bool, above: bool) -> np.ndarray:
        """Group by group: the band sum plus the full group mass for the points beyond the band
        (psi_j < v - t_hi if ``below``: cdf; psi_j > v - t_lo if ``above``: sf)."""
        v = np.atleast_1d(np.asarray(v, dtype=float))
        out = np.zeros(v.size)
        kern = self.kernel
        for terms, t_lo, t_hi, mass in kern.groups:
            band, j0, j1 = self._band(v, fn, max(t_lo, self.t_cut), t_hi, terms)
            out += band
            if below:
                out += self.cum[j0] * mass
            if t_lo < self.t_cut:  # the factorised far-left part, every j >= j1
                a = kern.a[terms]
                log_far = a * (v[:, None] - kern.shift) + self.log_suffix[terms][:, j1].T
                with np.errstate(under="ignore"):
                    if fn == kern.pdf:
                        out += np.exp(kern.logc[terms] + log_far).sum(axis=1)
                    else:
                        low = np.exp(kern.logw[terms] - gammaln(a + 1) + log_far).sum(axis=1)
                        out += low if fn == kern.cdf else self.rcum[j1] * mass - low
            elif above:
                out += self.rcum[j1] * mass
        return out

    def density(self, v) -> np.ndarray:
        """Density of log M at v (continuous part)."""
        return self._evaluate(v, self.kernel.pdf, False, False)

    def cdf(self, v) -> np.ndarray:
        """P(log M <= v, M > 0)."""
        return self._evaluate(v, self.kernel.cdf, True, False)

    def sf(self, v) -> np.ndarray:
        """P(log M > v)."""
        return self._evaluate(v, self.kernel.sf, False, True)
