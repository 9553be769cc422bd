"""Verdicts on initialization recipes: is THIS initialization critical / isometric for MY activation?

:func:`assess` (re-exported as ``meanfield.init.assess``) takes a recipe name (or a list of actual
weight matrices) and an activation and reports, side by side:

- theory (infinite width): the effective sigma_w^2 = fan_in Var(W_ij) of a hidden layer, the fixed
  point q*, chi_1 = sigma_w^2 E[phi'(sqrt(q*) z)^2], the phase (ordered / critical / chaotic;
  critical means |chi_1 - 1| <= 1e-9, :data:`meanfield.maps.CRITICAL_TOLERANCE`) and the
  dynamical-isometry report of :func:`meanfield.isometry` (free probability, Pennington et al.
  2017/2018) for the weight ensemble the recipe draws from;
- measurement on a real network built with the recipe: the actual matrices' sigma_w^2 (mean squared
  row norm, = fan_in mean W_ij^2), their orthogonality defect and density, the pre-activation variance
  at the last layer, and the singular values of the input-output Jacobian J = D^L W^L ... D^1 W^1 at
  an input whose first pre-activations have variance q*, judged by the same four criteria as
  :func:`meanfield.isometry` (mean, spread, edge, rank).

Recipes whose matrices are not iid Gaussian or Haar (looks-linear, EOI, IDInit, given matrices that are
not orthogonal) are outside the free-probability theory: for them the measured Jacobian singular values
of the actual matrices are the ground truth and ``isometric`` is the measured verdict (the report says
so).  Looks-linear is judged against its exact theory: the physical ReLU net computes the linear
template network W0^L ... W0^1 (relu(u) - relu(-u) = u), whose output layer is linear, so its Jacobian
omits D^L (Balduzzi et al. 2017; Burkholz & Dubatovka 2019).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

from . import validation as check
from .activations import activation
from .errors import DivergentFixedPointError, ParameterError, SigpropError
from .init import looks_linear
from .init_orthogonal import eoi, idinit, orthogonal
from .init_scaling import (
    _scalar,
    _gain2,
    critical_sigma_w2,
    gaussian,
    glorot,
    he,
    kumar_sigma_w2,
    lecun,
    uniform,
    weightnorm,
)
from .isometry import BAND_TOLERANCE, IsometryReport, _criteria, _jsonable, isometry
from .isometry import _g as _g_isometry
from .maps import CRITICAL_TOLERANCE, chi1, fixed_point
from .simulate import RNGLike, _generator, _scale_free_derivative, _single_threaded_blas, propagate, sample_biases

__all__ = ["RECIPES", "MEASURED_RECIPES", "assess", "InitAssessment", "MeasuredNetwork"]

#: Recipes :func:`assess` knows, with their parameters (passed as keyword arguments).
RECIPES = {
    "gaussian": "iid N(0, sigma_w2/fan_in); sigma_w2 (default 1) or gain",
    "uniform": "iid uniform of variance sigma_w2/fan_in; sigma_w2 (default 1) or gain",
    "he": "He/Kaiming normal, variance gain^2/fan (default relu gain, fan_in); a, mode, nonlinearity, distribution",
    "glorot": "Glorot/Xavier normal, variance 2 gain^2/(fan_in + fan_out); gain, distribution",
    "lecun": "LeCun normal, variance 1/fan_in (the SELU self-normalizing init); distribution",
    "kumar": "Kumar 2017, variance 1/(fan_in phi'(0)^2 (1 + phi(0)^2)) for the activation",
    "critical": "Gaussian on the edge of chaos (chi_1 = 1) for the activation and sigma_b2",
    "orthogonal": "Haar (semi-)orthogonal times gain (default 1)",
    "weightnorm": "Arpit et al. 2019 WeightNorm: orthogonal directions, row norm sqrt(gain fan_in/fan_out); gain (default 2)",
    "eoi": "exact sparse orthogonal (Nowak et al.) of a density (default 0.25) times gain",
    "idinit": "IDInit padded identity-like matrix times tau (default 1)",
    "looks_linear": "parameter-sharing ReLU init [[W0, -W0], [-W0, W0]]; orthogonal (default True), sigma_w2 (template, default 1)",
}
#: Recipes whose matrices are iid (theory: Gaussian-weight free probability, exact for "gaussian"-like
#: draws, universal for uniform ones) or Haar (theory: orthogonal).
_IID = ("gaussian", "uniform", "he", "glorot", "lecun", "kumar", "critical")
_HAAR = ("orthogonal", "weightnorm")
#: Recipes outside the iid/Haar theory: their verdict needs the measurement (``monte_carlo=True``).
MEASURED_RECIPES = ("eoi", "idinit", "looks_linear")
#: Below this the Gram matrix of a layer counts as a multiple of the identity (orthogonal ensemble).
ORTHOGONALITY_TOLERANCE = 1e-8


@dataclass(frozen=True)
class MeasuredNetwork:
    """A real network built with the recipe (or the given matrices), measured.

    widths : (n_0, ..., n_L); seed : the seed used.
    sigma_w2 : per layer |W|_F^2 / fan_out = fan_in mean(W_ij^2).
    orthogonality_error : max over layers of max|G - g I| / g, G the smaller Gram matrix (W W^T or
        W^T W), g = trace(G) / dim (0 to rounding for orthogonal, EOI, square IDInit).
    density : fraction of non-zero entries over all layers.
    q_last : mean of (h^L_i)^2 (compare with q*).
    chi1 : (mean of lambda)^(1/L), lambda the eigenvalues of J J^T: the per-layer gradient factor.
    singular_values : (min, max) singular value of J; n_singular_values = min(n_0, n_L).
    mean, normalised_var, edge_ratio, zero_fraction : of lambda (zero_fraction: numerically zero
        singular values, relative tolerance max(n) * eps).
    band_fraction : fraction of singular values in [1 - tolerance, 1 + tolerance].
    criteria, isometric : the rule of :func:`meanfield.isometry` applied to these numbers.
    """

    widths: tuple
    seed: Any
    sigma_w2: tuple
    orthogonality_error: float
    density: float
    q_last: float
    chi1: float
    singular_values: tuple
    n_singular_values: int
    mean: float
    normalised_var: float
    edge_ratio: float
    zero_fraction: float
    band_fraction: float
    criteria: tuple
    isometric: bool


@dataclass(frozen=True)
class InitAssessment:
    """The verdict of :func:`assess` (see the module docstring).

    recipe, params : the recipe and its parameters ("weights" when matrices were given).
    activation, sigma_b2, depth, widths : the network.
    sigma_w2 : effective sigma_w^2 = fan_in Var(W_ij) of a hidden layer (recipe formula; measured for
        given matrices).
    ensemble : weight ensemble of the theory: "gaussian", "orthogonal", "linear-orthogonal" /
        "linear-gaussian" (looks-linear: the linear template net) or "structured" (no theory).
    theory_exact : whether the theory describes these matrices' distribution (False: the measured
        values are the ground truth).
    q_star, chi1, phase : mean-field values (q_star inf and chi1 NaN where q diverges).
    critical : |chi_1 - 1| <= CRITICAL_TOLERANCE.  critical_sigma_w2 : the edge of chaos at sigma_b2
        (NaN if none).
    isometry : :class:`meanfield.IsometryReport` of the theory ensemble, or None.
    measured : :class:`MeasuredNetwork` or None (``monte_carlo=False``).
    isometric : the verdict: theory for iid/Haar recipes, measured otherwise (None if unavailable).
    notes : sentences qualifying the verdict.
    """

    recipe: str
    params: dict
    activation: str
    sigma_b2: float
    depth: int
    widths: tuple
    sigma_w2: float
    ensemble: str
    theory_exact: bool
    q_star: float
    chi1: float
    phase: str
    critical: bool
    critical_sigma_w2: float
    isometry: IsometryReport | None
    measured: MeasuredNetwork | None
    isometric: bool | None
    notes: tuple = field(default_factory=tuple)

    def __str__(self) -> str:
        return _format(self)

    def to_dict(self) -> dict:
        """JSON-ready dict (non-finite numbers as "inf", "-inf", "nan"; the isometry verdict text dropped)."""
        out = asdict(self)
        if self.isometry is not None:
            out["isometry"] = self.isometry.to_dict()
        return _jsonable(out)


# ----------------------------------------------------------------------------------------------
# recipes: a builder (shape, rng) -> W and the effective sigma_w^2 of a shape
# ----------------------------------------------------------------------------------------------
def _recipe(name: str, act, sigma_b2: float, params: dict) -> tuple[Callable, Callable[[tuple], float]]:
    """(build(shape, rng) -> W, sigma_w2(shape) -> fan_in Var(W_ij) = E|W|_F^2 / fan_out)."""
    p = dict(params)

    def take(*allowed):
        extra = set(p) - set(allowed)
        if extra:
            raise ParameterError(
                f"recipe {name!r} takes the parameters {', '.join(allowed) or 'none'}; got {', '.join(sorted(extra))}"
            )
        return p

    if name in ("gaussian", "uniform"):
        take("sigma_w2", "gain")
        draw = gaussian if name == "gaussian" else uniform
        draw((1, 1), **p)  # checks the parameters now
        sw2 = p["gain"] ** 2 if p.get("gain") is not None else (1.0 if p.get("sigma_w2") is None else p["sigma_w2"])
        return (lambda shape, rng: draw(shape, seed=rng, **p)), (lambda shape: float(sw2))
    if name == "he":
        take("a", "mode", "nonlinearity", "distribution")
        he((1, 1), **p)
        gain2 = _gain2(p.get("nonlinearity", "leaky_relu"), p.get("a", 0.0))
        by_out = p.get("mode", "fan_in") == "fan_out"
        return (lambda shape, rng: he(shape, seed=rng, **p)), (
            lambda shape: gain2 * (shape[1] / shape[0] if by_out else 1.0)
        )
    if name == "glorot":
        take("gain", "distribution")
        glorot((1, 1), **p)
        g2 = float(p.get("gain", 1.0)) ** 2
        return (lambda shape, rng: glorot(shape, seed=rng, **p)), (
            lambda shape: g2 * 2.0 * shape[1] / (shape[0] + shape[1])
        )
    if name == "lecun":
        take("distribution")
        lecun((1, 1), **p)
        return (lambda shape, rng: lecun(shape, seed=rng, **p)), (lambda shape: 1.0)
    if name in ("kumar", "critical"):
        take()
        sw2 = kumar_sigma_w2(act) if name == "kumar" else critical_sigma_w2(act, sigma_b2)
        return (lambda shape, rng: gaussian(shape, sigma_w2=sw2, seed=rng)), (lambda shape: sw2)
    if name in ("orthogonal", "eoi"):
        if name == "orthogonal":
            take("gain")
        else:
            take("density", "gain")
        g2 = _scalar("gain", p.get("gain", 1.0)) ** 2
        density = p.get("density", 0.25)
        if name == "orthogonal":
            build = lambda shape, rng: orthogonal(shape, seed=rng, **p)  # noqa: E731
        else:
            build = lambda shape, rng: eoi(shape, density, p.get("gain", 1.0), seed=rng)  # noqa: E731
        # every singular value is gain: |W|_F^2 = gain^2 min(n, m)
        return build, (lambda shape: g2 * min(shape) / shape[0])
    if name == "weightnorm":
        take("gain")
        gain = p.get("gain", 2.0)
        return (lambda shape, rng: weightnorm(shape, gain=gain, seed=rng)), (
            # every row has norm g = sqrt(gain fan_in / fan_out); not g**2, whose rounding would put
            # relu's sigma_w2 = 2 just above the edge (q diverging)
            lambda shape: _scalar("gain", gain) * shape[1] / shape[0]
        )
    if name == "idinit":
        take("tau")
        tau = _scalar("tau", p.get("tau", 1.0), signed=True)
        # one entry tau per row: |W|_F^2 = tau^2 n_out
        return (lambda shape, rng: idinit(shape, tau)), (lambda shape: tau**2)
    raise ParameterError(f"unknown recipe {name!r}; known recipes: {', '.join(RECIPES)}")


# ----------------------------------------------------------------------------------------------
# measurement
# ----------------------------------------------------------------------------------------------
def _orthogonality_error(w: np.ndarray) -> float:
    gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    g = np.trace(gram) / gram.shape[0]
    if g == 0:
        return math.inf
    return float(np.max(np.abs(gram - g * np.eye(gram.shape[0]))) / g)


def _input(rng: np.random.Generator, act, n0: int, q0: float, raw: bool) -> np.ndarray:
    """x^0 = phi(h^0), h^0 = sqrt(n_0 q0) g / |g|: then h^1 sits at V(q0) = q* when q0 = q* (the convention
    of :func:`meanfield.simulate.jacobian_singular_values`, notes/spectra.md pitfall 9).  ``raw``: x^0 = h^0
    (looks-linear, whose first layer [W0; -W0] has sigma_w^2 = 1 and passes |x|^2 / n_0 on unchanged)."""
    g = rng.standard_normal(n0)
    h0 = g * math.sqrt(q0 * n0 / float(g @ g))
    return h0 if raw else act.phi(h0)


@_single_threaded_blas
def _measure(act, weights, biases, x, linear_output, seed, tolerance, thresholds) -> MeasuredNetwork:
    act_obj = activation(act)
    depth = len(weights)
    n0 = weights[0].shape[1]
    jac = np.eye(n0)
    log_scale = 0.0
    h = None
    for index, (w, _, h) in enumerate(propagate(act_obj, zip(weights, biases), x), start=1):
        jac = w @ jac
        if not (linear_output and index == depth):
            jac *= act_obj.dphi(h)[:, None]
        norm = float(np.linalg.norm(jac))
        if norm > 0:
            jac /= norm
            log_scale += math.log(norm)
    s = np.linalg.svd(jac, compute_uv=False)
    n_s = s.size
    top = float(s.max()) if n_s else 0.0
    zero = s <= top * max(jac.shape) * np.finfo(float).eps if top > 0 else np.ones(n_s, bool)
    with np.errstate(divide="ignore", over="ignore", under="ignore", invalid="ignore"):
        log_lam = 2.0 * (np.log(s) + log_scale)
        finite = log_lam[np.isfinite(log_lam)]
        shift = float(finite.max()) if finite.size else 0.0
        scaled = np.exp(log_lam - shift)
        mean_s = float(scaled.mean())
        log_mean = math.log(mean_s) + shift if mean_s > 0 else -math.inf
        mean = math.exp(log_mean) if log_mean < 700 else math.inf
        norm_var = float(scaled.var() / mean_s**2) if mean_s > 0 else math.nan
        edge = float(scaled.max() / mean_s) if mean_s > 0 else math.inf
        sv = np.exp(log_lam / 2)
        chi = math.exp(log_mean / depth) if math.isfinite(log_mean) else 0.0
    zero_fraction = float(zero.mean())
    band = float(np.mean((sv >= 1 - tolerance) & (sv <= 1 + tolerance)))
    # the rank threshold widened by one unit in the number of singular values, as isometry's Monte Carlo
    crit = _criteria(log_mean, norm_var, edge, zero_fraction, *thresholds[:3], thresholds[3] + 1.0 / n_s)
    return MeasuredNetwork(
        widths=(n0,) + tuple(w.shape[0] for w in weights),
        seed=seed,
        sigma_w2=tuple(float(np.sum(w * w) / w.shape[0]) for w in weights),
        orthogonality_error=max(_orthogonality_error(w) for w in weights),
        density=float(sum(np.count_nonzero(w) for w in weights) / sum(w.size for w in weights)),
        q_last=float(np.mean(h * h)),
        chi1=chi,
        singular_values=(float(sv.min()), float(sv.max())),
        n_singular_values=int(n_s),
        mean=mean,
        normalised_var=norm_var,
        edge_ratio=edge,
        zero_fraction=zero_fraction,
        band_fraction=band,
        criteria=crit,
        isometric=all(c.passed for c in crit),
    )


# ----------------------------------------------------------------------------------------------
# the verdict
# ----------------------------------------------------------------------------------------------
def _mean_field(act, sw2: float, sb2: float) -> tuple[float, float]:
    try:
        q = float(fixed_point(act, sw2, sb2))
    except DivergentFixedPointError:
        return math.inf, math.nan
    return q, float(chi1(act, sw2, sb2, q=q))


def _weight_list(weights) -> list[np.ndarray]:
    if isinstance(weights, np.ndarray):
        weights = [weights]
    out = []
    for index, w in enumerate(weights, start=1):
        w = check.real_array(f"weights[{index}]", w)
        if w.ndim != 2 or w.size == 0:
            raise ParameterError(f"weights[{index}] must be a non-empty matrix (fan_out, fan_in), got shape {w.shape}")
        if out and w.shape[1] != out[-1].shape[0]:
            raise ParameterError(
                f"weights[{index}] of shape {w.shape} does not take the {out[-1].shape[0]} outputs of the layer before"
            )
        out.append(w)
    if not out:
        raise ParameterError("weights must hold at least one matrix")
    return out


def assess(
    recipe_or_weights,
    act,
    depth: int | None = None,
    sigma_b2: float = 0.0,
    width: int = 256,
    shape=None,
    monte_carlo: bool = True,
    seed: RNGLike = None,
    tolerance: float = BAND_TOLERANCE,
    **params,
) -> InitAssessment:
    """Is this initialization critical / isometric for this activation?  Theory and measurement.

    Parameters
    ----------
    recipe_or_weights : str or list of ndarray
        A name in :data:`RECIPES` (its parameters as keyword arguments ``**params``, e.g.
        ``density=0.1`` for "eoi", ``gain=2`` for "orthogonal"), or the weight matrices (fan_out,
        fan_in) of an actual network (then ``depth``, ``width``, ``shape`` and ``params`` are not used:
        sigma_w^2 and the ensemble are measured from them).
    act : activation name, formula or :class:`meanfield.Activation`
    depth : int or None
        Number of weight layers L (default 10; 1 when ``shape`` is given).
    sigma_b2 : float
        Bias variance of the network (biases b_i ~ N(0, sigma_b^2); looks-linear shares them as
        [b0; -b0]).
    width : int
        Width of the square network [width] * (L + 1) (looks-linear: template width; physical hidden
        width 2 width).
    shape : (fan_out, fan_in) or None
        First layer's shape; the layers after it are square (fan_out, fan_out).  E.g. ``shape=(10, 4),
        depth=1`` judges one expanding layer.  The theory's sigma_w^2 is that of a hidden layer (of this
        layer for depth 1).
    monte_carlo : bool
        Build and measure a real network (needed for the verdict on looks-linear, EOI, IDInit).
    seed : int, Generator or None
        Seed of the weights, biases and input.
    tolerance : float
        Half-width of the band of singular values reported (as :func:`meanfield.isometry`).

    Returns
    -------
    InitAssessment
    """
    act = activation(act)
    sb2 = _scalar("sigma_b2", sigma_b2)
    tol = _scalar("tolerance", tolerance, positive=True)
    if not tol < 1:
        raise ParameterError(f"tolerance must lie in (0, 1), got {tolerance!r}")
    if not isinstance(monte_carlo, (bool, np.bool_)):
        raise ParameterError(f"monte_carlo must be True or False, got {monte_carlo!r}")
    rng = _generator(seed)
    notes = []
    linear_output = False

    if isinstance(recipe_or_weights, str):
        name = recipe_or_weights.strip().lower().replace("-", "_")
        if name not in RECIPES:
            raise ParameterError(f"unknown recipe {recipe_or_weights!r}; known recipes: {', '.join(RECIPES)}")
        width = check.positive_int("width", width)
        if shape is None:
            L = check.depth(10 if depth is None else depth)
            widths = [width] * (L + 1)
        else:
            if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__") or len(shape) != 2:
                raise ParameterError(f"shape must be (fan_out, fan_in) of a dense layer, got {shape!r}")
            n_out, n_in = (check.positive_int("shape entry", n) for n in shape)
            L = check.depth(1 if depth is None else depth)
            widths = [n_in] + [n_out] * L
        hidden = (widths[-1], widths[-2])
        if name == "looks_linear":
            extra = set(params) - {"orthogonal", "sigma_w2"}
            if extra:
                raise ParameterError(f"recipe 'looks_linear' takes orthogonal, sigma_w2; got {', '.join(sorted(extra))}")
            ortho = params.get("orthogonal", True)
            template_sw2 = _scalar("sigma_w2", params.get("sigma_w2", 1.0))
            weights = looks_linear(widths, orthogonal=ortho, seed=rng, sigma_w2=template_sw2) if monte_carlo else None
            sw2 = 2.0 * template_sw2 if L > 1 else template_sw2  # physical hidden layer [[W0, -W0], [-W0, W0]]
            ensemble = "linear-orthogonal" if ortho else "linear-gaussian"
            theory_exact = True
            linear_output = True
            notes.append(
                "looks-linear: the physical net computes the linear template map W0^L ... W0^1 exactly "
                "(relu(u) - relu(-u) = u), so its Jacobian is that of a linear "
                f"{'orthogonal' if ortho else 'Gaussian'} net with sigma_w2 = {template_sw2:g}; the output layer "
                "is linear (no D^L); the theory below is that linear net's"
            )
            if act.name != "relu":
                notes.append(f"looks-linear relies on relu(u) - relu(-u) = u; with {act.name} the identity fails")
                theory_exact = False
        else:
            build, sw2_of = _recipe(name, act, sb2, params)
            sw2 = float(sw2_of(hidden))
            if name in _IID:
                ensemble, theory_exact = "gaussian", True
                if name == "uniform" or params.get("distribution") == "uniform":
                    notes.append("uniform iid weights: theory of Gaussian weights (universal at infinite width)")
            elif name in _HAAR:
                ensemble, theory_exact = "orthogonal", hidden[0] == hidden[1]
                if not theory_exact:
                    notes.append("non-square layers: the orthogonal-ensemble theory is an approximation here")
            else:
                ensemble, theory_exact = ("orthogonal" if name == "eoi" else "structured"), False
                notes.append(
                    f"{name} matrices are neither iid nor Haar: the measured Jacobian singular values of the "
                    "actual matrices are the ground truth"
                    + ("; the theory shown is that of Haar orthogonal weights" if name == "eoi" else "")
                )
            weights = [build((n_out, n_in), rng) for n_in, n_out in zip(widths[:-1], widths[1:])] if monte_carlo else None
        recipe, recipe_params = name, dict(params)
    else:
        if params:
            raise ParameterError(f"recipe parameters ({', '.join(sorted(params))}) only apply to a recipe name")
        if not monte_carlo:
            raise ParameterError("given weight matrices are always measured: monte_carlo must be True")
        weights = _weight_list(recipe_or_weights)
        if depth is not None and check.depth(depth) != len(weights):
            raise ParameterError(f"depth = {depth!r} but {len(weights)} weight matrices were given")
        L = len(weights)
        widths = [weights[0].shape[1]] + [w.shape[0] for w in weights]
        hidden_w = weights[1:] or weights
        sw2 = float(np.mean([np.sum(w * w) / w.shape[0] for w in hidden_w]))
        orth = max(_orthogonality_error(w) for w in weights) <= ORTHOGONALITY_TOLERANCE
        ensemble = "orthogonal" if orth else "gaussian"
        theory_exact = False
        notes.append(
            "given matrices: sigma_w2 measured (mean over hidden layers of |W|_F^2 / fan_out); the theory "
            f"assumes {'Haar orthogonal' if orth else 'iid Gaussian'} weights of that scale, the measured "
            "Jacobian singular values are the ground truth"
        )
        recipe, recipe_params = "weights", {}

    q, c = _mean_field(act, sw2, sb2)
    if ensemble.startswith("linear"):
        iso_args = ("linear", sw2 / 2.0 if L > 1 else sw2, 0.0, L, ensemble.split("-")[1])
    else:
        iso_args = (act, sw2, sb2, L, "gaussian" if ensemble == "gaussian" else "orthogonal")
    if math.isinf(q):
        phase = "divergent"
        notes.append(f"q grows without bound at sigma_w2 = {sw2:.6g}, sigma_b2 = {sb2:g}: no fixed point, no chi_1")
    else:
        phase = "critical" if abs(c - 1) <= CRITICAL_TOLERANCE else ("ordered" if c < 1 else "chaotic")
    try:
        crit_sw2 = float(critical_sigma_w2(act, sb2))
    except SigpropError:
        crit_sw2 = math.nan

    iso = None
    if ensemble != "structured":
        try:
            iso = isometry(*iso_args, tolerance=tol)
        except SigpropError as exc:
            notes.append(f"no spectrum theory: {exc}")

    measured = None
    if weights is not None:
        biases = _biases(rng, weights, sb2, recipe == "looks_linear")
        # scale-free phi' (relu, linear): D does not depend on q, and q* = 0 or inf would be degenerate
        q0 = q if math.isfinite(q) and (q > 0 or not _scale_free_derivative(act)) else 1.0
        x = _input(rng, act, widths[0], q0, raw=recipe == "looks_linear")
        thresholds = (iso.criteria if iso is not None else None)
        thr = tuple(cr.threshold for cr in thresholds) if thresholds else _default_thresholds()
        measured = _measure(act, weights, biases, x, linear_output, seed, tol, thr)

    if theory_exact and iso is not None:
        isometric = iso.isometric
    elif measured is not None:
        isometric = measured.isometric
    else:
        isometric = None
        notes.append("no verdict on isometry without a measurement (monte_carlo=True)")

    return InitAssessment(
        recipe=recipe, params=recipe_params, activation=act.name, sigma_b2=sb2, depth=L, widths=tuple(widths),
        sigma_w2=sw2, ensemble=ensemble, theory_exact=theory_exact, q_star=q, chi1=c, phase=phase,
        critical=phase == "critical", critical_sigma_w2=crit_sw2, isometry=iso, measured=measured,
        isometric=isometric, notes=tuple(notes),
    )


def _default_thresholds() -> tuple:
    from .isometry import ATOM_TOLERANCE, EDGE_RATIO, MEAN_TOLERANCE, SPREAD_THRESHOLD

    return MEAN_TOLERANCE, SPREAD_THRESHOLD, EDGE_RATIO, ATOM_TOLERANCE


def _biases(rng, weights, sb2: float, shared: bool) -> list[np.ndarray]:
    """N(0, sigma_b^2) biases; looks-linear shares them as [b0; -b0] in the doubled layers."""
    out = []
    for index, w in enumerate(weights):
        n = w.shape[0]
        if shared and index < len(weights) - 1 and len(weights) > 1:
            b0 = sample_biases(rng, n // 2, sb2)
            out.append(np.concatenate([b0, -b0]))
        else:
            out.append(sample_biases(rng, n, sb2))
    return out


def _g(x, digits=5) -> str:
    """isometry's number format (n/a, inf), with 5 significant digits by default."""
    return _g_isometry(x, digits)


