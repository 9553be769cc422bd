"""Monte Carlo: sample real finite random networks and measure their signal statistics.

This is sigprop's one network sampler.  Every random quantity comes from a numpy
:class:`~numpy.random.Generator` built from an explicit seed (``np.random.default_rng(seed)``); the
building blocks take the generator so that callers can chain them on one stream.

Conventions (DESIGN.md; Poole et al. 2016): input x^0 in R^{n_0}; for l = 1..L
h^l = W^l x^{l-1} + b^l, x^l = phi(h^l).  Depth counts weight layers, so a depth-L network has the
pre-activations h^1, ..., h^L and h^1 = W^1 x^0 + b^1 sees the raw input (no phi on the input).

- Gaussian weights: W_ij ~ N(0, sigma_w^2 / fan_in), biases b_i ~ N(0, sigma_b^2).
- Orthogonal weights: W = sigma_w O with O Haar-distributed (square layers: O^T O = I), sampled as the
  Q factor of the QR decomposition of a standard Gaussian matrix with the signs of R's diagonal made
  positive (Mezzadri 2007; used for deep networks by Saxe, McClelland & Ganguli 2014).  Rectangular
  layers: O has orthonormal rows (fan_out <= fan_in) or columns (fan_out > fan_in), Haar on the
  Stiefel manifold, and the scale keeps the fan-in variance E[W_ij^2] = sigma_w^2 / fan_in of the mean
  field (see :func:`sample_weights`).

Building blocks, reused by the Jacobian and exact-finite-width samplers:

- :func:`haar_orthogonal`, :func:`sample_weights`, :func:`sample_biases`: one layer's parameters,
  optionally for a stack of ``n_networks`` independent networks (leading axis).
- :func:`sample_layers`: lazily yields (W^l, b^l) for a list of widths (one layer in memory at a time).
- :func:`propagate`: lazily yields (W^l, b^l, h^l) for a batch of inputs through given layers;
  :func:`forward` collects the pre-activations h^1..h^L.
- :func:`signal_statistics`: empirical q^l and c^l of two inputs, to compare with the mean-field maps
  (:func:`meanfield.variance_map`, :func:`meanfield.correlation_map`).
- :func:`jacobian_singular_values`: input-output Jacobians J = D^L W^L ... D^1 W^1 of sampled networks
  at q* and the eigenvalues lambda of J J^T (a :class:`JacobianSamples`), with the comparison helpers
  :func:`ks_distance`, :func:`ks_bound`, :func:`moment_errors` and :func:`conditioned_bernoulli_p`
  for checking them against the free-probability spectrum (``meanfield.jacobian_spectrum``).

Array layout: weights (..., fan_out, fan_in), biases (..., fan_out), inputs (..., n_inputs, n_0),
pre-activations (..., n_inputs, n_l), where ``...`` is empty or (n_networks,).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence, Union

import numpy as np
from threadpoolctl import threadpool_limits

from . import validation as check
from .activations import Activation, activation
from .errors import ParameterError

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
    "jacobian_singular_values",
    "JacobianSamples",
    "ks_distance",
    "KSResult",
    "ks_bound",
    "moment_errors",
    "MomentErrors",
    "conditioned_bernoulli_p",
]

#: Allowed values of the ``weights`` argument.
WEIGHT_KINDS = ("gaussian", "orthogonal")

#: What the ``rng``/``seed`` arguments accept (an int or None seeds ``np.random.default_rng``).
RNGLike = Union[np.random.Generator, np.random.SeedSequence, int, None]
#: What the ``act`` arguments accept (see :func:`meanfield.activation`).
ActivationLike = Union[str, Activation, Callable[[np.ndarray], np.ndarray]]


# ----------------------------------------------------------------------------------------------
# argument checks
# ----------------------------------------------------------------------------------------------

def _single_threaded_blas(fn):
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

def _generator(rng: RNGLike) -> np.random.Generator:
    """``rng`` as a Generator: a Generator is used as is, a seed (int, SeedSequence, None) seeds a new one."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (np.random.RandomState, float, str, bytes)) or isinstance(rng, bool):
        raise ParameterError(
            f"rng/seed must be a numpy Generator, an integer seed, a SeedSequence or None, got {rng!r}"
        )
    try:
        return np.random.default_rng(rng)
    except (TypeError, ValueError):
        raise ParameterError(
            f"rng/seed must be a numpy Generator, an integer seed, a SeedSequence or None, got {rng!r}"
        ) from None


