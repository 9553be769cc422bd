"""One machinery for laws of a real random variable with finitely many atoms, with scipy.stats names.

A law subclasses :class:`Law` and provides a small contract; every other method is derived here, so
that all of sigprop's laws answer the same questions the way ``scipy.stats`` distributions do:
``pdf, logpdf, cdf, logcdf, sf, logsf, ppf, isf, mean, var, std, median, moment, stats, interval,
support, expect, rvs, skew, kurtosis`` (Fisher by default: 0 for a Gaussian), plus ``atoms``, ``atom``
and ``continuous_mass`` for the point masses.

Contract.  A subclass must provide (arrays are flat float64 arrays of finite values):

==================  ==========================================================================
``atoms``           property: the point masses as a list of (location, mass), masses > 0
``support()``       (lo, hi): the closed hull of the support, atoms included (may be infinite)
``_pdf(x)``         density of the absolutely continuous part (atoms excluded)
``_cdf(x)``         P(X <= x), atoms included
``_sf(x)``          P(X > x), atoms included, computed directly (accurate in the upper tail)
``_moment(k)``      E[X^k] for an integer 0 <= k <= MAX_MOMENT_ORDER (inf where infinite)
==================  ==========================================================================

and may override, for accuracy or speed: ``_ppf(p)`` and ``_isf(q)`` (default: safeguarded Newton
on cdf and sf from brackets grown out of ``support()``; the answer is the smallest x with
cdf(x) >= p, resp. sf(x) <= q, so an atom's location for every level inside its jump),
``_logpdf``, ``_logcdf``, ``_logsf`` (default: logarithms, with log1p(-sf) and log1p(-cdf) above 1/2;
override where the values underflow), ``_central_moment(k)`` (default: from raw moments by the
binomial theorem; override where that cancels), ``_rvs(n, rng)`` (default: inversion ppf(U)) and
``continuous_mass`` (default: 1 minus the atoms' masses).

Arguments: x may be any real array (NaN refused, +-inf allowed: cdf(-inf) = 0, cdf(inf) = 1, pdf 0);
probabilities in [0, 1]; results are floats for scalar input and arrays shaped like the input
otherwise.  Bad input raises :class:`~meanfield.errors.ParameterError`.  Randomness:
``random_state`` is an int, a SeedSequence, a numpy Generator or RandomState, or None (as scipy takes
it; docs/conventions.md §8).
"""
from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import integrate

from . import validation as check
from .errors import ParameterError, QuadratureError

__all__ = ["Law", "MAX_MOMENT_ORDER", "MAX_SAMPLES", "random_generator"]

#: largest moment order k accepted by ``moment(k)`` (the closed-form recursions cost O(k^2))
MAX_MOMENT_ORDER = 1000
#: most samples one ``rvs`` call draws (float64: 128 MB)
MAX_SAMPLES = 2**24
#: quantile levels whose points split the support for ``expect``
_EXPECT_LEVELS = np.array([1e-12, 1e-8, 1e-5, 1e-3, 0.02, 0.1, 0.3, 0.5, 0.7, 0.9, 0.98, 1 - 1e-3, 1 - 1e-5,
                           1 - 1e-8, 1 - 1e-12])


def random_generator(random_state) -> np.random.Generator:
    """scipy's ``random_state`` as a Generator: an int, SeedSequence or None seeds a new one, a Generator
    is used as is, a legacy RandomState seeds a new Generator from one draw of its stream."""
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**63 - 1, dtype=np.int64))
    try:
        return check.generator(random_state)
    except ParameterError:
        raise ParameterError(
            f"random_state must be an integer seed, a SeedSequence, a numpy Generator or RandomState, or None, "
            f"got {random_state!r}"
        ) from None


def _shaped(x: np.ndarray, values) -> float | np.ndarray:
    """Values shaped like the input; a float for a scalar input."""
    values = np.asarray(values, dtype=float).reshape(x.shape)
    return float(values) if values.ndim == 0 else values


def _probabilities(name: str, p) -> np.ndarray:
    p = check.real_array(name, p)
    bad = (p < 0) | (p > 1)
    if np.any(bad):
        raise ParameterError(f"{name} must be probabilities in [0, 1], got {p[bad].ravel()[:3].tolist()}")
    return p


