"""Sweeps of Gaussian ReLU networks with their exact finite-width laws next to the Monte Carlo.

:data:`QUANTITY` is a :class:`meanfield.simulate.SweepQuantity` named ``"exact"``, registered on
``import exact``, so that ``meanfield.simulate.sweep(configs, quantity="exact", ...)`` (or
``quantity=exact.sweep.QUANTITY``) samples the networks of :meth:`ReLUNetwork.sample`.  meanfield
never imports this package (docs/architecture.md): the quantity registers itself.

Configuration (docs/conventions.md §6): ``activation`` "relu", ``weights`` "gaussian" (the only
ones with exact laws), ``sigma_w2``, ``sigma_b2``, ``depth`` = L weight layers of ``width`` units,
and the options ``n0`` (input dimension, default ``width``) and ``input_norm2`` = |x^0|^2 (default
n0): widths [n0, width, ..., width].  Arrays per network: ``preactivation_variance`` s^1..s^L,
``squared_norm`` |x^1|^2..|x^{L-1}|^2, ``output`` h^L_1; rows: ``s`` = s^L and ``output``.  Theory:
the exact E[s^L] (= the mean-field q^L at every width, Burkholz & Dubatovka 2019) and E[h^L_1] = 0;
the full laws are those of :class:`ReLUNetwork`.
"""
from __future__ import annotations

from meanfield import validation as check
from meanfield.errors import ParameterError
from meanfield.simulate import SweepQuantity, register_quantity

from .relu import NetworkSample, ReLUNetwork, _sample, _scalar

__all__ = ["ExactReLUQuantity", "QUANTITY"]


class ExactReLUQuantity(SweepQuantity):
    """Monte Carlo of Gaussian ReLU networks (:meth:`ReLUNetwork.sample`) with their exact laws."""

    name = "exact"
    weights = "gaussian"
    options = {"n0": None, "input_norm2": None}

    def prepare(self, config):
        out = super().prepare(config)
        if out["activation"] != "relu" or out["weights"] != "gaussian":
            raise ParameterError(
                f"the exact laws are those of Gaussian relu networks: activation 'relu' and weights "
                f"'gaussian', got {out['activation']!r} and {out['weights']!r}"
            )
        out["n0"] = out["width"] if out["n0"] is None else check.positive_int("n0", out["n0"])
        out["input_norm2"] = float(out["n0"]) if out["input_norm2"] is None else _scalar("input_norm2", out["input_norm2"])
        return out

    @staticmethod
    def widths(config) -> list[int]:
        return [config["n0"]] + [config["width"]] * config["depth"]

    def network(self, config) -> ReLUNetwork:
        """The :class:`ReLUNetwork` of a prepared configuration (its exact laws)."""
        return ReLUNetwork(self.widths(config), config["sigma_w2"], config["sigma_b2"], config["input_norm2"])

    def sample(self, config, streams):
        return dict(_sample(self.widths(config), config["sigma_w2"], config["sigma_b2"], config["input_norm2"], False,
                            len(streams), streams))

    def samples(self, config, arrays, seed):
        return NetworkSample(**arrays)

    def rows(self, config, arrays):
        return {"s": arrays["preactivation_variance"][:, -1], "output": arrays["output"]}

    def theory(self, config):
        return {"s": self.network(config).preactivation_variance(config["depth"]).mean(), "output": 0.0}

    def flops(self, config):
        widths = self.widths(config)
        return 2.0 * sum(a * b for a, b in zip(widths[:-1], widths[1:]))

    def memory(self, config):
        widths = self.widths(config)
        return 3 * 8 * max(a * b for a, b in zip(widths[:-1], widths[1:]))  # weight stacks and temporaries (tracemalloc: ~2.2)


#: The registered quantity ("exact").
QUANTITY = register_quantity(ExactReLUQuantity())
