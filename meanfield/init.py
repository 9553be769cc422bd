"""Initialization recipes as numpy arrays, and their mean-field and spectral verdicts (``mf.init``).

Shapes are (fan_out, fan_in) as in PyTorch, conv kernels (C_out, C_in, k1, ...); every random recipe
takes ``seed`` (an int, SeedSequence, numpy Generator or None).  The recipes live in three modules and
are all re-exported here:

- :mod:`meanfield.init_scaling`: fans, torch's gain table, gaussian / uniform, He, Glorot, LeCun, the
  edge of chaos (:func:`critical`), Kumar's rule as an array, SELU constants, WeightNorm and Fixup.
- :mod:`meanfield.init_orthogonal`: orthogonal, delta-orthogonal, EOI (exact sparse orthogonal) and its
  density allocation, IDInit.
- this module: Kumar's rule and its verdict (:func:`kumar_sigma_w2`, :func:`kumar`) and the
  parameter-sharing looks-linear ReLU init (:func:`looks_linear`);
- :mod:`meanfield.init_assess`: :func:`assess`, the verdict (q*, chi_1, phase, Jacobian spectrum,
  measured on a real network) of any recipe or of given matrices.

Kumar 2017 ("On weight initialization in deep neural networks") linearises phi around 0 and asks that
the variance of the pre-activations be preserved:

    sigma_w^2 = 1 / (phi'(0)^2 (1 + phi(0)^2))      (per fan-in unit: Var W = sigma_w^2 / N)

(sigmoid: phi(0) = 1/2, phi'(0) = 1/4, sigma_w^2 = 12.8; the paper rounds the std to 3.6/sqrt(N)).
:func:`kumar` reports where that lands in the mean-field phase diagram: for the sigmoid the
fixed point is deep in the ordered phase (chi_1 about 0.35), far from the edge of chaos
sigma_w^2 ~ 103; for odd phi with phi'(0) = 1 (tanh) it coincides with the critical point at
sigma_b^2 = 0.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from . import validation as check
from .activations import activation
from .criticality import critical_point
from .errors import DivergentFixedPointError, ParameterError
from .maps import chi1, fixed_point
from .simulate import _generator, sample_weights

from .init_orthogonal import (  # re-exported recipes
    delta_orthogonal,
    eoi,
    eoi_densities,
    eoi_min_density,
    idinit,
    idinit_zero,
    orthogonal,
)
from .init_scaling import (
    calculate_gain,
    critical,
    critical_sigma_w2,
    fans,
    fixup_branch,
    fixup_scale,
    gaussian,
    glorot,
    he,
    kumar_normal,
    kumar_sigma_w2,
    lecun,
    selu_constants,
    uniform,
    weightnorm,
    weightnorm_gain,
)

__all__ = [
    "kumar_sigma_w2", "kumar", "KumarVerdict", "looks_linear", "looks_linear_layers",
    "fans", "calculate_gain", "gaussian", "uniform", "he", "glorot", "lecun", "critical_sigma_w2",
    "critical", "kumar_normal", "selu_constants", "weightnorm_gain",
    "weightnorm", "fixup_scale", "fixup_branch",
    "orthogonal", "delta_orthogonal", "eoi", "eoi_min_density", "eoi_densities", "idinit", "idinit_zero",
]


@dataclass(frozen=True)
class KumarVerdict:
    """Kumar's sigma_w^2 with its mean-field consequences at one sigma_b^2."""

    activation: str
    sigma_w2: float
    sigma_b2: float
    q_star: float
    chi1: float
    critical_sigma_w2: float
    critical: bool

    def __str__(self) -> str:
        if self.q_star == float("inf"):
            return (
                f"Kumar's rule for {self.activation}: sigma_w2 = {self.sigma_w2:.6g} (sigma_b2 = {self.sigma_b2:g}): "
                "q diverges with depth (no finite fixed point)"
            )
        phase = "critical" if self.critical else ("ordered" if self.chi1 < 1 else "chaotic")
        return (
            f"Kumar's rule for {self.activation}: sigma_w2 = {self.sigma_w2:.6g} (sigma_b2 = {self.sigma_b2:g}), "
            f"q* = {self.q_star:.6g}, chi_1 = {self.chi1:.6g} -> {phase}; the edge of chaos is at "
            f"sigma_w2 = {self.critical_sigma_w2:.6g}"
        )


