"""Monte Carlo: real finite random networks, their signal statistics and Jacobians (``mf.simulate``).

The theory of sigprop is for infinite width; this wing samples the networks it describes and
measures them, so that every prediction can be checked against real matrices.

- :mod:`~meanfield.simulate.networks`: weights (Gaussian, Haar orthogonal), biases, lazy layer
  stacks, forward passes, the empirical q^l and c^l of two inputs (:func:`signal_statistics`).
- :mod:`~meanfield.simulate.jacobians`: the input-output Jacobian J = D^L W^L ... D^1 W^1 of
  sampled networks and the eigenvalues of J J^T (:func:`jacobian_singular_values`).
- :mod:`~meanfield.simulate.comparison`: Kolmogorov-Smirnov distances with atoms and floors, the DKW
  bound, moment errors and the conditioning of relu-like spectra on sampled active fractions.
- :mod:`~meanfield.simulate.fluctuations`: finite-width fluctuations of one input (s^l, |h^l|^2/n_l,
  log |J u|^2) and of two inputs' cosine, with dropout masks (:func:`sample_fluctuations`).
- :mod:`~meanfield.simulate.streams`: :class:`NetworkStreams`, one random stream per network.
- :mod:`~meanfield.simulate.sweep`: :func:`sweep` over a grid of configurations (:func:`grid`) on
  local processes, a Dask cluster or any executor; reproducible, resumable from a results
  directory (:mod:`~meanfield.simulate.store`); what it samples is a quantity
  (:mod:`~meanfield.simulate.quantities`), what it returns a :class:`SweepResult`
  (:mod:`~meanfield.simulate.results`).

Conventions: docs/conventions.md.  Randomness only from explicit seeds (numpy Generators).
"""
from .comparison import KSResult, MomentErrors, conditioned_bernoulli_p, ks_bound, ks_distance, moment_errors
from .fluctuations import FluctuationSamples, sample_fluctuations
from .jacobians import JacobianSamples, jacobian_singular_values
from .quantities import JacobianQuantity, SignalQuantity, SweepQuantity, register_quantity
from .results import SweepResult, Table, Throughput
from .store import SweepStore
from .streams import NetworkStreams
from .sweep import grid, sweep
from .networks import (
    WEIGHT_KINDS,
    SignalStatistics,
    forward,
    haar_orthogonal,
    propagate,
    sample_biases,
    sample_layers,
    sample_weights,
    signal_statistics,
)

__all__ = [
    "WEIGHT_KINDS",
    "haar_orthogonal",
    "sample_weights",
    "sample_biases",
    "sample_layers",
    "propagate",
    "forward",
    "signal_statistics",
    "SignalStatistics",
    "jacobian_singular_values",
    "JacobianSamples",
    "sample_fluctuations",
    "FluctuationSamples",
    "ks_distance",
    "KSResult",
    "ks_bound",
    "moment_errors",
    "MomentErrors",
    "conditioned_bernoulli_p",
    "NetworkStreams",
    "sweep",
    "grid",
    "SweepResult",
    "Table",
    "Throughput",
    "SweepStore",
    "SweepQuantity",
    "JacobianQuantity",
    "SignalQuantity",
    "register_quantity",
]
