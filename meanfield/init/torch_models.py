"""PyTorch modules: their structure, their input-output Jacobian, and initializing them in place.

PyTorch is optional (``pip install 'sigprop[torch]'``) and imported only inside these functions; the
rest of sigprop works without it.  Three jobs:

- :func:`module_chain`: read a module as the network of docs/conventions.md §1 when it is a chain
  (``nn.Sequential``, nested ones flattened) of Linear / Conv1d-3d layers each followed by at most one
  elementwise activation that sigprop knows, the same one throughout: ReLU, LeakyReLU (its slope,
  within [0, 1]), Tanh, Sigmoid, GELU (``approximate="none"``: the exact x Phi(x), built-in "gelu";
  ``approximate="tanh"``: the formula 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), a different
  function), SiLU, ELU (alpha), SELU, Softplus (beta: log(1 + e^(beta x)) / beta; torch switches to
  the identity above ``threshold``/beta, which changes phi by less than e^-threshold / beta, so
  thresholds >= 20 (torch's default) are accepted and smaller ones refused), Hardtanh (only
  [-1, 1]), Mish, and Identity, Flatten and inactive Dropout as no-ops.  Anything else (normalization
  layers, residual blocks, pooling, a custom ``forward``) is still measured, but without a theory: the
  reasons are listed.
- :func:`module_jacobian`: the singular values of the module's actual input-output Jacobian at an input,
  by ``torch.func.jacrev`` (``jacfwd`` when the output is larger than the input), falling back to
  ``torch.autograd.functional.jacobian`` for modules that functorch cannot vectorize (e.g. BatchNorm in
  training mode).  Buffers (BatchNorm running statistics) are restored afterwards and torch runs on one
  thread meanwhile (its previous thread count is restored).
- :func:`initialize_`: write any recipe of :data:`meanfield.init.RECIPES` into a module in place,
  seeded from a numpy Generator, float32 or float64, as ``torch.nn.init`` does for one tensor.
"""
from __future__ import annotations

import contextlib
import sys
import warnings
from dataclasses import dataclass, field

import numpy as np

from .. import validation as check
from ..activations import Activation
from ..activations import activation as _activation
from ..errors import ParameterError
from ..validation import RNGLike, generator
from .arrays import as_array
from .fans import _scalar
from .parameter_sharing import looks_linear_layers
from .recipes import ZERO_BIAS_RECIPES, recipe_builder, recipe_name

__all__ = ["is_torch_module", "ModuleChain", "module_chain", "module_jacobian", "default_input", "initialize_"]

#: Softplus thresholds below this are refused (phi would differ from softplus by more than e^-20 / beta).
SOFTPLUS_MIN_THRESHOLD = 20.0
GELU_TANH_FORMULA = "0.5*x*(1+tanh(sqrt(2/pi)*(x+0.044715*x**3)))"


def _torch():
    try:
        import torch
    except ImportError:  # pragma: no cover - exercised only without torch
        raise ParameterError("this needs PyTorch, an optional dependency: pip install 'sigprop[torch]'") from None
    return torch