def _weights_kind(weights) -> str:
    if not isinstance(weights, str) or weights.strip().lower() not in WEIGHT_KINDS:
        raise ParameterError(f"weights must be one of {', '.join(map(repr, WEIGHT_KINDS))}; got {weights!r}")
    return weights.strip().lower()


def _scalar_variance(name: str, value) -> float:
    arr = check.nonnegative(name, value)
    if arr.ndim != 0:
        raise ParameterError(f"{name} must be a single number here, got an array of shape {arr.shape}")
    return float(arr)


def _n_networks(n_networks) -> int | None:
    return None if n_networks is None else check.positive_int("n_networks", n_networks)


def _lead(n_networks: int | None) -> tuple[int, ...]:
    return () if n_networks is None else (n_networks,)


def _input_vector(name: str, value) -> np.ndarray:
    arr = check.real_array(name, value)
    if arr.ndim != 1 or arr.size == 0:
        raise ParameterError(f"{name} must be a non-empty 1-D input vector, got shape {arr.shape}")
    return arr


# ----------------------------------------------------------------------------------------------
# one layer's parameters
# ----------------------------------------------------------------------------------------------
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
    rng : numpy.random.Generator or seed
        The stream to draw from (an int or None seeds a new Generator).
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
    rng = _generator(rng)
    rows = check.positive_int("rows", rows)
    cols = check.positive_int("cols", cols)
    lead = _lead(_n_networks(n_networks))
    m, n = max(rows, cols), min(rows, cols)
    a = rng.standard_normal(lead + (m, n))
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
      DESIGN.md.  For fan_out > fan_in, O has orthonormal columns and the factor sqrt(fan_out/fan_in)
      makes W^T W = sigma_w^2 (fan_out/fan_in) I, so |W x|^2 / fan_out = sigma_w^2 |x|^2 / fan_in
      exactly: in both families E[W_ij^2] = sigma_w^2 / fan_in and the mean field's fan-in scaling
      q = sigma_w^2 |x|^2 / fan_in + sigma_b^2 holds for any input dimension.

    Parameters
    ----------
    rng : numpy.random.Generator or seed
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
    rng = _generator(rng)
    kind = _weights_kind(weights)
    fan_out = check.positive_int("fan_out", fan_out)
    fan_in = check.positive_int("fan_in", fan_in)
    sw2 = _scalar_variance("sigma_w2", sigma_w2)
    n_networks = _n_networks(n_networks)
    if kind == "gaussian":
        w = rng.standard_normal(_lead(n_networks) + (fan_out, fan_in))
        w *= np.sqrt(sw2 / fan_in)  # in place: no second copy of a possibly large stack
        return w
    w = haar_orthogonal(rng, fan_out, fan_in, n_networks)
    w *= np.sqrt(sw2 * max(fan_out, fan_in) / fan_in)
    return w


def sample_biases(rng: RNGLike, width: int, sigma_b2: float, n_networks: int | None = None) -> np.ndarray:
    """One layer's biases b_i ~ N(0, sigma_b^2), shape (width,) or (n_networks, width).

    The draw is made even when sigma_b^2 = 0 (the result is then all zeros), so the random stream,
    hence every later layer, does not depend on whether the biases vanish.
    """
    rng = _generator(rng)
    width = check.positive_int("width", width)
    sb2 = _scalar_variance("sigma_b2", sigma_b2)
    return np.sqrt(sb2) * rng.standard_normal(_lead(_n_networks(n_networks)) + (width,))


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
    rng : numpy.random.Generator or seed
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
    rng = _generator(rng)
    kind = _weights_kind(weights)
    widths = check.widths(widths)
    sw2 = _scalar_variance("sigma_w2", sigma_w2)
    sb2 = _scalar_variance("sigma_b2", sigma_b2)
    n_networks = _n_networks(n_networks)

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

    h^1 = W^1 x + b^1 and h^l = W^l phi(h^{l-1}) + b^l (DESIGN.md).  Computed as batched matrix
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
    """Pre-activations h^1, ..., h^L of a batch of inputs (DESIGN.md: h^l = W^l x^{l-1} + b^l).

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


@_single_threaded_blas
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
    seed : int, SeedSequence, Generator or None
        Passed to ``np.random.default_rng``.  The draws are made layer by layer for the whole stack,
        so network k depends on n_networks as well as on the seed.

    Returns
    -------
    SignalStatistics
    """
    act = activation(act)
    sw2 = _scalar_variance("sigma_w2", sigma_w2)
    sb2 = _scalar_variance("sigma_b2", sigma_b2)
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
    rng = _generator(seed)

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


