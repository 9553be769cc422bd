"""Phase diagrams over (sigma_w^2, sigma_b^2) grids (Poole et al. 2016, Schoenholz et al. 2017).

Everything is computed from the ATTRACTING q* reached from q^1 = 1 (not from the S(q*)
parametrisation of the critical line, which can sit on an unstable fixed point): one vectorized
fixed-point solve for the whole grid (on verified interpolants of V, D, V', see
:mod:`meanfield.tabulate`), chi_1 = sigma_w^2 D(q*), the q-map slope, and xi_c from the
stable correlation fixed point c* (the Mehler series for smooth activations, built once per grid
point).  The critical line chi_1 = 1 comes from :func:`meanfield.critical_sigma_w2` with its
stability flags.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import validation as check
from .activations import activation
from .criticality import critical_point
from .maps import _correlation_fixed_point, _fixed_point, depth_scale_from_rate
from .tabulate import tabulated_moments

__all__ = ["PhaseDiagram", "phase_diagram"]


@dataclass(frozen=True)
class PhaseDiagram:
    """Mean-field quantities on a grid; arrays have shape (len(sigma_b2), len(sigma_w2)).

    Attributes
    ----------
    activation : str
    sigma_w2, sigma_b2 : ndarray
        The grid axes.
    q_star, chi1, q_slope, xi_q, xi_c, c_star : ndarray
        q* reached from q^1 = 1 (inf where q diverges; the other arrays are NaN there).
    critical_sigma_w2 : ndarray
        The edge of chaos for every sigma_b^2 (NaN where none exists).
    critical_stable : ndarray of bool
        Whether that critical q* attracts (False also where none exists).
    """

    activation: str
    sigma_w2: np.ndarray
    sigma_b2: np.ndarray
    q_star: np.ndarray
    chi1: np.ndarray
    q_slope: np.ndarray
    xi_q: np.ndarray
    xi_c: np.ndarray
    c_star: np.ndarray
    critical_sigma_w2: np.ndarray
    critical_stable: np.ndarray

    @property
    def phase(self) -> np.ndarray:
        """-1 ordered (chi_1 < 1), +1 chaotic (chi_1 > 1), 0 critical (|chi_1 - 1| <= 1e-9), NaN diverged."""
        out = np.sign(self.chi1 - 1.0)
        out[np.abs(self.chi1 - 1.0) <= 1e-9] = 0.0
        return out

    def plot(self, ax=None, quantity: str = "chi1"):
        """Heat map of ``quantity`` ("chi1", "xi_c", "q_star") with the critical line; returns the Axes."""
        from .plotting import plot_phase_diagram

        return plot_phase_diagram(self, ax=ax, quantity=quantity)


def phase_diagram(act, sigma_w2_grid, sigma_b2_grid) -> PhaseDiagram:
    """q*, chi_1, xi_q and xi_c on the grid sigma_w2_grid x sigma_b2_grid, vectorized.

    Parameters
    ----------
    act : str, callable or Activation
    sigma_w2_grid, sigma_b2_grid : array_like
        1-D grids of weight and bias variances (>= 0).

    Returns
    -------
    PhaseDiagram
    """
    act = activation(act)
    w1 = np.atleast_1d(check.nonnegative("sigma_w2_grid", sigma_w2_grid)).ravel()
    b1 = np.atleast_1d(check.nonnegative("sigma_b2_grid", sigma_b2_grid)).ravel()
    W, B = np.meshgrid(w1, b1)
    w, b = W.ravel(), B.ravel()
    moments = tabulated_moments(act)
    q = _fixed_point(act, w, b, 1.0, diverge="inf", V=moments.V)
    finite = np.isfinite(q)
    chi = np.full(q.shape, np.nan)
    slope = np.full(q.shape, np.nan)
    c_star = np.full(q.shape, np.nan)
    chi_c = np.full(q.shape, np.nan)
    if np.any(finite):
        wf, bf, qf = w[finite], b[finite], q[finite]
        chi[finite] = wf * moments.D(qf)
        slope[finite] = wf * moments.dV(qf)
        c_star[finite], chi_c[finite] = _correlation_fixed_point(act, wf, bf, qf, moments.V, moments.D)
    xi_q = np.where(finite, depth_scale_from_rate(np.nan_to_num(slope)), np.nan)
    xi_c = np.where(finite, depth_scale_from_rate(np.nan_to_num(chi_c)), np.nan)
    points = critical_point(act, b1)
    shape = W.shape
    return PhaseDiagram(
        act.name,
        w1,
        b1,
        q.reshape(shape),
        chi.reshape(shape),
        slope.reshape(shape),
        xi_q.reshape(shape),
        xi_c.reshape(shape),
        c_star.reshape(shape),
        np.array([p.sigma_w2 for p in points]),
        np.array([bool(p.stable) for p in points]),
    )
