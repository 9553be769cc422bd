"""sigprop's exact finite-width package: exact laws of Gaussian ReLU networks at initialization.

Burkholz & Dubatovka 2019 ("Initialization of ReLUs for dynamical isometry"); docs/conventions.md §6.
:class:`ReLUNetwork` gives the laws of the pre-activation variances s^l, the squared norms |x^l|^2,
one output unit and the joint law of the output vector (objects with scipy.stats' methods, built on
:class:`meanfield.laws.Law`), exact moments, the dead-network probability, the mean-field comparison
and Monte Carlo from real sampled networks; also for the parameter-sharing (looks-linear)
initialization.  Importing it registers the sweep quantity "exact" (:class:`ExactReLUQuantity`:
``meanfield.simulate.sweep(configs, quantity="exact", ...)``).  Imports meanfield, never the other way round.
"""
from .distributions import KSComparison, Law, PositiveLaw, ks_distance
from .joint import OutputVectorLaw, TwoInputLaw
from .mixtures import ScaleMixtureLaw
from .relu import NetworkSample, NetworkSummary, ReLUNetwork
from .sweep import ExactReLUQuantity

__all__ = [
    "ReLUNetwork",
    "NetworkSample",
    "NetworkSummary",
    "Law",
    "PositiveLaw",
    "ScaleMixtureLaw",
    "OutputVectorLaw",
    "TwoInputLaw",
    "KSComparison",
    "ks_distance",
    "ExactReLUQuantity",
]