# ----------------------------------------------------------------------------------------------
# input-output Jacobians and their spectra
# ----------------------------------------------------------------------------------------------
def _with_progress(iterable, total: int, enabled: bool, desc: str):
    """Wrap ``iterable`` in a tqdm bar when asked and tqdm is installed (an optional dependency)."""
    if not enabled:
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:  # progress is a convenience: silently off without tqdm
        return iterable
    return tqdm(iterable, total=total, desc=desc, leave=False)


@dataclass(frozen=True, eq=False)
class JacobianSamples:
    """Eigenvalues of J J^T for sampled networks (from :func:`jacobian_singular_values`).

    J = dx^L / dx^0 = D^L W^L ... D^1 W^1, D^l = diag(phi'(h^l)) (DESIGN.md).  Row k of every
    per-network array is network k; column l - 1 of the per-layer arrays is layer l = 1..depth.

    Attributes
    ----------
    activation : Activation
    sigma_w2, sigma_b2 : float
    depth, width, n_networks : int
    weights : str
        "gaussian" or "orthogonal".
    seed : object
        The seed that was passed.
    q0 : float
        Pre-activation variance the input was prepared at (q* unless given).
    lam : ndarray, shape (n_networks, width)
        Eigenvalues lambda = s^2 of J J^T, ascending per network, computed as exp(log_lam): they
        underflow to 0 (deep relu, contracting phases) or overflow to inf (deep chaotic phases) where
        float64 cannot hold them; ``log_lam`` keeps them.
    log_lam : ndarray, shape (n_networks, width)
        log lambda = 2 (log_scale + log s~) with s~ the singular values of the rescaled product;
        -inf where s~ = 0 exactly.  Below ~1e-30 lambda_max (float64 rounding of the product) the
        values are numerical noise, not spectrum (notes/spectra.md 2.8).
    log_scale : ndarray, shape (n_networks,)
        log of the factor divided out of the running product (J = exp(log_scale) J~); -inf if J = 0.
    active_fraction : ndarray, shape (n_networks, depth)
        k_l / N, the fraction of units with phi'(h^l_i) != 0 (below 1 for relu, hard-tanh).
    d2_mean : ndarray, shape (n_networks, depth)
        Empirical (1/N) sum_i phi'(h^l_i)^2, the sampled mu_1 of layer l (chi_1 = sigma_w^2 mu_1).
    bernoulli : bool
        True when in every layer of every network phi'(h)^2 took at most the two values {0, c_l}
        (linear, relu, hard-tanh): then D^2 has a two-point law and conditioning on the active
        fractions is meaningful (:func:`conditioned_bernoulli_p`).
    """

    activation: Activation
    sigma_w2: float
    sigma_b2: float
    depth: int
    width: int
    weights: str
    n_networks: int
    seed: object
    q0: float
    lam: np.ndarray
    log_lam: np.ndarray
    log_scale: np.ndarray
    active_fraction: np.ndarray
    d2_mean: np.ndarray
    bernoulli: bool

    @property
    def singular_values(self) -> np.ndarray:
        """Singular values s = sqrt(lambda) of J, shape (n_networks, width), ascending."""
        return np.sqrt(self.lam)

    @property
    def lam_flat(self) -> np.ndarray:
        """All eigenvalues pooled over networks, shape (n_networks * width,)."""
        return self.lam.ravel()

    @property
    def log_lam_flat(self) -> np.ndarray:
        """``log_lam`` pooled over networks."""
        return self.log_lam.ravel()

    @property
    def singular_values_flat(self) -> np.ndarray:
        """``singular_values`` pooled over networks."""
        return self.singular_values.ravel()

    @property
    def log_lam_max(self) -> np.ndarray:
        """log of the largest eigenvalue per network, shape (n_networks,)."""
        return self.log_lam[:, -1]

    @property
    def network_means(self) -> np.ndarray:
        """tr(J J^T) / N of each network, shape (n_networks,) (its expectation -> chi_1^L)."""
        return self.lam.mean(axis=1)

    @property
    def active_units(self) -> np.ndarray:
        """k_l, the number of units with phi' != 0 per network and layer, shape (n_networks, depth)."""
        return np.rint(self.active_fraction * self.width).astype(int)

    @property
    def min_active_units(self) -> np.ndarray:
        """min_l k_l per network: rank J = min_l rank D^l for random weights (notes/spectra.md 2.8)."""
        return self.active_units.min(axis=1)

    def numerical_rank(self, rtol: float | None = None) -> np.ndarray:
        """Number of singular values above ``rtol`` times the largest, per network.

        The default rtol = width * eps(float64) is numpy's ``matrix_rank`` convention; the test is
        done on ``log_lam``, so it works where ``lam`` under- or overflows.
        """
        if rtol is None:
            rtol = self.width * np.finfo(float).eps
        rtol = float(check.positive("rtol", rtol))
        threshold = self.log_lam_max[:, None] + 2.0 * np.log(rtol)
        return np.count_nonzero(self.log_lam > threshold, axis=1)


