"""Sampling real finite random networks: weights, biases, forward passes, empirical q^l and c^l.

This is sigprop's one network sampler.  Every random quantity comes from a numpy
:class:`~numpy.random.Generator` built from an explicit seed (``np.random.default_rng(seed)``); the
building blocks take the generator so that callers can chain them on one stream.

Conventions (docs/conventions.md; Poole et al. 2016): input x^0 in R^{n_0}; for l = 1..L
h^l = W^l x^{l-1} + b^l, x^l = phi(h^l).  Depth counts weight layers, so a depth-L network has the
pre-activations h^1, ..., h^L and h^1 = W^1 x^0 + b^1 sees the raw input (no phi on the input).

- Gaussian weights: W_ij ~ N(0, sigma_w^2 / fan_in), biases b_i ~ N(0, sigma_b^2).
- Orthogonal weights: W = sigma_w O with O Haar-distributed (square layers: O^T O = I), sampled as the
  Q factor of the QR decomposition of a standard Gaussian matrix with the signs of R's diagonal made
  positive (Mezzadri 2007; used for deep networks by Saxe, McClelland & Ganguli 2014).  Rectangular
  layers: O has orthonormal rows (fan_out <= fan_in) or columns (fan_out > fan_in), Haar on the
  Stiefel manifold, and the scale keeps the fan-in variance E[W_ij^2] = sigma_w^2 / fan_in of the mean
  field (see :func:`sample_weights`).

Building blocks, reused by the Jacobian sampler, the initialization recipes and the exact package:

- :func:`haar_orthogonal`, :func:`sample_weights`, :func:`sample_biases`: one layer's parameters,
  optionally for a stack of ``n_networks`` independent networks (leading axis).
- :func:`sample_layers`: lazily yields (W^l, b^l) for a list of widths (one layer in memory at a time).
- :func:`propagate`: lazily yields (W^l, b^l, h^l) for a batch of inputs through given layers;
  :func:`forward` collects the pre-activations h^1..h^L.
- :func:`signal_statistics`: empirical q^l and c^l of two inputs, to compare with the mean-field maps
  (:func:`meanfield.variance_map`, :func:`meanfield.correlation_map`).
- every ``rng``/``seed`` may also be a :class:`~meanfield.simulate.NetworkStreams`, one random stream
  per network, so that a network's draws do not depend on the networks sampled with it (what makes
  :func:`meanfield.simulate.sweep` independent of its task split).

Array layout: weights (..., fan_out, fan_in), biases (..., fan_out), inputs (..., n_inputs, n_0),
pre-activations (..., n_inputs, n_l), where ``...`` is empty or (n_networks,).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence, Union

import numpy as np
from threadpoolctl import threadpool_limits

from .. import validation as check
from ..activations import Activation, activation
from ..errors import ParameterError
from ..validation import RNGLike
from .streams import _normal, _source

__all__ = [
    "WEIGHT_KINDS",
    "haar_orthogonal",
    "sample_weights",
    "sample_biases",
    "sample_layers",
    "propagate",
    "forward",
    "signal_statistics",
    "SignalStatistics",
]

#: Allowed values of the ``weights`` argument.
WEIGHT_KINDS = ("gaussian", "orthogonal")

#: What the ``act`` arguments accept (see :func:`meanfield.activation`).
ActivationLike = Union[str, Activation, Callable[[np.ndarray], np.ndarray]]


# ----------------------------------------------------------------------------------------------
# argument checks
# ----------------------------------------------------------------------------------------------

def single_threaded_blas(fn):
    """Run ``fn`` with BLAS limited to one thread (threadpoolctl).

    The samplers apply many stacked small products and QR factorisations; with a multi-threaded
    OpenBLAS competing for the cores (another process, a notebook kernel, a busy CI machine) these
    run many times slower than single-threaded (measured: 36 ms vs 1 ms for a (2, 1000) x (1000,
    1000) product under load), while on an idle machine one thread costs little here.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with threadpool_limits(limits=1, user_api="blas"):
            return fn(*args, **kwargs)

    return wrapper