def is_torch_module(obj) -> bool:
    """Whether ``obj`` is a ``torch.nn.Module`` (False without importing torch when it was never imported)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


@dataclass
class ModuleChain:
    """The structure of a module read as a dense/conv network.

    layers : [(path, Linear or Conv module)] in execution order (every such layer when no chain).
    act : the activation of the chain (None when the module is not one: see ``reasons``).
    act_text : how the activation was read (e.g. "GELU(approximate='tanh') as the formula ...").
    linear_output : the last weight layer has no activation after it.
    convolutional : some layer is a convolution (no spectrum theory: the dense free-probability
        spectrum does not describe a convolution's Jacobian).
    reasons : why the module is not a chain sigprop has a theory for (empty if it is).
    notes : other remarks (dropout in training mode, ...).
    """

    layers: list
    act: Activation | None
    act_text: str
    linear_output: bool
    convolutional: bool
    reasons: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    @property
    def is_chain(self) -> bool:
        return not self.reasons


def _weight_types(torch) -> tuple:
    nn = torch.nn
    return (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def _act_of(torch, mod) -> tuple[Activation | None, str]:
    """(the activation of a torch activation module, a description) or (None, why not)."""
    nn = torch.nn
    kind = type(mod)
    simple = {nn.ReLU: "relu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid", nn.SiLU: "silu", nn.SELU: "selu",
              nn.Mish: "mish"}
    if kind in simple:
        return _activation(simple[kind]), kind.__name__
    if kind is nn.LeakyReLU:
        slope = float(mod.negative_slope)
        if not 0.0 <= slope <= 1.0:
            return None, f"LeakyReLU(negative_slope={slope:g}): sigprop's leaky_relu needs a slope in [0, 1]"
        return _activation("leaky_relu", slope=slope), f"LeakyReLU(negative_slope={slope:g})"
    if kind is nn.ELU:
        return _activation("elu", alpha=float(mod.alpha)), f"ELU(alpha={float(mod.alpha):g})"
    if kind is nn.GELU:
        if mod.approximate == "none":
            return _activation("gelu"), "GELU (exact x Phi(x))"
        return _activation(GELU_TANH_FORMULA), f"GELU(approximate='tanh') as the formula {GELU_TANH_FORMULA}"
    if kind is nn.Softplus:
        beta, threshold = float(mod.beta), float(mod.threshold)
        if threshold < SOFTPLUS_MIN_THRESHOLD:
            return None, (f"Softplus(threshold={threshold:g}) is linear above x = threshold/beta; only thresholds "
                          f">= {SOFTPLUS_MIN_THRESHOLD:g} (where that changes phi by < e^-20/beta) are supported")
        if beta == 1.0:
            return _activation("softplus"), "Softplus (log(1 + e^x))"
        formula = f"log(1+exp({beta!r}*x))/{beta!r}"
        return _activation(formula), f"Softplus(beta={beta:g}) as the formula {formula}"
    if kind is nn.Hardtanh:
        if float(mod.min_val) == -1.0 and float(mod.max_val) == 1.0:
            return _activation("hardtanh"), "Hardtanh"
        return None, f"Hardtanh(min_val={float(mod.min_val):g}, max_val={float(mod.max_val):g}): only [-1, 1] is built in"
    return None, f"{kind.__name__} is not a Linear/Conv layer or an elementwise activation sigprop knows"


def _leaves(torch, module, prefix=""):
    """(path, module) of the leaves of nested nn.Sequential containers, in execution order."""
    if isinstance(module, torch.nn.Sequential):
        for name, child in module.named_children():
            yield from _leaves(torch, child, f"{prefix}.{name}" if prefix else name)
    else:
        yield prefix or type(module).__name__, module


def module_chain(module) -> ModuleChain:
    """Read ``module`` as a chain of weight layers and one activation (see the module docstring)."""
    torch = _torch()
    nn = torch.nn
    weight_types = _weight_types(torch)
    every = [(name, m) for name, m in module.named_modules() if isinstance(m, weight_types)]
    notes = [f"dropout is active at {name!r} (training mode): the Jacobian is that of one random mask; "
             "call model.eval() for the deterministic network" for name, m in module.named_modules()
             if isinstance(m, nn.modules.dropout._DropoutNd) and m.training and m.p > 0]
    reasons, layers, acts, linear_output = [], [], [], True
    if not isinstance(module, (nn.Sequential,) + weight_types):
        reasons.append(f"{type(module).__name__} has its own forward(): its structure cannot be read (use nn.Sequential)")
    else:
        for path, leaf in _leaves(torch, module):
            if isinstance(leaf, weight_types):
                if type(leaf) not in weight_types or (not isinstance(leaf, nn.Linear) and leaf.groups != 1):
                    reasons.append(f"{type(leaf).__name__} at {path!r}: only plain Linear and Conv layers (groups=1)")
                if layers and linear_output:
                    reasons.append(f"no activation between the weight layers {layers[-1][0]!r} and {path!r}")
                layers.append((path, leaf))
                linear_output = True
            elif isinstance(leaf, (nn.Identity, nn.Flatten)) or (
                isinstance(leaf, nn.modules.dropout._DropoutNd) and not (leaf.training and leaf.p > 0)
            ):
                continue
            else:
                act, text = _act_of(torch, leaf)
                if act is None:
                    reasons.append(f"{text} (at {path!r})")
                elif not layers or not linear_output:
                    reasons.append(f"{text} at {path!r} does not follow a weight layer")
                else:
                    acts.append((path, act, text))
                    linear_output = False
    if not every:
        reasons.append("no Linear or Conv layer")
    kinds = {(a.name, tuple(sorted(a.params.items()))) for _, a, _ in acts}
    if len(kinds) > 1:
        reasons.append("different activations (" + ", ".join(f"{t} at {p!r}" for p, _, t in acts)
                       + "): the theory has one activation per network")
    act, text = (acts[0][1], acts[0][2]) if acts and len(kinds) == 1 else (None, "")
    if not acts and len(layers) == 1 and not reasons:
        act, text, linear_output = _activation("linear"), "none (one weight layer)", False
    chain_layers = layers if not reasons else every
    convolutional = any(not isinstance(m, nn.Linear) for _, m in chain_layers)
    return ModuleChain(chain_layers, act if not reasons else None, text, linear_output, convolutional, reasons, notes)


def layer_arrays(chain: ModuleChain) -> tuple[list, list, list, list]:
    """(names, weights as float64, their dtypes, biases or None) of the chain's layers."""
    names, weights, dtypes, biases = [], [], [], []
    for index, (name, layer) in enumerate(chain.layers, start=1):
        w, dtype = as_array(f"layer {index} ({name!r}) weights", layer.weight)
        names.append(name)
        weights.append(w)
        dtypes.append(dtype)
        biases.append(None if layer.bias is None else as_array(f"layer {index} ({name!r}) biases", layer.bias)[0])
    return names, weights, dtypes, biases


def _parameter(module):
    torch = _torch()
    for p in module.parameters():
        return p
    return torch.zeros(())


def default_input(module, x0: np.ndarray):
    """The input x0 (a numpy vector for the first Linear layer) as a (1, n_0) tensor of the module's dtype."""
    torch = _torch()
    p = _parameter(module)
    return torch.as_tensor(x0[None, :], dtype=p.dtype, device=p.device)


def as_input_tensor(module, value):
    """A user input for ``module``: a tensor or array, cast to the module's dtype and device."""
    torch = _torch()
    p = _parameter(module)
    if isinstance(value, torch.Tensor):
        return value.detach().to(dtype=p.dtype, device=p.device)
    arr, _ = as_array("input", value)
    return torch.as_tensor(arr, dtype=p.dtype, device=p.device)


@contextlib.contextmanager
def _one_thread_restoring_buffers(torch, module):
    threads = torch.get_num_threads()
    saved = {name: b.detach().clone() for name, b in module.named_buffers()}
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        with torch.no_grad():
            for name, b in module.named_buffers():
                if name in saved:
                    b.copy_(saved[name])


def module_jacobian(module, x) -> tuple[np.ndarray, int, int, float]:
    """(singular values of J = d module(x) / d x, output size, input size, eps of the dtype J was computed in).

    J is the Jacobian of the flattened output with respect to the flattened input as given: for a batch
    of B inputs of a per-example module it is block diagonal, so its singular values are those of the B
    per-example Jacobians together; batch-coupled layers (BatchNorm in training mode) are included as
    they act.
    """
    torch = _torch()
    with _one_thread_restoring_buffers(torch, module):
        x = x.detach().clone()
        try:
            with torch.no_grad():
                out = module(x)
        except Exception as exc:  # noqa: BLE001 - the module's own complaint, in one line, no tensor contents
            first = str(exc).splitlines()[0][:200] if str(exc) else ""
            raise ParameterError(
                f"{type(module).__name__} cannot take an input of shape {tuple(x.shape)} ({type(exc).__name__}: "
                f"{first}); pass input= with the shape it expects"
            ) from None
        if not isinstance(out, torch.Tensor):
            raise ParameterError(f"the module returned {type(out).__name__}; a single tensor output is needed")
        n_out, n_in = out.numel(), x.numel()
        check.memory(f"the {n_out} x {n_in} Jacobian of the module", 16.0 * n_out * n_in)

        def flat(inp):
            return module(inp).reshape(-1)

        try:
            with warnings.catch_warnings():  # forward-mode AD loads decompositions through torch.jit.script
                warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=DeprecationWarning)
                jac = (torch.func.jacrev if n_out <= n_in else torch.func.jacfwd)(flat)(x)
        except (RuntimeError, NotImplementedError, ValueError):  # functorch cannot vectorize this module
            jac = torch.autograd.functional.jacobian(flat, x, vectorize=False)
        eps = float(torch.finfo(jac.dtype).eps)
        matrix = jac.detach().reshape(n_out, n_in).to(dtype=torch.float64, device="cpu").numpy()
    if not np.all(np.isfinite(matrix)):
        raise ParameterError("the module's Jacobian at this input has NaN or infinite entries (overflow in its dtype?)")
    return np.linalg.svd(matrix, compute_uv=False), int(n_out), int(n_in), eps