def _scale_free_derivative(act: Activation) -> bool:
    """True when phi'(c x) = phi'(x) for c > 0 (linear, relu, leaky relu): then D^l, hence the spectrum
    of J, does not depend on the pre-activation variance q.  Checked on a fixed set of points."""
    x = np.concatenate([-np.logspace(-3, 3, 25), np.logspace(-3, 3, 25)])
    with np.errstate(all="ignore"):
        base = np.broadcast_to(np.asarray(act.dphi(x), dtype=float), x.shape)
        return all(
            np.array_equal(np.broadcast_to(np.asarray(act.dphi(c * x), dtype=float), x.shape), base)
            for c in (1e-3, 7.0, 1e3)
        )


def _jacobian_q(act: Activation, sw2: float, sb2: float) -> float:
    """q* for the Jacobian sampler; q = 1 where q* diverges but the spectrum does not depend on q."""
    from .errors import DivergentFixedPointError
    from .maps import fixed_point  # maps does not import simulate; imported here to keep it that way

    try:
        return float(fixed_point(act, sw2, sb2))
    except DivergentFixedPointError:
        if _scale_free_derivative(act):
            return 1.0
        raise


@_single_threaded_blas
def jacobian_singular_values(
    act: ActivationLike,
    sigma_w2: float,
    sigma_b2: float,
    depth: int,
    width: int,
    weights: str = "orthogonal",
    n_networks: int = 1,
    seed: RNGLike = None,
    q0: float | None = None,
    progress: bool = False,
) -> JacobianSamples:
    """Eigenvalues lambda of J J^T for sampled networks of ``depth`` square layers of ``width`` units.

    J = dx^L / dx^0 = D^L W^L ... D^1 W^1 with D^l = diag(phi'(h^l)) at the sampled pre-activations
    (DESIGN.md; Pennington, Schoenholz & Ganguli 2017).  The infinite-width law of lambda is
    ``meanfield.jacobian_spectrum(act, sigma_w2, sigma_b2, depth, weights)``; its mean is chi_1^L.

    Procedure, for ``n_networks`` independent networks at once (stacked arrays; the only Python loop is
    over layers):

    1. Input at q* (notes/spectra.md, pitfall 9): h^0 = sqrt(N q0) g / |g|, g ~ N(0, I_N), and
       x^0 = phi(h^0); then h^1 = W^1 x^0 + b^1 has variance sigma_w^2 |phi(h^0)|^2 / N + sigma_b^2
       ~ V(q0) = q0 when q0 = q*, and every later layer stays at q* (up to O(N^-1/2) fluctuations).
       Feeding |x^0|^2 = N q* directly would put h^1 at sigma_w^2 q* + sigma_b^2 != q* instead.
    2. Layers from :func:`sample_layers` (W^l, then b^l, from one stream seeded by ``seed``; the input
       is drawn first) and pre-activations from :func:`propagate`: the real forward pass.
    3. J accumulated as J^l = D^l W^l J^{l-1}, one N x N product per layer and network, with
       rescaling: after each layer the running product is divided by its RMS singular value
       |J|_F / sqrt(N) and the log of that factor added to ``log_scale``, so that products over
       hundreds of layers neither overflow nor underflow (the singular values of the rescaled
       product stay O(1) at the top).
    4. Singular values s~ of the rescaled product (``np.linalg.svd(compute_uv=False)`` on the stack):
       log lambda = 2 (log_scale + log s~), lambda = exp(log lambda).

    Cost: L N^3 flops per network for the products (plus the Haar QR for orthogonal weights, about
    as much again) and one SVD.  Memory: three (n_networks, N, N) float64 arrays at a time.
    BLAS runs single-threaded inside (threadpoolctl): multi-threaded BLAS on few shared cores made
    the QR many times slower.

    Parameters
    ----------
    act : str, callable or Activation
    sigma_w2, sigma_b2 : float
        Weight and bias variances (>= 0).
    depth : int
        Number of weight layers L >= 1.
    width : int
        N, the width of the input and of every layer (square layers).
    weights : {"orthogonal", "gaussian"}
        W = sigma_w O with O Haar, or W_ij ~ N(0, sigma_w^2 / N) (see :func:`sample_weights`).
    n_networks : int
        Independent networks, sampled together.
    seed : int, SeedSequence, Generator or None
        The draws are made layer by layer for the whole stack, so network k depends on n_networks.
    q0 : float or None
        Pre-activation variance to prepare the input at; default q* = meanfield.fixed_point(act,
        sigma_w2, sigma_b2).  Where q grows without bound (DivergentFixedPointError, e.g. relu or
        linear with large sigma_w2) q0 = 1 is used if phi' is scale-free (phi'(c x) = phi'(x) for
        c > 0: linear, relu, leaky relu), whose spectrum does not depend on q; otherwise the error
        is raised: give q0.
    progress : bool
        Show a tqdm progress bar over layers (silently off when tqdm is not installed).

    Returns
    -------
    JacobianSamples

    Raises
    ------
    ParameterError
        Bad depth, width, variances, q0, weights or n_networks, or phi' not finite at the sampled
        pre-activations.
    """
    act = activation(act)
    sw2 = _scalar_variance("sigma_w2", sigma_w2)
    sb2 = _scalar_variance("sigma_b2", sigma_b2)
    depth = check.depth(depth)
    width = check.positive_int("width", width)
    n_networks = check.positive_int("n_networks", n_networks)
    kind = _weights_kind(weights)
    if not isinstance(progress, (bool, np.bool_)):
        raise ParameterError(f"progress must be True or False, got {progress!r}")
    if q0 is None:
        q = _jacobian_q(act, sw2, sb2)
    else:
        q = _scalar_variance("q0", q0)
    rng = _generator(seed)

    n, N = n_networks, width
    g = rng.standard_normal((n, 1, N))
    h0 = g * (np.sqrt(N * q) / np.linalg.norm(g, axis=-1, keepdims=True))
    with np.errstate(over="ignore", invalid="ignore"):
        x0 = np.asarray(act.phi(h0), dtype=float)
    if not np.all(np.isfinite(x0)):
        raise ParameterError(f"phi({act.name}) is not finite at inputs of variance q0={q!r}")

    active = np.empty((n, depth))
    d2_mean = np.empty((n, depth))
    two_point = True
    log_scale = np.zeros(n)
    jac = np.empty((n, N, N))
    work = np.empty((n, N, N))
    steps = propagate(act, sample_layers(rng, [N] * (depth + 1), sw2, sb2, kind, n), x0)
    steps = _with_progress(steps, depth, bool(progress), f"Jacobian ({n} x {N}x{N}, L={depth})")
    for l, (w, _, h) in enumerate(steps):
        d = np.broadcast_to(np.asarray(act.dphi(h[:, 0, :]), dtype=float), (n, N))
        if not np.all(np.isfinite(d)):
            raise ParameterError(
                f"phi' of {act.name} is not finite at the sampled pre-activations of layer {l + 1}"
            )
        d2 = d * d
        active[:, l] = np.count_nonzero(d, axis=1) / N
        d2_mean[:, l] = d2.mean(axis=1)
        if two_point:
            top = d2.max(axis=1, keepdims=True)
            two_point = bool(np.all((d2 == 0.0) | (d2 == top)))
        if l == 0:
            np.multiply(d[:, :, None], w, out=jac)  # J^1 = D^1 W^1
        else:
            np.matmul(w, jac, out=work)  # W^l J^{l-1}
            np.multiply(d[:, :, None], work, out=work)
            jac, work = work, jac
        rms = np.sqrt(np.einsum("kij,kij->k", jac, jac) / N)
        if not np.all(np.isfinite(rms)):
            raise ParameterError(f"the Jacobian product is not finite at layer {l + 1}")
        positive = rms > 0
        jac /= np.where(positive, rms, 1.0)[:, None, None]
        with np.errstate(divide="ignore"):
            log_scale += np.where(positive, np.log(np.where(positive, rms, 1.0)), -np.inf)
    del work

    s = np.linalg.svd(jac, compute_uv=False)[:, ::-1]  # ascending
    del jac
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        log_lam = 2.0 * (np.log(s) + log_scale[:, None])
        log_lam = np.where(s > 0, log_lam, -np.inf)
        lam = np.exp(log_lam)
    return JacobianSamples(
        act, sw2, sb2, depth, N, kind, n, seed, q,
        np.ascontiguousarray(lam), np.ascontiguousarray(log_lam), log_scale, active, d2_mean, two_point,
    )