def newton_bisect(F, dF, target, lo, hi, v0, rtol: float = 1e-13) -> np.ndarray:
    """Solve F(v) = target for increasing F, given brackets F(lo) < target <= F(hi).

    Vectorized safeguarded Newton: the step v - (F(v) - target) / F'(v) when it stays inside the
    current bracket, bisection otherwise, until the step or the bracket is below rtol (1 + |v|).
    Where F jumps over the target (an atom) only the bracket shrinks, and its upper end is returned:
    the location of the jump, the smallest v with F(v) >= target, to that tolerance.
    """
    lo, hi = np.array(lo, dtype=float), np.array(hi, dtype=float)
    v = np.clip(np.array(v0, dtype=float), lo, hi)
    out = hi.copy()
    active = np.ones(v.size, dtype=bool)
    for _ in range(400):
        idx = np.nonzero(active)[0]
        if idx.size == 0:
            break
        vi = v[idx]
        f = F(vi) - target[idx]
        up = f >= 0
        hi[idx] = np.where(up, vi, hi[idx])
        lo[idx] = np.where(up, lo[idx], vi)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            new = vi - f / dF(vi)
        bad = ~np.isfinite(new) | (new <= lo[idx]) | (new >= hi[idx])
        new = np.where(bad, 0.5 * (lo[idx] + hi[idx]), new)
        tol = rtol * (1.0 + np.abs(vi))
        converged = (~bad & (np.abs(new - vi) <= tol)) | (f == 0)
        closed = hi[idx] - lo[idx] <= tol
        out[idx] = np.where(converged, np.where(f == 0, vi, new), hi[idx])
        v[idx] = new
        active[idx[converged | closed]] = False
    return out


