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
from typing import Callable

import numpy as np

from .. import validation as check
from ..activations import activation
from ..errors import DivergentFixedPointError, ParameterError, SigpropError
from ..maps import CRITICAL_TOLERANCE, chi1, fixed_point
from ..spectra.isometry import BAND_TOLERANCE, IsometryReport, _jsonable, isometry
from ..spectra.isometry import _g as _g_isometry
from ..validation import RNGLike, generator
from .fans import _gain2, _scalar
from .isometric import eoi, idinit, orthogonal
from ..simulate.networks import single_threaded_blas
from .measurement import (
    ORTHOGONALITY_TOLERANCE,
    MeasuredNetwork,
    default_thresholds,
    measure,
    orthogonality_error,
    prepared_input,
    sample_network_biases,
)
from .parameter_sharing import looks_linear
from .scaling import critical_sigma_w2, gaussian, glorot, he, kumar_sigma_w2, lecun, uniform, weightnorm

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
# the verdict
# ----------------------------------------------------------------------------------------------
@dataclass
class _Network:
    """The network to judge: how it was specified, the theory's view of its weights, and the matrices."""

    recipe: str
    params: dict
    widths: list
    sigma_w2: float  # effective fan_in Var(W_ij) of a hidden layer
    ensemble: str
    theory_exact: bool
    weights: list | None
    linear_output: bool = False
    notes: list = field(default_factory=list)

    @property
    def depth(self) -> int:
        return len(self.widths) - 1


@dataclass
class _Theory:
    q_star: float
    chi1: float
    phase: str
    critical_sigma_w2: float
    isometry: IsometryReport | None
    notes: list


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


def _recipe_widths(depth, width, shape) -> list[int]:
    """[width] * (L + 1), or [fan_in] + [fan_out] * L when the first layer's ``shape`` is given."""
    width = check.positive_int("width", width)
    if shape is None:
        return [width] * (check.depth(10 if depth is None else depth) + 1)
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__") or len(shape) != 2:
        raise ParameterError(f"shape must be (fan_out, fan_in) of a dense layer, got {shape!r}")
    n_out, n_in = (check.positive_int("shape entry", n) for n in shape)
    return [n_in] + [n_out] * check.depth(1 if depth is None else depth)


def _looks_linear_network(act, widths, params, monte_carlo, rng) -> _Network:
    extra = set(params) - {"orthogonal", "sigma_w2"}
    if extra:
        raise ParameterError(f"recipe 'looks_linear' takes orthogonal, sigma_w2; got {', '.join(sorted(extra))}")
    ortho = params.get("orthogonal", True)
    template_sw2 = _scalar("sigma_w2", params.get("sigma_w2", 1.0))
    weights = looks_linear(widths, orthogonal=ortho, seed=rng, sigma_w2=template_sw2) if monte_carlo else None
    depth = len(widths) - 1
    net = _Network(
        "looks_linear", dict(params), widths,
        2.0 * template_sw2 if depth > 1 else template_sw2,  # physical hidden layer [[W0, -W0], [-W0, W0]]
        "linear-orthogonal" if ortho else "linear-gaussian", True, weights, linear_output=True,
    )
    net.notes.append(
        "looks-linear: the physical net computes the linear template map W0^L ... W0^1 exactly "
        "(relu(u) - relu(-u) = u), so its Jacobian is that of a linear "
        f"{'orthogonal' if ortho else 'Gaussian'} net with sigma_w2 = {template_sw2:g}; the output layer "
        "is linear (no D^L); the theory below is that linear net's"
    )
    if act.name != "relu":
        net.notes.append(f"looks-linear relies on relu(u) - relu(-u) = u; with {act.name} the identity fails")
        net.theory_exact = False
    return net


def _recipe_network(recipe, act, sb2, depth, width, shape, monte_carlo, rng, params) -> _Network:
    """A network of the named recipe: its effective sigma_w^2 and ensemble, and (``monte_carlo``) its matrices."""
    name = recipe.strip().lower().replace("-", "_")
    if name not in RECIPES:
        raise ParameterError(f"unknown recipe {recipe!r}; known recipes: {', '.join(RECIPES)}")
    widths = _recipe_widths(depth, width, shape)
    if name == "looks_linear":
        return _looks_linear_network(act, widths, params, monte_carlo, rng)
    build, sw2_of = _recipe(name, act, sb2, params)
    hidden = (widths[-1], widths[-2])
    notes = []
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
    return _Network(name, dict(params), widths, float(sw2_of(hidden)), ensemble, theory_exact, weights, notes=notes)