# ----------------------------------------------------------------------------------------------
# comparisons with the infinite-width theory
# ----------------------------------------------------------------------------------------------
def _lam_values(samples) -> np.ndarray:
    """Pooled eigenvalues of a JacobianSamples or of an array (NaN refused, +inf allowed)."""
    if isinstance(samples, JacobianSamples):
        return samples.lam_flat.astype(float)
    if samples is None or isinstance(samples, (str, bytes)):
        raise ParameterError(f"samples must be JacobianSamples or an array of eigenvalues, got {samples!r}")
    try:
        values = np.asarray(samples, dtype=float).ravel()
    except (TypeError, ValueError):
        raise ParameterError(f"samples must be JacobianSamples or an array of eigenvalues, got {samples!r}") from None
    if values.size == 0 or np.any(np.isnan(values)):
        raise ParameterError("samples must be a non-empty array of eigenvalues without NaN")
    return values


@dataclass(frozen=True)
class KSResult:
    """Kolmogorov-Smirnov comparison of sampled eigenvalues with a theoretical CDF (:func:`ks_distance`).

    Attributes
    ----------
    statistic : float
        sup |F_n(x) - F(x)| over x >= floor (over all x without a floor), both sides of every jump.
    n : int
        Number of sampled eigenvalues (all of them, below the floor included: the DKW bound
        :func:`ks_bound` is for this n).
    location : float
        An x where the supremum is attained (the left limit there if that side attains it).
    floor : float or None
    mass_below_floor_empirical, mass_below_floor_theory : float or None
        F_n(floor) (the fraction of samples <= floor) and F(floor); their difference is part of the
        statistic.  None without a floor.
    """

    statistic: float
    n: int
    location: float
    floor: float | None = None
    mass_below_floor_empirical: float | None = None
    mass_below_floor_theory: float | None = None


