"""The neural tangent kernel at infinite width (Jacot, Gabriel & Hongler 2018), in neural-tangents' conventions.

Depth counts weight layers, as for :func:`meanfield.nngp_kernel` (docs/conventions.md §3, §9): the NTK of one
output unit h^L of ``serial(Dense, (act, Dense) x (L-1))``.  With K^l the NNGP kernel of h^l,
Kdot^l_ij = E[phi'(u_i) phi'(u_j)] under K^l (the "dot-phi" kernel) and Kpost^l_ij = E[phi(u_i) phi(u_j)]:

- **NTK parameterization** (neural-tangents' default; h = sigma_w W x / sqrt(n) + sigma_b b with W, b standard
  normal parameters):

      Theta^1 = K^1,    Theta^{l+1} = K^{l+1} + sigma_w^2 Kdot^l * Theta^l          (* elementwise).

- **Standard parameterization** (W ~ N(0, sigma_w^2 / n), b ~ N(0, sigma_b^2) are the parameters; Sohl-Dickstein
  et al. 2020): the weight gradients carry the layer widths n_l, and the bias gradients add 1 per layer
  (sigma_b2 = 0 means a network without biases, neural-tangents' ``b_std=None``):

      Theta^1 = X X^T + [sigma_b^2 > 0],
      Theta^{l+1} = n_l Kpost^l + sigma_w^2 Kdot^l * Theta^l + [sigma_b^2 > 0].

Kdot uses the same machinery as the NNGP: closed forms (relu/leaky relu: (pi - theta)/(2 pi) form, erf,
sin, linear), Mehler's series for phi' of smooth activations (certified to ``rtol``), quadrature otherwise.

**Depth** (Xiao, Pennington & Schoenholz 2020): :func:`ntk_depth_scale`.  Ordered phase (chi_1 < 1): every
entry tends to the same constant Theta* = q* / (1 - chi_1) (NTK parameterization), a rank-one, degenerate
kernel, with deviations ~ l chi_1^l: depth scale xi_1 = -1 / log chi_1.  Chaotic phase (chi_1 > 1): the
diagonal grows like chi_1^l while the off-diagonal entries tend to q* c* / (1 - chi_c*) (chi_c* = the slope
of the correlation map at c*), so the normalized kernel Theta / Theta_ii tends to the identity like chi_1^-l:
depth scale 1 / log chi_1 (when c* = 0, e.g. odd phi without bias, the off-diagonal entries vanish like
l chi_c*^l and the scale is 1 / log(chi_1 / chi_c*)).  So xi = 1 / |log chi_1| on both sides (c* > 0), and on the
edge of chaos it is infinite: the kernel approaches its limit only polynomially (relu at sigma_w^2 = 2:
Theta_ij / Theta_ii -> 1/4 for distinct inputs).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from . import validation as check
from .activations import activation
from .errors import ParameterError
from .gaussian import derivative_moment, second_moment
from .kernels import (
    _checked_first_layer,
    _correlation,
    _gram_inputs,
    _kernel_depth,
    _pair_kernel,
    _recurse,
    _symmetric,
)
from .maps import CRITICAL_TOLERANCE, propagation

__all__ = ["ntk_kernel", "ntk_depth_scale", "NTKDepthScale", "PARAMETERIZATIONS"]

#: neural-tangents' two parameterizations; "ntk" is its default and sigprop's.
PARAMETERIZATIONS = ("ntk", "standard")


def _hidden_widths(widths, depth: int, parameterization: str) -> np.ndarray | None:
    """The widths n_1..n_{L-1} of the standard parameterization (None for the NTK one, which has none)."""
    if parameterization == "ntk":
        return None
    if depth == 1:
        return np.empty(0)
    if widths is None:
        raise ParameterError(
            "parameterization='standard' needs the hidden widths: its NTK grows with them (n_l Kpost^l per "
            f"layer); pass widths=N (every hidden layer) or a list of the {depth - 1} widths n_1..n_{depth - 1}"
        )
    if np.ndim(widths) == 0:
        widths = [widths] * (depth - 1)
    widths = list(widths)
    if len(widths) != depth - 1:
        raise ParameterError(
            f"widths must list the {depth - 1} hidden widths n_1..n_{depth - 1} of a depth-{depth} network "
            f"(or be one int), got {len(widths)} values"
        )
    return np.array([check.positive_int("width", n) for n in widths], dtype=float)


def ntk_kernel(act, sigma_w2, sigma_b2, depth, X, parameterization: str = "ntk", *, widths=None,
               rtol: float = 1e-10, return_nngp: bool = False):
    """The NTK Gram matrix Theta^L of the rows of ``X`` after ``depth`` weight layers.

    Parameters
    ----------
    act : str, callable or Activation
    sigma_w2, sigma_b2 : float
        Weight and bias variances (>= 0): neural-tangents' W_std^2 and b_std^2.
    depth : int
        Number of weight layers L >= 1, as :func:`meanfield.nngp_kernel`.
    X : array_like, shape (n, n_0)
        Inputs, one per row.
    parameterization : {"ntk", "standard"}
        neural-tangents' ``parameterization`` of ``stax.Dense`` ("ntk" is its default; see the module
        docstring for both recursions).
    widths : int or sequence of int, optional
        The hidden widths n_1..n_{L-1}: needed by the standard parameterization, whose NTK scales with them;
        ignored by the NTK parameterization (as neural-tangents' ``out_dim``).
    rtol : float
        Accuracy of the Mehler-series route; closed forms are exact, quadrature reaches ~1e-12.
    return_nngp : bool
        Also return the NNGP Gram matrix K^L (neural-tangents' ``kernel_fn(..., ('nngp', 'ntk'))``).

    Returns
    -------
    ndarray, shape (n, n), or (K^L, Theta^L)
        Symmetric; Theta^L_ab = sum over parameters of dh^L_i(x_a)/dtheta dh^L_i(x_b)/dtheta.
    """
    act = activation(act)
    L = _kernel_depth(depth)
    sw2, sb2, X = _gram_inputs(sigma_w2, sigma_b2, X, rtol)
    if parameterization not in PARAMETERIZATIONS:
        raise ParameterError(f"parameterization must be one of {PARAMETERIZATIONS}, got {check.shown(parameterization)}")
    hidden = _hidden_widths(widths, L, parameterization)
    n = X.shape[0]
    bias = 1.0 if sb2 > 0 else 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        gram = X @ X.T
        K = sw2 * gram / X.shape[1] + sb2
        T = K.copy() if hidden is None else gram + bias
    _checked_first_layer(K, T)
    i, j = np.triu_indices(n, k=1)

    def step(state, layer):
        q, off, tq, toff = state
        c = _correlation(off, q[i], q[j])
        with np.errstate(over="ignore", invalid="ignore"):
            vq, voff = second_moment(act, q), _pair_kernel(act, q, i, j, c, rtol)
            dq, doff = derivative_moment(act, q), _pair_kernel(act, q, i, j, c, rtol, derivative=True)
            q_new, off_new = sw2 * vq + sb2, sw2 * voff + sb2
            if hidden is None:
                return q_new, off_new, q_new + sw2 * dq * tq, off_new + sw2 * doff * toff
            width = hidden[layer - 2]
            return (q_new, off_new, width * vq + sw2 * dq * tq + bias, width * voff + sw2 * doff * toff + bias)

    stationary = hidden is None or np.ptp(hidden) == 0
    q, off, tq, toff = _recurse(step, (np.diag(K).copy(), K[i, j], np.diag(T).copy(), T[i, j]), L, stationary)
    theta = _symmetric(tq, toff, i, j)
    return (_symmetric(q, off, i, j), theta) if return_nngp else theta


class NTKDepthScale(NamedTuple):
    """How the NTK (NTK parameterization) of deep networks degenerates (Xiao, Pennington & Schoenholz 2020).

    Attributes
    ----------
    phase : str
        "ordered" (chi_1 < 1), "chaotic" (chi_1 > 1) or "critical".
    xi : float
        Depth scale of the approach to the degenerate limit: -1/log chi_1 (ordered), 1/log chi_1 (chaotic;
        1/log(chi_1/chi_c*) when c* = 0), inf (critical).
    limit : str
        "constant" (ordered: every entry -> theta_star, a rank-one kernel), "diagonal" (chaotic: the normalized
        kernel -> identity) or "none" (critical: no exponential approach).
    theta_star : float
        Ordered: the common limit q*/(1 - chi_1) of every entry; chaotic: the limit q* c*/(1 - chi_c*) of the
        off-diagonal entries (the diagonal grows like chi_1^l); critical: inf (the diagonal grows like q* l).
    q_star, c_star, chi1, chi_c : float
        The mean-field numbers behind it (chi_c: slope of the correlation map at c*).
    reason : str
    """

    phase: str
    xi: float
    limit: str
    theta_star: float
    q_star: float
    c_star: float
    chi1: float
    chi_c: float
    reason: str


def ntk_depth_scale(act, sigma_w2, sigma_b2, q0=1.0) -> NTKDepthScale:
    """The depth scale and degenerate limit of the NTK at (sigma_w2, sigma_b2) (see the module docstring).

    q* is the fixed point reached from q^1 = q0; scalars only.
    """
    p = propagation(act, check.nonnegative("sigma_w2", sigma_w2, scalar=True),
                    check.nonnegative("sigma_b2", sigma_b2, scalar=True), q0)
    q, chi, c_star, chi_c = float(p.q_star), float(p.chi1), float(p.c_star), float(p.chi_c)
    if abs(chi - 1.0) <= CRITICAL_TOLERANCE:
        return NTKDepthScale(
            "critical", math.inf, "none", math.inf, q, c_star, chi, chi_c,
            "on the edge of chaos the diagonal grows like q* l and the kernel approaches its limit only "
            "polynomially in depth: no depth scale (trainable at any depth, Xiao et al. 2020)",
        )
    if chi < 1.0:
        xi = -1.0 / math.log(chi) if chi > 0 else 0.0
        return NTKDepthScale(
            "ordered", xi, "constant", q / (1.0 - chi), q, c_star, chi, chi_c,
            f"ordered phase: every entry tends to q*/(1 - chi_1) = {q / (1.0 - chi):.6g} like l chi_1^l, a rank-one "
            f"kernel that cannot tell inputs apart (untrainable beyond a few xi = {xi:.6g} layers)",
        )
    off = q * c_star / (1.0 - chi_c)
    if off > 0:
        xi, rate = 1.0 / math.log(chi), "chi_1^-l"
    else:  # c* = 0: the off-diagonal entries vanish like chi_c*^l themselves
        xi, rate = (1.0 / math.log(chi / chi_c) if chi_c > 0 else 0.0), "l (chi_c*/chi_1)^l (c* = 0)"
    return NTKDepthScale(
        "chaotic", xi, "diagonal", off, q, c_star, chi, chi_c,
        f"chaotic phase: the diagonal grows like chi_1^l while the off-diagonal entries tend to q* c*/(1 - chi_c*) "
        f"= {off:.6g}, so Theta/Theta_ii tends to the identity like {rate} (xi = {xi:.6g} layers): the kernel "
        "memorizes and does not generalize",
    )