def _weights_kind(weights) -> str:
    if not isinstance(weights, str) or weights.strip().lower() not in WEIGHT_KINDS:
        raise ParameterError(f"weights must be one of {', '.join(map(repr, WEIGHT_KINDS))}; got {weights!r}")
    return weights.strip().lower()




def _input_vector(name: str, value) -> np.ndarray:
    arr = check.real_array(name, value)
    if arr.ndim != 1 or arr.size == 0:
        raise ParameterError(f"{name} must be a non-empty 1-D input vector, got shape {arr.shape}")
    return arr


# ----------------------------------------------------------------------------------------------
# one layer's parameters
# ----------------------------------------------------------------------------------------------
@single_threaded_blas
def haar_orthogonal(rng: RNGLike, rows: int, cols: int, n_networks: int | None = None) -> np.ndarray:
    """Haar-distributed matrices with orthonormal rows or columns (square: orthogonal matrices).

    With m = max(rows, cols), n = min(rows, cols): draw A (m x n) with iid N(0, 1) entries, take the
    reduced QR decomposition A = Q R and return Q diag(sign(diag R)), i.e. the unique Q whose R has a
    positive diagonal (Mezzadri 2007, "How to generate random matrices from the classical compact
    groups", Notices AMS 54; LAPACK's Householder QR alone is not Haar, e.g. its Q_11 is always <= 0).
    Q is then uniform on the Stiefel manifold of m x n matrices with orthonormal columns; it is
    returned as is when rows >= cols and transposed (orthonormal rows) when rows < cols.

    Parameters
    ----------
    rng : numpy.random.Generator, seed or NetworkStreams
        The stream to draw from (an int or None seeds a new Generator); NetworkStreams: one stream per
        matrix of the stack (n_networks defaults to its length).
    rows, cols : int
        Shape of each matrix, both >= 1.
    n_networks : int or None
        If given, return a stack of that many independent matrices (leading axis); the QR runs on the
        whole stack at once.

    Returns
    -------
    ndarray, shape (rows, cols) or (n_networks, rows, cols)
        O O^T = I_rows if rows <= cols, O^T O = I_cols if rows >= cols (to rounding, ~1e-15).
    """
    rows = check.positive_int("rows", rows)
    cols = check.positive_int("cols", cols)
    rng, n_networks = _source(rng, n_networks)
    m, n = max(rows, cols), min(rows, cols)
    lead = () if n_networks is None else (n_networks,)
    check.memory(f"{int(np.prod(lead, dtype=float))} Haar matrices of shape {(rows, cols)}", 3.0 * np.prod(lead + (m, n), dtype=float) * 8)
    a = _normal(rng, n_networks, (m, n))
    q, r = np.linalg.qr(a)  # reduced: q (..., m, n), r (..., n, n); works on stacks
    signs = np.where(np.diagonal(r, axis1=-2, axis2=-1) < 0, -1.0, 1.0)
    q = q * signs[..., None, :]
    return q if rows >= cols else np.swapaxes(q, -1, -2).copy()