def _evaluate_cdf(cdf: Callable, x: np.ndarray) -> np.ndarray:
    try:
        values = np.asarray(cdf(x), dtype=float)
        if values.shape != x.shape:
            raise ValueError
    except (TypeError, ValueError):  # a scalar-only callable
        values = np.array([float(cdf(v)) for v in x])
    if np.any(np.isnan(values)):
        raise ParameterError("the theoretical CDF returned NaN")
    return values


def ks_distance(samples, cdf, floor: float | None = None, atoms=None, atom_rtol: float = 1e-8) -> KSResult:
    """Kolmogorov-Smirnov distance between the empirical CDF of lambda and a theoretical CDF.

    D = sup_{x >= floor} |F_n(x) - F(x)|, computed exactly for a right-continuous F with atoms: between
    consecutive samples F_n is constant and F monotone, so the supremum is attained at a sample, either
    at it (F_n(x_i) vs F(x_i)) or just before it (F_n(x_i-) vs F(x_i-)); both are evaluated at every
    distinct sample.  The left limits F(x_i-) are cdf(x_i) minus the atoms located at x_i when the
    atoms are known, else cdf evaluated one float below x_i.

    Parameters
    ----------
    samples : JacobianSamples or array_like
        Eigenvalues lambda (pooled over networks).
    cdf : callable or object with a ``cdf`` method
        F(x), vectorized over an array (a scalar-only callable also works, more slowly).  An object
        such as ``JacobianSpectrum`` is used through ``.cdf``, and its ``.atoms`` when ``atoms`` is None.
    floor : float or None
        Compare only at x >= floor, and report the masses below it.  Deep relu-like spectra have most
        of their mass below 1e-8 lambda_max where a float64 product cannot resolve it (notes/spectra.md
        2.8): use floor = 1e-8 * the top of the support.  The point x = floor is included, so the
        statistic is at least |F_n(floor) - F(floor)|.
    atoms : sequence of (location, mass) or None
        Atoms of F.  Samples within ``atom_rtol`` (relative) of an atom at a nonzero location are
        moved onto it: rounding spreads e.g. the atom at sigma_w^(2L) of orthogonal networks over
        ~1e-13 relative, which would otherwise count as a spurious KS distance of up to the atom's
        mass.  The atom at 0 is never snapped (use ``floor``).
    atom_rtol : float

    Returns
    -------
    KSResult
    """
    x = np.sort(_lam_values(samples))
    n = x.size
    if hasattr(cdf, "cdf") and callable(cdf.cdf):
        if atoms is None:
            atoms = getattr(cdf, "atoms", None)
        cdf = cdf.cdf
    if not callable(cdf):
        raise ParameterError(f"cdf must be callable or have a .cdf method, got {cdf!r}")
    atom_list = []
    for atom in atoms or ():
        try:
            loc, mass = (float(v) for v in atom)
        except (TypeError, ValueError):
            raise ParameterError(f"atoms must be (location, mass) pairs, got {atoms!r}") from None
        atom_list.append((loc, mass))
    atom_rtol = float(check.nonnegative("atom_rtol", atom_rtol))
    for loc, _ in atom_list:
        if loc != 0.0:
            x[np.abs(x - loc) <= atom_rtol * abs(loc)] = loc  # keeps the order: the band is contiguous
    f_floor = None
    if floor is not None:
        f_floor = float(check.real_array("floor", floor))
    points = np.unique(x if f_floor is None else x[x > f_floor])
    right_emp = np.searchsorted(x, points, side="right") / n
    left_emp = np.searchsorted(x, points, side="left") / n
    right = _evaluate_cdf(cdf, points) if points.size else np.empty(0)
    if atom_list:
        left = right.copy()
        for loc, mass in atom_list:
            left[points == loc] -= mass
    elif points.size:
        left = _evaluate_cdf(cdf, np.nextafter(points, -np.inf))
    else:
        left = np.empty(0)
    gaps = np.concatenate([np.abs(right_emp - right), np.abs(left_emp - left)])
    where = np.concatenate([points, points])
    emp_floor = theory_floor = None
    if f_floor is not None:
        emp_floor = float(np.searchsorted(x, f_floor, side="right") / n)
        theory_floor = float(_evaluate_cdf(cdf, np.array([f_floor]))[0])
        gaps = np.append(gaps, abs(emp_floor - theory_floor))
        where = np.append(where, f_floor)
    k = int(np.argmax(gaps))
    return KSResult(float(gaps[k]), n, float(where[k]), f_floor, emp_floor, theory_floor)


