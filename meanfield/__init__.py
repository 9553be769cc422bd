"""sigprop's mean-field package: signal propagation in deep random networks at infinite width.

Quick use::

    import meanfield as mf
    act = mf.activation("tanh")
    mf.fixed_point(act, 1.5, 0.05), mf.chi1(act, 1.5, 0.05), mf.critical_point(act, 0.05)

Conventions (every formula's normalisation) are stated in docs/conventions.md: W_ij ~
N(0, sigma_w^2 / fan_in), b_i ~ N(0, sigma_b^2), q = variance of a pre-activation, depth counts
weight layers.

Layout: the mean-field core is flat here (activations, Gaussian expectations, maps, criticality,
kernels, phase diagrams, symbolic results); three wings answer the other questions:
:mod:`meanfield.spectra` (Jacobian spectra, isometry), :mod:`meanfield.simulate` (Monte Carlo of
real networks) and :mod:`meanfield.init` (initialization recipes and their verdicts).
"""
import sys as _sys

from . import init, resnet, simulate, spectra, symbolic
from .activations import BUILTIN_NAMES, Activation, activation
from .criticality import CriticalPoint, CriticalRoot, critical_point, critical_sigma_w2
from .errors import (
    ActivationError,
    DivergentExpectationError,
    DivergentFixedPointError,
    FiniteWidthWarning,
    FormulaError,
    ParameterError,
    QuadratureError,
    SigpropError,
    UnknownActivationError,
)
from .gaussian import (
    cross_moment,
    derivative_cross_moment,
    derivative_moment,
    expectation,
    second_moment,
    second_moment_slope,
    smoothed,
)
from .finite_width import FiniteWidth, finite_width
from .jacobian_norm import JacobianNormLaw, jacobian_norm_law
from .kernels import kernel, nngp_kernel
from .ntk import NTKDepthScale, ntk_depth_scale, ntk_kernel
from .maps import (
    DepthScales,
    Propagation,
    chi1,
    correlation_fixed_point,
    correlation_map,
    depth_scales,
    fixed_point,
    propagation,
    q_slope,
    variance_map,
)
from .phase import PhaseDiagram, phase_diagram
from .trajectory import Trajectory, trajectory
from .spectra import IsometryReport, JacobianSpectrum, freeprob, isometry, jacobian_spectrum

# ``meanfield.freeprob`` was a top-level module before the spectra wing existed: keep the import path.
_sys.modules[__name__ + ".freeprob"] = freeprob

__version__ = "0.1.0"

__all__ = [
    "BUILTIN_NAMES", "Activation", "activation",
    "CriticalPoint", "CriticalRoot", "critical_point", "critical_sigma_w2",
    "ActivationError", "DivergentExpectationError", "DivergentFixedPointError", "FiniteWidthWarning",
    "FormulaError", "ParameterError", "QuadratureError", "SigpropError", "UnknownActivationError",
    "cross_moment", "derivative_cross_moment", "derivative_moment", "expectation", "second_moment",
    "second_moment_slope", "smoothed",
    "kernel", "nngp_kernel", "ntk_kernel", "ntk_depth_scale", "NTKDepthScale",
    "FiniteWidth", "finite_width", "JacobianNormLaw", "jacobian_norm_law",
    "DepthScales", "Propagation", "chi1", "correlation_fixed_point", "correlation_map", "depth_scales",
    "fixed_point", "propagation", "q_slope", "variance_map",
    "PhaseDiagram", "phase_diagram",
    "Trajectory", "trajectory",
    "JacobianSpectrum", "jacobian_spectrum",
    "IsometryReport", "isometry",
    "freeprob", "init", "resnet", "simulate", "spectra", "symbolic",
]
