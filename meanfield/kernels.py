"""Kernels of deep networks at infinite width: two inputs (``kernel``) and Gram matrices (``nngp_kernel``).

Depth counts weight layers (docs/conventions.md §3), as neural-tangents' ``serial(Dense, (act, Dense) x (L-1))``:

    K^1 = sigma_w^2 X X^T / n_0 + sigma_b^2,
    K^{l+1}_ij = sigma_w^2 E[phi(u_i) phi(u_j)] + sigma_b^2,   (u_i, u_j) ~ N(0, K^l restricted to i, j).

Routes: closed-form bivariate kernels (relu/leaky relu arc-cosine, erf arcsin, sin, linear); for
smooth activations without them (tanh, sigmoid, swish, gelu, softplus, smooth formulas) Mehler's
series sum_k a_k(q_i) a_k(q_j) c^k with Hermite coefficients computed once per layer for the n
diagonal variances, truncated where its Cauchy-Schwarz bound certifies ``rtol``; everything else
(and any pair the series cannot certify) by quadrature.

Depth: at most :data:`MAX_DEPTH` weight layers.  The recursion stops early, with the same result, once
a layer maps the kernel onto itself to the last bit (the floating-point iteration has reached its fixed
point: every deeper layer returns the same numbers), so deep ordered or chaotic networks cost only the
layers it takes to converge.  A kernel that leaves double precision raises a ParameterError.
"""
from __future__ import annotations

import numpy as np

from . import validation as check
from .activations import activation
from .errors import ParameterError
from .closed_forms import closed_forms
from .gaussian import _HermiteSeries, cross_moment, derivative_cross_moment, derivative_moment, second_moment

__all__ = ["kernel", "nngp_kernel", "MAX_DEPTH"]

#: Largest depth the kernels accept (the recursion costs one layer of Gaussian integrals per layer).
MAX_DEPTH = 100_000


def _kernel_depth(depth) -> int:
    L = check.depth(depth)
    if L > MAX_DEPTH:
        raise ParameterError(
            f"depth = {depth!r} is above the {MAX_DEPTH} layers the kernel recursion accepts (it costs one layer "
            "of Gaussian integrals per layer); kernels of ordered or chaotic networks converge long before: "
            f"use depth <= {MAX_DEPTH}"
        )
    return L


def _recurse(step, state: tuple, depth: int, stationary: bool = True) -> tuple:
    """Apply ``step(state, layer)`` for layer = 2..depth.  A ``stationary`` step (the same map at every
    layer) stops once it returns its input exactly (a floating-point fixed point: further layers change
    nothing).  Refuses kernels that leave double precision."""
    for layer in range(2, depth + 1):
        new = step(state, layer)
        if not all(np.all(np.isfinite(v)) for v in new):
            raise ParameterError(
                f"the kernel exceeds double precision at layer {layer} (variances beyond 1.8e308): the "
                "signal grows without bound at these sigma_w2, sigma_b2; use a smaller depth or sigma_w2"
            )
        if stationary and all(np.array_equal(a, b) for a, b in zip(new, state)):
            return new
        state = new
    return state


def _checked_first_layer(*arrays) -> None:
    if not all(np.all(np.isfinite(a)) for a in arrays):
        raise ParameterError(
            "the first layer's kernel sigma_w2 |x|^2 / n_0 + sigma_b2 exceeds double precision (inputs or "
            "variances too large, beyond 1.8e308); rescale the inputs"
        )


def kernel(act, sigma_w2, sigma_b2, depth, q1, q2, c):
    """Variances and correlation of two inputs' pre-activations h^L after ``depth`` weight layers.

    Parameters
    ----------
    act : str, callable or Activation
    sigma_w2, sigma_b2 : array_like
        Weight and bias variances (>= 0).
    depth : int
        Number of weight layers L >= 1 (depth 1: h^1 = W^1 x + b^1).
    q1, q2 : array_like
        Input second moments |x_1|^2 / n_0 and |x_2|^2 / n_0 (>= 0).
    c : array_like
        Input cosine similarity x_1 . x_2 / (|x_1| |x_2|), in [-1, 1].

    Returns
    -------
    (q1, q2, c) : tuple of float or ndarray
        Statistics of h^L: its two variances and its correlation.
    """
    act = activation(act)
    L = _kernel_depth(depth)
    sw2, sb2, a, b, cc = np.broadcast_arrays(
        check.nonnegative("sigma_w2", sigma_w2),
        check.nonnegative("sigma_b2", sigma_b2),
        check.nonnegative("q1", q1),
        check.nonnegative("q2", q2),
        check.correlation("c", c),
    )
    with np.errstate(over="ignore", invalid="ignore"):
        k11, k22 = sw2 * a + sb2, sw2 * b + sb2
        k12 = sw2 * cc * np.sqrt(a * b) + sb2
    _checked_first_layer(k11, k22, k12)

    def step(state, layer):
        k11, k22, k12 = state
        corr = _correlation(k12, k11, k22)
        with np.errstate(over="ignore", invalid="ignore"):
            return (sw2 * second_moment(act, k11) + sb2, sw2 * second_moment(act, k22) + sb2,
                    sw2 * cross_moment(act, k11, k22, corr) + sb2)

    k11, k22, k12 = _recurse(step, (k11, k22, k12), L)
    out = (k11, k22, _correlation(k12, k11, k22))
    if np.ndim(k11) == 0:
        return tuple(float(v) for v in out)
    return out


