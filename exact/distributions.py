"""Distribution objects of the exact finite-width laws: scipy.stats names, atoms explicit.

Every law is a :class:`meanfield.laws.Law` (``pdf, logpdf, cdf, logcdf, sf, logsf, ppf, isf, mean,
var, std, median, moment, stats, interval, support, expect, rvs, skew, kurtosis``) with:

- ``pdf`` the density of the absolutely continuous part (atoms excluded; a pure point mass has pdf 0),
  ``cdf``/``sf`` with the atoms (cdf right-continuous, sf = 1 - cdf computed directly);
- ``atoms`` (every point mass as (location, mass)), ``atom`` (the mass at 0), and the continuous mass
  as its own number, ``continuous_mass`` and ``log_continuous_mass``, exact and never rounded into
  the atom (an almost surely dead net, width 1 and depth 100, has continuous mass 2^-100 while its atom
  prints as 1.0); ``continuous_part()`` is the law given that X is not at an atom (its ``ppf``
  reaches the continuous part whatever the atom's mass); ``isf(q)`` solves sf = q in log space, so it
  also reaches it for q below the continuous mass;
- ``ppf(p)`` the smallest x with cdf(x) >= p (an atom's location for every p in its jump);
- moments from the exact closed-form recursion (:mod:`exact.moments`), atoms included, never from the
  grid or from samples (for narrow deep nets they are carried by astronomically rare networks); the
  variance by the cancellation-free recursion; a moment beyond double range is inf;
- ``rvs(size, random_state)`` draws from the exact Markov chain of the signal (K_l ~ Bin(n_l, 1/2)
  active units, |x^l|^2 = s_l chi^2_{K_l}, s_{l+1} = sigma_b^2 + sigma_w^2 |x^l|^2 / n_l; Burkholz &
  Dubatovka 2019), not from the numerical grid: exact and independent of the quadrature;
- log-methods: logpdf, logcdf, logsf are the logs of sums of positive terms, each relatively accurate
  (no cancellation); the scale P(s > 0) of the continuous part is carried in log space, so they stay
  finite where the linear values underflow for almost surely dead nets.  Like the linear values they
  describe the grid's law, whose ends cut mass < 1e-30 of the continuous part: beyond probabilities of
  ~1e-25 they are lower bounds of the true tails (the first layer and finite mixtures are exact).

:func:`ks_distance` compares samples with a law by Kolmogorov-Smirnov, atoms included, reusing
:func:`meanfield.simulate.ks_distance` and the DKW bound :func:`meanfield.simulate.ks_bound`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from meanfield import laws
from meanfield import simulate as mfsim
from meanfield.errors import ParameterError
from meanfield.laws import newton_bisect

from .grid import SourcePoints

__all__ = ["Law", "PositiveLaw", "KSComparison", "ks_distance", "bracket"]

LogMoment = Callable[[int], float]
Sampler = Callable[[np.random.Generator, int], np.ndarray]


def bracket(F, target: np.ndarray, v_table: np.ndarray, f_table: np.ndarray):
    """Brackets [lo, hi] with F(lo) < target <= F(hi) for increasing F, from an approximate table,
    and a starting point by linear interpolation in the table."""
    i = np.searchsorted(f_table, target)
    lo = v_table[np.clip(i - 4, 0, v_table.size - 1)].astype(float)
    hi = v_table[np.clip(i + 3, 0, v_table.size - 1)].astype(float)
    span = max(float(v_table[-1] - v_table[0]), 1.0)
    v0 = np.interp(target, f_table, v_table)
    for sign in (-1.0, 1.0):  # widen the lower end downwards, then the upper end upwards, if needed
        step = np.full(target.size, 0.1 * span)
        for _ in range(60):
            bad = F(lo) >= target if sign < 0 else F(hi) < target
            if not bad.any():
                break
            if sign < 0:
                lo = np.where(bad, lo - step, lo)
            else:
                hi = np.where(bad, hi + step, hi)
            step = np.where(bad, 2 * step, step)
    return lo, hi, v0


class Law(laws.Law):
    """Base of the exact laws: :class:`meanfield.laws.Law` with exact moments and exact sampling.

    Parameters
    ----------
    log_moment : callable
        k -> log E[X^k] for integers k >= 0 (exact recursion, :mod:`exact.moments`).
    log_var : float
        log Var X, exact (cancellation-free recursion); -inf for a point mass.
    sampler : callable or None
        (Generator, size) -> ndarray of exact samples (the signal chain); None: inversion.
    name : str
        What the law describes (used in ``repr``).
    """

    def __init__(self, log_moment: LogMoment, log_var: float, sampler: Sampler | None, name: str):
        self._log_moment = log_moment
        self._log_var = float(log_var)
        self._sampler = sampler
        self.name = name

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.name}, atom={self.atom:.6g}>"

    def _moment(self, k: int) -> float:
        with np.errstate(over="ignore"):
            return float(np.exp(self._log_moment(k)))

    def _central_moment(self, k: int) -> float:
        if k == 2:
            with np.errstate(over="ignore"):
                return float(np.exp(self._log_var))
        return super()._central_moment(k)

    def _rvs(self, n: int, rng: np.random.Generator) -> np.ndarray:
        if self._sampler is None:
            return super()._rvs(n, rng)
        return self._sampler(rng, n)

    @property
    def log_continuous_mass(self) -> float:
        """log of the mass of the continuous part (exact; finite where the mass underflows)."""
        raise NotImplementedError

    @property
    def continuous_mass(self) -> float:
        """Mass of the continuous part, exp(log_continuous_mass): not 1 - atom (no rounding)."""
        return float(np.exp(self.log_continuous_mass))


def _conditional_log_moment(log_moment: LogMoment, log_mass: float, atom: float, loc: float) -> LogMoment:
    """k -> log E[X^k | X != loc] = log(E[X^k] - atom loc^k) - log P(X != loc), without overflow."""

    def log_moment_given(k: int) -> float:
        if k == 0:
            return 0.0
        lm = log_moment(k)
        if atom > 0 and loc != 0 and np.isfinite(lm):
            with np.errstate(divide="ignore"):
                lm = lm + np.log1p(-np.exp(np.log(atom) + k * np.log(abs(loc)) - lm))
        return lm - log_mass

    return log_moment_given


def _log_var_from_moments(log_moment: LogMoment) -> float:
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        m1, m2 = np.exp(log_moment(1)), np.exp(log_moment(2))
        return float(np.log(max(m2 - m1 * m1, 0.0)))


class PositiveLaw(Law):
    """Law of X = c0 + c1 M with M >= 0: an atom at c0 (M = 0) and a continuous part above c0.

    The continuous part is exp(log_scale) times the law of log M given as a
    :class:`~exact.grid.SourcePoints` mixture (the Nystrom sum over the previous layer's grid, weights
    summing to 1), log_scale = log P(s > 0).  Used for |x^l|^2 (c0 = 0, c1 = n_l) and for s^l
    (c0 = sigma_b^2, c1 = sigma_w^2).  ``continuous=None`` (or c1 = 0) is a point mass at c0: the law
    of s^1, which is deterministic.

    Parameters
    ----------
    c0, c1 : float
    continuous : SourcePoints or None
    table : (ndarray, ndarray) or None
        Nodes of log M and an approximate CDF of the continuous part there, given s > 0 (for ppf).
    log_continuous_mass : float
        log P(X > c0), exact (the atom is 1 - its exponential).
    log_scale : float
        log P(s > 0).
    log_moment, log_var, sampler, name : see :class:`Law`.
    """

    def __init__(self, c0, c1, continuous: SourcePoints | None, table, log_continuous_mass, log_scale,
                 log_moment, log_var, sampler, name):
        super().__init__(log_moment, log_var, sampler, name)
        self.c0 = float(c0)
        self.c1 = float(c1)
        if continuous is None or self.c1 == 0.0:
            continuous, log_continuous_mass, log_scale = None, -np.inf, -np.inf
        self._cont = continuous
        self._table = table
        self._log_cm = float(log_continuous_mass)
        self._log_scale = float(log_scale)
        self._scale = float(np.exp(self._log_scale))
        self._atom_mass = float(-np.expm1(self._log_cm))

    @property
    def atoms(self) -> list[tuple[float, float]]:
        return [(self.c0, self._atom_mass)] if self._atom_mass > 0 else []

    @property
    def log_continuous_mass(self) -> float:
        return self._log_cm

    def support(self) -> tuple[float, float]:
        return (self.c0, np.inf if self._cont is not None else self.c0)

    def continuous_part(self) -> "PositiveLaw":
        """The law of X given X != c0 (the continuous part, normalized); ppf reaches it for any atom."""
        if self._cont is None:
            raise ParameterError(f"{self.name} is a point mass at {self.c0!r}: it has no continuous part")
        log_moment = _conditional_log_moment(self._log_moment, self._log_cm, self._atom_mass, self.c0)
        return PositiveLaw(self.c0, self.c1, self._cont, self._table, 0.0, self._log_scale - self._log_cm,
                           log_moment, _log_var_from_moments(log_moment), None,
                           f"{self.name}, given that it is not {self.c0:g}")

    def _v(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log((x - self.c0) / self.c1)

    def _pdf(self, x):
        out = np.zeros(x.size)
        above = x > self.c0
        if self._cont is not None and above.any():
            xa = x[above]
            with np.errstate(over="ignore", under="ignore"):
                out[above] = self._scale * self._cont.density(self._v(xa)) / (xa - self.c0)
        return out

    def _logpdf(self, x):
        out = np.full(x.size, -np.inf)
        above = x > self.c0
        if self._cont is not None and above.any():
            xa = x[above]
            with np.errstate(divide="ignore"):
                out[above] = self._log_scale + np.log(self._cont.density(self._v(xa))) - np.log(xa - self.c0)
        return out

    def _cdf(self, x):
        out = np.where(x >= self.c0, self._atom_mass, 0.0)
        above = x > self.c0
        if self._cont is not None and above.any():
            out[above] += self._scale * self._cont.cdf(self._v(x[above]))
        return np.minimum(out, 1.0)

    def _logcdf(self, x):
        with np.errstate(divide="ignore"):
            out = np.where(x >= self.c0, np.log(self._atom_mass), -np.inf)
            above = x > self.c0
            if self._cont is not None and above.any():
                cont = self._log_scale + np.log(self._cont.cdf(self._v(x[above])))
                out[above] = np.minimum(np.logaddexp(out[above], cont), 0.0)
        big = out > -np.log(2.0)  # cdf > 1/2: log1p(-sf) keeps the digits of log(1 - small)
        if big.any():
            out[big] = np.log1p(-np.minimum(self._sf(x[big]), 1.0))
        return out

    def _sf(self, x):
        out = np.where(x < self.c0, 1.0, 0.0)
        if self._cont is None:
            return out
        out[x == self.c0] = float(np.exp(self._log_cm))
        above = x > self.c0
        if above.any():
            out[above] = self._scale * self._cont.sf(self._v(x[above]))
        return out

    def _logsf(self, x):
        out = np.where(x < self.c0, 0.0, -np.inf)
        if self._cont is None:
            return out
        out[x == self.c0] = self._log_cm
        above = x > self.c0
        if above.any():
            with np.errstate(divide="ignore"):
                out[above] = self._log_scale + np.log(self._cont.sf(self._v(x[above])))
        big = (out > -np.log(2.0)) & (x >= self.c0)  # sf > 1/2: log1p(-cdf)
        if big.any():
            out[big] = np.log1p(-np.minimum(self._cdf(x[big]), 1.0))
        return out

    def _solve(self, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
        """log M solving P(log M <= v | s > 0) = lower (where finite) or P(log M > v | s > 0) = upper."""
        v_table, c_table = self._table
        v = np.empty(lower.size)
        low = np.isfinite(lower)
        groups = (
            (low, self._cont.cdf, lower, c_table),
            (~low, lambda u: -self._cont.sf(u), -upper, c_table - c_table[-1]),
        )
        for mask, F, target, f_table in groups:
            if mask.any():
                lo, hi, v0 = bracket(F, target[mask], v_table, f_table)
                v[mask] = newton_bisect(F, self._cont.density, target[mask], lo, hi, v0)
        return v

    def _ppf(self, p):
        out = np.full(p.size, self.c0)
        if self._cont is None:
            return out
        out[p == 1.0] = np.inf
        need = (p > self._atom_mass) & (p < 1.0)
        if need.any():
            q = p[need]
            # lower half: P(log M <= v | s > 0) = (p - atom) / scale; upper half: P(log M > v | s > 0) = (1 - p) / scale
            low = q - self._atom_mass <= 0.5 * (1.0 - self._atom_mass)
            lower = np.where(low, (q - self._atom_mass) / self._scale, -np.inf)
            with np.errstate(over="ignore"):  # beyond the double range: inf
                out[need] = self.c0 + self.c1 * np.exp(self._solve(lower, (1.0 - q) / self._scale))
        return out

    def _isf(self, q):
        """Smallest x with sf(x) <= q: c0 for q >= P(X > c0); else P(log M > v | s > 0) = q / P(s > 0),
        formed in log space (so it reaches the continuous part when that mass underflows)."""
        out = np.full(q.size, self.c0)
        if self._cont is None:
            return out
        with np.errstate(divide="ignore"):
            log_q = np.log(q)
        out[q == 0.0] = np.inf
        need = (q > 0) & (log_q < self._log_cm)
        if need.any():
            target = np.exp(log_q[need] - self._log_scale)
            with np.errstate(over="ignore"):
                out[need] = self.c0 + self.c1 * np.exp(self._solve(np.full(target.size, -np.inf), target))
        return out

@dataclass(frozen=True)
class KSComparison:
    """Kolmogorov-Smirnov distance of samples from an exact law (:func:`ks_distance`).

    Attributes
    ----------
    statistic : float
        sup_x |F_n(x) - F(x)|, both sides of every jump (atoms handled with the law's left limits).
    bound : float
        DKW bound sqrt(log(2/alpha) / (2 n)): for iid samples of the law, P(statistic > bound) <= alpha.
        With atoms the statistic is stochastically smaller than for a continuous law, so the bound
        stays valid (conservative).
    n : int
        Number of samples.
    alpha : float
    location : float
        Where the supremum is attained.
    """

    statistic: float
    bound: float
    n: int
    alpha: float
    location: float

    @property
    def passed(self) -> bool:
        """statistic <= bound."""
        return self.statistic <= self.bound


def ks_distance(samples, law: Law, alpha: float = 1e-3) -> KSComparison:
    """KS statistic of ``samples`` against ``law`` and the DKW bound for their number.

    The statistic is :func:`meanfield.simulate.ks_distance` with the law's CDF and its atoms
    (``law.atoms``: the CDF's left limit at an atom is cdf minus the atom's mass), the bound
    :func:`meanfield.simulate.ks_bound` (Dvoretzky-Kiefer-Wolfowitz, Massart's constant).

    Parameters
    ----------
    samples : array_like
        Independent draws (e.g. one column of :meth:`exact.ReLUNetwork.sample`).
    law : meanfield.laws.Law
    alpha : float
        False-alarm probability of the bound, in (0, 1).
    """
    if not isinstance(law, laws.Law):
        raise ParameterError(f"law must be a law object (meanfield.laws.Law), got {type(law).__name__}")
    result = mfsim.ks_distance(samples, law.cdf, atoms=law.atoms)
    bound = mfsim.ks_bound(result.n, alpha)
    return KSComparison(result.statistic, bound, result.n, float(alpha), result.location)
