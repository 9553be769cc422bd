"""What a sweep samples: a quantity of sampled networks, its per-network arrays, rows and theory.

A :class:`SweepQuantity` turns one configuration (a dict with the keys ``activation``,
``sigma_w2``, ``sigma_b2``, ``depth``, ``width``, ``weights`` and its own options) into

- ``prepare(config)``: the checked configuration as JSON-able values (what the store's manifest
  records), with everything a worker needs resolved once on the client (q* for the Jacobian);
- ``sample(config, streams)``: per-network arrays (leading axis = networks) for a chunk of networks,
  one :class:`~meanfield.simulate.NetworkStreams` stream each, so row k depends on network k only;
- ``samples(config, arrays, seed)``: the result object of the single-process sampler
  (:class:`JacobianSamples`, :class:`SignalStatistics`, ...) for all networks of a configuration;
- ``rows(config, arrays)``: scalar columns, one value per network (the tidy table);
- ``theory(config)``: the infinite-width value of each row's mean (mean field, free probability);
- ``flops(config)``, ``memory(config)``: cost and peak memory per network (bytes), stated so that a
  task's memory can be bounded.

Built in: ``"jacobian"`` (:func:`jacobian_singular_values`) and ``"signal"`` (:func:`signal_statistics`).
Other packages register theirs with :func:`register_quantity` (``import exact`` adds ``"exact"``);
:func:`meanfield.simulate.sweep` also takes a quantity object directly.  meanfield itself never
imports those packages (docs/architecture.md).  Quantities cross process boundaries by pickling:
define them at module level in an importable module.
"""
from __future__ import annotations

import functools
from typing import Mapping

import numpy as np

from .. import validation as check
from ..activations import Activation, activation
from ..errors import ParameterError
from ..kernels import kernel
from ..maps import chi1
from ..trajectory import trajectory
from .jacobians import _jacobian_arrays, _jacobian_q, _jacobian_samples
from .networks import SignalStatistics, _weights_kind, signal_statistics
from .streams import NetworkStreams

__all__ = ["SweepQuantity", "JacobianQuantity", "SignalQuantity", "register_quantity", "get_quantity", "QUANTITIES"]

#: Keys every configuration has (``weights`` may be left out: each quantity has its default).
CONFIG_KEYS = ("activation", "sigma_w2", "sigma_b2", "depth", "width", "weights")
#: float64 bytes
_F8 = 8


@functools.lru_cache(maxsize=64)
def _activation(name: str, params: tuple) -> Activation:
    """The activation of a prepared configuration (cached: formulas are parsed once per process)."""
    return activation(name, **dict(params))


def config_activation(config: Mapping) -> Activation:
    """The :class:`Activation` of a prepared configuration."""
    return _activation(config["activation"], tuple(sorted(config["activation_params"].items())))