def sample_weights(
    rng: RNGLike,
    fan_out: int,
    fan_in: int,
    sigma_w2: float,
    weights: str = "gaussian",
    n_networks: int | None = None,
) -> np.ndarray:
    """One layer's weight matrix W (fan_out x fan_in), or a stack of ``n_networks`` of them.

    - ``"gaussian"``: W_ij ~ N(0, sigma_w^2 / fan_in), iid (Poole et al. 2016).
    - ``"orthogonal"``: W = sigma_w sqrt(max(fan_out, fan_in) / fan_in) O with O from
      :func:`haar_orthogonal` (Saxe et al. 2014; Mezzadri 2007).  For fan_out <= fan_in (square
      layers included) this is W = sigma_w O with orthonormal rows, W W^T = sigma_w^2 I, as in
      docs/conventions.md §1.  For fan_out > fan_in, O has orthonormal columns and the factor sqrt(fan_out/fan_in)
      makes W^T W = sigma_w^2 (fan_out/fan_in) I, so |W x|^2 / fan_out = sigma_w^2 |x|^2 / fan_in
      exactly: in both families E[W_ij^2] = sigma_w^2 / fan_in and the mean field's fan-in scaling
      q = sigma_w^2 |x|^2 / fan_in + sigma_b^2 holds for any input dimension.

    Parameters
    ----------
    rng : numpy.random.Generator, seed or NetworkStreams
        NetworkStreams: one stream per network of the stack (n_networks defaults to its length).
    fan_out, fan_in : int
        Output and input widths, >= 1.
    sigma_w2 : float
        Weight variance sigma_w^2 >= 0.
    weights : {"gaussian", "orthogonal"}
    n_networks : int or None
        Stack of independent matrices along a leading axis (one vectorized draw).

    Returns
    -------
    ndarray, shape (fan_out, fan_in) or (n_networks, fan_out, fan_in)

    Raises
    ------
    ParameterError
        Negative or non-finite sigma_w2, widths < 1, unknown ``weights``.
    """
    kind = _weights_kind(weights)
    fan_out = check.positive_int("fan_out", fan_out)
    fan_in = check.positive_int("fan_in", fan_in)
    sw2 = check.nonnegative("sigma_w2", sigma_w2, scalar=True)
    rng, n_networks = _source(rng, n_networks)
    shape = (() if n_networks is None else (n_networks,)) + (fan_out, fan_in)
    check.memory(f"weights of shape {shape}", np.prod(shape, dtype=float) * 8)
    if kind == "gaussian":
        w = _normal(rng, n_networks, (fan_out, fan_in))
        w *= np.sqrt(sw2 / fan_in)  # in place: no second copy of a possibly large stack
        return w
    w = haar_orthogonal(rng, fan_out, fan_in, n_networks)
    w *= np.sqrt(sw2 * max(fan_out, fan_in) / fan_in)
    return w


def sample_biases(rng: RNGLike, width: int, sigma_b2: float, n_networks: int | None = None) -> np.ndarray:
    """One layer's biases b_i ~ N(0, sigma_b^2), shape (width,) or (n_networks, width) (``rng`` as in
    :func:`sample_weights`).

    The draw is made even when sigma_b^2 = 0 (the result is then all zeros), so the random stream,
    hence every later layer, does not depend on whether the biases vanish.
    """
    width = check.positive_int("width", width)
    sb2 = check.nonnegative("sigma_b2", sigma_b2, scalar=True)
    rng, n_networks = _source(rng, n_networks)
    return np.sqrt(sb2) * _normal(rng, n_networks, (width,))