def initialize_(module, recipe: str, activation=None, sigma_b2: float = 0.0, seed: RNGLike = None, **params):
    """Initialize every Linear/Conv layer of ``module`` in place with a recipe of :data:`RECIPES`.

    Layers are visited in ``module.named_modules()`` order; for each, the weights are drawn with the
    recipe's numpy initializer (shape (fan_out, fan_in, *kernel), as ``torch.nn.init``) and then the
    biases b_i ~ N(0, sigma_b^2), from one numpy Generator built from ``seed``, and copied into the
    parameters in their own dtype (float32 or float64) and device.  Layers without a bias keep none.
    ``"weightnorm"`` and ``"idinit"`` set zero biases (sigma_b2 must be 0); ``"looks_linear"`` needs a
    chain of Linear layers with even hidden widths 2 n_l and writes the shared biases [b0; -b0].
    ``"critical"`` and ``"kumar"`` need the activation: ``activation`` or the one read from the module.

    Parameters
    ----------
    module : torch.nn.Module
    recipe : str
        A name in :data:`RECIPES`; its parameters as keyword arguments (``gain=``, ``density=``, ...).
    activation : activation name, formula or :class:`meanfield.Activation`, optional
    sigma_b2 : float
        Bias variance (>= 0).
    seed : int, Generator or None

    Returns
    -------
    the module (initialized in place)
    """
    torch = _torch()
    if not is_torch_module(module):
        raise ParameterError(f"initialize_ takes a torch.nn.Module, got {type(module).__name__}")
    name = recipe_name(recipe)
    sb2 = _scalar("sigma_b2", sigma_b2)
    if name in ZERO_BIAS_RECIPES and sb2 != 0:
        raise ParameterError(f"recipe {name!r} sets the biases to zero; sigma_b2 must be 0, got {sigma_b2!r}")
    chain = module_chain(module)
    if not chain.layers:
        raise ParameterError(f"{type(module).__name__} has no Linear or Conv layer to initialize")
    act = None
    if activation is not None:
        act = _activation(activation)
    elif name in ("critical", "kumar"):
        if chain.act is None:
            raise ParameterError(
                f"recipe {name!r} needs the activation: pass activation=... (the module's could not be read: "
                + "; ".join(chain.reasons) + ")"
            )
        act = chain.act
    rng = generator(seed)
    if name == "looks_linear":
        arrays = _looks_linear_arrays(chain, sb2, params, rng)
    else:
        build, _ = recipe_builder(name, act, sb2, params)
        arrays = []
        for _, layer in chain.layers:
            w = build(tuple(layer.weight.shape), rng)
            b = None if layer.bias is None else np.sqrt(sb2) * rng.standard_normal(layer.bias.shape[0])
            arrays.append((w, b))
    with torch.no_grad():
        for (_, layer), (w, b) in zip(chain.layers, arrays):
            layer.weight.copy_(torch.as_tensor(np.asarray(w), dtype=layer.weight.dtype, device=layer.weight.device))
            if layer.bias is not None:
                layer.bias.copy_(torch.as_tensor(np.asarray(b), dtype=layer.bias.dtype, device=layer.bias.device))
    return module


