"""Initialization recipes as numpy arrays, and their mean-field and spectral verdicts (``mf.init``).

Shapes are (fan_out, fan_in) as in PyTorch, conv kernels (C_out, C_in, k1, ...); every random recipe
takes ``seed`` (an int, SeedSequence, numpy Generator or None).  The recipes live in modules by kind
and are all re-exported here:

- :mod:`~meanfield.init.fans`: fans and torch's gain table.
- :mod:`~meanfield.init.scaling`: variance scalings: gaussian / uniform, He, Glorot, LeCun, the edge
  of chaos (:func:`critical`), Kumar's rule and its verdict (:func:`kumar`), SELU constants,
  WeightNorm and Fixup.
- :mod:`~meanfield.init.isometric`: orthogonal, delta-orthogonal, EOI (exact sparse orthogonal) and
  its density allocation, IDInit.
- :mod:`~meanfield.init.parameter_sharing`: the looks-linear ReLU initialization.
- :mod:`~meanfield.init.assessment`: :func:`assess`, the verdict (q*, chi_1 with its sampling band,
  phase, Jacobian spectrum, measured on a real network) of any recipe, of given weight arrays (numpy,
  PyTorch, JAX) or of a torch module; :func:`load_npz` reads W1..WL, b1..bL from a file.
- :mod:`~meanfield.init.torch_models`: :func:`initialize_` writes any recipe into a torch module.
"""
from .arrays import load_npz
from .assessment import BAND_SE, MEASURED_RECIPES, RECIPES, InitAssessment, MeasuredNetwork, assess
from .fans import calculate_gain, fans
from .isometric import delta_orthogonal, eoi, eoi_densities, eoi_min_density, idinit, idinit_zero, orthogonal
from .parameter_sharing import looks_linear, looks_linear_layers
from .scaling import (
    KumarVerdict,
    critical,
    critical_sigma_w2,
    fixup_branch,
    fixup_scale,
    gaussian,
    glorot,
    he,
    kumar,
    kumar_normal,
    kumar_sigma_w2,
    lecun,
    selu_constants,
    uniform,
    weightnorm,
    weightnorm_gain,
)
from .statistics import LayerStatistics
from .torch_models import initialize_

__all__ = [
    "kumar_sigma_w2", "kumar", "KumarVerdict", "looks_linear", "looks_linear_layers",
    "fans", "calculate_gain", "gaussian", "uniform", "he", "glorot", "lecun", "critical_sigma_w2",
    "critical", "kumar_normal", "selu_constants", "weightnorm_gain",
    "weightnorm", "fixup_scale", "fixup_branch",
    "orthogonal", "delta_orthogonal", "eoi", "eoi_min_density", "eoi_densities", "idinit", "idinit_zero",
    "RECIPES", "MEASURED_RECIPES", "InitAssessment", "MeasuredNetwork", "LayerStatistics", "BAND_SE", "assess",
    "initialize_", "load_npz",
]