def _correlation(k12, k11, k22):
    """k12 / sqrt(k11 k22) clipped to [-1, 1]; 1 where both variances vanish (identical zeros)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.atleast_1d(k12 / (np.sqrt(k11) * np.sqrt(k22)))  # no overflow of k11 k22
    c[np.isnan(c)] = 1.0
    return np.clip(c, -1.0, 1.0, out=c).reshape(np.shape(k12))


def _pair_kernel(act, q, i, j, c, rtol, derivative: bool = False):
    """E[phi(u_i) phi(u_j)] (``derivative``: E[phi'(u_i) phi'(u_j)], the NTK's dot-phi kernel) for the
    pairs (i, j) with correlations c, diagonal variances q: closed form, else Mehler's series where it
    certifies ``rtol`` (smooth phi), else quadrature."""
    forms = closed_forms(act)
    closed = forms.Cd if derivative else forms.C
    direct = derivative_cross_moment if derivative else cross_moment
    if closed is not None:
        return closed(q[i], q[j], c)
    if act.is_smooth:
        f, moment = (act.dphi, derivative_moment) if derivative else (act.phi, second_moment)
        series = _HermiteSeries(f, lambda v: moment(act, v), q)
        series.trim(rtol)
        value, ok = series.pair(series, c, i, j, rtol=rtol)
        if not np.all(ok):
            bad = ~ok
            value[bad] = direct(act, q[i[bad]], q[j[bad]], c[bad])
        return value
    return direct(act, q[i], q[j], c)


def _gram_inputs(sigma_w2, sigma_b2, X, rtol) -> tuple[float, float, np.ndarray]:
    """Checked (sigma_w^2, sigma_b^2, X) of a Gram-matrix kernel."""
    sw2 = check.nonnegative("sigma_w2", sigma_w2, scalar=True)
    sb2 = check.nonnegative("sigma_b2", sigma_b2, scalar=True)
    X = check.real_array("X", X)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ParameterError(f"X must be a non-empty 2-D array (inputs as rows), got shape {X.shape}")
    if not 0 < rtol < 1:
        raise ParameterError(f"rtol must lie in (0, 1), got {rtol!r}")
    return float(sw2), float(sb2), X


def _symmetric(diagonal, upper, i, j) -> np.ndarray:
    """The symmetric matrix with this diagonal and these upper-triangle entries at (i, j)."""
    n = diagonal.size
    out = np.empty((n, n))
    out[i, j] = upper
    out[j, i] = upper
    out[np.diag_indices(n)] = diagonal
    return out


def nngp_kernel(act, sigma_w2, sigma_b2, depth, X, *, rtol: float = 1e-10):
    """The NNGP Gram matrix K^L of the rows of ``X`` after ``depth`` weight layers.

    Parameters
    ----------
    act : str, callable or Activation
    sigma_w2, sigma_b2 : float
        Weight and bias variances (>= 0).
    depth : int
        Number of weight layers L >= 1.
    X : array_like, shape (n, n_0)
        Inputs, one per row.
    rtol : float
        Accuracy of the Mehler-series route (relative to sqrt(K_ii K_jj)); closed forms are exact
        and quadrature reaches ~1e-12.

    Returns
    -------
    ndarray, shape (n, n)
        Symmetric; K^L_ij = E[h^L_i(x_a) h^L_i(x_b)].
    """
    act = activation(act)
    L = _kernel_depth(depth)
    sw2, sb2, X = _gram_inputs(sigma_w2, sigma_b2, X, rtol)
    n = X.shape[0]
    with np.errstate(over="ignore", invalid="ignore"):
        K = sw2 * (X @ X.T) / X.shape[1] + sb2
    _checked_first_layer(K)
    i, j = np.triu_indices(n, k=1)

    def step(state, layer):
        q, off = state
        c = _correlation(off, q[i], q[j])
        with np.errstate(over="ignore", invalid="ignore"):
            return sw2 * second_moment(act, q) + sb2, sw2 * _pair_kernel(act, q, i, j, c, rtol) + sb2

    q, off = _recurse(step, (np.diag(K).copy(), K[i, j]), L)
    return _symmetric(q, off, i, j)
