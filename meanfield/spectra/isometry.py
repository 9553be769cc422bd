"""Dynamical isometry: does every singular value of the input-output Jacobian stay near 1?

:func:`isometry` returns an :class:`IsometryReport` for one network (activation, sigma_w^2, sigma_b^2,
depth, weight ensemble) with the numbers behind a yes/no verdict.  Conventions (docs/conventions.md §4-5): J =
D^L W^L ... D^1 W^1 at the fixed point q*, lambda = eigenvalue of J J^T (a squared singular value).

Theory used (Pennington, Schoenholz & Ganguli 2017, "Resurrecting the sigmoid ...", and 2018, "The
emergence of spectral universality ..."; docs/conventions.md §5).  With d = phi'(sqrt(q*) g)^2,
mu_k = E[d^k], chi = chi_1 = sigma_w^2 mu_1 and s_1 = -1 (Gaussian weights) or 0 (orthogonal):

    E[lambda] = chi^L,     Var[lambda] / E[lambda]^2 = L (mu_2/mu_1^2 - 1 - s_1)     (exact)

so the normalised variance grows linearly with depth at the per-layer rate
r = mu_2/mu_1^2 - 1 - s_1.  Gaussian weights give r >= 1 (Var >= L: never isometric); relu has
mu_2/mu_1^2 = 2 (Var >= L with either ensemble) and a rank-deficient J (an atom of mass 1/2 at
lambda = 0); orthogonal weights with tanh/erf/hard-tanh on the critical line have r -> 0 as q* -> 0,
so the spectrum concentrates at 1 up to depths L ~ 1/r.

Decision rule (every threshold a keyword argument; defaults and why):

1. mean      |log E[lambda]| = L |log chi_1| <= 0.1  (``mean_tolerance``): chi_1^L within ~10 % of 1.
             Dynamical isometry first needs chi_1 = 1 (2017, section 2); off the critical line the
             scale drifts exponentially with depth, and 0.1 leaves room for rounded sigma_w^2 only.
2. spread    Var[lambda] / E[lambda]^2 <= 0.25  (``spread_threshold``): relative standard deviation
             of lambda at most 0.5, i.e. about 0.25 for the singular values sqrt(lambda).  This is the
             2018 condition L (mu_2/mu_1^2 - 1 - s_1) << 1 made numeric.
3. edge      lambda_max / E[lambda] <= 4  (``edge_ratio``): no singular value above twice the rms
             value; guards against a long upper tail that a moderate variance could hide.
4. rank      mass of the atom at lambda = 0 <= 1e-3  (``atom_tolerance``): a rank-deficient J (relu:
             1/2, hard-tanh: 1 - erf(1/sqrt(2 q*))) is not isometric.  The small tolerance lets
             hard-tanh on the critical line at q* -> 0 (atom -> 0; isometric in the 2017 paper) pass
             while any visible rank loss (more than one unit in a thousand) fails.

isometric = all four hold.  Everything is closed form or cheap: mean and variance from the S-transform
series, lambda_max from the real-axis edge search (:meth:`JacobianSpectrum.support`), atoms from rank
arguments; no density is computed for the verdict.  To stay finite at any depth the shape of the
spectrum is taken from the same law rescaled to chi = 1 (lambda / chi^L does not depend on sigma_w^2
at fixed q*) and scaled back in logs.

The fraction of singular values within the band [1 - tolerance, 1 + tolerance] (``band_fraction``)
is informative, not part of the rule.  It is computed as

- "cdf": exactly from the spectrum's CDF when D^2 is discrete (linear, relu, leaky relu, hard-tanh:
  the CDF is cheap there);
- "moment bound": for smooth activations (tanh, erf, ...) a guaranteed *lower bound* from the
  closed-form moments: with lambda in [a, b] = [(1-t)^2, (1+t)^2], c = (a+b)/2, h = (b-a)/2,
  P(lambda outside [a, b]) <= min_k E[(lambda - c)^k] / h^k over k = 2, 4, 6, 8 (Markov); the
  CDF of smooth spectra is not evaluated here (it is the expensive part);
- with ``monte_carlo_width`` also the empirical fraction of sampled singular values
  (``monte_carlo.band_fraction``).

The optional Monte Carlo (``monte_carlo_width=N``) samples real networks with
:func:`meanfield.simulate.jacobian_singular_values` and reports the sampled mean, variance, largest
eigenvalue and rank deficiency next to the theory, and the same rule applied to the sampled numbers.
Finite-width caveats: sampled moments of one deep network fluctuate by ~sqrt(L/N)
relative; the sampled lambda_max sits near the edge up to O(N^-2/3).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .. import validation as check
from ..activations import activation
from ..criticality import critical_point
from ..errors import DivergentFixedPointError, ParameterError
from ..jsonable import json_ready
from ..maps import chi1 as _chi1
from ..maps import fixed_point
from ..simulate.jacobians import jacobian_singular_values
from ..trajectory import trajectory
from .freeprob import WEIGHTS, d2_law
from .spectrum import JacobianSpectrum

__all__ = ["isometry", "IsometryReport", "MonteCarloCheck", "Criterion"]

MEAN_TOLERANCE = 0.1
SPREAD_THRESHOLD = 0.25
EDGE_RATIO = 4.0
ATOM_TOLERANCE = 1e-3
BAND_TOLERANCE = 0.25


@dataclass(frozen=True)
class Criterion:
    """One condition of the decision rule: ``value`` compared with ``threshold``."""

    name: str
    value: float
    threshold: float
    passed: bool
    description: str


@dataclass(frozen=True)
class MonteCarloCheck:
    """Sampled networks against the theory (see the module docstring for finite-width caveats).

    ``mean``/``var`` are pooled over all sampled eigenvalues (ddof = 0); ``lambda_max`` is the largest
    eigenvalue per network (geometric mean over networks); ``zero_fraction`` is 1 - numerical rank /
    width (averaged); ``band_fraction`` the fraction of sampled singular values in the band;
    ``*_rel_error`` are (sampled - theory) / theory (the variance error relative to mean^2 when the
    theoretical variance is 0); ``isometric`` applies the decision rule to the sampled numbers (the
    rank threshold widened by 2 / width: one network's rank loss comes in units of 1 / width) and
    ``agrees`` says whether that matches the theoretical verdict.
    """

    width: int
    n_networks: int
    seed: Any
    mean: float
    var: float
    lambda_max: float
    zero_fraction: float
    band_fraction: float
    mean_rel_error: float
    var_rel_error: float
    lambda_max_rel_error: float
    isometric: bool
    agrees: bool


@dataclass(frozen=True)
class IsometryReport:
    """Dynamical-isometry report (:func:`isometry`).  Fields, all theory (infinite width) unless noted:

    activation, params, sigma_w2, sigma_b2, depth, weights : the network.
    kind : "fixed point" (every layer at q*: inputs prepared there, or the deep limit) or "trajectory"
        (layer l at q^l from the input's second moment q0; docs/conventions.md §2).
    q0 : |x^0|^2 / n_0 the trajectory starts from (None for the fixed point).
    q_star : the fixed point q* the variance map settles at from q^1 = 1 (inf where q grows without bound).
    chi1 : chi_1 = sigma_w^2 E[phi'(sqrt(q*) z)^2] at q* (:func:`meanfield.chi1`).
    fixed_point_status : "stable", "degenerate" (q* = 0 with chi_1 = 1: reached only algebraically, q^l ~ 1/l),
        "unstable edge" (chi_1 = 1 holds at these variances only on an unstable fixed point, which a network
        never reaches), "marginal" (linear/relu at chi_1 = 1: every q is a fixed point) or "diverges".
    q_last, chi1_last : q^L and chi_1^L of the last layer (q* and chi_1 for the fixed point).
    mean, log_mean : E[lambda] = prod_l chi_1^l (chi_1^L at the fixed point) and its log.
    var : Var[lambda] (closed form); normalised_var = var / mean^2; spread = sqrt(normalised_var).
    var_rate : r = mu_2/mu_1^2 - 1 - s_1, the growth of normalised_var per layer (normalised_var = L r;
        along a trajectory the rate of the last layer, normalised_var = sum_l r_l).
    var_slope : dVar/dL = Var(L + 1) - Var(L) (at the fixed point chi^(2L) r ((L + 1) chi^2 - L)).
    max_isometric_depth : the largest depth whose normalised variance is <= spread_threshold
        (floor(spread_threshold / r); inf when r = 0; along a trajectory from the cumulated r_l, beyond L
        continued at the last layer's rate).
    lambda_max : the top of the support (continuous edge or atom); edge_ratio = lambda_max / mean.
    atoms : ((location, mass), ...); zero_atom : the mass at lambda = 0.
    tolerance, band : the band of singular values [1 - tolerance, 1 + tolerance].
    band_fraction, band_fraction_method : see the module docstring ("cdf" exact, "moment bound" a
        guaranteed lower bound).
    criteria : the four conditions of the rule; isometric : all passed.
    monte_carlo : :class:`MonteCarloCheck` or None.
    notes : plain statements about the fixed point and the inputs (degenerate or unstable edges, which
        q0 was assumed).
    verdict : readable multi-line summary.
    """

    activation: str
    params: dict
    sigma_w2: float
    sigma_b2: float
    depth: int
    weights: str
    kind: str
    q0: float | None
    q_star: float
    chi1: float
    fixed_point_status: str
    q_last: float
    chi1_last: float
    mean: float
    log_mean: float
    var: float
    normalised_var: float
    spread: float
    var_rate: float
    var_slope: float
    max_isometric_depth: float
    lambda_max: float
    edge_ratio: float
    atoms: tuple
    zero_atom: float
    tolerance: float
    band: tuple
    band_fraction: float
    band_fraction_method: str
    criteria: tuple
    isometric: bool
    monte_carlo: MonteCarloCheck | None = None
    notes: tuple = ()
    verdict: str = field(default="", repr=False)

    def __str__(self) -> str:
        return self.verdict

    def to_dict(self, undefined: str = "string") -> dict:
        """Plain JSON-ready dict.  ``undefined="string"``: non-finite numbers as the strings "inf", "-inf",
        "nan"; ``"null"``: as null, with the reasons under the key "undefined" (field path -> why); see
        :func:`meanfield.jsonable.json_ready`."""
        return json_ready(asdict(self), undefined, why=_UNDEFINED)


#: why a field of the report can be non-finite
_UNDEFINED = {
    "max_isometric_depth": "unbounded: the normalised variance does not grow with depth",
    "log_mean": "E[lambda] is 0 or beyond double precision",
    "mean": "beyond double precision",
    "var": "beyond double precision",
    "lambda_max": "beyond double precision",
    "edge_ratio": "E[lambda] is 0 or beyond double precision",
    "value": "the criterion's number is undefined here (e.g. a zero Jacobian)",
}


# ----------------------------------------------------------------------------------------------
def _threshold(name, value, allow_zero=True):
    """A single finite number >= 0 (> 0 unless ``allow_zero``)."""
    if np.ndim(value) != 0:
        raise ParameterError(f"{name} must be a single number, got {value!r}")
    arr = check.nonnegative(name, value) if allow_zero else check.positive(name, value)
    return float(arr)


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _shape_spectrum(spec: JacobianSpectrum) -> tuple[JacobianSpectrum, float]:
    """(the spectrum of lambda / chi^L, i.e. the same law at chi = 1, and mu_1).

    At q* = 0 a smooth phi has D = phi'(0) I: the linear network's spectrum is used (the contour
    law has no atoms there, so its edge search fails for orthogonal weights)."""
    mu1 = spec.law.mu(1)
    if not mu1 > 0:
        raise ParameterError(
            f"phi'(h) = 0 almost surely for {spec.act.name} at q* = {spec.q!r}: the Jacobian vanishes"
        )
    if spec.q == 0.0 and not spec.law.discrete:
        return JacobianSpectrum("linear", 1.0, 0.0, spec.depth, spec.weights, q=1.0), mu1
    return JacobianSpectrum(spec.act, 1.0 / mu1, spec.sigma_b2, spec.depth, spec.weights, q=spec.q), mu1


def _moment_bound(norm_moments: np.ndarray, log_mean: float, lo: float, hi: float) -> float:
    """Lower bound on P(lo <= lambda <= hi) from moments (Markov on even powers of lambda - c)."""
    c, h = (lo + hi) / 2, (hi - lo) / 2
    m1 = _exp(log_mean)
    best = 1.0
    with np.errstate(all="ignore"):
        moments = np.r_[1.0, norm_moments * m1 ** np.arange(1, len(norm_moments) + 1)]
        for k in range(2, len(norm_moments) + 1, 2):
            central = sum(math.comb(k, j) * moments[j] * (-c) ** (k - j) for j in range(k + 1))
            if np.isfinite(central):
                best = min(best, max(float(central), 0.0) / h**k)
    return float(np.clip(1.0 - best, 0.0, 1.0))


def _criteria(log_mean, normalised_var, edge_ratio, zero_atom, mean_tol, spread_thr, edge_thr, atom_tol,
              layered=False):
    return (
        Criterion("mean", abs(log_mean), mean_tol, bool(abs(log_mean) <= mean_tol),
                  "|log E[lambda]| = |sum_l log chi_1^l|" if layered else "|log E[lambda]| = L |log chi_1|"),
        Criterion("spread", normalised_var, spread_thr, bool(normalised_var <= spread_thr),
                  "Var[lambda] / E[lambda]^2 = sum_l (mu_2/mu_1^2 - 1 - s_1)_l" if layered else
                  "Var[lambda] / E[lambda]^2 = L (mu_2/mu_1^2 - 1 - s_1)"),
        Criterion("edge", edge_ratio, edge_thr, bool(edge_ratio <= edge_thr), "lambda_max / E[lambda]"),
        Criterion("rank", zero_atom, atom_tol, bool(zero_atom <= atom_tol), "mass of the atom at lambda = 0"),
    )


def _monte_carlo(act, sw2, sb2, depth, weights, width, n_networks, seed, q0, band, theory, thresholds, progress):
    samples = jacobian_singular_values(act, sw2, sb2, depth, width, weights, n_networks=n_networks, seed=seed, q0=q0,
                                       progress=progress)
    log_lam = samples.log_lam
    finite = log_lam[np.isfinite(log_lam)]
    shift = float(finite.max()) if finite.size else 0.0
    with np.errstate(all="ignore"):
        scaled = np.exp(log_lam - shift)  # lambda / exp(shift): no overflow at any depth
        mean_s = float(scaled.mean())
        var_s = float(scaled.var())
        log_mean = math.log(mean_s) + shift if mean_s > 0 else -math.inf
        mean = _exp(log_mean)
        norm_var = var_s / mean_s**2 if mean_s > 0 else math.nan
        var = norm_var * mean**2
        log_top = float(np.mean(samples.log_lam_max))
        lambda_max = _exp(log_top)
        edge_ratio = _exp(log_top - log_mean) if mean_s > 0 else math.inf
    zero_fraction = float(1.0 - samples.numerical_rank().mean() / width)
    s = samples.singular_values
    band_fraction = float(np.mean((s >= band[0]) & (s <= band[1])))
    # finite-width allowance of two units for the rank: the worst of L layers of width N often loses a
    # unit or two (rank J = min_l rank D^l) even when the infinite-width atom is below the tolerance
    mean_thr, spread_thr, edge_thr, atom_thr = thresholds
    crit = _criteria(log_mean, norm_var, edge_ratio, zero_fraction, mean_thr, spread_thr, edge_thr, atom_thr + 2.0 / width)
    iso = all(c.passed for c in crit)

    def rel(a, b):
        return (a - b) / b if b not in (0.0,) and math.isfinite(b) else math.nan

    t_mean, t_var, t_top, t_iso = theory
    return MonteCarloCheck(
        width, n_networks, seed, mean, var, lambda_max, zero_fraction, band_fraction,
        rel(mean, t_mean), rel(var, t_var) if t_var > 0 else (var - t_var) / t_mean**2 if t_mean else math.nan,
        rel(lambda_max, t_top), iso, iso == t_iso,
    )


def _g(x, digits=4):
    x = float(x)
    if math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{digits}g}"


def _verdict(r: "dict") -> str:
    act = r["activation"] + "".join(f", {k}={v:g}" for k, v in r["params"].items())
    lines = [
        f"{'ISOMETRIC' if r['isometric'] else 'NOT ISOMETRIC'}: {act}, {r['weights']} weights, "
        f"sigma_w2 = {_g(r['sigma_w2'], 8)}, sigma_b2 = {_g(r['sigma_b2'], 8)}, depth L = {r['depth']}",
        f"  q* = {_g(r['q_star'], 6)}, chi_1 = {_g(r['chi1'], 10)} (fixed point: {r['fixed_point_status']})",
    ]
    if r["kind"] == "trajectory":
        lines.append(
            f"  judged along the trajectory from q0 = {_g(r['q0'], 6)}: q^L = {_g(r['q_last'], 6)}, "
            f"chi_1^L = {_g(r['chi1_last'], 8)}, E[lambda] = prod_l chi_1^l"
        )
    else:
        lines.append("  judged at the fixed point: every layer at q*, E[lambda] = chi_1^L")
    for c in r["criteria"]:
        op = "<=" if c.passed else ">"
        lines.append(
            f"  [{'pass' if c.passed else 'FAIL'}] {c.name:<6} {c.description} = {_g(c.value, 5)} {op} {_g(c.threshold)}"
        )
    lines.append(
        f"  E[lambda] = {_g(r['mean'], 6)}, Var[lambda] = {_g(r['var'], 6)} (relative spread "
        f"{_g(r['spread'])}), lambda_max = {_g(r['lambda_max'], 6)}"
    )
    lines.append(
        "  variance growth: Var/E^2 = "
        + (f"sum_l r_l, the last layer adding {_g(r['var_rate'], 5)}" if r["kind"] == "trajectory"
           else f"L x {_g(r['var_rate'], 5)} per layer")
        + f"; dVar/dL = {_g(r['var_slope'], 5)}; "
        f"spread criterion holds up to depth {_g(r['max_isometric_depth'], 6)}"
    )
    atoms = ", ".join(f"{_g(m)} at {_g(loc)}" for loc, m in r["atoms"]) or "none"
    lines.append(f"  atoms: {atoms}")
    kind = "exact, from the cdf" if r["band_fraction_method"] == "cdf" else "lower bound from the moments"
    lines.append(
        f"  singular values in [{_g(r['band'][0])}, {_g(r['band'][1])}]: {_g(r['band_fraction'], 4)} ({kind})"
    )
    mc = r["monte_carlo"]
    if mc is not None:
        lines.append(
            f"  Monte Carlo (width {mc.width}, {mc.n_networks} network{'s' if mc.n_networks > 1 else ''}, "
            f"seed {mc.seed}): E = {_g(mc.mean, 5)} ({_g(100 * mc.mean_rel_error, 3)} %), Var = {_g(mc.var, 5)}, "
            f"lambda_max = {_g(mc.lambda_max, 5)}, rank loss {_g(mc.zero_fraction, 3)}, in band {_g(mc.band_fraction, 4)}"
            f" -> {'isometric' if mc.isometric else 'not isometric'} ({'agrees' if mc.agrees else 'DISAGREES'})"
        )
    lines.extend(f"  note: {note}" for note in r["notes"])
    failed = [c.name for c in r["criteria"] if not c.passed]
    if failed:
        lines.append("  fails: " + ", ".join(failed))
    return "\n".join(lines)


@dataclass(frozen=True)
class _FixedPoint:
    """Where the variance map settles from q^1 = 1, what kind of point that is, and notes for the user."""

    q_star: float
    chi1: float
    status: str
    notes: tuple

    @classmethod
    def of(cls, act, sw2: float, sb2: float) -> "_FixedPoint":
        try:
            q_star = float(fixed_point(act, sw2, sb2))
        except DivergentFixedPointError:
            chi = float(_chi1(act, sw2, sb2, q=1.0)) if act.scale_free_derivative else math.nan
            return cls(math.inf, chi, "diverges", (
                "q^l grows without bound at these variances (no finite fixed point)",))
        chi = float(_chi1(act, sw2, sb2, q=q_star))
        if act.scale_free_derivative and abs(chi - 1.0) <= 1e-12:
            return cls(q_star, chi, "marginal", ())
        if q_star == 0.0 and chi >= 1.0 - 1e-9:
            return cls(q_star, chi, "degenerate", (
                "the critical point is degenerate: q* = 0 with chi_1 = 1 is reached only algebraically (the q-map "
                "has slope 1 there, so q^l decays like 1/l and chi_1^l approaches 1 from below)",))
        for root in critical_point(act, sb2).roots:
            if not root.stable and math.isclose(root.sigma_w2, sw2, rel_tol=1e-6):
                return cls(q_star, chi, "unstable edge", (
                    f"chi_1 = 1 holds at these variances only on the fixed point q = {root.q_star:.6g}, which is "
                    f"unstable (q-map slope {root.q_slope:.6g} > 1): a network started anywhere else never reaches it; "
                    f"from q^1 = 1 it settles at q* = {q_star:.6g}, where chi_1 = {chi:.6g}",))
        return cls(q_star, chi, "stable", ())


def _last_q(act, sw2: float, sb2: float, L: int, q0: float) -> float:
    """q^L from q0 (inf where it leaves double precision: relu and linear spectra do not care)."""
    try:
        return float(trajectory(act, sw2, sb2, L, q0).q[-1])
    except ParameterError:
        return math.inf


def _rate(law, mu1: float, weights: str) -> float:
    """r = mu_2/mu_1^2 - 1 - s_1 of one layer: its share of Var[lambda]/E[lambda]^2 (free products add them)."""
    s1 = -1.0 if weights == "gaussian" else 0.0
    return max(law.mu(2) / mu1**2 - 1.0 - s1, 0.0)  # 0 up to rounding for linear orthogonal


def _max_depth(cumulated: np.ndarray, last_rate: float, threshold: float) -> float:
    """The largest depth with sum_{l <= depth} r_l <= threshold (beyond L at the last layer's rate)."""
    over = np.nonzero(cumulated > threshold * (1 + 1e-12))[0]
    if over.size:
        return int(over[0])
    if last_rate <= 0:
        return math.inf
    return len(cumulated) + math.floor((threshold - cumulated[-1]) / last_rate + 1e-9)


def _band_fraction(shape: JacobianSpectrum, mean: float, log_mean: float, band: tuple) -> tuple[float, str]:
    """The mass of lambda in [band_0^2, band_1^2]: exact from the cdf for one discrete law of D^2, else the
    moment lower bound (module docstring)."""
    lo, hi = band[0] ** 2, band[1] ** 2
    if shape.law is not None and shape.law.discrete:
        if not (mean > 0 and math.isfinite(mean)):
            return 0.0, "cdf"
        f = shape.cdf(np.array([np.nextafter(lo / mean, -np.inf), hi / mean]))
        return float(np.clip(f[1] - f[0], 0.0, 1.0)), "cdf"
    norm_moments = np.array([shape.moment(k) for k in range(1, 9)])
    return _moment_bound(norm_moments, log_mean, lo, hi), "moment bound"


def isometry(
    act,
    sigma_w2,
    sigma_b2,
    depth,
    weights="orthogonal",
    tolerance=BAND_TOLERANCE,
    monte_carlo_width=None,
    seed=None,
    *,
    q0=None,
    n_networks=1,
    mean_tolerance=MEAN_TOLERANCE,
    spread_threshold=SPREAD_THRESHOLD,
    edge_ratio=EDGE_RATIO,
    atom_tolerance=ATOM_TOLERANCE,
    progress=False,
) -> IsometryReport:
    """Dynamical-isometry report for a depth-``depth`` network, at its fixed point or along its trajectory.

    Parameters
    ----------
    act : activation name, formula or :class:`meanfield.Activation`
    sigma_w2, sigma_b2 : float
        Weight variance (> 0) and bias variance (>= 0).
    depth : int
        Number of weight layers L >= 1.
    weights : {"orthogonal", "gaussian"}
    tolerance : float in (0, 1)
        Half-width of the band [1 - tolerance, 1 + tolerance] of singular values whose mass is reported.
    monte_carlo_width : int or None
        Width N of sampled networks for a Monte Carlo confirmation (None: theory only).  Costs about
        L N^3 flops per network (twice that for orthogonal weights).
    seed : int or None
        Seed of the Monte Carlo.
    q0 : float or None
        The input's second moment |x^0|^2 / n_0: the network is judged along its trajectory, q^1 =
        sigma_w^2 q0 + sigma_b^2 and D_l at q^l (docs/conventions.md §2).  None: at the fixed point q*
        (inputs prepared there), except where q* is degenerate (q* = 0 reached only like 1/l: no network
        of finite depth is there), which is judged from q0 = 1 and says so in ``notes``.
    n_networks : int
        Networks sampled for the Monte Carlo.
    mean_tolerance, spread_threshold, edge_ratio, atom_tolerance : float
        Thresholds of the decision rule (module docstring).
    progress : bool
        A progress bar over the layers of the Monte Carlo (tqdm, on standard error).

    Returns
    -------
    IsometryReport
    """
    act = activation(act)
    tol = _threshold("tolerance", tolerance, allow_zero=False)
    if not tol < 1:
        raise ParameterError(f"tolerance is the half-width of a band around 1 and must lie in (0, 1), got {tolerance!r}")
    thresholds = (
        _threshold("mean_tolerance", mean_tolerance),
        _threshold("spread_threshold", spread_threshold),
        _threshold("edge_ratio", edge_ratio, allow_zero=False),
        _threshold("atom_tolerance", atom_tolerance),
    )
    if monte_carlo_width is not None:
        monte_carlo_width = check.positive_int("monte_carlo_width", monte_carlo_width, 2)
    n_networks = check.positive_int("n_networks", n_networks)
    sw2 = check.positive("sigma_w2", sigma_w2, scalar=True)
    sb2 = check.nonnegative("sigma_b2", sigma_b2, scalar=True)
    L = check.depth(depth)
    if weights not in WEIGHTS:
        raise ParameterError(f"weights must be one of {WEIGHTS}, got {check.shown(weights)}")
    if q0 is not None:
        q0 = check.nonnegative("q0", q0, scalar=True)

    start = _FixedPoint.of(act, sw2, sb2)
    notes = list(start.notes)
    if q0 is None and start.status == "degenerate":
        q0 = 1.0
        notes.append(
            "judged along the trajectory from q0 = |x^0|^2 / n_0 = 1 (unit-variance inputs), since no network of "
            "finite depth sits at q* = 0; pass q0 for your inputs"
        )
    elif q0 is None:
        notes.append("judged at the fixed point (inputs prepared at q*); pass q0 = |x^0|^2 / n_0 for your inputs")
    path = None
    if q0 is not None and not act.scale_free_derivative:  # phi' scale-free: D^2 has the same law at every q
        path = trajectory(act, sw2, sb2, L + 1, q0)  # one layer more: the slope dVar/dL
        if np.all(path.q == start.q_star):
            path = None  # started at q*: the fixed-point spectrum
    if path is None:
        spec = JacobianSpectrum(act, sw2, sb2, L, weights)
        shape, mu1 = _shape_spectrum(spec)
        rates = np.full(L + 1, _rate(shape.law, mu1, weights))
        log_chi = np.full(L + 1, math.log(sw2 * mu1))
        q_last = chi_last = None
        if q0 is not None:  # relu, linear: the trajectory moves q only, not the spectrum
            q_last = _last_q(act, sw2, sb2, L, q0)
    else:
        mu1 = path.chi1 / sw2
        if not np.all(mu1 > 0):
            raise ParameterError(f"phi'(h) = 0 almost surely for {act.name} at some q^l: the Jacobian vanishes")
        shape = JacobianSpectrum(act, 1.0 / mu1[:L], sb2, L, weights, q=path.q[:L])
        laws = {float(g.law.q): g.law for g in shape._layers}
        laws.setdefault(float(path.q[L]), d2_law(act, float(path.q[L]), 200))
        rates = np.array([_rate(laws[float(q)], m, weights) for q, m in zip(path.q, mu1)])
        log_chi = np.log(path.chi1)
        q_last, chi_last = float(path.q[L - 1]), float(path.chi1[L - 1])
    log_mean = float(np.sum(log_chi[:L]))
    mean = _exp(log_mean)
    cumulated = np.cumsum(rates)
    norm_var = float(shape.var())
    var = norm_var * mean**2 if norm_var > 0 else 0.0
    rate = float(rates[L - 1])
    var_slope = _exp(2 * (log_mean + log_chi[L])) * cumulated[L] - var if cumulated[L] > 0 else 0.0
    max_depth = _max_depth(cumulated[:L], rate, thresholds[1])

    with np.errstate(invalid="ignore"):  # the edge search may take log1p(m < -1) in a gap between atoms
        top = shape.support()[1]
    if not math.isfinite(top) and norm_var <= 1e-14:
        top = 1.0  # a point mass at the mean
    edge = float(top)
    lambda_max = edge * mean if math.isfinite(edge) else math.nan
    atoms = tuple((float(loc) * mean if loc > 0 else 0.0, float(mass)) for loc, mass in shape.atoms)
    zero_atom = float(sum(m for loc, m in atoms if loc == 0.0))

    band = (1.0 - tol, 1.0 + tol)
    band_fraction, method = _band_fraction(shape, mean, log_mean, band)
    crit = _criteria(log_mean, norm_var, edge if math.isfinite(edge) else math.inf, zero_atom, *thresholds,
                     layered=q0 is not None)
    isometric = all(c.passed for c in crit)

    mc = None
    if monte_carlo_width is not None:
        mc = _monte_carlo(
            act, sw2, sb2, L, weights, monte_carlo_width, n_networks, seed, q0,
            band, (mean, var, lambda_max, isometric), thresholds, progress,
        )

    kind = "fixed point" if q0 is None else "trajectory"
    fields = dict(
        activation=act.name, params=dict(act.params), sigma_w2=sw2, sigma_b2=sb2, depth=L, weights=weights,
        kind=kind, q0=q0, q_star=start.q_star, chi1=start.chi1, fixed_point_status=start.status,
        q_last=start.q_star if q_last is None else q_last, chi1_last=math.exp(log_chi[L - 1]) if chi_last is None
        else chi_last, mean=mean, log_mean=log_mean, var=var, normalised_var=norm_var,
        spread=math.sqrt(max(norm_var, 0.0)), var_rate=rate, var_slope=float(var_slope),
        max_isometric_depth=max_depth, lambda_max=lambda_max, edge_ratio=edge, atoms=atoms, zero_atom=zero_atom,
        tolerance=tol, band=band, band_fraction=band_fraction, band_fraction_method=method, criteria=crit,
        isometric=isometric, monte_carlo=mc, notes=tuple(notes),
    )
    return IsometryReport(**fields, verdict=_verdict(fields))
