"""Measuring a real network: the singular values of its input-output Jacobian, judged like the theory.

:func:`measure` runs inputs through given dense layers and accumulates J = D^L W^L ... D^1 W^1 for
every input of the batch at once (rescaled at every layer, so deep products neither overflow nor
underflow); torch modules get their Jacobian from autograd instead
(:func:`meanfield.init.torch_models.module_jacobian`).  Either way :func:`summarize` turns the singular
values into the numbers of :func:`meanfield.isometry`: the eigenvalues lambda of J J^T (docs/conventions.md
§4) are the squared singular values plus n_L - n_0 zeros when the output is wider than the input, so
E[lambda] = tr(J J^T) / n_L, the mean of the per-layer factors chi_1 whatever the widths.  Used by
:func:`meanfield.init.assess` for the measured half of its verdict.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import validation as check
from ..activations import activation
from ..simulate.networks import propagate, sample_biases, single_threaded_blas
from ..spectra.isometry import ATOM_TOLERANCE, EDGE_RATIO, MEAN_TOLERANCE, SPREAD_THRESHOLD, _criteria

__all__ = ["MeasuredNetwork", "measure", "summarize", "network_jacobians"]


@dataclass(frozen=True)
class MeasuredNetwork:
    """A real network (built with a recipe, given as matrices, or a torch module), measured.

    widths : (n_0, ..., n_L) of the dense chain (for a torch module: (input size, output size)).
    seed : the seed used for what was drawn (biases, input), or None.
    layers : per-layer :class:`~meanfield.init.statistics.LayerStatistics` (numbered from 1).
    sigma_w2 : per layer fan_in mean(W_ij^2) (the ``sigma_w2`` of ``layers``).
    orthogonality_error : max over layers of the defect max|G - g I| / g.
    density : fraction of non-zero weights over all layers.
    q0 : |x^0|^2 / n_0 of the input (mean over the batch); n_inputs : its batch size.
    q_last : mean of (h^L_i)^2, the last layer's pre-activation second moment (compare with q*); NaN for
        a torch module.
    jacobian : how J was obtained: "product of the matrices" (float64) or "torch autograd, <dtype>" (in the
        module's precision: singular values below max(n) eps s_max of that dtype count as zero).
    chi1 : the measured per-layer factor (E[lambda] / g)^(1/k), k the number of layers with an activation
        derivative D^l in J and g the mean-field factor sigma_w2^L of an output layer without one (1 otherwise).
    singular_values : every singular value of J (min(n_L, n_0) per input, inputs one after the other).
    min_singular_value, max_singular_value : their extremes; n_singular_values : their number.
    mean, normalised_var, edge_ratio, zero_fraction : of lambda (zero_fraction: n_L - n_0 structural zeros
        and numerically zero singular values, at most max(n) eps s_max).
    band_fraction : fraction of singular values in [1 - tolerance, 1 + tolerance].
    criteria, isometric : the rule of :func:`meanfield.isometry` applied to these numbers.
    """

    widths: tuple
    seed: Any
    layers: tuple
    sigma_w2: tuple
    orthogonality_error: float
    density: float
    q0: float
    n_inputs: int
    q_last: float
    jacobian: str
    chi1: float
    singular_values: np.ndarray
    min_singular_value: float
    max_singular_value: float
    n_singular_values: int
    mean: float
    normalised_var: float
    edge_ratio: float
    zero_fraction: float
    band_fraction: float
    criteria: tuple
    isometric: bool


def default_thresholds() -> tuple:
    return MEAN_TOLERANCE, SPREAD_THRESHOLD, EDGE_RATIO, ATOM_TOLERANCE


def prepared_input(rng: np.random.Generator, act, n0: int, q: float, raw: bool) -> np.ndarray:
    """x^0 = phi(h^0), h^0 = sqrt(n_0 q) g / |g|: then h^1 sits at V(q) = q* when q = q* (the convention
    of :func:`meanfield.simulate.jacobian_singular_values`, docs/conventions.md §4).  ``raw``: x^0 = h^0,
    an input with |x^0|^2 / n_0 = q exactly (the first layer sees the raw input: q^1 = sigma_w^2 q + sigma_b^2;
    also looks-linear, whose first layer [W0; -W0] passes |x|^2 / n_0 on unchanged)."""
    g = rng.standard_normal(n0)
    h0 = g * math.sqrt(q * n0 / float(g @ g))
    return h0 if raw else act.phi(h0)


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


@single_threaded_blas
def network_jacobians(act, weights, biases, x: np.ndarray, linear_output: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(singular values (B, min(n_L, n_0)), log scale (B,), h^L (B, n_L)) of J at every input of ``x`` (B, n_0).

    J = D^L W^L ... D^1 W^1 (D^L omitted with ``linear_output``), accumulated for the whole batch as one
    stack of (n_l, n_0) matrices and renormalized after every layer: the singular values of J are
    ``s * exp(log_scale)``.
    """
    act = activation(act)
    n_in, depth = x.shape[1], len(weights)
    check.memory(f"Jacobians of {x.shape[0]} inputs", 8.0 * x.shape[0] * max(w.shape[0] for w in weights) * n_in * 2)
    jac = None
    log_scale = np.zeros(x.shape[0])
    h = None
    layers = zip(weights, [np.zeros(w.shape[0]) if b is None else b for w, b in zip(weights, biases)])
    for index, (w, _, h) in enumerate(propagate(act, layers, x), start=1):
        jac = np.broadcast_to(w, (x.shape[0],) + w.shape) if jac is None else np.matmul(w, jac)
        if not (linear_output and index == depth):
            jac = jac * act.dphi(h)[:, :, None]
        norm = np.linalg.norm(jac, axis=(1, 2))
        scale = np.where(norm > 0, norm, 1.0)
        jac = jac / scale[:, None, None]
        log_scale += np.log(scale)
    return np.linalg.svd(jac, compute_uv=False), log_scale, h


def summarize(s: np.ndarray, log_scale: np.ndarray, n_out: int, n_in: int, chi_layers: int, log_gain: float,
              tolerance: float, thresholds, eps: float = float(np.finfo(float).eps)) -> dict:
    """The isometry numbers of singular values ``s * exp(log_scale)`` ((B, r) and (B,)) of B Jacobians n_out x n_in.

    lambda = s^2 and n_out - r structural zeros per input; chi1 = (E[lambda] / exp(log_gain))^(1/chi_layers);
    a singular value counts as zero below max(n_out, n_in) ``eps`` s_max (``eps`` of the precision J was
    computed in).
    """
    s = np.atleast_2d(s)
    n_in_batch, r = s.shape
    top = s.max(axis=1, keepdims=True)
    numerically_zero = (s <= top * max(n_out, n_in) * eps) | (top == 0)
    zero_fraction = float((numerically_zero.sum() + n_in_batch * (n_out - r)) / (n_in_batch * n_out))
    with np.errstate(divide="ignore", over="ignore", under="ignore", invalid="ignore"):
        log_lam = 2.0 * (np.log(s) + log_scale[:, None])
        finite = log_lam[np.isfinite(log_lam)]
        shift = float(finite.max()) if finite.size else 0.0
        scaled = np.exp(log_lam - shift).ravel()
        # zeros beyond the rank count in E[lambda] = tr(J J^T) / n_out and in the spread
        scaled_all = np.concatenate([scaled, np.zeros(n_in_batch * (n_out - r))])
        mean_s = float(scaled_all.mean())
        log_mean = math.log(mean_s) + shift if mean_s > 0 else -math.inf
        mean = math.exp(log_mean) if log_mean < 700 else math.inf
        norm_var = float(scaled_all.var() / mean_s**2) if mean_s > 0 else math.nan
        edge = float(scaled.max() / mean_s) if mean_s > 0 else math.inf
        sv = np.exp(log_lam / 2).ravel()
        chi = math.exp((log_mean - log_gain) / chi_layers) if math.isfinite(log_mean) and chi_layers > 0 else (
            0.0 if chi_layers > 0 else math.nan)
    band = float(np.mean((sv >= 1 - tolerance) & (sv <= 1 + tolerance)))
    # the rank threshold widened by one unit in the number of eigenvalues, as isometry's Monte Carlo
    crit = _criteria(log_mean, norm_var, edge, zero_fraction, *thresholds[:3], thresholds[3] + 1.0 / n_out)
    sv.flags.writeable = False
    return dict(
        chi1=chi, singular_values=sv, min_singular_value=float(sv.min()), max_singular_value=float(sv.max()),
        n_singular_values=int(sv.size), mean=mean, normalised_var=norm_var, edge_ratio=edge,
        zero_fraction=zero_fraction, band_fraction=band, criteria=crit, isometric=all(c.passed for c in crit),
    )


def measure(act, weights, biases, x, linear_output, seed, tolerance, thresholds, layers) -> MeasuredNetwork:
    """A :class:`MeasuredNetwork` of dense ``weights`` (float64 matrices), ``biases`` (vectors or None) at
    the inputs ``x`` (B, n_0); ``layers`` are their :class:`LayerStatistics`."""
    s, log_scale, h = network_jacobians(act, weights, biases, x, linear_output)
    numbers = summarize(s, log_scale, weights[-1].shape[0], x.shape[1], len(weights), 0.0, tolerance, thresholds)
    return MeasuredNetwork(
        widths=(x.shape[1],) + tuple(w.shape[0] for w in weights), seed=seed, **network_summary(layers),
        q0=float(np.mean(x * x)), n_inputs=int(x.shape[0]), q_last=float(np.mean(h * h)),
        jacobian="product of the matrices", **numbers,
    )


def network_summary(layers) -> dict:
    """The whole-network fields of :class:`MeasuredNetwork` from per-layer statistics."""
    return dict(
        layers=tuple(layers),
        sigma_w2=tuple(s.sigma_w2 for s in layers),
        orthogonality_error=max((s.orthogonality_error for s in layers), default=math.nan),
        density=(sum(s.density * s.n_weights for s in layers) / sum(s.n_weights for s in layers)) if layers else math.nan,
    )
