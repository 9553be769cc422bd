"""Every public name of sigprop 0.1 is still importable from the same place (the one-wing-per-question layout
moved files, not names).  The lists are the ``__all__`` of each public module before the move."""
from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PUBLIC = {
    "meanfield": [
        "BUILTIN_NAMES", "Activation", "activation", "CriticalPoint", "CriticalRoot", "critical_point",
        "critical_sigma_w2", "ActivationError", "DivergentExpectationError", "DivergentFixedPointError",
        "FormulaError", "ParameterError", "QuadratureError", "SigpropError", "cross_moment",
        "derivative_cross_moment", "derivative_moment", "expectation", "second_moment", "second_moment_slope",
        "smoothed", "kernel", "nngp_kernel", "DepthScales", "Propagation", "chi1", "correlation_fixed_point",
        "correlation_map", "depth_scales", "fixed_point", "propagation", "q_slope", "variance_map",
        "PhaseDiagram", "phase_diagram", "JacobianSpectrum", "jacobian_spectrum", "IsometryReport", "isometry",
        "freeprob", "init", "resnet", "simulate", "symbolic",
    ],
    "meanfield.simulate": [
        "WEIGHT_KINDS", "haar_orthogonal", "sample_weights", "sample_biases", "sample_layers", "propagate",
        "forward", "signal_statistics", "SignalStatistics", "jacobian_singular_values", "JacobianSamples",
        "ks_distance", "KSResult", "ks_bound", "moment_errors", "MomentErrors", "conditioned_bernoulli_p",
    ],
    "meanfield.init": [
        "kumar_sigma_w2", "kumar", "KumarVerdict", "looks_linear", "looks_linear_layers", "fans",
        "calculate_gain", "gaussian", "uniform", "he", "glorot", "lecun", "critical_sigma_w2", "critical",
        "kumar_normal", "selu_constants", "weightnorm_gain", "weightnorm", "fixup_scale", "fixup_branch",
        "orthogonal", "delta_orthogonal", "eoi", "eoi_min_density", "eoi_densities", "idinit", "idinit_zero",
        "RECIPES", "MEASURED_RECIPES", "InitAssessment", "MeasuredNetwork", "assess",
    ],
    "meanfield.symbolic": ["Q", "variance_functions", "critical_line", "critical", "critical_sigma_w2", "SymbolicCritical"],
    "meanfield.freeprob": [
        "D2Law", "d2_law", "WEIGHTS", "spectrum_moments", "SpectrumSolver", "BernoulliLayersSolver",
        "weights_s_transform",
    ],
    "meanfield.resnet": [
        "INITS", "LayerSpec", "Network", "MeanFieldGrowth", "GrowthSamples", "feedforward", "residual",
        "weight_normalize", "sample_growth",
    ],
    "meanfield.activations": ["Activation", "activation", "BUILTIN_NAMES", "SELU_SCALE", "SELU_ALPHA"],
    "meanfield.errors": [
        "SigpropError", "ActivationError", "FormulaError", "ParameterError", "DivergentExpectationError",
        "QuadratureError", "DivergentFixedPointError",
    ],
    "exact": ["ReLUNetwork", "NetworkSample", "NetworkSummary", "Law", "PositiveLaw", "ScaleMixtureLaw",
              "KSComparison", "ks_distance"],
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_every_public_name_is_still_importable(module):
    mod = importlib.import_module(module)
    missing = [name for name in PUBLIC[module] if not hasattr(mod, name)]
    assert not missing, f"{module} lost {missing}"
    assert set(PUBLIC[module]) <= set(mod.__all__), set(PUBLIC[module]) - set(mod.__all__)


def test_the_facade_reexports_the_wings():
    import meanfield as mf

    assert mf.jacobian_spectrum is mf.spectra.jacobian_spectrum
    assert mf.isometry is mf.spectra.isometry
    assert mf.freeprob is mf.spectra.freeprob
    assert mf.simulate.jacobian_singular_values.__module__ == "meanfield.simulate.jacobians"
    assert mf.init.he.__module__ == "meanfield.init.scaling"
    from meanfield.freeprob import d2_law  # the 0.1 import path of the free-probability module

    assert d2_law is mf.spectra.freeprob.d2_law


def test_both_packages_import_in_a_fresh_interpreter():
    """``python -c "import meanfield, exact"``: no import circle hides behind an import order."""
    for statement in ("import meanfield, exact", "import exact", "import meanfield.init", "import meanfield.spectra",
                      "import meanfield.simulate"):
        subprocess.run([sys.executable, "-c", statement], check=True)