def ks_bound(n: int, alpha: float = 1e-3) -> float:
    """DKW bound: P(sup |F_n - F| > eps) <= alpha for eps = sqrt(log(2 / alpha) / (2 n)), n iid samples.

    (Dvoretzky-Kiefer-Wolfowitz with Massart's constant.)  Independent networks are independent
    samples, but the n = N eigenvalues of one network are not: they repel, so their empirical CDF
    fluctuates far less than an iid sample's (~log N / N rather than N^-1/2 for rigid random-matrix
    spectra), and the bound with n = the total number of eigenvalues is conservative for them.  It
    does not cover finite-width bias (e.g. the O(N^-1/2) rank fluctuations of relu layers, see
    :func:`conditioned_bernoulli_p`), which has to be budgeted separately.
    """
    n = check.positive_int("n", n)
    alpha = float(check.positive("alpha", alpha))
    if alpha >= 1:
        raise ParameterError(f"alpha must lie in (0, 1), got {alpha!r}")
    return float(np.sqrt(np.log(2.0 / alpha) / (2.0 * n)))


@dataclass(frozen=True)
class MomentErrors:
    """Sampled mean and variance of lambda against theory (:func:`moment_errors`).

    ``mean_rel_error`` = (sample_mean - mean) / mean and ``var_rel_error`` = (sample_var - var) / var,
    signed; where the theoretical variance is 0 (linear orthogonal: a point mass) the variance error is
    taken relative to mean^2 instead.  ``mean_rel_se`` is the standard error of the sample mean across
    independent networks, relative to the theoretical mean (NaN for one network or an array input):
    a yardstick for ``mean_rel_error``.
    """

    sample_mean: float
    sample_var: float
    mean: float
    var: float
    mean_rel_error: float
    var_rel_error: float
    mean_rel_se: float


