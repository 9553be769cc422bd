"""Finite-width corrections at leading order in 1/n, for any activation (Roberts, Yaida & Hanin 2022, ch. 4;
Yaida 2020).

One input x^0 through a network of widths [n_0, n_1, ..., n_L] (docs/conventions.md §1, §11).  Given x^{l-1}
the pre-activations h^l_i are iid N(0, s^l) with s^l = sigma_w^2 |x^{l-1}|^2 / n_{l-1} + sigma_b^2, exactly, at
any width: h^l is a Gaussian scale mixture over the random s^l, so every statistic of one unit follows from
the law of s^l:

    E[(h^l_i)^2] = E[s^l] =: G^l,   E[(h^l_i)^2 (h^l_j)^2] - G^l G^l = Var(s^l)  (i != j: the four-point vertex),
    excess kurtosis of h^l_i = 3 Var(s^l) / (G^l)^2,   Var(|h^l|^2 / n_l) = Var(s^l) + 2 E[(s^l)^2] / n_l.

Since s^{l+1} = sigma_b^2 + (sigma_w^2 / n_l) sum_i phi(h^l_i)^2, with V(q) = E[phi(sqrt(q) z)^2],
V4(q) = E[phi(sqrt(q) z)^4] and K^l the mean-field q^l, expanding around K^l to first order in 1/n gives
the recursions

    Var(s^{l+1}) = sigma_w^4 [ (V4(K^l) - V(K^l)^2) / n_l + V'(K^l)^2 Var(s^l) ],
    G^{l+1} - K^{l+1} = sigma_w^2 [ V'(K^l) (G^l - K^l) + V''(K^l) Var(s^l) / 2 ],

from Var(s^1) = 0, G^1 = K^1 (the input is fixed).  This is the four-point-vertex recursion of Roberts, Yaida &
Hanin (their V^(l) = n_{l-1} Var(s^l), chi_par = sigma_w^2 V'(K)) and their O(1/n) shift of the kernel, for
widths that may differ.  V' and V'' are Gaussian integrals with Hermite weights (:func:`q_derivative`): no
derivative of phi, so kinks are exact.  Every result is first order: the neglected terms are O(sum_l 1/n_l^2)
times depth-dependent factors (ReLU without bias: exact kurtosis 3 prod_l (1 + 5/n_l) - 3 against 15 sum_l 1/n_l
here), so the expansion needs sum_l 1/n_l (the depth-to-width ratio L/n) small; :func:`finite_width` warns
(:class:`~meanfield.errors.FiniteWidthWarning`) when it is not.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from . import validation as check
from .activations import Activation, activation
from .errors import FiniteWidthWarning
from .gaussian import derivative_moment, expectation, q_derivative, second_moment, second_moment_slope
from .trajectory import trajectory

__all__ = ["FiniteWidth", "finite_width", "BREAKDOWN_RATIO", "BREAKDOWN_KURTOSIS"]

#: sum_l 1/n_l (the depth-to-width ratio) from which the 1/n expansion is reported unreliable.
BREAKDOWN_RATIO = 0.1
#: predicted excess kurtosis from which the 1/n expansion is reported unreliable.
BREAKDOWN_KURTOSIS = 1.0


class LayerMoments:
    """The one-dimensional Gaussian integrals of phi at each layer's mean-field variance K^l (1-D array).

    V, dV, d2V: E[phi^2] and its first two q-derivatives; V4 = E[phi^4]; D, dD, d2D: E[phi'^2] and its
    q-derivatives; D4 = E[phi'^4]; VD = E[phi^2 phi'^2]; cross = E[phi(u) phi'(u) u] / sqrt(K) (u = sqrt(K) z).
    Computed once per distinct K.  ``jacobian=False`` skips the derivative-of-phi integrals.
    """

    def __init__(self, act: Activation, K: np.ndarray, jacobian: bool = False):
        K = np.asarray(K, dtype=float)
        distinct, inverse = np.unique(K, return_inverse=True)
        inverse = inverse.reshape(K.shape)
        phi, dphi, kinks = act.phi, act.dphi, act.kinks

        def spread(values):
            return np.asarray(values, dtype=float)[inverse]

        self.V = spread(second_moment(act, distinct))
        self.dV = spread(second_moment_slope(act, distinct))
        self.d2V = spread(q_derivative(lambda x: phi(x) ** 2, distinct, 2, kinks))
        self.V4 = spread(expectation(lambda x: phi(x) ** 4, distinct, kinks))
        if jacobian:
            self.D = spread(derivative_moment(act, distinct))
            self.dD = spread(q_derivative(lambda x: dphi(x) ** 2, distinct, 1, kinks))
            self.d2D = spread(q_derivative(lambda x: dphi(x) ** 2, distinct, 2, kinks))
            self.D4 = spread(expectation(lambda x: dphi(x) ** 4, distinct, kinks))
            self.VD = spread(expectation(lambda x: (phi(x) * dphi(x)) ** 2, distinct, kinks))
            self.cross = spread(expectation(lambda x: phi(x) * dphi(x) * x, distinct, kinks) / np.sqrt(distinct))


def hidden_widths(widths) -> tuple[list[int], np.ndarray]:
    """Checked widths [n_0, ..., n_L] and the hidden widths n_1..n_{L-1} as floats."""
    widths = check.widths(widths)
    return widths, np.asarray(widths[1:-1], dtype=float)


def vertex_recursion(sw2: float, K: np.ndarray, m: LayerMoments, hidden: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(Var(s^l), G^l - K^l) for l = 1..L at first order in 1/n (module docstring)."""
    L = K.size
    var, shift = np.zeros(L), np.zeros(L)
    for l in range(L - 1):
        var[l + 1] = sw2 * sw2 * ((m.V4[l] - m.V[l] ** 2) / hidden[l] + m.dV[l] ** 2 * var[l])
        shift[l + 1] = sw2 * (m.dV[l] * shift[l] + 0.5 * m.d2V[l] * var[l])
    return var, shift


def breakdown_message(what: str, ratio: float, largest: float, label: str) -> str | None:
    """The warning text when a first-order 1/n result is unreliable (``largest``: the size of its correction)."""
    if ratio < BREAKDOWN_RATIO and largest < BREAKDOWN_KURTOSIS:
        return None
    return (
        f"{what} is a first-order expansion in 1/n and is unreliable here: the depth-to-width ratio "
        f"sum_l 1/n_l = {ratio:.3g} (L/n for equal widths; reliable below {BREAKDOWN_RATIO:g}) and the {label} "
        f"reaches {largest:.3g} (reliable below {BREAKDOWN_KURTOSIS:g}); the neglected terms are of relative size "
        "~ L/n: use wider layers, fewer layers, or Monte Carlo (meanfield.simulate.sample_fluctuations)"
    )


@dataclass(frozen=True, eq=False)
class FiniteWidth:
    """Leading 1/n statistics of one input's pre-activations h^1..h^L (module docstring).

    Per-layer arrays have shape (L,), index l - 1 for layer l.

    Attributes
    ----------
    activation : str
    sigma_w2, sigma_b2, q0 : float
        q0 = |x^0|^2 / n_0 (q^1 = sigma_w^2 q0 + sigma_b^2).
    widths : list of int
        [n_0, ..., n_L].
    q : ndarray
        The mean-field (infinite-width) q^l = K^l.
    vertex : ndarray
        Var(s^l) = E[(h_i^l)^2 (h_j^l)^2] - E[(h_i^l)^2]^2 (i != j), O(1/n); Roberts, Yaida & Hanin's four-point
        vertex is n_{l-1} times it.
    kernel_shift : ndarray
        E[(h^l_i)^2] - q^l, the O(1/n) shift of the kernel (0 for relu and linear at every width).
    depth_to_width : float
        sum_{l=1}^{L-1} 1/n_l, the expansion parameter (L/n up to one layer for equal widths).
    reliable : bool
        False when the expansion breaks down (a :class:`~meanfield.errors.FiniteWidthWarning` was issued).
    """

    activation: str
    sigma_w2: float
    sigma_b2: float
    q0: float
    widths: list
    q: np.ndarray
    vertex: np.ndarray
    kernel_shift: np.ndarray
    depth_to_width: float
    reliable: bool

    @property
    def depth(self) -> int:
        return int(self.q.size)

    @property
    def kernel(self) -> np.ndarray:
        """E[(h^l_i)^2] = q^l + kernel_shift, to first order in 1/n."""
        return self.q + self.kernel_shift

    @property
    def excess_kurtosis(self) -> np.ndarray:
        """Excess (Fisher) kurtosis of one unit h^l_i, E[h^4]/E[h^2]^2 - 3 = 3 Var(s^l)/(q^l)^2 (0 for h^1)."""
        return 3.0 * self.vertex / self.q**2

    @property
    def q_variance(self) -> np.ndarray:
        """Variance across networks of the layer's empirical q^l = |h^l|^2 / n_l: Var(s^l) + 2 (q^l)^2 / n_l."""
        return self.vertex + 2.0 * self.q**2 / np.asarray(self.widths[1:], dtype=float)

    def __str__(self) -> str:
        head = (
            f"{self.activation}, sigma_w2={self.sigma_w2:g}, sigma_b2={self.sigma_b2:g}, widths "
            f"{self.widths[0]}..{self.widths[-1]} (L = {self.depth}), sum 1/n_l = {self.depth_to_width:.4g}: "
            f"h^L excess kurtosis {self.excess_kurtosis[-1]:.6g}, kernel shift {self.kernel_shift[-1]:.6g} "
            f"(q^L = {self.q[-1]:.6g}), Var(|h^L|^2/n_L) = {self.q_variance[-1]:.6g}"
        )
        return head if self.reliable else head + " [the 1/n expansion is unreliable here]"


def finite_width(act, sigma_w2, sigma_b2, widths, q0=1.0) -> FiniteWidth:
    """Leading 1/n corrections of one input's pre-activation statistics at every layer (module docstring).

    Parameters
    ----------
    act : str, callable or Activation
    sigma_w2 : float
        Weight variance (> 0).
    sigma_b2 : float
        Bias variance (>= 0).
    widths : sequence of int
        [n_0, n_1, ..., n_L], as :class:`exact.ReLUNetwork`; L = len(widths) - 1 is the depth.  The hidden
        widths n_1..n_{L-1} set the corrections; n_L only the variance of the empirical q^L.
    q0 : float
        |x^0|^2 / n_0 (> 0); q^1 = sigma_w^2 q0 + sigma_b^2.

    Returns
    -------
    FiniteWidth
        ``.excess_kurtosis``, ``.vertex``, ``.kernel_shift``, ``.q_variance`` per layer h^1..h^L.

    Warns
    -----
    FiniteWidthWarning
        When sum_l 1/n_l >= 0.1 or the predicted excess kurtosis reaches 1: depth/width of order one, where
        the first-order expansion breaks down (the message reports the ratio).
    """
    act = activation(act)
    sw2 = check.positive("sigma_w2", sigma_w2, scalar=True)
    sb2 = check.nonnegative("sigma_b2", sigma_b2, scalar=True)
    q0 = check.positive("q0", q0, scalar=True)
    widths, hidden = hidden_widths(widths)
    K = trajectory(act, sw2, sb2, len(widths) - 1, q0).q
    var, shift = vertex_recursion(sw2, K, LayerMoments(act, K), hidden)
    ratio = float(np.sum(1.0 / hidden))
    kurtosis = 3.0 * var / K**2
    message = breakdown_message("finite_width", ratio, float(np.max(np.abs(kurtosis))), "excess kurtosis")
    if message:
        warnings.warn(message, FiniteWidthWarning, stacklevel=2)
    return FiniteWidth(act.name, sw2, sb2, q0, widths, K, var, shift, ratio, message is None)