def _looks_linear_arrays(chain: ModuleChain, sb2: float, params: dict, rng) -> list:
    """The physical looks-linear layers for the chain's Linear layers (template widths halved inside)."""
    torch = _torch()
    extra = set(params) - {"orthogonal", "sigma_w2"}
    if extra:
        raise ParameterError(f"recipe 'looks_linear' takes orthogonal, sigma_w2; got {', '.join(sorted(extra))}")
    if not chain.is_chain or any(not isinstance(m, torch.nn.Linear) for _, m in chain.layers):
        raise ParameterError("looks_linear needs an nn.Sequential chain of Linear layers (and relu activations)")
    shapes = [tuple(m.weight.shape) for _, m in chain.layers]
    depth = len(shapes)
    hidden = [s[0] for s in shapes[:-1]]
    if depth > 1 and any(n % 2 for n in hidden):
        raise ParameterError(f"looks_linear needs even hidden widths 2 n_l, got {hidden}")
    widths = [shapes[0][1]] + [n // 2 for n in hidden] + [shapes[-1][0]] if depth > 1 else [shapes[0][1], shapes[0][0]]
    layers = list(looks_linear_layers(widths, params.get("orthogonal", True), rng, params.get("sigma_w2", 1.0), sb2))
    for index, ((w, _), shape) in enumerate(zip(layers, shapes), start=1):
        if w.shape != shape:
            raise ParameterError(f"looks_linear layer {index} has shape {w.shape}, the module's layer {shape}")
    return layers
