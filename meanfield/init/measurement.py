"""Measuring a real network: the matrices' scale and orthogonality, and the singular values of its Jacobian.

:func:`measure` runs an input through given layers, accumulates J = D^L W^L ... D^1 W^1 (rescaled at
every layer, so deep products neither overflow nor underflow), and judges the eigenvalues of J J^T by
the criteria of :func:`meanfield.isometry` (mean, spread, edge, rank).  Used by
:func:`meanfield.init.assess` for the measured half of its verdict.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..activations import activation
from ..simulate.networks import propagate, sample_biases, single_threaded_blas
from ..spectra.isometry import ATOM_TOLERANCE, EDGE_RATIO, MEAN_TOLERANCE, SPREAD_THRESHOLD, _criteria

__all__ = ["MeasuredNetwork", "measure", "ORTHOGONALITY_TOLERANCE"]

#: Below this the Gram matrix of a layer counts as a multiple of the identity (orthogonal ensemble).
ORTHOGONALITY_TOLERANCE = 1e-8


@dataclass(frozen=True)
class MeasuredNetwork:
    """A real network built with the recipe (or the given matrices), measured.

    widths : (n_0, ..., n_L); seed : the seed used.
    sigma_w2 : per layer |W|_F^2 / fan_out = fan_in mean(W_ij^2).
    orthogonality_error : max over layers of max|G - g I| / g, G the smaller Gram matrix (W W^T or
        W^T W), g = trace(G) / dim (0 to rounding for orthogonal, EOI, square IDInit).
    density : fraction of non-zero entries over all layers.
    q_last : mean of (h^L_i)^2 (compare with q*).
    chi1 : (mean of lambda)^(1/L), lambda the eigenvalues of J J^T: the per-layer gradient factor.
    singular_values : (min, max) singular value of J; n_singular_values = min(n_0, n_L).
    mean, normalised_var, edge_ratio, zero_fraction : of lambda (zero_fraction: numerically zero
        singular values, relative tolerance max(n) * eps).
    band_fraction : fraction of singular values in [1 - tolerance, 1 + tolerance].
    criteria, isometric : the rule of :func:`meanfield.isometry` applied to these numbers.
    """

    widths: tuple
    seed: Any
    sigma_w2: tuple
    orthogonality_error: float
    density: float
    q_last: float
    chi1: float
    singular_values: tuple
    n_singular_values: int
    mean: float
    normalised_var: float
    edge_ratio: float
    zero_fraction: float
    band_fraction: float
    criteria: tuple
    isometric: bool


def orthogonality_error(w: np.ndarray) -> float:
    gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    g = np.trace(gram) / gram.shape[0]
    if g == 0:
        return math.inf
    return float(np.max(np.abs(gram - g * np.eye(gram.shape[0]))) / g)


def prepared_input(rng: np.random.Generator, act, n0: int, q0: float, raw: bool) -> np.ndarray:
    """x^0 = phi(h^0), h^0 = sqrt(n_0 q0) g / |g|: then h^1 sits at V(q0) = q* when q0 = q* (the convention
    of :func:`meanfield.simulate.jacobian_singular_values`, docs/conventions.md §4).  ``raw``: x^0 = h^0
    (looks-linear, whose first layer [W0; -W0] has sigma_w^2 = 1 and passes |x|^2 / n_0 on unchanged)."""
    g = rng.standard_normal(n0)
    h0 = g * math.sqrt(q0 * n0 / float(g @ g))
    return h0 if raw else act.phi(h0)


@single_threaded_blas
def measure(act, weights, biases, x, linear_output, seed, tolerance, thresholds) -> MeasuredNetwork:
    act_obj = activation(act)
    depth = len(weights)
    n0 = weights[0].shape[1]
    jac = np.eye(n0)
    log_scale = 0.0
    h = None
    for index, (w, _, h) in enumerate(propagate(act_obj, zip(weights, biases), x), start=1):
        jac = w @ jac
        if not (linear_output and index == depth):
            jac *= act_obj.dphi(h)[:, None]
        norm = float(np.linalg.norm(jac))
        if norm > 0:
            jac /= norm
            log_scale += math.log(norm)
    s = np.linalg.svd(jac, compute_uv=False)
    n_s = s.size
    top = float(s.max()) if n_s else 0.0
    zero = s <= top * max(jac.shape) * np.finfo(float).eps if top > 0 else np.ones(n_s, bool)
    with np.errstate(divide="ignore", over="ignore", under="ignore", invalid="ignore"):
        log_lam = 2.0 * (np.log(s) + log_scale)
        finite = log_lam[np.isfinite(log_lam)]
        shift = float(finite.max()) if finite.size else 0.0
        scaled = np.exp(log_lam - shift)
        mean_s = float(scaled.mean())
        log_mean = math.log(mean_s) + shift if mean_s > 0 else -math.inf
        mean = math.exp(log_mean) if log_mean < 700 else math.inf
        norm_var = float(scaled.var() / mean_s**2) if mean_s > 0 else math.nan
        edge = float(scaled.max() / mean_s) if mean_s > 0 else math.inf
        sv = np.exp(log_lam / 2)
        chi = math.exp(log_mean / depth) if math.isfinite(log_mean) else 0.0
    zero_fraction = float(zero.mean())
    band = float(np.mean((sv >= 1 - tolerance) & (sv <= 1 + tolerance)))
    # the rank threshold widened by one unit in the number of singular values, as isometry's Monte Carlo
    crit = _criteria(log_mean, norm_var, edge, zero_fraction, *thresholds[:3], thresholds[3] + 1.0 / n_s)
    return MeasuredNetwork(
        widths=(n0,) + tuple(w.shape[0] for w in weights),
        seed=seed,
        sigma_w2=tuple(float(np.sum(w * w) / w.shape[0]) for w in weights),
        orthogonality_error=max(orthogonality_error(w) for w in weights),
        density=float(sum(np.count_nonzero(w) for w in weights) / sum(w.size for w in weights)),
        q_last=float(np.mean(h * h)),
        chi1=chi,
        singular_values=(float(sv.min()), float(sv.max())),
        n_singular_values=int(n_s),
        mean=mean,
        normalised_var=norm_var,
        edge_ratio=edge,
        zero_fraction=zero_fraction,
        band_fraction=band,
        criteria=crit,
        isometric=all(c.passed for c in crit),
    )


def default_thresholds() -> tuple:
    return MEAN_TOLERANCE, SPREAD_THRESHOLD, EDGE_RATIO, ATOM_TOLERANCE


def sample_network_biases(rng, weights, sb2: float, shared: bool) -> list[np.ndarray]:
    """N(0, sigma_b^2) biases; looks-linear shares them as [b0; -b0] in the doubled layers."""
    out = []
    for index, w in enumerate(weights):
        n = w.shape[0]
        if shared and index < len(weights) - 1 and len(weights) > 1:
            b0 = sample_biases(rng, n // 2, sb2)
            out.append(np.concatenate([b0, -b0]))
        else:
            out.append(sample_biases(rng, n, sb2))
    return out