def sample_layers(
    rng: RNGLike,
    widths: Sequence[int],
    sigma_w2: float,
    sigma_b2: float,
    weights: str = "gaussian",
    n_networks: int | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Lazily yield (W^l, b^l) for l = 1..L of a network with widths [n_0, n_1, ..., n_L].

    Each layer is drawn when it is requested (W^l first, then b^l, from the one stream ``rng``), so
    only one layer's parameters need to be in memory: a stack of 8 width-1000 layers is 64 MB.
    Arguments are checked at once, before the first layer is drawn.

    Parameters
    ----------
    rng : numpy.random.Generator, seed or NetworkStreams
        NetworkStreams: one stream per network of the stack (n_networks defaults to its length).
    widths : sequence of int
        [n_0, ..., n_L], at least two entries, each >= 1; L = len(widths) - 1 is the depth.
    sigma_w2, sigma_b2 : float
        Weight and bias variances (>= 0).
    weights : {"gaussian", "orthogonal"}
    n_networks : int or None
        Sample a stack of independent networks (leading axis of every array).

    Yields
    ------
    (W, b) : ndarray (..., n_l, n_{l-1}), ndarray (..., n_l)
    """
    kind = _weights_kind(weights)
    widths = check.widths(widths)
    sw2 = check.nonnegative("sigma_w2", sigma_w2, scalar=True)
    sb2 = check.nonnegative("sigma_b2", sigma_b2, scalar=True)
    rng, n_networks = _source(rng, n_networks)

    def layers():
        for fan_in, fan_out in zip(widths[:-1], widths[1:]):
            w = sample_weights(rng, fan_out, fan_in, sw2, kind, n_networks)
            b = sample_biases(rng, fan_out, sb2, n_networks)
            yield w, b

    return layers()


# ----------------------------------------------------------------------------------------------
# forward passes
# ----------------------------------------------------------------------------------------------
def _phi(act: ActivationLike) -> Callable[[np.ndarray], np.ndarray]:
    return activation(act).phi


def propagate(
    act: ActivationLike, layers: Iterable[tuple[np.ndarray, np.ndarray]], x
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Lazily run inputs through layers, yielding (W^l, b^l, h^l) for l = 1, 2, ...

    h^1 = W^1 x + b^1 and h^l = W^l phi(h^{l-1}) + b^l (docs/conventions.md §1).  Computed as batched matrix
    products x^{l-1} @ (W^l)^T + b^l over every network and input at once: the only Python loop is
    over layers.  Yielding W^l with h^l lets callers build Jacobians D^l W^l ... on the same pass.

    Parameters
    ----------
    act : str, callable or Activation
        Anything :func:`meanfield.activation` accepts; its numpy ``phi`` is used.
    layers : iterable of (W, b)
        W of shape (n_l, n_{l-1}) or (n_networks, n_l, n_{l-1}); b of shape (n_l,) or (n_networks, n_l),
        e.g. :func:`sample_layers`.
    x : array_like
        Inputs of shape (n_0,), (n_inputs, n_0), or (n_networks, n_inputs, n_0) (one batch per network).

    Yields
    ------
    (W, b, h) : the layer and its pre-activations, h of shape (..., n_inputs, n_l), or (..., n_l)
        when ``x`` is one vector.
    """
    phi = _phi(act)
    x = check.real_array("x", x)
    if x.ndim == 0 or x.shape[-1] == 0:
        raise ParameterError(f"x must be an input vector or a batch of them (..., n_0), got shape {x.shape}")
    single = x.ndim == 1
    if single:
        x = x[None, :]

    def run():
        inp = x
        for index, (w, b) in enumerate(layers, start=1):
            w = np.asarray(w, dtype=float)
            b = np.asarray(b, dtype=float)
            if w.ndim < 2 or w.shape[-1] != inp.shape[-1]:
                raise ParameterError(
                    f"layer {index}: weights of shape {w.shape} do not take inputs of width {inp.shape[-1]}"
                )
            if b.ndim < 1 or b.shape[-1] != w.shape[-2]:
                raise ParameterError(
                    f"layer {index}: biases of shape {b.shape} do not match {w.shape[-2]} output units"
                )
            h = np.matmul(inp, np.swapaxes(w, -1, -2)) + b[..., None, :]
            yield w, b, (h[..., 0, :] if single else h)
            inp = phi(h)

    return run()


def forward(act: ActivationLike, weights_list: Sequence[np.ndarray], biases_list: Sequence[np.ndarray], x) -> list[np.ndarray]:
    """Pre-activations h^1, ..., h^L of a batch of inputs (docs/conventions.md §1: h^l = W^l x^{l-1} + b^l).

    Parameters
    ----------
    act : str, callable or Activation
    weights_list, biases_list : sequences of ndarray, equal length L
        W^l of shape (n_l, n_{l-1}) or (n_networks, n_l, n_{l-1}); b^l of shape (n_l,) or
        (n_networks, n_l) (e.g. from :func:`sample_weights` and :func:`sample_biases`).
    x : array_like, shape (n_0,), (n_inputs, n_0) or (n_networks, n_inputs, n_0)

    Returns
    -------
    list of L ndarrays
        Entry l - 1 is h^l, of shape (..., n_inputs, n_l) ((..., n_l) for a single input vector),
        ``...`` being (n_networks,) when any weights or inputs are stacked.
    """
    weights_list, biases_list = list(weights_list), list(biases_list)
    if len(weights_list) != len(biases_list) or not weights_list:
        raise ParameterError(
            f"need one bias vector per weight matrix and at least one layer; got {len(weights_list)} "
            f"weight matrices and {len(biases_list)} bias vectors"
        )
    return [h for _, _, h in propagate(act, zip(weights_list, biases_list), x)]


# ----------------------------------------------------------------------------------------------
# empirical signal statistics
# ----------------------------------------------------------------------------------------------
def _se(values: np.ndarray) -> np.ndarray:
    """Standard error of the mean over axis 0 (NaN for a single network)."""
    n = values.shape[0]
    if n < 2:
        return np.full(values.shape[1:], np.nan)
    return np.std(values, axis=0, ddof=1) / np.sqrt(n)


@dataclass(frozen=True, eq=False)
class SignalStatistics:
    """Empirical signal statistics of sampled networks (from :func:`signal_statistics`).

    Index l - 1 of every per-layer array refers to layer l = 1..depth (see ``layers``).

    Attributes
    ----------
    activation : Activation
    sigma_w2, sigma_b2 : float
    depth, width, n0, n_networks : int
    weights : str
        "gaussian" or "orthogonal".
    seed : object
        The seed that was passed.
    q_networks : ndarray, shape (n_networks, depth, n_inputs)
        Per network: q^l = (1/width) sum_i (h_i^l)^2 for each input.
    q12_networks, c_networks : ndarray, shape (n_networks, depth), or None for one input
        Per network: q12^l = (1/width) sum_i h_i^l(x1) h_i^l(x2) and
        c^l = sum_i h1_i h2_i / sqrt(sum_i h1_i^2 sum_i h2_i^2) (NaN when a norm is 0).

    Properties ``q``, ``q12``, ``c`` average over networks; ``q_se``, ``q12_se``, ``c_se`` are the
    standard errors of those means, std(ddof=1)/sqrt(n_networks) (NaN for one network).
    """

    activation: Activation
    sigma_w2: float
    sigma_b2: float
    depth: int
    width: int
    n0: int
    weights: str
    n_networks: int
    seed: object
    q_networks: np.ndarray
    q12_networks: np.ndarray | None
    c_networks: np.ndarray | None

    @property
    def layers(self) -> np.ndarray:
        """Layer numbers 1..depth."""
        return np.arange(1, self.depth + 1)

    @property
    def q(self) -> np.ndarray:
        """Mean over networks of q^l, shape (depth, n_inputs)."""
        return self.q_networks.mean(axis=0)

    @property
    def q_se(self) -> np.ndarray:
        """Standard error of ``q`` across networks, shape (depth, n_inputs)."""
        return _se(self.q_networks)

    @property
    def q1(self) -> np.ndarray:
        """``q`` of the first input, shape (depth,)."""
        return self.q[:, 0]

    @property
    def q1_se(self) -> np.ndarray:
        return self.q_se[:, 0]

    @property
    def q2(self) -> np.ndarray | None:
        """``q`` of the second input, shape (depth,), or None."""
        return self.q[:, 1] if self.q_networks.shape[-1] > 1 else None

    @property
    def q2_se(self) -> np.ndarray | None:
        return self.q_se[:, 1] if self.q_networks.shape[-1] > 1 else None

    @property
    def q12(self) -> np.ndarray | None:
        """Mean over networks of the empirical covariance q12^l, shape (depth,), or None."""
        return None if self.q12_networks is None else self.q12_networks.mean(axis=0)

    @property
    def q12_se(self) -> np.ndarray | None:
        return None if self.q12_networks is None else _se(self.q12_networks)

    @property
    def c(self) -> np.ndarray | None:
        """Mean over networks of the empirical correlation c^l, shape (depth,), or None."""
        return None if self.c_networks is None else self.c_networks.mean(axis=0)

    @property
    def c_se(self) -> np.ndarray | None:
        return None if self.c_networks is None else _se(self.c_networks)


@single_threaded_blas
def signal_statistics(
    act: ActivationLike,
    sigma_w2: float,
    sigma_b2: float,
    depth: int,
    width: int,
    x1,
    x2=None,
    weights: str = "gaussian",
    n_networks: int = 1,
    seed: RNGLike = None,
) -> SignalStatistics:
    """Empirical q^l and c^l of one or two inputs through sampled networks, l = 1..depth.

    Samples ``n_networks`` independent networks with widths [n_0, width, ..., width] (``depth`` weight
    layers; n_0 = len(x1)) and measures, per network and layer, q^l = (1/width) sum_i (h_i^l)^2 for
    each input and c^l = sum_i h_i^l(x1) h_i^l(x2) / sqrt(sum_i h_i^l(x1)^2 sum_i h_i^l(x2)^2).
    At infinite width these converge to the mean-field recursions (Poole et al. 2016):
    q^1 = sigma_w^2 |x|^2 / n_0 + sigma_b^2, q^{l+1} = sigma_w^2 E[phi(sqrt(q^l) z)^2] + sigma_b^2,
    and q12^{l+1} = sigma_w^2 E[phi(u1) phi(u2)] + sigma_b^2 with c^l = q12^l / sqrt(q1^l q2^l).
    Fluctuations across networks are O(width^-1/2) and the bias of the means O(1/width).

    Parameters
    ----------
    act : str, callable or Activation
    sigma_w2, sigma_b2 : float
        Weight and bias variances (>= 0).
    depth : int
        Number of weight layers (>= 1); depth=1 measures h^1 only.
    width : int
        Hidden width n_1 = ... = n_L (>= 1).
    x1, x2 : array_like, 1-D of the same length n_0
        Inputs; ``x2=None`` measures q^l of x1 only.
    weights : {"gaussian", "orthogonal"}
        See :func:`sample_weights`.
    n_networks : int
        Independent networks, sampled together (stacked arrays).
    seed : int, SeedSequence, Generator, None or NetworkStreams
        Passed to ``np.random.default_rng``.  The draws are made layer by layer for the whole stack,
        so network k depends on n_networks as well as on the seed; with a :class:`NetworkStreams`
        (of length n_networks) network k depends on its own stream only.

    Returns
    -------
    SignalStatistics
    """
    act = activation(act)
    sw2 = check.nonnegative("sigma_w2", sigma_w2, scalar=True)
    sb2 = check.nonnegative("sigma_b2", sigma_b2, scalar=True)
    depth = check.depth(depth)
    width = check.positive_int("width", width)
    n_networks = check.positive_int("n_networks", n_networks)
    kind = _weights_kind(weights)
    x1 = _input_vector("x1", x1)
    inputs = [x1]
    if x2 is not None:
        x2 = _input_vector("x2", x2)
        if x2.shape != x1.shape:
            raise ParameterError(f"x1 and x2 must have the same length, got {x1.size} and {x2.size}")
        inputs.append(x2)
    x = np.stack(inputs)  # (n_inputs, n0)
    rng, n_networks = _source(seed, n_networks)

    q = np.empty((n_networks, depth, len(inputs)))
    q12 = np.empty((n_networks, depth)) if x2 is not None else None
    c = np.empty((n_networks, depth)) if x2 is not None else None
    layers = sample_layers(rng, [x1.size] + [width] * depth, sw2, sb2, kind, n_networks)
    with np.errstate(invalid="ignore", divide="ignore"):
        for l, (_, _, h) in enumerate(propagate(act, layers, x)):  # h: (n_networks, n_inputs, width)
            sq = np.einsum("nij,nij->ni", h, h)
            q[:, l, :] = sq / width
            if x2 is not None:
                cross = np.einsum("nj,nj->n", h[:, 0], h[:, 1])
                q12[:, l] = cross / width
                c[:, l] = cross / np.sqrt(sq[:, 0] * sq[:, 1])
    return SignalStatistics(act, sw2, sb2, depth, width, x1.size, kind, n_networks, seed, q, q12, c)