def _given_network(weights, depth, monte_carlo, params) -> _Network:
    """A network of given matrices: sigma_w^2 and the ensemble measured from them."""
    if params:
        raise ParameterError(f"recipe parameters ({', '.join(sorted(params))}) only apply to a recipe name")
    if not monte_carlo:
        raise ParameterError("given weight matrices are always measured: monte_carlo must be True")
    weights = _weight_list(weights)
    if depth is not None and check.depth(depth) != len(weights):
        raise ParameterError(f"depth = {depth!r} but {len(weights)} weight matrices were given")
    widths = [weights[0].shape[1]] + [w.shape[0] for w in weights]
    hidden = weights[1:] or weights
    sw2 = float(np.mean([np.sum(w * w) / w.shape[0] for w in hidden]))
    orth = max(orthogonality_error(w) for w in weights) <= ORTHOGONALITY_TOLERANCE
    net = _Network("weights", {}, widths, sw2, "orthogonal" if orth else "gaussian", False, weights)
    net.notes.append(
        "given matrices: sigma_w2 measured (mean over hidden layers of |W|_F^2 / fan_out); the theory "
        f"assumes {'Haar orthogonal' if orth else 'iid Gaussian'} weights of that scale, the measured "
        "Jacobian singular values are the ground truth"
    )
    return net


def _theory(act, net: _Network, sb2: float, tol: float) -> _Theory:
    """Mean field (q*, chi_1, phase, edge of chaos) and the isometry report of the theory's ensemble."""
    q, c = _mean_field(act, net.sigma_w2, sb2)
    notes = []
    if math.isinf(q):
        phase = "divergent"
        notes.append(f"q grows without bound at sigma_w2 = {net.sigma_w2:.6g}, sigma_b2 = {sb2:g}: no fixed point, no chi_1")
    else:
        phase = "critical" if abs(c - 1) <= CRITICAL_TOLERANCE else ("ordered" if c < 1 else "chaotic")
    try:
        crit_sw2 = float(critical_sigma_w2(act, sb2))
    except SigpropError:
        crit_sw2 = math.nan
    L = net.depth
    if net.ensemble.startswith("linear"):
        iso_args = ("linear", net.sigma_w2 / 2.0 if L > 1 else net.sigma_w2, 0.0, L, net.ensemble.split("-")[1])
    else:
        iso_args = (act, net.sigma_w2, sb2, L, "gaussian" if net.ensemble == "gaussian" else "orthogonal")
    iso = None
    if net.ensemble != "structured":
        try:
            iso = isometry(*iso_args, tolerance=tol)
        except SigpropError as exc:
            notes.append(f"no spectrum theory: {exc}")
    return _Theory(q, c, phase, crit_sw2, iso, notes)


def _measurement(act, net: _Network, theory: _Theory, sb2: float, rng, seed, tol) -> MeasuredNetwork:
    """Biases, an input at the theory's q*, and the measured Jacobian of the network's matrices."""
    shared = net.recipe == "looks_linear"
    biases = sample_network_biases(rng, net.weights, sb2, shared)
    q = theory.q_star
    # scale-free phi' (relu, linear): D does not depend on q, and q* = 0 or inf would be degenerate
    q0 = q if math.isfinite(q) and (q > 0 or not act.scale_free_derivative) else 1.0
    x = prepared_input(rng, act, net.widths[0], q0, raw=shared)
    iso = theory.isometry
    thresholds = tuple(cr.threshold for cr in iso.criteria) if iso is not None else default_thresholds()
    return measure(act, net.weights, biases, x, net.linear_output, seed, tol, thresholds)


@single_threaded_blas
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
    rng = generator(seed)

    if isinstance(recipe_or_weights, str):
        net = _recipe_network(recipe_or_weights, act, sb2, depth, width, shape, monte_carlo, rng, params)
    else:
        net = _given_network(recipe_or_weights, depth, monte_carlo, params)
    theory = _theory(act, net, sb2, tol)
    measured = _measurement(act, net, theory, sb2, rng, seed, tol) if net.weights is not None else None
    return _verdict(act, net, theory, measured, sb2)


def _verdict(act, net: _Network, theory: _Theory, measured: MeasuredNetwork | None, sb2: float) -> InitAssessment:
    """The theory's verdict where it is exact for these matrices, else the measured one."""
    notes = net.notes + theory.notes
    if net.theory_exact and theory.isometry is not None:
        isometric = theory.isometry.isometric
    elif measured is not None:
        isometric = measured.isometric
    else:
        isometric = None
        notes.append("no verdict on isometry without a measurement (monte_carlo=True)")
    return InitAssessment(
        recipe=net.recipe, params=net.params, activation=act.name, sigma_b2=sb2, depth=net.depth,
        widths=tuple(net.widths), sigma_w2=net.sigma_w2, ensemble=net.ensemble, theory_exact=net.theory_exact,
        q_star=theory.q_star, chi1=theory.chi1, phase=theory.phase, critical=theory.phase == "critical",
        critical_sigma_w2=theory.critical_sigma_w2, isometry=theory.isometry, measured=measured,
        isometric=isometric, notes=tuple(notes),
    )


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
