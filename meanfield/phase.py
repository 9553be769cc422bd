"""Phase diagrams over (sigma_w^2, sigma_b^2) grids (Poole et al. 2016, Schoenholz et al. 2017).

Everything is computed from the ATTRACTING q* reached from q^1 = 1 (not from the S(q*)
parametrisation of the critical line, which can sit on an unstable fixed point): one vectorized
fixed-point solve for the whole grid (on verified interpolants of V, D, V', see
:mod:`meanfield.tabulate`), chi_1 = sigma_w^2 D(q*), the q-map slope, and, when asked for, xi_c from
the stable correlation fixed point c* (the Mehler series for smooth activations, built once per grid
point; the chaotic points need bivariate integrals, so they are computed only on access).  The critical line chi_1 = 1 comes from :func:`meanfield.critical_sigma_w2` with its
stability flags.

With dropout p (docs/conventions.md §10; Schoenholz et al. 2017) q* and chi_1 are those of sigma_w^2/(1 - p)
without dropout, the line chi_1 = 1 moves to (1 - p) times the edge of chaos, c* < 1 and xi_c is finite at
every point, below :attr:`PhaseDiagram.xi_c_bound`.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from . import validation as check
from .activations import Activation, activation
from .criticality import critical_point
from .maps import (
    CRITICAL_TOLERANCE,
    _correlation_fixed_point,
    _effective_sw2,
    _fixed_point,
    _rate,
    depth_scale_from_rate,
)
from .tabulate import tabulated_moments

__all__ = ["PhaseDiagram", "phase_diagram"]


@dataclass(frozen=True, eq=False)
class PhaseDiagram:
    """Mean-field quantities on a grid; arrays have shape (len(sigma_b2), len(sigma_w2)).

    Attributes
    ----------
    activation : str
    sigma_w2, sigma_b2 : ndarray
        The grid axes.
    q_star, chi1 : ndarray
        q* reached from q^1 = 1 (inf where q diverges; chi_1 is NaN there) and chi_1 = sigma_w^2 D(q*).
    q_slope, xi_q, c_star, xi_c : ndarray
        The slope s_q of the variance map, xi_q = -1/log s_q, the stable correlation fixed point and
        xi_c = -1/log chi_c (NaN where q diverges).  Computed on first access: they need V'(q) and
        bivariate Gaussian integrals, which q* and chi_1 do not.
    critical_sigma_w2 : ndarray
        The edge of chaos for every sigma_b^2 (NaN where none exists).
    critical_stable : ndarray of bool
        Whether that critical q* attracts (False also where none exists).
    dropout : float
        The drop probability p (module docstring): chi_1 is then the gradient factor sigma_w^2 D(q*)/(1 - p)
        and the critical line is chi_1 = 1, no edge of chaos (xi_c is finite everywhere).
    """

    activation: str
    sigma_w2: np.ndarray
    sigma_b2: np.ndarray
    q_star: np.ndarray
    chi1: np.ndarray
    critical_sigma_w2: np.ndarray
    critical_stable: np.ndarray
    _act: Activation = field(repr=False)
    dropout: float = 0.0

    @functools.cached_property
    def _correlation(self) -> tuple[np.ndarray, np.ndarray]:
        """(c*, xi_c) on the grid, from the stable correlation fixed point of every finite point."""
        W, B = np.meshgrid(self.sigma_w2, self.sigma_b2)
        q = self.q_star.ravel()
        finite = np.isfinite(q)
        c_star = np.full(q.shape, np.nan)
        chi_c = np.full(q.shape, np.nan)
        if np.any(finite):
            moments = tabulated_moments(self._act)
            c_star[finite], chi_c[finite] = _correlation_fixed_point(
                self._act, W.ravel()[finite], B.ravel()[finite], q[finite], moments.V, moments.D, 1.0 - self.dropout
            )
        xi_c = np.where(finite, depth_scale_from_rate(np.nan_to_num(chi_c)), np.nan)
        return c_star.reshape(W.shape), xi_c.reshape(W.shape)

    @functools.cached_property
    def q_slope(self) -> np.ndarray:
        W, _ = np.meshgrid(self.sigma_w2, self.sigma_b2)
        out = np.full(W.shape, np.nan)
        finite = np.isfinite(self.q_star)
        if np.any(finite):
            dV = tabulated_moments(self._act).dV
            out[finite] = _rate(self._act, _effective_sw2(W[finite], self.dropout), self.q_star[finite], lambda _, v: dV(v))
        return out

    @property
    def xi_q(self) -> np.ndarray:
        return np.where(np.isfinite(self.q_star), depth_scale_from_rate(np.nan_to_num(self.q_slope)), np.nan)

    @property
    def c_star(self) -> np.ndarray:
        return self._correlation[0]

    @property
    def xi_c(self) -> np.ndarray:
        return self._correlation[1]

    @property
    def xi_c_bound(self) -> np.ndarray:
        """The bound -1/log(1 - p (1 - sigma_b^2/q*)) on xi_c with dropout p (inf for p = 0, NaN where q diverges;
        see :attr:`meanfield.Propagation.xi_c_bound`)."""
        _, B = np.meshgrid(self.sigma_w2, self.sigma_b2)
        q = self.q_star
        with np.errstate(divide="ignore", invalid="ignore"):
            shrink = np.where(q > 0, 1.0 - B / q, 1.0)
        return np.where(np.isfinite(q), depth_scale_from_rate(1.0 - self.dropout * np.nan_to_num(shrink)), np.nan)

    @property
    def diverged(self) -> np.ndarray:
        """True where q grows without bound (no finite fixed point reached from q^1 = 1)."""
        return np.isinf(self.q_star)

    @property
    def phase(self) -> np.ndarray:
        """-1 ordered (chi_1 < 1), +1 chaotic (chi_1 > 1), 0 critical (|chi_1 - 1| <= 1e-9), NaN diverged."""
        out = np.sign(self.chi1 - 1.0)
        out[np.abs(self.chi1 - 1.0) <= CRITICAL_TOLERANCE] = 0.0
        return out

    def plot(self, ax=None, quantity: str = "chi1", **kwargs):
        """Heat map of ``quantity`` ("chi1", "xi_c", "q_star") with the critical line; returns the Axes.

        Diverged points have their own colour and legend entry; ``kwargs`` go to ``pcolormesh``.
        """
        from .plotting import plot_phase_diagram

        return plot_phase_diagram(self, ax=ax, quantity=quantity, **kwargs)


def phase_diagram(act, sigma_w2_grid, sigma_b2_grid, *, dropout=0.0) -> PhaseDiagram:
    """q*, chi_1, xi_q (and, on access, c* and xi_c) on the grid sigma_w2_grid x sigma_b2_grid, vectorized.

    Every point agrees with :func:`meanfield.fixed_point` and :func:`meanfield.chi1` (interpolants of V
    and D verified to 1e-12; homogeneous activations use the closed form of their linear map).

    Parameters
    ----------
    act : str, callable or Activation
    sigma_w2_grid, sigma_b2_grid : array_like
        1-D grids of weight and bias variances (>= 0).
    dropout : float
        Drop probability p in [0, 1) of inverted dropout (module docstring).

    Returns
    -------
    PhaseDiagram
    """
    act = activation(act)
    w1 = np.atleast_1d(check.nonnegative("sigma_w2_grid", sigma_w2_grid)).ravel()
    b1 = np.atleast_1d(check.nonnegative("sigma_b2_grid", sigma_b2_grid)).ravel()
    p = check.dropout(dropout)
    W, B = np.meshgrid(w1, b1)
    w, b = _effective_sw2(W.ravel(), p), B.ravel()
    moments = tabulated_moments(act)
    q = _fixed_point(act, w, b, 1.0, diverge="inf", V=moments.V)
    finite = np.isfinite(q)
    chi = np.full(q.shape, np.nan)
    if np.any(finite):
        chi[finite] = _rate(act, w[finite], q[finite], lambda _, v: moments.D(v))
    points = critical_point(act, b1, dropout=p)
    shape = W.shape
    return PhaseDiagram(
        act.name,
        w1,
        b1,
        q.reshape(shape),
        chi.reshape(shape),
        np.array([point.sigma_w2 for point in points]),
        np.array([bool(point.stable) for point in points]),
        act,
        p,
    )