def _quad(f, a: float, b: float, rtol: float) -> float:
    """scipy.integrate.quad of f on [a, b] to relative ``rtol``; a QuadratureError where it does not converge."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", integrate.IntegrationWarning)
        try:
            return integrate.quad(f, a, b, epsabs=1e-300, epsrel=rtol, limit=200)[0]
        except integrate.IntegrationWarning as exc:
            raise QuadratureError(f"expect: quadrature on [{a!r}, {b!r}] did not converge ({exc})") from None


class Law:
    """Base class of sigprop's laws of one real random variable (see the module docstring)."""

    # ---- the contract -----------------------------------------------------------------------
    @property
    def atoms(self) -> list[tuple[float, float]]:
        """Every point mass as (location, mass), masses > 0."""
        raise NotImplementedError

    def support(self) -> tuple[float, float]:
        """(lo, hi): the closed hull of the support, atoms included."""
        raise NotImplementedError

    def _pdf(self, x):
        raise NotImplementedError

    def _cdf(self, x):
        raise NotImplementedError

    def _sf(self, x):
        raise NotImplementedError

    def _moment(self, k: int) -> float:
        raise NotImplementedError

    # ---- defaults a subclass may override ---------------------------------------------------
    def _logpdf(self, x):
        with np.errstate(divide="ignore"):
            return np.log(self._pdf(x))

    def _logcdf(self, x):
        cdf = self._cdf(x)
        with np.errstate(divide="ignore"):
            return np.where(cdf <= 0.5, np.log(cdf), np.log1p(-np.minimum(self._sf(x), 1.0)))

    def _logsf(self, x):
        sf = self._sf(x)
        with np.errstate(divide="ignore"):
            return np.where(sf <= 0.5, np.log(sf), np.log1p(-np.minimum(self._cdf(x), 1.0)))

    def _brackets(self, F, target):
        """lo < hi with F(lo) < target <= F(hi), grown geometrically out of the support's ends."""
        lo_s, hi_s = self.support()
        lo = np.full(target.size, lo_s if np.isfinite(lo_s) else min(-1.0, hi_s - 1.0))
        hi = np.full(target.size, hi_s if np.isfinite(hi_s) else max(1.0, lo_s + 1.0))
        for _ in range(2100):  # 2^1024 overflows: every finite bracket is reached
            low = F(lo) >= target
            high = F(hi) < target
            if not (low.any() or high.any()):
                break
            lo = np.where(low, lo - np.maximum(1.0, np.abs(lo)), lo)
            hi = np.where(high, hi + np.maximum(1.0, np.abs(hi)), hi)
        return lo, hi

    def _invert(self, upper: bool, level):
        """Smallest x with cdf(x) >= level (sf(x) <= level if ``upper``), solved on log cdf (on -log sf)
        by safeguarded Newton, fast also far in the tails; snapped onto an atom's location when the
        solution is that jump."""
        if upper:
            F = lambda x: -self._logsf(x)  # noqa: E731 - increasing
            target = -np.log(level)
            dF = lambda x: np.exp(self._logpdf(x) - self._logsf(x))  # noqa: E731
        else:
            F, target = self._logcdf, np.log(level)
            dF = lambda x: np.exp(self._logpdf(x) - self._logcdf(x))  # noqa: E731
        lo, hi = self._brackets(F, target)
        with np.errstate(invalid="ignore", over="ignore"):
            x = newton_bisect(F, dF, target, lo, hi, 0.5 * (lo + hi))
        for loc, _ in self.atoms:
            near = np.abs(x - loc) <= 1e-12 * (1.0 + abs(loc))
            if near.any():
                x = np.where(near & (F(np.full(x.size, loc)) >= target), loc, x)
        return x

    def _ppf(self, p):
        return self._quantile(p, False)

    def _isf(self, q):
        return self._quantile(q, True)

    def _quantile(self, p, from_top: bool):
        """x with F(x) = p (``from_top`` False: the ppf) or S(x) = p (True: the isf); each solved on whichever
        of cdf and sf is below 1/2 (1 - p is exact in double there), accurate in both tails."""
        out = np.empty(p.size)
        lo_s, hi_s = self.support()
        out[p == 0] = hi_s if from_top else lo_s
        out[p == 1] = lo_s if from_top else hi_s
        low = (p > 0) & (p <= 0.5)
        if low.any():
            out[low] = self._invert(from_top, p[low])
        high = (p > 0.5) & (p < 1)
        if high.any():
            out[high] = self._invert(not from_top, 1.0 - p[high])
        return out

    def _central_moment(self, k: int) -> float:
        if k == 0:
            return 1.0
        m = self._moment(1)
        with np.errstate(over="ignore", invalid="ignore"):
            return float(sum(math.comb(k, i) * self._moment(i) * (-m) ** (k - i) for i in range(k + 1)))

    def _expect_continuous(self, func, points: np.ndarray) -> float:
        """The integral of func(x) pdf(x) from points[0] to points[-1], by scipy.integrate.quad (relative
        1e-10) on each interval between consecutive ``points`` (quantiles, atoms, the bounds)."""
        pdf = lambda t: float(func(t)) * float(self._pdf(np.array([t]))[0])  # noqa: E731
        return sum(_quad(pdf, x0, x1, 1e-10) for x0, x1 in zip(points[:-1], points[1:]))

    def _rvs(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self._ppf(rng.random(n))

    @property
    def continuous_mass(self) -> float:
        """Mass of the absolutely continuous part, 1 - sum of the atoms (subclasses compute it
        without that cancellation where an atom is close to 1)."""
        return float(max(0.0, 1.0 - sum(m for _, m in self.atoms)))

    # ---- derived ----------------------------------------------------------------------------
    @property
    def atom(self) -> float:
        """Mass of the atom at 0 (0.0 if there is none)."""
        return float(sum(m for loc, m in self.atoms if loc == 0.0))

    def _evaluate(self, x, fn, at_minus_inf: float, at_plus_inf: float):
        x = check.real_array("x", x, allow_inf=True)
        flat = x.ravel()
        finite = np.isfinite(flat)
        out = np.where(flat > 0, at_plus_inf, at_minus_inf).astype(float)
        if finite.any():
            out[finite] = fn(flat[finite])
        return _shaped(x, out)

    def pdf(self, x):
        """Density of the absolutely continuous part (atoms excluded)."""
        return self._evaluate(x, self._pdf, 0.0, 0.0)

    def logpdf(self, x):
        """log pdf(x) (-inf where the density is 0)."""
        return self._evaluate(x, self._logpdf, -np.inf, -np.inf)

    def cdf(self, x):
        """P(X <= x), atoms included."""
        return self._evaluate(x, self._cdf, 0.0, 1.0)

    def logcdf(self, x):
        """log P(X <= x)."""
        return self._evaluate(x, self._logcdf, -np.inf, 0.0)

    def sf(self, x):
        """P(X > x) = 1 - cdf(x), computed directly (accurate in the upper tail)."""
        return self._evaluate(x, self._sf, 1.0, 0.0)

    def logsf(self, x):
        """log P(X > x)."""
        return self._evaluate(x, self._logsf, 0.0, -np.inf)

    def ppf(self, p):
        """Quantile: the smallest x with cdf(x) >= p, p in [0, 1] (ppf(0), ppf(1): the support's ends)."""
        p = _probabilities("p", p)
        return _shaped(p, self._ppf(p.ravel()))

    def isf(self, q):
        """Inverse survival function: the smallest x with sf(x) <= q, q in [0, 1]; = ppf(1 - q),
        but accurate for q far below 1e-16."""
        q = _probabilities("q", q)
        return _shaped(q, self._isf(q.ravel()))

    def median(self) -> float:
        """ppf(1/2)."""
        return float(self._ppf(np.array([0.5]))[0])

    def interval(self, confidence):
        """(ppf((1 - c)/2), isf((1 - c)/2)): the central interval holding probability ``confidence``."""
        c = _probabilities("confidence", confidence)
        tail = 0.5 * (1.0 - c.ravel())
        return _shaped(c, self._ppf(tail)), _shaped(c, self._isf(tail))

    def moment(self, k: int) -> float:
        """E[X^k] for an integer 0 <= k <= MAX_MOMENT_ORDER (atoms included; inf beyond double range)."""
        k = check.positive_int("k", k, minimum=0)
        if k > MAX_MOMENT_ORDER:
            raise ParameterError(f"k must be a moment order 0..{MAX_MOMENT_ORDER}, got {k}")
        return float(self._moment(k))

    def mean(self) -> float:
        """E[X]."""
        return float(self._moment(1))

    def var(self) -> float:
        """E[(X - E X)^2]."""
        return float(max(self._central_moment(2), 0.0))

    def std(self) -> float:
        """sqrt(var())."""
        return float(np.sqrt(self.var()))

    def skew(self) -> float:
        """E[(X - E X)^3] / var^(3/2) (NaN for a point mass: undefined)."""
        v = self.var()
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            return float(self._central_moment(3) / v**1.5) if v > 0 else float("nan")

    def kurtosis(self, fisher: bool = True) -> float:
        """E[(X - E X)^4] / var^2, minus 3 when ``fisher`` (scipy's default: 0 for a Gaussian);
        ``fisher=False`` gives Pearson's (3 for a Gaussian).  NaN for a point mass (undefined)."""
        if not isinstance(fisher, (bool, np.bool_)):
            raise ParameterError(f"fisher must be True or False, got {fisher!r}")
        v = self.var()
        if not v > 0:
            return float("nan")
        with np.errstate(invalid="ignore", over="ignore"):
            pearson = self._central_moment(4) / v**2
        return float(pearson - 3.0 if fisher else pearson)

    def stats(self, moments: str = "mv"):
        """Some of mean ('m'), variance ('v'), skew ('s') and Fisher kurtosis ('k'), as scipy's stats:
        a tuple in the order asked for (a single float for one letter)."""
        if not isinstance(moments, str) or not moments or set(moments) - set("mvsk"):
            raise ParameterError(f"moments must be letters among 'mvsk', such as 'mv', got {moments!r}")
        get = {"m": self.mean, "v": self.var, "s": self.skew, "k": self.kurtosis}
        out = tuple(get[c]() for c in moments)
        return out[0] if len(out) == 1 else out

    def expect(self, func=None, lb=None, ub=None, conditional: bool = False) -> float:
        """E[func(X); lb <= X <= ub] (divided by P(lb <= X <= ub) if ``conditional``).

        Atoms are summed exactly; the continuous part is integrated by adaptive quadrature
        (scipy.integrate.quad, relative 1e-10) between quantiles of the law (levels 1e-12 ... 1 - 1e-12,
        the atoms and the ends), as scipy does.  Where a moment is carried by mass beyond the numerical
        law's range (heavy tails), prefer ``moment``, which is exact.  ``func`` maps a float to a float
        (default: the identity).
        """
        func = (lambda x: x) if func is None else func
        if not callable(func):
            raise ParameterError(f"func must be a callable of one float, got {func!r}")
        lo_s, hi_s = self.support()
        a = lo_s if lb is None else max(lo_s, float(check.real_array("lb", lb)))
        b = hi_s if ub is None else min(hi_s, float(check.real_array("ub", ub)))
        if not a <= b:
            raise ParameterError(f"lb must be <= ub within the support {self.support()}, got lb={lb!r}, ub={ub!r}")
        total = sum(m * float(func(loc)) for loc, m in self.atoms if a <= loc <= b)
        points = np.concatenate([self._ppf(_EXPECT_LEVELS), [loc for loc, _ in self.atoms], [a, b]])
        points = np.unique(np.clip(points[~np.isnan(points)], a, b))
        total += self._expect_continuous(func, points)
        if conditional:
            mass = float(self._cdf(np.array([b]))[0]) - (float(self._cdf(np.array([a]))[0]) if a > -np.inf else 0.0)
            mass += sum(m for loc, m in self.atoms if loc == a)
            total /= mass
        return float(total)

    def rvs(self, size=1, random_state=None, *, seed=None) -> np.ndarray:
        """Random draws of shape ``size`` (an int or a tuple; at most MAX_SAMPLES in all).

        ``random_state``: an int, SeedSequence, numpy Generator or RandomState, or None (as scipy).
        ``seed`` is the previous name of ``random_state`` and is deprecated (it still works for one
        release, with a DeprecationWarning).
        """
        if seed is not None:
            if random_state is not None:
                raise ParameterError("give random_state only (seed is its deprecated name), not both")
            warnings.warn("rvs(seed=...) is deprecated, use rvs(random_state=...) as in scipy.stats",
                          DeprecationWarning, stacklevel=2)
            random_state = seed
        shape = (size,) if np.ndim(size) == 0 else tuple(size)
        n = 1
        for s in shape:
            n *= check.positive_int("size", s)
        if n > MAX_SAMPLES:
            raise ParameterError(f"size asks for {n} samples; at most {MAX_SAMPLES} per call are allowed "
                                 f"(draw in batches), got size={size!r}")
        return self._rvs(n, random_generator(random_state)).reshape(shape)
