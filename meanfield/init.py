"""Initialization recipes as numbers and numpy arrays, judged by the mean-field theory.

So far: Kumar 2017 ("On weight initialization in deep neural networks"), who linearises phi around
0 and asks that the variance of the pre-activations be preserved:

    sigma_w^2 = 1 / (phi'(0)^2 (1 + phi(0)^2))      (per fan-in unit: Var W = sigma_w^2 / N)

(sigmoid: phi(0) = 1/2, phi'(0) = 1/4, sigma_w^2 = 12.8; the paper rounds the std to 3.6/sqrt(N)).
:func:`kumar` reports where that lands in the mean-field phase diagram: for the sigmoid the
fixed point is deep in the ordered phase (chi_1 about 0.35), far from the edge of chaos
sigma_w^2 ~ 103; for odd phi with phi'(0) = 1 (tanh) it coincides with the critical point at
sigma_b^2 = 0.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import validation as check
from .activations import activation
from .criticality import critical_point
from .errors import ActivationError, DivergentFixedPointError
from .maps import chi1, fixed_point

__all__ = ["kumar_sigma_w2", "kumar", "KumarVerdict"]


def kumar_sigma_w2(act) -> float:
    """Kumar's sigma_w^2 = 1/(phi'(0)^2 (1 + phi(0)^2)) (one-sided average of phi'(0)^2 at a kink)."""
    act = activation(act)
    slope2 = act.dphi0_squared
    if slope2 == 0:
        raise ActivationError(f"Kumar's rule needs phi'(0) != 0; {act.name} has phi'(0) = 0")
    return 1.0 / (slope2 * (1.0 + act.phi0**2))


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