def moment_errors(samples, mean: float, var: float) -> MomentErrors:
    """Relative errors of the pooled sample mean and variance of lambda (ddof = 0: the variance of the
    empirical spectral distribution, the quantity whose limit is the theory's ``var()``).

    Fluctuations are multiplicative and grow with depth: relative std ~ sqrt(L (1 - p) / (p N)) for the
    mean of one relu network, worse for higher moments (notes/spectra.md 5).  Compare means over many
    networks at small depth; never test the variance of one deep network.
    """
    values = _lam_values(samples)
    mean = float(check.positive("mean", mean))
    var = float(check.nonnegative("var", var))
    with np.errstate(over="ignore", invalid="ignore"):
        sample_mean = float(values.mean())
        sample_var = float(values.var())
    var_scale = var if var > 0 else mean**2
    rel_se = float("nan")
    if isinstance(samples, JacobianSamples) and samples.n_networks > 1:
        rel_se = float(np.std(samples.network_means, ddof=1) / np.sqrt(samples.n_networks) / mean)
    return MomentErrors(
        sample_mean, sample_var, mean, var, (sample_mean - mean) / mean, (sample_var - var) / var_scale, rel_se
    )


def conditioned_bernoulli_p(samples: JacobianSamples) -> np.ndarray:
    """The sampled per-layer active fractions p_l = k_l / N, shape (n_networks, depth).

    For two-point laws of D^2 (relu, hard-tanh: phi'^2 in {0, 1}) the active fraction of each layer
    fluctuates by sqrt(p (1 - p) / N) and the atom at 0 of a sampled spectrum is 1 - min_l k_l / N, not
    1 - p.  A theory solved with these layer-dependent laws (d_l = 1 with probability p_l) removes that
    O(N^-1/2) rank term from the comparison (notes/spectra.md 5).  Pool networks only with care: each
    row is one network's conditioning.

    Raises
    ------
    ParameterError
        For samples whose phi'^2 was not two-valued {0, c} in every layer (smooth activations: there is
        no useful conditioning, notes/spectra.md 5), or for anything but JacobianSamples.
    """
    if not isinstance(samples, JacobianSamples):
        raise ParameterError(f"samples must be JacobianSamples, got {type(samples).__name__}")
    if not samples.bernoulli:
        raise ParameterError(
            f"phi'^2 of {samples.activation.name} is not two-valued {{0, c}} at the sampled pre-activations: "
            "conditioning on active fractions applies to relu/hard-tanh-like activations only"
        )
    return samples.active_fraction.copy()
