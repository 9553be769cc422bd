"""Shapes, fans and gains shared by every initializer (the conventions of ``torch.nn.init``).

A weight array has shape (fan_out, fan_in) as in PyTorch, a convolution kernel (C_out, C_in, k1, k2,
...) with receptive field r = k1 k2 ..., fan_in = C_in r, fan_out = C_out r
(``torch.nn.init._calculate_fan_in_and_fan_out``).  The mean-field scale is Var(W_ij) = sigma_w^2 /
fan_in (docs/conventions.md), so a gain g means sigma_w^2 = g^2.
"""
from __future__ import annotations

import math
import numbers
from typing import Sequence

import numpy as np

from .. import validation as check
from ..errors import ActivationError, ParameterError

__all__ = ["fans", "calculate_gain"]

#: torch.nn.init.calculate_gain's names whose gain is 1 (besides "sigmoid").
_LINEAR_NAMES = (
    "linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
)
_GAIN_NAMES = _LINEAR_NAMES + ("sigmoid", "tanh", "relu", "leaky_relu", "selu")
_DISTRIBUTIONS = ("normal", "uniform")
_MODES = ("fan_in", "fan_out")


# ----------------------------------------------------------------------------------------------
# argument checks
# ----------------------------------------------------------------------------------------------
def _shape(shape) -> tuple[int, ...]:
    """A weight shape: a sequence of at least two integers >= 1."""
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__"):
        raise ParameterError(f"shape must be a sequence of integers (fan_out, fan_in, *kernel), got {shape!r}")
    if len(shape) < 2:
        raise ParameterError(
            f"fan in and fan out cannot be computed for a shape with fewer than 2 dimensions, got {tuple(shape)!r}"
        )
    out = tuple(check.positive_int("shape entry", n) for n in shape)
    check.memory(f"a weight array of shape {out}", np.prod(out, dtype=float) * 8)
    return out


def _choice(name: str, value, allowed: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ParameterError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return value


def _scalar(name: str, value, positive: bool = False, signed: bool = False) -> float:
    """A single finite number: >= 0 by default, > 0 with ``positive``, any sign with ``signed``."""
    if np.ndim(value) != 0:
        raise ParameterError(f"{name} must be a single number, got {value!r}")
    if signed:
        return float(check.real_array(name, value))
    return float(check.positive(name, value) if positive else check.nonnegative(name, value))


def _variance_to_std(sigma_w2: float, fan_in: int) -> float:
    return math.sqrt(sigma_w2 / fan_in)


# ----------------------------------------------------------------------------------------------
# fans and gains
# ----------------------------------------------------------------------------------------------
def fans(shape) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight shape, as ``torch.nn.init._calculate_fan_in_and_fan_out``.

    For (fan_out, fan_in, k1, k2, ...) the receptive field r = k1 k2 ... multiplies both fans:
    fan_in = shape[1] r, fan_out = shape[0] r.  Example: (64, 32, 3, 3) -> (288, 576).
    """
    shape = _shape(shape)
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _finite_float(value) -> bool:
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an integer beyond the float range
        return False


def _gain2(nonlinearity: str, param: float | None = None) -> float:
    """The square of :func:`calculate_gain`, exact (relu: 2, not sqrt(2)**2 = 2.0000000000000004)."""
    if not isinstance(nonlinearity, str) or nonlinearity not in _GAIN_NAMES:
        raise ActivationError(
            f"Unsupported nonlinearity {nonlinearity!r}; calculate_gain knows {', '.join(_GAIN_NAMES)}"
        )
    if nonlinearity in _LINEAR_NAMES or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 25.0 / 9.0
    if nonlinearity == "relu":
        return 2.0
    if nonlinearity == "selu":
        return 9.0 / 16.0
    if param is None:
        slope = 0.01
    elif isinstance(param, numbers.Real) and not isinstance(param, bool) and _finite_float(param):
        slope = float(param)
    else:
        raise ParameterError(f"negative_slope {check.shown(param)} not a valid number (a finite real number is allowed)")
    return 2.0 / (1.0 + slope * slope)  # slope**2 raises OverflowError for |slope| > 1e154


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The gain table of ``torch.nn.init.calculate_gain`` (``torch/nn/init.py``).

    linear, conv{1,2,3}d, conv_transpose{1,2,3}d, sigmoid: 1; tanh: 5/3; relu: sqrt(2);
    leaky_relu: sqrt(2 / (1 + a^2)) with a = ``param`` (default 0.01); selu: 3/4 (found empirically
    in PyTorch; the self-normalizing fixed point of Klambauer et al. 2017 needs gain 1, "linear").

    Raises
    ------
    ActivationError
        For a name outside the table ("Unsupported nonlinearity ...", as torch).
    ParameterError
        For a leaky_relu slope that is not a finite real number ("negative_slope ... not a valid number").
    """
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "selu":
        return 3.0 / 4.0
    return math.sqrt(_gain2(nonlinearity, param))