class SweepQuantity:
    """Base class of what a sweep samples (see the module docstring for the methods).

    Subclasses set ``name`` (recorded in the store), ``weights`` (the default ensemble) and
    ``options`` (their own configuration keys with defaults; None means "resolved by prepare").
    """

    name: str = ""
    weights: str = "gaussian"
    options: Mapping[str, object] = {}

    def __repr__(self) -> str:
        return f"<sweep quantity {self.name!r}>"

    # -- configuration ----------------------------------------------------------------------------
    def prepare(self, config: Mapping) -> dict:
        """The common keys checked and made JSON-able: activation as (name, params), floats, ints.

        Raises a :class:`~meanfield.errors.SigpropError` naming the bad key, value and what is allowed.
        """
        if not isinstance(config, Mapping):
            raise ParameterError(f"a configuration is a dict with the keys {', '.join(CONFIG_KEYS)}; got {config!r}")
        allowed = set(CONFIG_KEYS) | {"activation_params"} | set(self.options)
        unknown = sorted(set(config) - allowed)
        if unknown:
            raise ParameterError(
                f"unknown configuration key(s) {', '.join(map(repr, unknown))} for the {self.name!r} quantity; "
                f"allowed: {', '.join(sorted(allowed))}"
            )
        missing = [k for k in CONFIG_KEYS if k != "weights" and k not in config]
        if missing:
            raise ParameterError(f"configuration {dict(config)!r} lacks the key(s) {', '.join(missing)}")
        name, params = _activation_spec(config["activation"], config.get("activation_params") or {})
        out = {
            "activation": name,
            "activation_params": params,
            "sigma_w2": check.nonnegative("sigma_w2", config["sigma_w2"], scalar=True),
            "sigma_b2": check.nonnegative("sigma_b2", config["sigma_b2"], scalar=True),
            "depth": check.depth(config["depth"]),
            "width": check.positive_int("width", config["width"]),
            "weights": _weights_kind(config.get("weights", self.weights)),
        }
        for key, default in self.options.items():
            out[key] = config.get(key, default)
        return out

    # -- the work of a task -----------------------------------------------------------------------
    def sample(self, config: dict, streams: NetworkStreams) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def samples(self, config: dict, arrays: dict[str, np.ndarray], seed) -> object:
        raise NotImplementedError

    def rows(self, config: dict, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def theory(self, config: dict) -> dict[str, float]:
        return {}

    def flops(self, config: dict) -> float:
        return 0.0

    def memory(self, config: dict) -> int:
        raise NotImplementedError


def _activation_spec(spec, params) -> tuple[str, dict]:
    """(name, params) that rebuild the activation in another process: a built-in name or a formula
    (or an Activation made from one); Python callables cannot be sent or stored."""
    if isinstance(spec, Activation):
        if spec.expr is None:
            raise ParameterError(
                f"activation {spec.name!r} is a Python callable: a sweep sends configurations to other "
                "processes and stores them, so give a built-in name or a formula in x"
            )
        if params:
            raise ParameterError("activation_params cannot be given together with an Activation instance")
        spec, params = spec.name, dict(spec.params)
    if not isinstance(spec, str):
        raise ParameterError(f"activation must be a built-in name or a formula in x, got {spec!r}")
    if not isinstance(params, Mapping):
        raise ParameterError(f"activation_params must be a dict of numbers, got {params!r}")
    values = {str(k): check.real_array(f"activation parameter {k}", v) for k, v in params.items()}
    scalar = [k for k, v in values.items() if v.ndim != 0]
    if scalar:
        raise ParameterError(f"activation parameter(s) {', '.join(scalar)} must be single numbers, got {params!r}")
    params = {k: float(v) for k, v in values.items()}
    act = activation(spec, **params)  # checks the name or formula and the parameters
    return act.name, dict(act.params)


# ----------------------------------------------------------------------------------------------
# the built-in quantities
# ----------------------------------------------------------------------------------------------
class JacobianQuantity(SweepQuantity):
    """Eigenvalues of J J^T of sampled networks (:func:`jacobian_singular_values`; docs/conventions.md §4).

    Option ``q0``: the input's second moment |x^0|^2 / N (None: the input prepared at q*, as in
    :func:`jacobian_singular_values`).  Arrays per network: ``log_lam`` (N,), ``log_scale``, ``active_fraction`` (L,),
    ``d2_mean`` (L,), ``bernoulli``; rows: ``mean_lambda`` = tr(J J^T)/N, ``log_lambda_max``,
    ``min_active_fraction``.  Theory of ``mean_lambda``: E[lambda] = prod_l chi_1(q^l) along the
    mean-field trajectory q^1 = sigma_w^2 q0 + sigma_b^2, q^{l+1} = sigma_w^2 V(q^l) + sigma_b^2
    (:func:`meanfield.trajectory`); prepared at q*, every q^l = q* and this is the free-probability mean
    chi_1^L (Pennington, Schoenholz & Ganguli 2017); finite-width corrections are O(1/N).
    Cost: 2 (L - 1) N^3 flops of products per network (the Haar QR of orthogonal weights and the
    final SVD come on top).  Memory per network: 8 N x N float64 arrays with orthogonal weights, 5
    with Gaussian ones (the running product and its work array, W^l and the next layer's draws; the
    QR's copies and workspace; measured peaks 7.1-7.3 and 4.1 N^2 with tracemalloc).
    """

    name = "jacobian"
    weights = "orthogonal"
    options = {"q0": None}

    def prepare(self, config: Mapping) -> dict:
        out = super().prepare(config)
        if out["q0"] is None:
            _jacobian_q(config_activation(out), out["sigma_w2"], out["sigma_b2"])  # q* exists: checked here
        else:
            out["q0"] = check.nonnegative("q0", out["q0"], scalar=True)
        return out

    @staticmethod
    def _q_star(config) -> float | None:
        """q* the input is prepared at when the configuration gives no q0 (else None)."""
        if config["q0"] is not None:
            return None
        return _jacobian_q(config_activation(config), config["sigma_w2"], config["sigma_b2"])

    def sample(self, config, streams):
        return _jacobian_arrays(
            config_activation(config), config["sigma_w2"], config["sigma_b2"], config["depth"], config["width"],
            config["weights"], config["q0"], self._q_star(config), streams, len(streams),
        )

    def samples(self, config, arrays, seed):
        return _jacobian_samples(
            config_activation(config), config["sigma_w2"], config["sigma_b2"], config["depth"], config["width"],
            config["weights"], seed, config["q0"], self._q_star(config), arrays,
        )

    def rows(self, config, arrays):
        log_lam = arrays["log_lam"]
        with np.errstate(over="ignore"):
            mean = np.exp(log_lam).mean(axis=1)
        return {
            "mean_lambda": mean,
            "log_lambda_max": log_lam[:, -1],
            "min_active_fraction": arrays["active_fraction"].min(axis=1),
        }

    def theory(self, config):
        act = config_activation(config)
        sw2, sb2, L = config["sigma_w2"], config["sigma_b2"], config["depth"]
        q_star = self._q_star(config)
        if q_star is not None:
            log_mean = L * np.log(float(chi1(act, sw2, sb2, q=q_star)))
        else:
            log_mean = trajectory(act, sw2, sb2, L, config["q0"]).log_mean
        return {"mean_lambda": float(np.exp(log_mean))}

    def flops(self, config):
        return 2.0 * (config["depth"] - 1) * float(config["width"]) ** 3

    def memory(self, config):
        return (8 if config["weights"] == "orthogonal" else 5) * _F8 * config["width"] ** 2


class SignalQuantity(SweepQuantity):
    """Empirical q^l and c^l of one or two inputs (:func:`signal_statistics`; Poole et al. 2016).

    Options: ``n0`` (input dimension, default ``width``), ``q0`` = |x|^2 / n_0 (default 1) and ``c0``,
    the inputs' cosine (None: one input).  The inputs are x1 = sqrt(n0 q0) u1 and
    x2 = sqrt(n0 q0) (c0 u1 + sqrt(1 - c0^2) u2) with u1 = (1, ..., 1)/sqrt(n0) and u2 the first
    basis vector made orthogonal to u1 (the weight laws are rotation invariant, so only q0 and c0
    matter).  Arrays per network: ``q`` (L, n_inputs), ``q12``, ``c`` (L,) with two inputs; rows:
    ``q`` = q^L of x1 and ``c`` = c^L; theory: the mean-field q^L, c^L (:func:`meanfield.kernel`);
    E[q^1] is exactly the theory, deeper layers deviate by O(1/N).
    Cost: 2 L N max(N, n0) flops per input and network.  Memory per network: 6 weight-sized
    float64 arrays (N x max(N, n0)) with orthogonal weights (the QR), 3 with Gaussian ones (measured
    peaks 5.1-5.5 and 2.1 with tracemalloc).
    """

    name = "signal"
    weights = "gaussian"
    options = {"n0": None, "q0": 1.0, "c0": None}

    def prepare(self, config: Mapping) -> dict:
        out = super().prepare(config)
        out["n0"] = out["width"] if out["n0"] is None else check.positive_int("n0", out["n0"])
        out["q0"] = check.nonnegative("q0", out["q0"], scalar=True)
        if out["c0"] is not None:
            c0 = check.correlation("c0", out["c0"])
            if c0.ndim != 0:
                raise ParameterError(f"c0 must be a single number, got {out['c0']!r}")
            if out["n0"] < 2 and abs(float(c0)) < 1:
                raise ParameterError(f"two inputs with cosine c0={float(c0)!r} need n0 >= 2, got n0={out['n0']}")
            out["c0"] = float(c0)
        return out

    @staticmethod
    def inputs(config) -> tuple[np.ndarray, np.ndarray | None]:
        """The inputs x1, x2 (None for one input) of a prepared configuration."""
        n0, q0, c0 = config["n0"], config["q0"], config["c0"]
        u1 = np.full(n0, 1.0 / np.sqrt(n0))
        x1 = np.sqrt(n0 * q0) * u1
        if c0 is None:
            return x1, None
        u2 = np.zeros(n0)
        if n0 > 1:
            u2[0] = 1.0
            u2 -= u1 * u1[0]
            u2 /= np.linalg.norm(u2)
        return x1, np.sqrt(n0 * q0) * (c0 * u1 + np.sqrt(1.0 - c0 * c0) * u2)

    def _run(self, config, n, seed):
        x1, x2 = self.inputs(config)
        return signal_statistics(
            config_activation(config), config["sigma_w2"], config["sigma_b2"], config["depth"], config["width"],
            x1, x2, config["weights"], n, seed,
        )

    def sample(self, config, streams):
        stats = self._run(config, len(streams), streams)
        out = {"q": stats.q_networks}
        if stats.c_networks is not None:
            out.update(q12=stats.q12_networks, c=stats.c_networks)
        return out

    def samples(self, config, arrays, seed):
        return SignalStatistics(
            config_activation(config), config["sigma_w2"], config["sigma_b2"], config["depth"], config["width"],
            config["n0"], config["weights"], len(arrays["q"]), seed, arrays["q"], arrays.get("q12"), arrays.get("c"),
        )

    def rows(self, config, arrays):
        out = {"q": arrays["q"][:, -1, 0]}
        if "c" in arrays:
            out["c"] = arrays["c"][:, -1]
        return out

    def theory(self, config):
        c0 = 1.0 if config["c0"] is None else config["c0"]
        q, _, c = kernel(
            config_activation(config), config["sigma_w2"], config["sigma_b2"], config["depth"], config["q0"],
            config["q0"], c0,
        )
        return {"q": q} if config["c0"] is None else {"q": q, "c": c}

    def flops(self, config):
        n_inputs = 1 if config["c0"] is None else 2
        return 2.0 * n_inputs * config["depth"] * config["width"] * max(config["width"], config["n0"])

    def memory(self, config):
        return (6 if config["weights"] == "orthogonal" else 3) * _F8 * config["width"] * max(config["width"], config["n0"])


#: The quantities known by name: "jacobian", "signal", and those other packages register.
QUANTITIES: dict[str, SweepQuantity] = {}


def register_quantity(quantity: SweepQuantity) -> SweepQuantity:
    """Make ``quantity`` available by its name to :func:`meanfield.simulate.sweep` (and return it).

    Registering a second object under a taken name raises (re-registering the same one is allowed).
    """
    if not isinstance(quantity, SweepQuantity) or not isinstance(quantity.name, str) or not quantity.name:
        raise ParameterError(f"a sweep quantity is a SweepQuantity instance with a name, got {quantity!r}")
    known = QUANTITIES.get(quantity.name)
    if known is not None and known is not quantity:
        raise ParameterError(f"a sweep quantity named {quantity.name!r} is already registered ({known!r})")
    QUANTITIES[quantity.name] = quantity
    return quantity


def get_quantity(quantity) -> SweepQuantity:
    """A registered quantity by name, or a SweepQuantity instance as is."""
    if isinstance(quantity, SweepQuantity):
        return quantity
    if isinstance(quantity, str) and quantity.strip().lower() in QUANTITIES:
        return QUANTITIES[quantity.strip().lower()]
    raise ParameterError(
        f"quantity must be one of {', '.join(map(repr, sorted(QUANTITIES)))} or a SweepQuantity, got {quantity!r} "
        "('exact' is registered by `import exact`)"
    )


register_quantity(JacobianQuantity())
register_quantity(SignalQuantity())