def _format(r: InitAssessment) -> str:
    params = "".join(f", {k}={v}" for k, v in r.params.items())
    iso = "n/a" if r.isometric is None else ("ISOMETRIC" if r.isometric else "NOT ISOMETRIC")
    lines = [
        f"{r.recipe}{params} with {r.activation}: {r.phase.upper()}"
        f"{'' if r.theory_exact else ' (mean field of the effective sigma_w2)'}, {iso} "
        f"(depth {r.depth}, widths {r.widths[0]}->{r.widths[-1]}, sigma_b2 = {_g(r.sigma_b2)})",
        f"  {'quantity':<26}{'theory':>16}{'measured':>16}",
    ]
    m = r.measured

    def row(label, theory, measured):
        lines.append(f"  {label:<26}{theory:>16}{measured:>16}")

    hidden = (m.sigma_w2[1:] or m.sigma_w2) if m else ()
    row("sigma_w2 (fan_in Var W)", _g(r.sigma_w2, 8), _g(np.mean(hidden), 8) if m else "-")
    row("q* (last-layer q)", _g(r.q_star, 6), _g(m.q_last, 6) if m else "-")
    row("chi_1", _g(r.chi1, 8), _g(m.chi1, 8) if m else "-")
    if r.isometry is not None or m is not None:
        it = r.isometry
        row("E[lambda]", _g(it.mean, 6) if it else "-", _g(m.mean, 6) if m else "-")
        row("Var[lambda]/E[lambda]^2", _g(it.normalised_var, 6) if it else "-", _g(m.normalised_var, 6) if m else "-")
        row("lambda_max/E[lambda]", _g(it.edge_ratio, 6) if it else "-", _g(m.edge_ratio, 6) if m else "-")
        row("rank loss (atom at 0)", _g(it.zero_atom, 4) if it else "-", _g(m.zero_fraction, 4) if m else "-")
        row("isometric", str(it.isometric) if it else "-", str(m.isometric) if m else "-")
    if m is not None:
        lines.append(
            f"  measured singular values in [{_g(m.singular_values[0], 8)}, {_g(m.singular_values[1], 8)}] "
            f"({m.n_singular_values}); {_g(100 * m.band_fraction, 4)} % within 1 +- tolerance; "
            f"orthogonality defect {_g(m.orthogonality_error, 3)}; density {_g(m.density, 4)}"
        )
        lines.append(
            "  measured rank loss: singular values <= n eps s_max, zero in float64 (a deep ordered net "
            "loses its smallest ones to rounding)"
        )
    lines.append(
        f"  theory ensemble: {r.ensemble} ({'exact for these matrices' if r.theory_exact else 'measured values are the ground truth'});"
        f" edge of chaos at sigma_w2 = {_g(r.critical_sigma_w2, 8)}"
    )
    lines.extend(f"  note: {n}" for n in r.notes)
    return "\n".join(lines)
