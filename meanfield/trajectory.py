"""The mean-field trajectory of a network from its actual input: q^l and chi_1^l layer by layer.

A network fed inputs of second moment q0 = |x^0|^2 / n_0 does not start at the fixed point q*
(docs/conventions.md §2):

    q^1 = sigma_w,1^2 q0 + sigma_b,1^2,    q^{l+1} = sigma_w,l+1^2 V(q^l) + sigma_b,l+1^2,

and its layer l multiplies squared gradient norms (and the mean eigenvalue of J J^T) by

    chi_1^l = sigma_w,l^2 D(q^l),        E[lambda] = prod_l chi_1^l,

with V(q) = E[phi(sqrt(q) z)^2], D(q) = E[phi'(sqrt(q) z)^2].  The fixed point q* is where this
trajectory goes as l grows; at the edge of chaos it may be reached only algebraically (tanh at
sigma_w^2 = 1, sigma_b^2 = 0: q^l ~ 3/(2 l), chi_1^l -> 1 from below), or not at all (an unstable
critical point).  sigma_w^2 and sigma_b^2 may differ per layer (sequences of length L).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import validation as check
from .activations import activation
from .gaussian import derivative_moment, second_moment

__all__ = ["Trajectory", "trajectory", "layer_parameters"]


def layer_parameters(name: str, value, depth: int) -> np.ndarray:
    """One variance, or a sequence of ``depth`` of them (>= 0), as an array of length ``depth``."""
    arr = check.nonnegative(name, value)
    if arr.ndim == 0:
        return np.full(depth, float(arr))
    if arr.ndim != 1 or arr.size != depth:
        raise check.ParameterError(
            f"{name} must be one number or a sequence of one per layer ({depth}), got shape {arr.shape}"
        )
    return arr.astype(float)


@dataclass(frozen=True)
class Trajectory:
    """q^l and chi_1^l for l = 1..L from the input's second moment q0 (see the module docstring).

    Attributes
    ----------
    activation : str
    q0 : float
        |x^0|^2 / n_0.
    sigma_w2, sigma_b2, q, chi1 : ndarray, shape (L,)
        Per layer l = 1..L (index l - 1).
    """

    activation: str
    q0: float
    sigma_w2: np.ndarray
    sigma_b2: np.ndarray
    q: np.ndarray
    chi1: np.ndarray

    @property
    def depth(self) -> int:
        return int(self.q.size)

    @property
    def log_mean(self) -> float:
        """log E[lambda] = sum_l log chi_1^l (the log of the mean eigenvalue of J J^T)."""
        with np.errstate(divide="ignore"):
            return float(np.sum(np.log(self.chi1)))

    @property
    def mean(self) -> float:
        """E[lambda] = prod_l chi_1^l (inf or 0 where that leaves double precision)."""
        value = self.log_mean
        return math.exp(value) if value < 709 else math.inf

    def __str__(self) -> str:
        return (
            f"{self.activation} from q0 = {self.q0:.6g}: q^1 = {self.q[0]:.6g}, q^L = {self.q[-1]:.6g}, "
            f"chi_1^1 = {self.chi1[0]:.6g}, chi_1^L = {self.chi1[-1]:.6g}, E[lambda] = prod chi_1^l = {self.mean:.6g} "
            f"(L = {self.depth})"
        )


def trajectory(act, sigma_w2, sigma_b2, depth, q0) -> Trajectory:
    """q^l and chi_1^l, l = 1..L, of a network whose input has second moment q0 = |x^0|^2 / n_0.

    Parameters
    ----------
    act : str, callable or Activation
    sigma_w2, sigma_b2 : float or sequence of L floats
        Weight and bias variances (>= 0), per layer if sequences.
    depth : int
        Number of weight layers L.
    q0 : float
        The input's second moment |x^0|^2 / n_0 (>= 0).

    Returns
    -------
    Trajectory

    Notes
    -----
    With the same variances in every layer, the recursion stops as soon as a layer maps q onto itself to
    the last bit (every deeper layer is then the same number), so large depths cost only the layers it
    takes to converge.
    """
    act = activation(act)
    L = check.depth(depth)
    sw2 = layer_parameters("sigma_w2", sigma_w2, L)
    sb2 = layer_parameters("sigma_b2", sigma_b2, L)
    x = check.nonnegative("q0", q0, scalar=True)
    uniform = bool(np.all(sw2 == sw2[0]) and np.all(sb2 == sb2[0]))
    q = np.empty(L)
    with np.errstate(over="ignore"):
        q[0] = sw2[0] * x + sb2[0]
    for l in range(1, L):
        if not math.isfinite(q[l - 1]):
            q[l:] = math.inf
            break
        with np.errstate(over="ignore"):
            q[l] = sw2[l] * float(second_moment(act, q[l - 1])) + sb2[l]
        if uniform and q[l] == q[l - 1]:  # a floating-point fixed point: every deeper layer is the same
            q[l:] = q[l]
            break
    if not np.all(np.isfinite(q)):
        first = int(np.argmax(~np.isfinite(q))) + 1
        raise check.ParameterError(
            f"q^l of {act.name} leaves double precision at layer {first} (q0 = {x!r}): the signal grows "
            "without bound at these variances; use smaller sigma_w2 or depth"
        )
    distinct, inverse = np.unique(q, return_inverse=True)
    chi = sw2 * np.asarray(derivative_moment(act, distinct), dtype=float)[inverse]
    return Trajectory(act.name, x, sw2, sb2, q, chi)
