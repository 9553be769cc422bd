"""Scale mixtures over the law of s^L: one output unit, a projection u . h^L, and |h^L|^2.

Given s = s^L the output vector is h^L ~ N(0, s I_{n_L}) (Burkholz & Dubatovka 2019; docs/conventions.md
§6), so

    h^L_i = sqrt(s) Z,           u . h^L = sqrt(s |u|^2) Z,    Z ~ N(0, 1),
    |h^L|^2 = s C,               C ~ chi^2_{n_L},

each X = e^{alpha psi} Z over the law of psi = log s: points psi_j with weights W_j (the last hidden
layer's grid mapped to s^L, summing to 1; given s > 0) times P(s > 0) = exp(log_scale), plus an atom
at X = 0 of mass P(s = 0) (zero bias: the network died).  The trapezoid sums

    pdf(x)     = sum_j W_j f_Z(x e^{-alpha psi_j}) e^{-alpha psi_j},
    P(X > x)   = sum_j W_j P(Z > x e^{-alpha psi_j}),

converge geometrically like the grid itself; log-methods are log-sum-exp over the same terms with
scipy's log_ndtr and log-densities, so a finite mixture (a network without hidden layers, s^1 fixed)
has exact log tails.  Moments: E[X^k] = E[s^{alpha k}] E[Z^k] from the exact moments of s; variances
without cancellation: Var(sqrt(s) Z) = E[s], Var(s C) = 2 n E[s^2] + n^2 Var s.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats
from scipy.special import gammainc, gammaincc, gammaln, log_ndtr, logsumexp, ndtr

from meanfield.errors import ParameterError
from meanfield.laws import newton_bisect

from .distributions import Law, bracket

__all__ = ["ScaleMixtureLaw", "NORMAL"]

_CHUNK = 2_000_000


class _Normal:
    """Z ~ N(0, 1), X = sqrt(s) Z."""

    alpha, symmetric, label = 0.5, True, "N(0, 1)"

    def pdf(self, z):
        return np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)

    def logpdf(self, z):
        return -0.5 * z * z - 0.5 * math.log(2 * math.pi)

    def sf(self, z):
        return ndtr(-z)

    def logsf(self, z):
        return log_ndtr(-z)

    def log_moment(self, k: int) -> float:
        """log E[Z^k] = log (k-1)!! for even k (odd moments are 0: -inf)."""
        if k % 2:
            return -np.inf
        return float(gammaln(k + 1) - gammaln(k // 2 + 1) - (k // 2) * math.log(2.0))


class _ChiSquare:
    """Z ~ chi^2_m, X = s Z."""

    alpha, symmetric = 1.0, False

    def __init__(self, m: int):
        self.m = m
        self.label = f"chi^2_{m}"

    def pdf(self, z):
        return stats.chi2.pdf(z, self.m)

    def logpdf(self, z):
        return stats.chi2.logpdf(z, self.m)

    def cdf(self, z):
        return gammainc(0.5 * self.m, 0.5 * z)

    def sf(self, z):
        return gammaincc(0.5 * self.m, 0.5 * z)

    def logsf(self, z):
        with np.errstate(divide="ignore"):
            return np.log(self.sf(z))

    def log_moment(self, k: int) -> float:
        """log E[Z^k] = k log 2 + log Gamma(m/2 + k) - log Gamma(m/2)."""
        return float(k * math.log(2.0) + gammaln(0.5 * self.m + k) - gammaln(0.5 * self.m))


NORMAL = _Normal()


class ScaleMixtureLaw(Law):
    """X = e^{alpha psi} Z mixed over psi = log s (see the module docstring).

    Parameters
    ----------
    family : ``NORMAL`` (one output unit or a projection) or ``ScaleMixtureLaw.chi_square(m)`` (|h^L|^2)
    psi, weights : ndarray
        Points log s_j and their weights (given s > 0; they sum to 1 up to the quadrature error).
    log_scale : float
        log P(s > 0): the mass of the continuous part (exact; the atom at 0 is 1 minus it).
    pdf0_infinite : bool
        E[s^-1/2] = inf (zero bias, a layer can have one active unit): the density of a projection
        diverges at 0 (a log singularity), and so does that of |h^L|^2 for n_L <= 2.
    log_moment_s : callable
        j -> log E[s^j] (over the whole law of s, atom at 0 included).
    log_var_s : float
        log Var s (exact).
    sampler_s : callable
        (Generator, size) -> exact samples of s.
    name : str
    """

    @staticmethod
    def chi_square(m: int) -> _ChiSquare:
        return _ChiSquare(m)

    def __init__(self, family, psi, weights, log_scale, pdf0_infinite, log_moment_s, log_var_s, sampler_s, name):
        self.family = family
        fam = family

        def log_moment(k: int) -> float:
            j = fam.alpha * k
            if fam.symmetric and k % 2:
                return -np.inf
            return log_moment_s(int(j)) + fam.log_moment(k) if k else 0.0

        if fam.symmetric:
            log_var = log_moment_s(1)
        else:
            m = fam.m
            log_var = float(np.logaddexp(math.log(2.0 * m) + log_moment_s(2), 2 * math.log(m) + log_var_s))

        def sampler(rng, n):
            s = sampler_s(rng, n)
            return np.sqrt(s) * rng.standard_normal(n) if fam.symmetric else s * rng.chisquare(fam.m, n)

        super().__init__(log_moment, log_var, None if sampler_s is None else sampler, name)
        self._log_moment_s = log_moment_s
        self._log_var_s = float(log_var_s)
        self._psi = np.asarray(psi, dtype=float)
        self._w = np.asarray(weights, dtype=float)
        self._log_scale = float(log_scale) if self._psi.size else -np.inf
        self._scale = float(np.exp(self._log_scale))
        self._atom_mass = float(-np.expm1(self._log_scale))
        with np.errstate(over="ignore"):
            self._c = np.exp(-fam.alpha * self._psi)  # x -> x e^{-alpha psi_j} (inf where s_j underflows)
        with np.errstate(divide="ignore"):
            self._logw = np.log(self._w)
        self._pdf0_infinite = bool(pdf0_infinite)
        self._table = None

    @property
    def atoms(self) -> list[tuple[float, float]]:
        return [(0.0, self._atom_mass)] if self._atom_mass > 0 else []

    @property
    def log_continuous_mass(self) -> float:
        return self._log_scale

    def support(self) -> tuple[float, float]:
        if not self._psi.size:
            return (0.0, 0.0)
        return (-np.inf if self.family.symmetric else 0.0, np.inf)

    def continuous_part(self) -> "ScaleMixtureLaw":
        """The law of X given X != 0 (s > 0), normalized; its ppf reaches the continuous part for any atom."""
        if not self._psi.size:
            raise ParameterError(f"{self.name} is a point mass at 0: it has no continuous part")
        lm, ls = self._log_moment_s, self._log_scale
        given = lambda j: lm(j) - ls if j else 0.0  # noqa: E731 - s = 0 adds nothing to E[s^j], j >= 1
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            var_s = float(np.log(max(np.exp(given(2)) - np.exp(given(1)) ** 2, 0.0)))
        return ScaleMixtureLaw(self.family, self._psi, self._w, 0.0, self._pdf0_infinite, given, var_s,
                               None, f"{self.name}, given that it is not 0")

    # ---- sums over the points ---------------------------------------------------------------
    def _arg(self, x: np.ndarray) -> np.ndarray:
        """|x| c_j, shape (x.size, points); 0 at x = 0 also where c_j overflowed."""
        with np.errstate(over="ignore", invalid="ignore"):
            return np.where(x[:, None] == 0, 0.0, np.abs(x[:, None]) * self._c)

    def _sum(self, x: np.ndarray, fn, weights: np.ndarray) -> np.ndarray:
        """sum_j weights_j fn(|x| c_j), chunked."""
        out = np.empty(x.size)
        step = max(1, _CHUNK // max(self._psi.size, 1))
        with np.errstate(under="ignore", over="ignore", invalid="ignore"):
            for s in range(0, x.size, step):
                out[s : s + step] = (weights * fn(self._arg(x[s : s + step]))).sum(axis=1)
        return out

    def _logsum(self, x: np.ndarray, logfn, logweights: np.ndarray) -> np.ndarray:
        """log sum_j exp(logweights_j + logfn(|x| c_j)), chunked."""
        out = np.empty(x.size)
        step = max(1, _CHUNK // max(self._psi.size, 1))
        with np.errstate(under="ignore", divide="ignore", invalid="ignore"):
            for s in range(0, x.size, step):
                out[s : s + step] = logsumexp(logweights + logfn(self._arg(x[s : s + step])), axis=1)
        return out

    def _tail(self, x):
        """P(X > |x|, X != 0) / P(s > 0)."""
        return self._sum(x, self.family.sf, self._w)

    def _log_tail(self, x):
        return self._logsum(x, self.family.logsf, self._logw)

    def _head(self, x):
        """P(0 < X <= x) / P(s > 0) (positive families)."""
        return self._sum(x, self.family.cdf, self._w)

    def _density(self, x):
        """Density of X at x != 0 divided by P(s > 0)."""
        return self._sum(x, self.family.pdf, self._w * self._c)

    # ---- the contract -----------------------------------------------------------------------
    def _pdf(self, x):
        out = np.zeros(x.size)
        if not self._psi.size:
            return out
        inside = np.full(x.size, True) if self.family.symmetric else (x >= 0)
        with np.errstate(invalid="ignore"):
            out[inside] = self._scale * self._density(x[inside])  # at 0: f_Z(0) sum_j W_j c_j
        if self._pdf0_infinite and (self.family.symmetric or self.family.m <= 2):
            out[x == 0] = np.inf  # E[s^{-1/2}] (E[s^{-1}]) = inf
        return out

    def _logpdf(self, x):
        out = np.full(x.size, -np.inf)
        if not self._psi.size:
            return out
        inside = (x != 0) if self.family.symmetric else (x > 0)
        out[inside] = self._log_scale + self._logsum(x[inside], self.family.logpdf, self._logw - self.family.alpha * self._psi)
        zero = x == 0
        if zero.any():
            with np.errstate(divide="ignore"):
                out[zero] = np.log(self._pdf(x[zero]))
        return out

    def _cdf(self, x):
        if not self._psi.size:
            return np.where(x >= 0, 1.0, 0.0)
        if self.family.symmetric:
            tail = self._scale * self._tail(x)
            return np.where(x < 0, tail, 1.0 - tail)
        out = np.where(x >= 0, self._atom_mass, 0.0)
        pos = x > 0
        out[pos] += self._scale * self._head(x[pos])
        return np.minimum(out, 1.0)

    def _sf(self, x):
        if not self._psi.size:
            return np.where(x < 0, 1.0, 0.0)
        if self.family.symmetric:
            tail = self._scale * self._tail(x)
            return np.where(x < 0, 1.0 - tail, tail)
        return np.where(x < 0, 1.0, self._scale * self._tail(np.maximum(x, 0.0)))

    def _logsf(self, x):
        if not self._psi.size:
            return np.where(x < 0, 0.0, -np.inf)
        out = np.zeros(x.size)
        upper = x >= 0
        out[upper] = self._log_scale + self._log_tail(x[upper])
        if self.family.symmetric and (~upper).any():
            out[~upper] = np.log1p(-self._scale * self._tail(x[~upper]))
        big = out > -math.log(2.0)  # sf > 1/2: log1p(-cdf) keeps the digits of log(1 - small)
        if big.any() and not self.family.symmetric:
            out[big] = np.log1p(-np.minimum(self._cdf(x[big]), 1.0))
        return out

    def _logcdf(self, x):
        if not self.family.symmetric or not self._psi.size:
            return super()._logcdf(x)
        out = np.empty(x.size)
        lower = x < 0
        out[lower] = self._log_scale + self._log_tail(x[lower])
        out[~lower] = np.log1p(-self._scale * self._tail(x[~lower]))
        return out

    # ---- quantiles, solved in v = log|x| ----------------------------------------------------
    def _v_table(self):
        if self._table is None:
            a = self.family.alpha * self._psi
            if self.family.symmetric:
                v = np.linspace(a.min() - 70.0, a.max() + 4.0, 800)
            else:
                v = np.linspace(a.min() - 140.0 / self.family.m - 5.0, a.max() + math.log(self.family.m + 200.0), 800)
            self._table = (v, -self._tail(np.exp(v)), None if self.family.symmetric else self._head(np.exp(v)))
        return self._table

    def _solve_tail(self, r: np.ndarray) -> np.ndarray:
        """x > 0 with P(X > x, X != 0) / P(s > 0) = r."""
        v_table, f_table, _ = self._v_table()
        F = lambda v: -self._tail(np.exp(v))  # noqa: E731 - increasing in v
        dF = lambda v: self._density(np.exp(v)) * np.exp(v)  # noqa: E731
        lo, hi, v0 = bracket(F, -r, v_table, f_table)
        return np.exp(newton_bisect(F, dF, -r, lo, hi, v0))

    def _solve_head(self, r: np.ndarray) -> np.ndarray:
        """x > 0 with P(0 < X <= x) / P(s > 0) = r (positive families)."""
        v_table, _, h_table = self._v_table()
        F = lambda v: self._head(np.exp(v))  # noqa: E731
        dF = lambda v: self._density(np.exp(v)) * np.exp(v)  # noqa: E731
        lo, hi, v0 = bracket(F, r, v_table, h_table)
        return np.exp(newton_bisect(F, dF, r, lo, hi, v0))

    def _ppf(self, p):
        out = np.zeros(p.size)
        if not self._psi.size:
            return out
        lo_s, hi_s = self.support()
        out[p == 0.0] = lo_s
        out[p == 1.0] = np.inf
        if self.family.symmetric:
            half = 0.5 * self._scale  # P(X < 0)
            left = (p > 0) & (p < half)
            right = (p > 1.0 - half) & (p < 1.0)
            if left.any():
                out[left] = -self._solve_tail(p[left] / self._scale)
            if right.any():
                out[right] = self._solve_tail((1.0 - p[right]) / self._scale)
            return out
        need = (p > self._atom_mass) & (p < 1.0)
        low = need & (p - self._atom_mass <= 0.5 * self._scale)
        high = need & ~low
        if low.any():
            out[low] = self._solve_head((p[low] - self._atom_mass) / self._scale)
        if high.any():
            out[high] = self._solve_tail((1.0 - p[high]) / self._scale)
        return out

    def _isf(self, q):
        """Smallest x with sf(x) <= q; the tail equation is formed in log space (reaches the continuous
        part when its mass underflows)."""
        out = np.zeros(q.size)
        if not self._psi.size:
            return out
        lo_s, hi_s = self.support()
        out[q == 0.0] = np.inf
        out[q == 1.0] = lo_s
        with np.errstate(divide="ignore"):
            log_q = np.log(q)
        half = self._log_scale - (math.log(2.0) if self.family.symmetric else 0.0)  # log sf(0)
        upper = (q > 0) & (log_q < half)
        if upper.any():
            out[upper] = self._solve_tail(np.exp(log_q[upper] - self._log_scale))
        if self.family.symmetric:
            lower = (q < 1) & (1.0 - q < 0.5 * self._scale)
            if lower.any():
                out[lower] = -self._solve_tail((1.0 - q[lower]) / self._scale)
        return out

    # ---- moments ----------------------------------------------------------------------------
    def _central_moment(self, k: int) -> float:
        if self.family.symmetric:  # mean 0: central = raw
            return self._moment(k)
        return super()._central_moment(k)

    def kurtosis(self, fisher: bool = True) -> float:
        """Fisher (default, 0 for a Gaussian) or Pearson (``fisher=False``) kurtosis.  One output unit
        or a projection: E[X^4] / E[X^2]^2 = 3 E[s^2] / E[s]^2, and the Fisher value 3 Var s / E[s]^2
        from the exact variance of s (no cancellation).  NaN (0/0) only when X = 0 almost surely."""
        if not self.family.symmetric:
            return super().kurtosis(fisher)
        if not isinstance(fisher, (bool, np.bool_)):
            raise ParameterError(f"fisher must be True or False, got {fisher!r}")
        lm1 = self._log_moment_s(1)
        if lm1 == -np.inf:
            return float("nan")
        num = self._log_var_s if fisher else self._log_moment_s(2)
        with np.errstate(over="ignore"):
            return float(3.0 * np.exp(num - 2 * lm1))
