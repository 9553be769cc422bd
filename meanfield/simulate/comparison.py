"""Comparisons of sampled Jacobian spectra with the infinite-width theory.

- :func:`ks_distance`: the Kolmogorov-Smirnov distance between sampled eigenvalues of J J^T and a
  theoretical cdf with atoms (e.g. a :class:`meanfield.JacobianSpectrum`), with a floor below which
  a float64 product cannot resolve the spectrum; :func:`ks_bound` the DKW bound for n samples.
- :func:`moment_errors`: pooled sample mean and variance of lambda against theory.
- :func:`conditioned_bernoulli_p`: the sampled active fractions of relu-like layers, to condition
  the theory on them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .. import validation as check
from ..errors import ParameterError
from .jacobians import JacobianSamples

__all__ = ["ks_distance", "KSResult", "ks_bound", "moment_errors", "MomentErrors", "conditioned_bernoulli_p"]


def _lam_values(samples) -> np.ndarray:
    """Pooled eigenvalues of a JacobianSamples or of an array (NaN refused, +inf allowed)."""
    if isinstance(samples, JacobianSamples):
        return samples.lam_flat.astype(float)
    if samples is None or isinstance(samples, (str, bytes)):
        raise ParameterError(f"samples must be JacobianSamples or an array of eigenvalues, got {samples!r}")
    try:
        values = np.asarray(samples, dtype=float).ravel()
    except (TypeError, ValueError):
        raise ParameterError(f"samples must be JacobianSamples or an array of eigenvalues, got {samples!r}") from None
    if values.size == 0 or np.any(np.isnan(values)):
        raise ParameterError("samples must be a non-empty array of eigenvalues without NaN")
    return values


@dataclass(frozen=True)
class KSResult:
    """Kolmogorov-Smirnov comparison of sampled eigenvalues with a theoretical CDF (:func:`ks_distance`).

    Attributes
    ----------
    statistic : float
        sup |F_n(x) - F(x)| over x >= floor (over all x without a floor), both sides of every jump.
    n : int
        Number of sampled eigenvalues (all of them, below the floor included: the DKW bound
        :func:`ks_bound` is for this n).
    location : float
        An x where the supremum is attained (the left limit there if that side attains it).
    floor : float or None
    mass_below_floor_empirical, mass_below_floor_theory : float or None
        F_n(floor) (the fraction of samples <= floor) and F(floor); their difference is part of the
        statistic.  None without a floor.
    """

    statistic: float
    n: int
    location: float
    floor: float | None = None
    mass_below_floor_empirical: float | None = None
    mass_below_floor_theory: float | None = None


def _evaluate_cdf(cdf: Callable, x: np.ndarray) -> np.ndarray:
    try:
        values = np.asarray(cdf(x), dtype=float)
        if values.shape != x.shape:
            raise ValueError
    except (TypeError, ValueError):  # a scalar-only callable
        values = np.array([float(cdf(v)) for v in x])
    if np.any(np.isnan(values)):
        raise ParameterError("the theoretical CDF returned NaN")
    return values


def ks_distance(samples, cdf, floor: float | None = None, atoms=None, atom_rtol: float = 1e-8) -> KSResult:
    """Kolmogorov-Smirnov distance between the empirical CDF of lambda and a theoretical CDF.

    D = sup_{x >= floor} |F_n(x) - F(x)|, computed exactly for a right-continuous F with atoms: between
    consecutive samples F_n is constant and F monotone, so the supremum is attained at a sample, either
    at it (F_n(x_i) vs F(x_i)) or just before it (F_n(x_i-) vs F(x_i-)); both are evaluated at every
    distinct sample.  The left limits F(x_i-) are cdf(x_i) minus the atoms located at x_i when the
    atoms are known, else cdf evaluated one float below x_i.

    Parameters
    ----------
    samples : JacobianSamples or array_like
        Eigenvalues lambda (pooled over networks).
    cdf : callable or object with a ``cdf`` method
        F(x), vectorized over an array (a scalar-only callable also works, more slowly).  An object
        such as ``JacobianSpectrum`` is used through ``.cdf``, and its ``.atoms`` when ``atoms`` is None.
    floor : float or None
        Compare only at x >= floor, and report the masses below it.  Deep relu-like spectra have most
        of their mass below 1e-8 lambda_max where a float64 product cannot resolve it (docs/conventions.md
        2.8): use floor = 1e-8 * the top of the support.  The point x = floor is included, so the
        statistic is at least |F_n(floor) - F(floor)|.
    atoms : sequence of (location, mass) or None
        Atoms of F.  Samples within ``atom_rtol`` (relative) of an atom at a nonzero location are
        moved onto it: rounding spreads e.g. the atom at sigma_w^(2L) of orthogonal networks over
        ~1e-13 relative, which would otherwise count as a spurious KS distance of up to the atom's
        mass.  The atom at 0 is never snapped (use ``floor``).
    atom_rtol : float

    Returns
    -------
    KSResult
    """
    x = np.sort(_lam_values(samples))
    n = x.size
    if hasattr(cdf, "cdf") and callable(cdf.cdf):
        if atoms is None:
            atoms = getattr(cdf, "atoms", None)
        cdf = cdf.cdf
    if not callable(cdf):
        raise ParameterError(f"cdf must be callable or have a .cdf method, got {cdf!r}")
    atom_list = []
    for atom in atoms or ():
        try:
            loc, mass = (float(v) for v in atom)
        except (TypeError, ValueError):
            raise ParameterError(f"atoms must be (location, mass) pairs, got {atoms!r}") from None
        atom_list.append((loc, mass))
    atom_rtol = check.nonnegative("atom_rtol", atom_rtol, scalar=True)
    for loc, _ in atom_list:
        if loc != 0.0:
            x[np.abs(x - loc) <= atom_rtol * abs(loc)] = loc  # keeps the order: the band is contiguous
    f_floor = None
    if floor is not None:
        f_floor = check.real_array("floor", floor, scalar=True)
    points = np.unique(x if f_floor is None else x[x > f_floor])
    right_emp = np.searchsorted(x, points, side="right") / n
    left_emp = np.searchsorted(x, points, side="left") / n
    right = _evaluate_cdf(cdf, points) if points.size else np.empty(0)
    if atom_list:
        left = right.copy()
        for loc, mass in atom_list:
            left[points == loc] -= mass
    elif points.size:
        left = _evaluate_cdf(cdf, np.nextafter(points, -np.inf))
    else:
        left = np.empty(0)
    gaps = np.concatenate([np.abs(right_emp - right), np.abs(left_emp - left)])
    where = np.concatenate([points, points])
    emp_floor = theory_floor = None
    if f_floor is not None:
        emp_floor = float(np.searchsorted(x, f_floor, side="right") / n)
        theory_floor = float(_evaluate_cdf(cdf, np.array([f_floor]))[0])
        gaps = np.append(gaps, abs(emp_floor - theory_floor))
        where = np.append(where, f_floor)
    k = int(np.argmax(gaps))
    return KSResult(float(gaps[k]), n, float(where[k]), f_floor, emp_floor, theory_floor)


def ks_bound(n: int, alpha: float = 1e-3) -> float:
    """DKW bound: P(sup |F_n - F| > eps) <= alpha for eps = sqrt(log(2 / alpha) / (2 n)), n iid samples.

    (Dvoretzky-Kiefer-Wolfowitz with Massart's constant.)  Independent networks are independent
    samples, but the n = N eigenvalues of one network are not: they repel, so their empirical CDF
    fluctuates far less than an iid sample's (~log N / N rather than N^-1/2 for rigid random-matrix
    spectra), and the bound with n = the total number of eigenvalues is conservative for them.  It
    does not cover finite-width bias (e.g. the O(N^-1/2) rank fluctuations of relu layers, see
    :func:`conditioned_bernoulli_p`), which has to be budgeted separately.
    """
    n = check.positive_int("n", n)
    alpha = check.positive("alpha", alpha, scalar=True)
    if alpha >= 1:
        raise ParameterError(f"alpha must lie in (0, 1), got {alpha!r}")
    return float(np.sqrt(np.log(2.0 / alpha) / (2.0 * n)))


@dataclass(frozen=True)
class MomentErrors:
    """Sampled mean and variance of lambda against theory (:func:`moment_errors`).

    ``mean_rel_error`` = (sample_mean - mean) / mean and ``var_rel_error`` = (sample_var - var) / var,
    signed; where the theoretical variance is 0 (linear orthogonal: a point mass) the variance error is
    taken relative to mean^2 instead.  ``mean_rel_se`` is the standard error of the sample mean across
    independent networks, relative to the theoretical mean (NaN for one network or an array input):
    a yardstick for ``mean_rel_error``.
    """

    sample_mean: float
    sample_var: float
    mean: float
    var: float
    mean_rel_error: float
    var_rel_error: float
    mean_rel_se: float


def moment_errors(samples, mean: float, var: float) -> MomentErrors:
    """Relative errors of the pooled sample mean and variance of lambda (ddof = 0: the variance of the
    empirical spectral distribution, the quantity whose limit is the theory's ``var()``).

    Fluctuations are multiplicative and grow with depth: relative std ~ sqrt(L (1 - p) / (p N)) for the
    mean of one relu network, worse for higher moments (Pennington et al. 2018, section 5).  Compare means over many
    networks at small depth; never test the variance of one deep network.
    """
    values = _lam_values(samples)
    mean = check.positive("mean", mean, scalar=True)
    var = check.nonnegative("var", var, scalar=True)
    with np.errstate(over="ignore", invalid="ignore"):
        sample_mean = float(values.mean())
        sample_var = float(values.var())
    var_scale = var if var > 0 else mean**2
    rel_se = float("nan")
    if isinstance(samples, JacobianSamples) and samples.n_networks > 1:
        rel_se = float(np.std(samples.network_means, ddof=1) / np.sqrt(samples.n_networks) / mean)
    return MomentErrors(
        sample_mean, sample_var, mean, var, (sample_mean - mean) / mean, (sample_var - var) / var_scale, rel_se
    )


def conditioned_bernoulli_p(samples: JacobianSamples) -> np.ndarray:
    """The sampled per-layer active fractions p_l = k_l / N, shape (n_networks, depth).

    For two-point laws of D^2 (relu, hard-tanh: phi'^2 in {0, 1}) the active fraction of each layer
    fluctuates by sqrt(p (1 - p) / N) and the atom at 0 of a sampled spectrum is 1 - min_l k_l / N, not
    1 - p.  A theory solved with these layer-dependent laws (d_l = 1 with probability p_l) removes that
    O(N^-1/2) rank term from the comparison (Pennington et al. 2018, section 5).  Pool networks only with care: each
    row is one network's conditioning.

    Raises
    ------
    ParameterError
        For samples whose phi'^2 was not two-valued {0, c} in every layer (smooth activations: there is
        no useful conditioning: the whole law fluctuates, not only its scale), or for anything but JacobianSamples.
    """
    if not isinstance(samples, JacobianSamples):
        raise ParameterError(f"samples must be JacobianSamples, got {type(samples).__name__}")
    if not samples.bernoulli:
        raise ParameterError(
            f"phi'^2 of {samples.activation.name} is not two-valued {{0, c}} at the sampled pre-activations: "
            "conditioning on active fractions applies to relu/hard-tanh-like activations only"
        )
    return samples.active_fraction.copy()
