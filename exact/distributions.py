"""Distribution objects of the exact finite-width laws (scipy.stats-like, atoms handled explicitly).

Every law has ``pdf``, ``cdf``, ``sf``, ``ppf``, ``mean``, ``var``, ``std``, ``moment(k)``,
``rvs(size, seed)``, ``atom`` (the mass at 0) and ``atoms`` (every point mass, as (location, mass)):

- ``pdf`` is the density of the absolutely continuous part: atoms are excluded (a pure point mass has
  pdf 0 everywhere); ``cdf`` and ``sf`` include them (cdf is right-continuous, sf = 1 - cdf).
- ``ppf(p)`` is the smallest x with cdf(x) >= p; so it equals an atom's location for every p in the
  jump of the cdf there (0 while p <= atom for the laws with an atom at 0).  ppf(0) is the lower end
  of the support, ppf(1) the upper end (inf).
- Moments come from the exact closed-form recursion (E[s^{l+1 j}] from E[s^l i] by the binomial theorem, E[G^j] from rising factorials), atoms included, at any
  integer order: never from the grid or from samples, because for narrow deep nets they are carried
  by astronomically rare networks.  A moment beyond double range is returned as inf.
- ``rvs`` draws from the exact Markov chain of the signal (K_l ~ Bin(n_l, 1/2) active units,
  |x^l|^2 = s_l chi^2_{K_l}, s_{l+1} = sigma_b^2 + sigma_w^2 |x^l|^2 / n_l; Burkholz & Dubatovka
  2019), not from the numerical grid: it is exact and independent of the quadrature.

:func:`ks_distance` compares samples with a law by Kolmogorov-Smirnov, atoms included, reusing
:func:`meanfield.simulate.ks_distance` and the DKW bound :func:`meanfield.simulate.ks_bound`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.special import erfc

from meanfield import simulate as mfsim
from meanfield import validation as check
from meanfield.errors import ParameterError

from .grid import SourcePoints

__all__ = ["Law", "PositiveLaw", "ScaleMixtureLaw", "KSComparison", "ks_distance"]

LogMoment = Callable[[int], float]
Sampler = Callable[[np.random.Generator, int], np.ndarray]

_SQRT2PI = np.sqrt(2.0 * np.pi)


def _out(x: np.ndarray, values: np.ndarray):
    """Values shaped like the input; a float for a scalar input."""
    values = np.asarray(values, dtype=float).reshape(x.shape)
    return float(values) if values.ndim == 0 else values


def _newton_bisect(F, dF, target: np.ndarray, lo: np.ndarray, hi: np.ndarray, v0: np.ndarray) -> np.ndarray:
    """Solve F(v) = target for increasing F on brackets [lo, hi] (vectorized safeguarded Newton).

    Each iteration takes the Newton step v - (F(v) - target)/F'(v) when it stays inside the current
    bracket and bisects otherwise; stops at |step| < 1e-13 (1 + |v|) (relative 1e-13 in x = e^v).
    """
    v = np.clip(v0, lo, hi)
    active = np.ones(v.size, dtype=bool)
    for _ in range(200):
        if not active.any():
            break
        idx = np.nonzero(active)[0]
        f = F(v[idx]) - target[idx]
        d = dF(v[idx])
        lo[idx] = np.where(f <= 0, v[idx], lo[idx])
        hi[idx] = np.where(f >= 0, v[idx], hi[idx])
        with np.errstate(divide="ignore", invalid="ignore"):
            new = v[idx] - f / d
        bad = ~np.isfinite(new) | (new <= lo[idx]) | (new >= hi[idx])
        new = np.where(bad, 0.5 * (lo[idx] + hi[idx]), new)
        tol = 1e-13 * (1.0 + np.abs(v[idx]))
        done = (np.abs(new - v[idx]) <= tol) | (hi[idx] - lo[idx] <= tol) | (f == 0)
        v[idx] = np.where(f == 0, v[idx], new)
        active[idx[done]] = False
    return v


def _bracket(F, target: np.ndarray, v_table: np.ndarray, f_table: np.ndarray):
    """Brackets [lo, hi] with F(lo) <= target <= F(hi) for increasing F, from an approximate table."""
    i = np.searchsorted(f_table, target)
    lo = v_table[np.clip(i - 4, 0, v_table.size - 1)].astype(float)
    hi = v_table[np.clip(i + 3, 0, v_table.size - 1)].astype(float)
    span = max(float(v_table[-1] - v_table[0]), 1.0)
    v0 = np.interp(target, f_table, v_table)
    for sign in (-1.0, 1.0):  # widen the lower end downwards, then the upper end upwards, if needed
        step = np.full(target.size, 0.1 * span)
        for _ in range(60):
            bad = F(lo) > target if sign < 0 else F(hi) < target
            if not bad.any():
                break
            if sign < 0:
                lo = np.where(bad, lo - step, lo)
            else:
                hi = np.where(bad, hi + step, hi)
            step = np.where(bad, 2 * step, step)
    return lo, hi, v0


class Law:
    """Base class: argument checks, moments from a closed-form log-moment function, chain sampling.

    Parameters
    ----------
    log_moment : callable
        k -> log E[X^k] for integers k >= 0 (exact recursion, :mod:`exact.moments`).
    sampler : callable
        (Generator, size) -> ndarray of exact samples (the signal chain).
    name : str
        What the law describes (used in ``repr``).
    """

    def __init__(self, log_moment: LogMoment, sampler: Sampler, name: str):
        self._log_moment = log_moment
        self._sampler = sampler
        self.name = name

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.name}, atom={self.atom:.6g}>"

    # ---- to be provided by subclasses -------------------------------------------------------
    @property
    def atoms(self) -> list[tuple[float, float]]:
        """Every point mass as (location, mass), masses > 0."""
        raise NotImplementedError

    def _pdf(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _cdf(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _sf(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _ppf(self, p: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # ---- public interface -------------------------------------------------------------------
    @property
    def atom(self) -> float:
        """Mass of the atom at 0 (0.0 if there is none)."""
        return float(sum(m for loc, m in self.atoms if loc == 0.0))

    def pdf(self, x):
        """Density of the continuous part (atoms excluded)."""
        x = check.real_array("x", x)
        return _out(x, self._pdf(x.ravel()))

    def cdf(self, x):
        """P(X <= x), atoms included."""
        x = check.real_array("x", x)
        return _out(x, self._cdf(x.ravel()))

    def sf(self, x):
        """P(X > x) = 1 - cdf(x), computed directly (accurate in the upper tail)."""
        x = check.real_array("x", x)
        return _out(x, self._sf(x.ravel()))

    def ppf(self, p):
        """Smallest x with cdf(x) >= p, for p in [0, 1]."""
        p = check.real_array("p", p)
        if np.any((p < 0) | (p > 1)):
            raise ParameterError(f"p must be probabilities in [0, 1], got {p.ravel()[(p.ravel() < 0) | (p.ravel() > 1)][:3]!r}")
        return _out(p, self._ppf(p.ravel()))

    def median(self) -> float:
        """ppf(1/2)."""
        return float(self.ppf(0.5))

    def moment(self, k: int) -> float:
        """E[X^k] for an integer k >= 0, from the exact recursion (atoms included; inf beyond double range)."""
        k = check.positive_int("k", k, minimum=0)
        with np.errstate(over="ignore"):
            return float(np.exp(self._log_moment(k)))

    def mean(self) -> float:
        """E[X] (exact)."""
        return self.moment(1)

    def var(self) -> float:
        """E[X^2] - E[X]^2 (exact moments; 0 for a point mass)."""
        if len(self.atoms) == 1 and self.atoms[0][1] == 1.0:
            return 0.0
        with np.errstate(over="ignore", invalid="ignore"):
            v = self.moment(2) - self.mean() ** 2
        return float(max(v, 0.0)) if np.isfinite(v) else float("inf")

    def std(self) -> float:
        """sqrt(var())."""
        return float(np.sqrt(self.var()))

    def rvs(self, size=1, seed=None) -> np.ndarray:
        """Exact samples from the signal chain (not from the grid), shape ``size``.

        Parameters
        ----------
        size : int or tuple of int
        seed : int, SeedSequence, Generator or None
        """
        shape = (size,) if np.isscalar(size) else tuple(size)
        n = 1
        for s in shape:
            n *= check.positive_int("size", s)
        rng = check.generator(seed)
        return self._sampler(rng, n).reshape(shape)


class PositiveLaw(Law):
    """Law of X = c0 + c1 M with M >= 0: an atom at c0 (M = 0) and a continuous part above c0.

    The continuous part is that of log M, given as a :class:`~exact.grid.SourcePoints` mixture
    (Nystrom sum over the previous layer's grid).  Used for |x^l|^2 (c0 = 0, c1 = n_l) and for
    s^l (c0 = sigma_b^2, c1 = sigma_w^2).  ``continuous=None`` (or c1 = 0) is a point mass at c0:
    the law of s^1, which is deterministic.

    Parameters
    ----------
    c0, c1 : float
    atom_mass : float
        P(M = 0), the mass at c0.
    continuous : SourcePoints or None
    table : (ndarray, ndarray) or None
        Nodes of log M and an approximate CDF of the continuous part there (brackets for ``ppf``).
    log_moment, sampler, name : see :class:`Law`.
    """

    def __init__(self, c0, c1, atom_mass, continuous: SourcePoints | None, table, log_moment, sampler, name):
        super().__init__(log_moment, sampler, name)
        self.c0 = float(c0)
        self.c1 = float(c1)
        if continuous is None or self.c1 == 0.0:
            continuous, atom_mass = None, 1.0
        self._cont = continuous
        self._atom_mass = float(atom_mass)
        self._table = table

    @property
    def atoms(self) -> list[tuple[float, float]]:
        return [(self.c0, self._atom_mass)] if self._atom_mass > 0 else []

    def _v(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log((x - self.c0) / self.c1)

    def _pdf(self, x):
        out = np.zeros(x.size)
        above = x > self.c0
        if self._cont is not None and above.any():
            xa = x[above]
            with np.errstate(over="ignore"):
                out[above] = self._cont.density(self._v(xa)) / (xa - self.c0)
        return out

    def _cdf(self, x):
        out = np.where(x >= self.c0, self._atom_mass, 0.0)
        above = x > self.c0
        if self._cont is not None and above.any():
            out[above] += self._cont.cdf(self._v(x[above]))
        return np.minimum(out, 1.0)

    def _sf(self, x):
        out = np.where(x < self.c0, 1.0, 0.0)
        if self._cont is None:
            return out
        at = x == self.c0
        out[at] = 1.0 - self._atom_mass
        above = x > self.c0
        if above.any():
            out[above] = self._cont.sf(self._v(x[above]))
        return out

    def _ppf(self, p):
        out = np.full(p.size, self.c0)
        if self._cont is None:
            return out
        out[p == 1.0] = np.inf
        need = (p > self._atom_mass) & (p < 1.0)
        if not need.any():
            return out
        v_table, c_table = self._table
        q = p[need]
        v = np.empty(q.size)
        # lower half: solve P(log M <= v, M > 0) = p - atom; upper half: -P(log M > v) = -(1 - p)
        low = q - self._atom_mass <= 0.5 * (1.0 - self._atom_mass)
        groups = (
            (low, self._cont.cdf, q - self._atom_mass, c_table),
            (~low, lambda u: -self._cont.sf(u), q - 1.0, c_table - c_table[-1]),
        )
        for mask, F, target, f_table in groups:
            if mask.any():
                lo, hi, v0 = _bracket(F, target[mask], v_table, f_table)
                v[mask] = _newton_bisect(F, self._cont.density, target[mask], lo, hi, v0)
        out[need] = self.c0 + self.c1 * np.exp(v)
        return out


class ScaleMixtureLaw(Law):
    """Law of one output unit f = sqrt(s) xi, xi ~ N(0, 1) independent of s (a Gaussian scale mixture).

    s is given by source points psi_j = log s_j with weights W_j (the previous layer's grid mapped to
    s^L, plus its atoms at positive locations) and an atom at s = 0 of mass ``atom_mass`` (zero bias:
    the network died), which is an atom of f at 0.  The trapezoid sums

        pdf(z) = sum_j W_j phi(z e^{-psi_j/2}) e^{-psi_j/2},   P(f > z) = sum_j W_j erfc(z e^{-psi_j/2}/sqrt 2)/2

    (erfc for the tails; cdf(z) = P(f > |z|) for z < 0 by symmetry) converge geometrically like the
    grid itself.  For sigma_b^2 = 0 the density diverges at z = 0 (E[s^-1/2] = inf as soon as a layer
    can have a single active unit): pdf(0) is then inf, and it is never evaluated on
    a grid there.
    """

    def __init__(self, atom_mass, psi, weights, pdf0_infinite: bool, log_moment, sampler, name):
        super().__init__(log_moment, sampler, name)
        self._atom_mass = float(atom_mass)
        self._psi = np.asarray(psi, dtype=float)
        self._w = np.asarray(weights, dtype=float)
        self._scale = np.exp(-0.5 * self._psi)  # 1/sqrt(s_j)
        self._pdf0_infinite = bool(pdf0_infinite)
        self._table = None

    @property
    def atoms(self) -> list[tuple[float, float]]:
        return [(0.0, self._atom_mass)] if self._atom_mass > 0 else []

    def _sum(self, z: np.ndarray, weights: np.ndarray, fn) -> np.ndarray:
        """sum_j weights_j fn(|z| / sqrt(s_j)), chunked."""
        out = np.empty(z.size)
        step = max(1, 2_000_000 // max(self._psi.size, 1))
        with np.errstate(under="ignore", over="ignore"):
            for s in range(0, z.size, step):
                arg = np.abs(z[s : s + step, None]) * self._scale[None, :]
                out[s : s + step] = (weights * fn(arg)).sum(axis=1)
        return out

    def _tail(self, z: np.ndarray) -> np.ndarray:
        """P(f > |z|) (continuous part only: the atom sits at 0)."""
        return self._sum(z, 0.5 * self._w, lambda a: erfc(a / np.sqrt(2.0)))

    def _pdf(self, z):
        if not self._psi.size:
            return np.zeros(z.size)
        out = self._sum(z, self._w * self._scale / _SQRT2PI, lambda a: np.exp(-0.5 * a * a))
        if self._pdf0_infinite:
            out[z == 0] = np.inf
        return out

    def _cdf(self, z):
        if not self._psi.size:
            return np.where(z >= 0, 1.0, 0.0)
        tail = self._tail(z)
        return np.where(z < 0, tail, 1.0 - tail)

    def _sf(self, z):
        if not self._psi.size:
            return np.where(z < 0, 1.0, 0.0)
        tail = self._tail(z)
        return np.where(z < 0, 1.0 - tail, tail)

    def _ppf(self, p):
        out = np.zeros(p.size)
        if not self._psi.size:
            return out
        half = 0.5 * float(self._w.sum())  # P(f < 0)
        out[p == 0.0] = -np.inf
        out[p == 1.0] = np.inf
        left = (p > 0) & (p < half)
        right = (p > 1.0 - half) & (p < 1.0)
        r = np.where(left, p, 1.0 - p)[left | right]  # solve P(f > z) = r, z > 0
        if r.size:
            if self._table is None:
                v_table = np.linspace(self._psi.min() / 2 - 30.0, self._psi.max() / 2 + 4.0, 800)
                self._table = (v_table, -self._tail(np.exp(v_table)))
            v_table, f_table = self._table
            F = lambda v: -self._tail(np.exp(v))  # noqa: E731 - increasing in v = log z
            dF = lambda v: self._pdf(np.exp(v)) * np.exp(v)  # noqa: E731
            lo, hi, v0 = _bracket(F, -r, v_table, f_table)
            z = np.exp(_newton_bisect(F, dF, -r, lo, hi, v0))
            out[left | right] = np.where(left, -1.0, 1.0)[left | right] * z
        return out

    def moment(self, k: int) -> float:
        """E[f^k]: 0 for odd k, (k-1)!! E[s^(k/2)] for even k (exact)."""
        k = check.positive_int("k", k, minimum=0)
        if k % 2:
            return 0.0
        return super().moment(k)

    def mean(self) -> float:
        return 0.0

    def kurtosis(self) -> float:
        """E[f^4] / E[f^2]^2 = 3 E[s^2] / E[s]^2 (3 for a Gaussian).

        NaN (0/0: undefined) only when f = 0 almost surely (s^L = 0, e.g. |x^0|^2 = 0 without bias).
        """
        m2 = self.moment(2)
        if m2 == 0.0:
            return float("nan")
        with np.errstate(over="ignore", invalid="ignore"):
            return float(self.moment(4) / m2**2)


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
    law : Law
    alpha : float
        False-alarm probability of the bound, in (0, 1).
    """
    if not isinstance(law, Law):
        raise ParameterError(f"law must be an exact law object (Law), got {type(law).__name__}")
    result = mfsim.ks_distance(samples, law.cdf, atoms=law.atoms)
    bound = mfsim.ks_bound(result.n, alpha)
    return KSComparison(result.statistic, bound, result.n, float(alpha), result.location)
