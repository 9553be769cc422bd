"""The recipes :func:`meanfield.init.assess` and :func:`meanfield.init.initialize_` know, as networks to judge.

Each recipe name maps to a builder (shape, rng) -> W and its effective mean-field scale
sigma_w^2 = fan_in Var(W_ij) = E|W|_F^2 / fan_out (docs/conventions.md §1); :func:`recipe_network`
turns a name into a :class:`NetworkSpec`, the description of a network that the assessment judges
(widths, the theory's sigma_w^2 and weight ensemble, the sampled matrices).  Given matrices and torch
modules become a :class:`NetworkSpec` in :mod:`meanfield.init.assessment`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .. import validation as check
from ..errors import ParameterError
from .fans import _gain2, _scalar
from .isometric import eoi, idinit, orthogonal
from .parameter_sharing import looks_linear
from .scaling import critical_sigma_w2, gaussian, glorot, he, kumar_sigma_w2, lecun, uniform, weightnorm

__all__ = ["RECIPES", "MEASURED_RECIPES", "ZERO_BIAS_RECIPES", "NetworkSpec", "recipe_name", "recipe_builder",
           "recipe_network"]

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


def recipe_builder(name: str, act, sigma_b2: float, params: dict) -> tuple[Callable, Callable[[tuple], float]]:
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

#: Recipes whose biases are zero (Arpit et al.'s WeightNorm, IDInit's identity map): sigma_b2 must be 0.
ZERO_BIAS_RECIPES = ("weightnorm", "idinit")


@dataclass
class NetworkSpec:
    """The network to judge: how it was specified, the theory's view of its weights, and the arrays.

    sigma_w2 (sigma_w2_se) : the theory's fan_in Var(W_ij) of a hidden layer (layers 2..L; layer 1 for
        L = 1) and its standard error (0 for a recipe: the value is the recipe's).
    sigma_b2 (sigma_b2_se) : the bias variance and its standard error.
    first_sigma_w2 : layer 1's sigma_w^2 (q^1 = sigma_w^2 q0 + sigma_b^2).
    ensemble : the theory's weight ensemble ("gaussian", "orthogonal", "linear-orthogonal",
        "linear-gaussian", "structured"; "none": no theory for this network).
    theory_exact : whether the theory describes these matrices' distribution.
    weights, biases : dense float64 matrices and bias vectors (None: biases drawn N(0, sigma_b2)).
    layers : per-layer statistics of the arrays.  module, chain : a torch module and its structure.
    spectrum_theory : whether the free-probability spectrum applies (dense layers).
    """

    recipe: str
    params: dict
    widths: list
    sigma_w2: float
    ensemble: str
    theory_exact: bool
    weights: list | None
    sigma_b2: float = 0.0
    sigma_w2_se: float = 0.0
    sigma_b2_se: float = 0.0
    first_sigma_w2: float | None = None
    biases: list | None = None
    layers: tuple = ()
    linear_output: bool = False
    module: Any = None
    chain: Any = None
    spectrum_theory: bool = True
    notes: list = field(default_factory=list)

    @property
    def depth(self) -> int:
        return len(self.widths) - 1


def recipe_name(recipe) -> str:
    """The canonical name of a recipe ("looks-linear" -> "looks_linear"), or a ParameterError."""
    name = recipe.strip().lower().replace("-", "_") if isinstance(recipe, str) else None
    if name not in RECIPES:
        raise ParameterError(f"unknown recipe {check.shown(recipe)}; known recipes: {', '.join(RECIPES)}")
    return name


def _recipe_widths(depth, width, shape) -> list[int]:
    """[width] * (L + 1), or [fan_in] + [fan_out] * L when the first layer's ``shape`` is given."""
    width = check.positive_int("width", width)
    if shape is None:
        return [width] * (check.depth(10 if depth is None else depth) + 1)
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__") or len(shape) != 2:
        raise ParameterError(f"shape must be (fan_out, fan_in) of a dense layer, got {shape!r}")
    n_out, n_in = (check.positive_int("shape entry", n) for n in shape)
    return [n_in] + [n_out] * check.depth(1 if depth is None else depth)


def _looks_linear_network(act, widths, params, monte_carlo, rng) -> NetworkSpec:
    extra = set(params) - {"orthogonal", "sigma_w2"}
    if extra:
        raise ParameterError(f"recipe 'looks_linear' takes orthogonal, sigma_w2; got {', '.join(sorted(extra))}")
    ortho = params.get("orthogonal", True)
    template_sw2 = _scalar("sigma_w2", params.get("sigma_w2", 1.0))
    weights = looks_linear(widths, orthogonal=ortho, seed=rng, sigma_w2=template_sw2) if monte_carlo else None
    depth = len(widths) - 1
    net = NetworkSpec(
        "looks_linear", dict(params), widths,
        2.0 * template_sw2 if depth > 1 else template_sw2,  # physical hidden layer [[W0, -W0], [-W0, W0]]
        "linear-orthogonal" if ortho else "linear-gaussian", True, weights, linear_output=True,
        first_sigma_w2=template_sw2,  # [W0; -W0]: fan_in n_0, Var = template sigma_w2 / n_0
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


def recipe_network(recipe, act, sb2, depth, width, shape, monte_carlo, rng, params) -> NetworkSpec:
    """A network of the named recipe: its effective sigma_w^2 and ensemble, and (``monte_carlo``) its matrices."""
    name = recipe_name(recipe)
    widths = _recipe_widths(depth, width, shape)
    if name == "looks_linear":
        net = _looks_linear_network(act, widths, params, monte_carlo, rng)
        net.sigma_b2 = sb2
        return net
    build, sw2_of = recipe_builder(name, act, sb2, params)
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
    return NetworkSpec(
        name, dict(params), widths, float(sw2_of(hidden)), ensemble, theory_exact, weights, sigma_b2=sb2,
        first_sigma_w2=float(sw2_of((widths[1], widths[0]))), notes=notes,
    )


