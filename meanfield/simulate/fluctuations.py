"""Monte Carlo of finite-width fluctuations: s^l, the empirical q^l and c^l, and log |J u|^2 of sampled networks.

Checks :mod:`meanfield.finite_width`, :mod:`meanfield.jacobian_norm` and the dropout maps of
:mod:`meanfield.maps` (docs/conventions.md §10, §11).  One input x^0 with |x^0|^2 / n_0 = q0 (and, with ``c0``,
a second input x'^0 of the same norm and cosine c0), and a direction u uniform on the sphere, independent of
x^0, go through ``n_networks`` Gaussian networks of widths [n_0, ..., n_L]; per network and layer l = 1..L:

- ``s[:, l-1]``: s^l = sigma_w^2 |x^{l-1}|^2 / n_{l-1} + sigma_b^2, the variance of h^l_i given the previous
  layer (h^l is exactly a Gaussian scale mixture over it);
- ``q[:, l-1]``: the empirical |h^l|^2 / n_l;
- ``c[:, l-1]``: the empirical cosine of h^l(x^0) and h^l(x'^0) (with ``c0``);
- ``log_jacobian[:, l-1]``: log(|J_l u|^2 / |u|^2), J_l = dx^l/dx^0 = D^l M^l W^l ... D^1 M^1 W^1.

``dropout=p``: every x^l = M^l phi(h^l), M^l diagonal with independent entries 0 (probability p) or 1/(1 - p)
(inverted dropout, as PyTorch), drawn independently for the two inputs; the tangent shares input 0's masks.

Two methods, equal in law:

- ``"weights"``: every weight matrix and bias is drawn (real networks; memory-chunked over networks);
- ``"chain"``: the exact reduction for Gaussian weights.  Given layer l - 1, the rows of W^l are independent,
  so the vectors (h^l_i(x), h^l_i(x'), (W^l v^{l-1})_i), i = 1..n_l, are iid Gaussian with covariance
  sigma_w^2 Y Y^T / n_{l-1} (+ sigma_b^2 on the input block), Y the rows x^{l-1}, x'^{l-1}, v^{l-1}: n_l
  draws of a 3-vector per layer instead of n_l n_{l-1} weights.  Much cheaper for many networks.

Randomness from one numpy Generator built from ``seed`` (docs/conventions.md §8), networks drawn in chunks.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import validation as check
from ..activations import activation
from ..errors import ParameterError
from .networks import sample_biases, sample_weights, single_threaded_blas

__all__ = ["FluctuationSamples", "sample_fluctuations", "FLUCTUATION_METHODS"]

FLUCTUATION_METHODS = ("chain", "weights")
_CHUNK_ELEMENTS = 4_000_000  # floats of the largest per-chunk array (32 MB)


@dataclass(frozen=True, eq=False)
class FluctuationSamples:
    """Per-network, per-layer samples of :func:`sample_fluctuations`; arrays of shape (n_networks, L).

    ``c`` is None without a second input.  Properties summarize over networks per layer.
    """

    activation: str
    sigma_w2: float
    sigma_b2: float
    widths: list
    q0: float
    c0: float | None
    dropout: float
    method: str
    s: np.ndarray
    q: np.ndarray
    c: np.ndarray | None
    log_jacobian: np.ndarray

    @property
    def n_networks(self) -> int:
        return int(self.s.shape[0])

    @property
    def excess_kurtosis(self) -> np.ndarray:
        """3 Var(s^l) / E[s^l]^2 over networks: the excess kurtosis of one unit h^l_i (a Gaussian scale mixture
        over s^l), estimated without the noise of sampling h given s."""
        return 3.0 * np.var(self.s, axis=0, ddof=1) / np.mean(self.s, axis=0) ** 2


def _directions(rng: np.random.Generator, n_networks: int, n0: int, q0: float, c0):
    """The inputs (rows; same for every network) and the tangent u (one uniform direction per network)."""
    scale = np.sqrt(q0 * n0)
    x = np.zeros((1 if c0 is None else 2, n0))
    x[0, 0] = scale
    if c0 is not None:
        x[1, 0], x[1, 1] = scale * c0, scale * np.sqrt(1.0 - c0 * c0)
    u = rng.standard_normal((n_networks, n0))
    return np.broadcast_to(x, (n_networks,) + x.shape).copy(), u


def _chain_layer(rng, X, v, sw2, sb2, fan_out):
    """One layer of the exact reduction: (H, G) with rows iid Gaussian given (X, v) (module docstring)."""
    Y = np.concatenate([X, v[:, None, :]], axis=1)  # (M, k + 1, n)
    k = X.shape[1]
    cov = sw2 * np.matmul(Y, np.swapaxes(Y, 1, 2)) / Y.shape[-1]
    cov[:, :k, :k] += sb2
    lam, Q = np.linalg.eigh(cov)
    root = Q * np.sqrt(np.clip(lam, 0.0, None))[:, None, :]
    draws = np.matmul(root, rng.standard_normal((X.shape[0], k + 1, fan_out)))
    return draws[:, :k], draws[:, k]


def _weights_layer(rng, X, v, sw2, sb2, fan_out):
    """One layer of real sampled weights: H = W x + b, G = W v."""
    M, _, fan_in = X.shape
    W = sample_weights(rng, fan_out, fan_in, sw2, "gaussian", M)
    b = sample_biases(rng, fan_out, sb2, M)
    H = np.matmul(X, np.swapaxes(W, 1, 2)) + b[:, None, :]
    G = np.matmul(W, v[:, :, None])[:, :, 0]
    return H, G


@single_threaded_blas
def sample_fluctuations(act, sigma_w2, sigma_b2, widths, n_networks, seed=None, *, q0=1.0, c0=None,
                        dropout=0.0, method: str = "chain") -> FluctuationSamples:
    """Sample s^l, |h^l|^2/n_l, (c^l) and log |J_l u|^2 of ``n_networks`` networks (module docstring).

    Parameters
    ----------
    act : str, callable or Activation
    sigma_w2, sigma_b2 : float
        Weight and bias variances (>= 0).
    widths : sequence of int
        [n_0, n_1, ..., n_L] (n_0 >= 2 with ``c0``).
    n_networks : int
    seed : int, SeedSequence, Generator or None
    q0 : float
        |x^0|^2 / n_0 (> 0).
    c0 : float or None
        Cosine of a second input of the same norm (records ``c``).
    dropout : float
        Drop probability p in [0, 1) of inverted dropout on every x^l.
    method : {"chain", "weights"}

    Returns
    -------
    FluctuationSamples
    """
    act = activation(act)
    sw2 = check.nonnegative("sigma_w2", sigma_w2, scalar=True)
    sb2 = check.nonnegative("sigma_b2", sigma_b2, scalar=True)
    widths = check.widths(widths)
    n_networks = check.positive_int("n_networks", n_networks)
    q0 = check.positive("q0", q0, scalar=True)
    p = check.dropout(dropout)
    if c0 is not None:
        c0 = float(check.correlation("c0", c0))
        if widths[0] < 2:
            raise ParameterError(f"two inputs need n_0 >= 2, got widths {widths!r}")
    if method not in FLUCTUATION_METHODS:
        raise ParameterError(f"method must be one of {FLUCTUATION_METHODS}, got {check.shown(method)}")
    rng = check.generator(seed)
    layer = _chain_layer if method == "chain" else _weights_layer
    L, k = len(widths) - 1, 1 if c0 is None else 2
    largest = max(a * b for a, b in zip(widths[:-1], widths[1:])) if method == "weights" else (k + 1) * max(widths)
    chunk = max(1, min(n_networks, _CHUNK_ELEMENTS // largest))
    check.memory(f"fluctuation samples of {n_networks} networks", 4 * 8.0 * n_networks * L)
    s, q, logj = (np.empty((n_networks, L)) for _ in range(3))
    c = None if c0 is None else np.empty((n_networks, L))
    keep = 1.0 - p
    for start in range(0, n_networks, chunk):
        M = min(chunk, n_networks - start)
        X, v = _directions(rng, M, widths[0], q0, c0)
        log_norm = np.log(np.einsum("mi,mi->m", v, v))
        rows = slice(start, start + M)
        for l, fan_out in enumerate(widths[1:]):
            s[rows, l] = sw2 * np.einsum("mi,mi->m", X[:, 0], X[:, 0]) / X.shape[-1] + sb2
            H, G = layer(rng, X, v, sw2, sb2, fan_out)
            q[rows, l] = np.einsum("mi,mi->m", H[:, 0], H[:, 0]) / fan_out
            if c is not None:
                with np.errstate(invalid="ignore", divide="ignore"):
                    c[rows, l] = np.einsum("mi,mi->m", H[:, 0], H[:, 1]) / np.sqrt(
                        np.einsum("mi,mi->m", H[:, 0], H[:, 0]) * np.einsum("mi,mi->m", H[:, 1], H[:, 1]))
            X = act.phi(H)
            v = act.dphi(H[:, 0]) * G
            if p > 0:
                mask = (rng.random(X.shape) < keep) / keep
                X = X * mask
                v = v * mask[:, 0]
            with np.errstate(divide="ignore"):
                logj[rows, l] = np.log(np.einsum("mi,mi->m", v, v)) - log_norm
    return FluctuationSamples(act.name, sw2, sb2, widths, q0, c0, p, method, s, q, c, logj)
