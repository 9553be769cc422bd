"""The log-normal law of |J u|^2 at finite width, for any activation (Hanin & Nica 2019), to first order in 1/n.

J_l = dx^l / dx^0 = D^l W^l ... D^1 W^1 (docs/conventions.md §4) for one input x^0 of a network with widths
[n_0, ..., n_L], u a direction drawn uniformly at random, independent of x^0.  With v^l = J_l u,

    log(|J_L u|^2 / |u|^2) = sum_{l=1}^L log rho_l,    rho_l = |v^l|^2/|v^{l-1}|^2 = (sigma_w^2/n_{l-1}) sum_{i<=n_l} phi'(h^l_i)^2 g_i^2,

where, given layer l - 1, the pairs (h^l_i / sqrt(s^l), g_i) are iid standard bivariate normal with correlation
gamma'_{l-1} = gamma_{l-1} sqrt((s^l - sigma_b^2)/s^l), gamma_l the cosine between x^l and v^l.  A sum of many
small, nearly independent terms: log |J u|^2 is approximately Gaussian (Hanin & Nica 2019), with mean and
variance linear in the 1/n_l.  To first order, with K_l = q^l (mean field), D(q) = E[phi'(sqrt(q) z)^2],
mu_2 = E[phi'^4], chi_1^l = sigma_w^2 D(K_l), and the fluctuation delta_l = s^l - K_l of
:mod:`meanfield.finite_width` (mean G^l - K^l, variance Var(s^l)):

    E[log rho_l] = log(chi_1^l n_l/n_{l-1}) + a_l E[delta_l] + b_l Var(delta_l)/2 + E[gamma'^2_{l-1}] 2 K_l D'/D - e_l/2,

with a = D'/D, b = (log D)'', e_l = (3 mu_2/D^2 - 1)/n_l the relative variance of rho_l given s^l (3 = E[g^4]).
The variance collects three sources: the sampling noise eps_l of rho_l (variance e_l), the random walk of
delta_l, delta_{l+1} = chi_par^l delta_l + eta_{l+1} (chi_par = sigma_w^2 V'(K), Var(eta_{l+1}) =
sigma_w^4 (V4 - V^2)/n_l), felt through a_l delta_l, and their covariance Cov(eps_l, eta_{l+1}) =
sigma_w^2 (E[phi^2 phi'^2] - V D)/(n_l D) (the same units set rho_l and s^{l+1}):

    Var[log |J_L u|^2] = sum_l e_l + Var(sum_l a_l delta_l) + 2 Cov(sum_l eps_l, sum_l a_l delta_l),

computed by a forward recursion over layers.  The cosine obeys E[gamma_l^2] = A_l^2 E[gamma'^2_{l-1}] +
E[phi^2 phi'^2]/(n_l V D), A_l = E[phi(u) phi'(u) z]/sqrt(V D), from E[gamma_0^2] = 1/n_0.

Within one network and across networks.  Given the network (D^l fixed), the directions u only move the
g_i: the conditional relative variance of rho_l is 2 mu_2/(D^2 n_l) (2 = Var g^2), independent between layers
and, for orthonormal u, u', between directions.  So

    var_within = sum_l 2 mu_2^l / ((D^l)^2 n_l)        (the spread of log |J u|^2 over u in one network),
    var_across = Var - var_within                     (the spread, over networks, of log tr(J^T J)/n_0),

tr(J^T J)/n_0 = E_u |J u|^2/|u|^2 being the mean of the network's squared singular values lambda (over the
n_0 input directions): the number that free probability predicts (its log-mean, ``mean_field``), and that
fluctuates from network to network log-normally with variance var_across.

ReLU: D is constant (a = b = 0), mu_2 = D = 1/2, so mean = sum_l [log(sigma_w^2 n_l/(2 n_{l-1})) - 5/(2 n_l)] and
variance = 5 sum_l 1/n_l (Hanin & Nica), 4 sum_l 1/n_l of it within a network and sum_l 1/n_l across networks
(the fluctuation of the active fractions), for any sigma_b^2; the exact law is that of prod_l (sigma_w^2/n_{l-1})
chi^2_{K_l}, K_l ~ Binomial(n_l, 1/2) (the chain of docs/conventions.md §6).  Neglected terms: O(sum 1/n_l^2).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from . import validation as check
from .activations import activation
from .errors import FiniteWidthWarning
from .finite_width import LayerMoments, breakdown_message, hidden_widths, vertex_recursion
from .trajectory import trajectory

__all__ = ["JacobianNormLaw", "jacobian_norm_law"]


@dataclass(frozen=True, eq=False)
class JacobianNormLaw:
    """First-order mean and variance of log(|J_l u|^2 / |u|^2), l = 1..L (module docstring).

    Attributes
    ----------
    activation : str
    sigma_w2, sigma_b2, q0 : float
    widths : list of int
        [n_0, ..., n_L].
    mean, var : ndarray, shape (L,)
        E and Var of log(|J_l u|^2 / |u|^2) for the Jacobian of the first l layers (index l - 1).
    var_within : ndarray, shape (L,)
        The part of ``var`` that is the spread over directions u within one network (module docstring).
    var_across : ndarray, shape (L,)
        ``var - var_within``: the variance, over networks, of log(tr(J_l^T J_l)/n_0), the log of the mean
        squared singular value of J_l.
    mean_field : ndarray, shape (L,)
        sum_{k<=l} log(chi_1^k n_k / n_{k-1}): the log of E|J_l u|^2/|u|^2 at infinite width.
    depth_to_width : float
        sum_{l=1}^{L} 1/n_l.
    reliable : bool
        False when the 1/n expansion breaks down (a FiniteWidthWarning was issued).
    """

    activation: str
    sigma_w2: float
    sigma_b2: float
    q0: float
    widths: list
    mean: np.ndarray
    var: np.ndarray
    var_within: np.ndarray
    mean_field: np.ndarray
    depth_to_width: float
    reliable: bool

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self.var)

    @property
    def var_across(self) -> np.ndarray:
        return self.var - self.var_within

    def law(self, l: int | None = None):
        """The Gaussian approximation of log(|J_l u|^2/|u|^2) (default l = L), a frozen scipy.stats.norm."""
        from scipy import stats

        L = self.mean.size
        l = L if l is None else check.positive_int("l", l, 1, L)
        return stats.norm(self.mean[l - 1], math.sqrt(self.var[l - 1]))

    def __str__(self) -> str:
        text = (
            f"{self.activation}, sigma_w2={self.sigma_w2:g}, sigma_b2={self.sigma_b2:g}, L = {self.mean.size}, "
            f"sum 1/n_l = {self.depth_to_width:.4g}: log(|J u|^2/|u|^2) ~ N({self.mean[-1]:.6g}, {self.var[-1]:.6g}) "
            f"(infinite width: {self.mean_field[-1]:.6g})"
        )
        return text if self.reliable else text + " [the 1/n expansion is unreliable here]"


def _variance(e, a, chi_par, v_eta, c_cross) -> np.ndarray:
    """Var[sum_{k<=l} (eps_k + a_k delta_k)] for every l, by the forward recursion of the module docstring.

    e[l], a[l], chi_par[l]: layer l (0-based); v_eta[l] = Var(eta_{l+1}) and c_cross[l] = Cov(eps_l, eta_{l+1}).
    """
    L = e.size
    out = np.empty(L)
    var_d = cov_sd = cov_ed = 0.0  # Var(delta_l), Cov(S_{l-1}, delta_l), Cov(E_{l-1}, delta_l)
    var_s = cov_es = sum_e = 0.0  # Var(S_l), Cov(E_l, S_l), Var(E_l)
    for l in range(L):
        var_s += 2 * a[l] * cov_sd + a[l] ** 2 * var_d
        cov_es += a[l] * cov_ed
        sum_e += e[l]
        out[l] = sum_e + var_s + 2 * cov_es
        # to layer l + 1
        cov_sd = chi_par[l] * (cov_sd + a[l] * var_d)
        cov_ed = chi_par[l] * cov_ed + c_cross[l]
        var_d = chi_par[l] ** 2 * var_d + v_eta[l]
    return out


def jacobian_norm_law(act, sigma_w2, sigma_b2, widths, q0=1.0) -> JacobianNormLaw:
    """Mean and variance of log(|J_l u|^2/|u|^2), l = 1..L, to first order in 1/n (module docstring).

    Parameters
    ----------
    act : str, callable or Activation
    sigma_w2 : float
        Weight variance (> 0).
    sigma_b2 : float
        Bias variance (>= 0).
    widths : sequence of int
        [n_0, n_1, ..., n_L]; J_L = dx^L/dx^0 includes the last layer's phi'.
    q0 : float
        |x^0|^2 / n_0 (> 0); pass q0 with sigma_w^2 q0 + sigma_b^2 = q* to start at the fixed point.

    Returns
    -------
    JacobianNormLaw

    Warns
    -----
    FiniteWidthWarning
        When sum_l 1/n_l >= 0.1 or the predicted variance reaches 1 (depth/width of order one).
    """
    act = activation(act)
    sw2 = check.positive("sigma_w2", sigma_w2, scalar=True)
    sb2 = check.nonnegative("sigma_b2", sigma_b2, scalar=True)
    q0 = check.positive("q0", q0, scalar=True)
    widths, hidden = hidden_widths(widths)
    L = len(widths) - 1
    n = np.asarray(widths, dtype=float)
    K = trajectory(act, sw2, sb2, L, q0).q
    m = LayerMoments(act, K, jacobian=True)
    var_s, shift = vertex_recursion(sw2, K, m, hidden)
    if np.any(m.D <= 0):
        raise check.ParameterError(f"phi' of {act.name} vanishes almost everywhere at some layer: J u = 0, log |J u|^2 = -inf")
    a = m.dD / m.D
    b = m.d2D / m.D - a * a
    e = (3 * m.D4 / m.D**2 - 1) / n[1:]
    # the cosine between x^l and v^l: E[gamma'^2_{l-1}] enters layer l's mean
    A2 = m.cross**2 / (m.V * m.D)
    fresh = m.VD / (m.V * m.D) / n[1:]
    gamma2 = np.empty(L)  # E[gamma'^2_{l-1}], l = 1..L
    g = 1.0 / n[0]
    for l in range(L):
        gamma2[l] = g * (K[l] - sb2) / K[l]
        g = A2[l] * gamma2[l] + fresh[l]
    layer_mf = np.log(sw2 * m.D * n[1:] / n[:-1])
    layer_mean = layer_mf + a * shift + 0.5 * b * var_s + gamma2 * 2 * K * a - e / 2
    v_eta = np.append(sw2**2 * (m.V4[:-1] - m.V[:-1] ** 2) / hidden, 0.0)
    c_cross = np.append(sw2 * (m.VD[:-1] - m.V[:-1] * m.D[:-1]) / (hidden * m.D[:-1]), 0.0)
    var = _variance(e, a, sw2 * m.dV, v_eta, c_cross)
    ratio = float(np.sum(1.0 / n[1:]))
    message = breakdown_message("jacobian_norm_law", ratio, float(var[-1]), "variance of log |J u|^2")
    if message:
        warnings.warn(message, FiniteWidthWarning, stacklevel=2)
    within = np.cumsum(2 * m.D4 / m.D**2 / n[1:])
    return JacobianNormLaw(act.name, sw2, sb2, q0, widths, np.cumsum(layer_mean), var, within, np.cumsum(layer_mf),
                           ratio, message is None)