def kumar(act, sigma_b2: float = 0.0, rtol: float = 1e-6) -> KumarVerdict:
    """Kumar's sigma_w^2, its q* and chi_1, and whether it is critical (|chi_1 - 1| <= rtol).

    Where q diverges (softplus: sigma_w^2 = 2.70 > 2), q_star is inf and chi1 NaN.
    """
    act = activation(act)
    sb2 = float(check.nonnegative("sigma_b2", sigma_b2))
    sw2 = kumar_sigma_w2(act)
    try:
        q = fixed_point(act, sw2, sb2)
        c = chi1(act, sw2, sb2, q=q)
    except DivergentFixedPointError:  # e.g. softplus: sigma_w2 = 2.70 > 2, q grows without bound
        q, c = float("inf"), float("nan")
    return KumarVerdict(act.name, sw2, sb2, q, c, critical_point(act, sb2).sigma_w2, abs(c - 1) <= rtol)


def looks_linear(
    widths: Sequence[int], orthogonal: bool = True, seed=None, sigma_w2: float = 1.0
) -> list[np.ndarray]:
    """Parameter-sharing ("looks-linear") ReLU weights, shapes (fan_out, fan_in).

    Balduzzi et al. 2017 ("The shattered gradients problem"), Burkholz & Dubatovka 2019
    ("Initialization of ReLUs for dynamical isometry"): from template matrices W0^l
    (n_l x n_{l-1}) build

        first layer  [W0; -W0]              (2 n_1 x n_0)
        hidden       [[W0, -W0], [-W0, W0]] (2 n_l x 2 n_{l-1})
        last         [W0, -W0]              (n_L x 2 n_{L-1})

    with zero biases.  Since relu(u) - relu(-u) = u, the hidden representations are
    x^l = [relu(z^l); relu(-z^l)] with z^l = W0^l z^{l-1}, and the network computes
    the linear map W0^L ... W0^1 x exactly.  With orthogonal square W0 every input-output Jacobian
    singular value is exactly 1 at any depth.

    Parameters
    ----------
    widths : sequence of int
        The template's widths [n_0, n_1, ..., n_L] (L >= 1); physical hidden widths are 2 n_l.
        For L = 1 the single layer is the template itself (nothing to share).
    orthogonal : bool
        W0 = sigma_w O with O Haar (orthonormal rows or columns, fan-in scaling of
        :func:`meanfield.simulate.sample_weights`); otherwise W0_ij ~ N(0, sigma_w^2 / n_{l-1}).
    seed : int, Generator or None
    sigma_w2 : float
        Template weight variance (default 1: the critical linear net).

    Returns
    -------
    list of ndarray
        L weight matrices; the biases are zero.
    """
    return [w for w, _ in looks_linear_layers(widths, orthogonal, seed, sigma_w2)]


def looks_linear_layers(
    widths: Sequence[int],
    orthogonal: bool = True,
    seed=None,
    sigma_w2: float = 1.0,
    sigma_b2: float = 0.0,
    n_networks: int | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Lazily yield the physical looks-linear layers (W^l, b^l), optionally for a stack of networks.

    The weights are those of :func:`looks_linear` (same random stream for the same seed when
    ``sigma_b2`` is 0 and ``n_networks`` is None); the biases are [b0; -b0] on hidden layers and b0 on
    the last, b0_i ~ N(0, sigma_b^2), so that z^l = x^l_top - x^l_bottom follows the template
    z^l = W0^l z^{l-1} + b0^l exactly (Burkholz & Dubatovka 2019).  Arguments are checked at once.

    Yields
    ------
    (W, b) : ndarray (..., fan_out, fan_in), ndarray (..., fan_out); ``...`` = (n_networks,) if given
    """
    rng = _generator(seed)
    widths = check.widths(widths)
    if not isinstance(orthogonal, (bool, np.bool_)):
        raise ParameterError(f"orthogonal must be True or False, got {orthogonal!r}")
    for name, value in (("sigma_w2", sigma_w2), ("sigma_b2", sigma_b2)):
        if check.nonnegative(name, value).ndim != 0:
            raise ParameterError(f"{name} must be a single number, got {value!r}")
    sb2 = float(sigma_b2)
    kind = "orthogonal" if orthogonal else "gaussian"
    depth = len(widths) - 1

    def layers():
        for l, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:]), start=1):
            w0 = sample_weights(rng, fan_out, fan_in, sigma_w2, kind, n_networks)
            b0 = np.sqrt(sb2) * rng.standard_normal(w0.shape[:-2] + (fan_out,)) if sb2 > 0 else np.zeros(w0.shape[:-1])
            if depth > 1:
                if l > 1:
                    w0 = np.concatenate([w0, -w0], axis=-1)
                if l < depth:
                    w0 = np.concatenate([w0, -w0], axis=-2)
                    b0 = np.concatenate([b0, -b0], axis=-1)
            yield w0, b0

    return layers()


from .init_assess import MEASURED_RECIPES, RECIPES, InitAssessment, MeasuredNetwork, assess  # noqa: E402

__all__ += ["RECIPES", "MEASURED_RECIPES", "InitAssessment", "MeasuredNetwork", "assess"]
