"""sigprop's mean-field package: signal propagation in deep random networks at infinite width.

Quick use::

    import meanfield as mf
    act = mf.activation("tanh")
    mf.fixed_point(act, 1.5, 0.05), mf.chi1(act, 1.5, 0.05), mf.critical_sigma_w2(act, 0.05)
"""
from .activations import BUILTIN_NAMES, Activation, activation
from .errors import (
    ActivationError,
    DivergentExpectationError,
    DivergentFixedPointError,
    FormulaError,
    ParameterError,
    QuadratureError,
    SigpropError,
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

__version__ = "0.1.0"
from .criticality import CriticalPoint, CriticalRoot, critical_point, critical_sigma_w2
from .phase import PhaseDiagram, phase_diagram
from .kernels import kernel, nngp_kernel
from . import symbolic
from . import init
from . import simulate
