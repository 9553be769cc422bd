"""Structured initializers: orthogonal, delta-orthogonal, exact sparse orthogonal (EOI), IDInit.

Public names are re-exported by :mod:`meanfield.init`.  Shapes are (fan_out, fan_in) or conv kernels
(C_out, C_in, k1, ...) as in PyTorch; a kernel's weight matrix is its (C_out, C_in k1 k2 ...) reshape
(``torch.nn.init.orthogonal_``'s flattening).  Every construction here has an exact property that
:func:`meanfield.init.assess` and the tests check on the produced arrays: (semi-)orthogonality to
rounding (orthogonal, delta-orthogonal, EOI at any density), identity blocks (IDInit).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy import optimize

from ..errors import ParameterError
from ..simulate.networks import haar_orthogonal
from ..validation import RNGLike, generator
from .fans import _scalar, _shape

__all__ = [
    "orthogonal",
    "delta_orthogonal",
    "eoi",
    "eoi_min_density",
    "eoi_densities",
    "idinit",
    "idinit_zero",
]


def _kernel_shape(shape) -> tuple[int, ...]:
    shape = _shape(shape)
    if len(shape) < 3:
        raise ParameterError(
            f"a convolution kernel has shape (C_out, C_in, k1, ...) with at least one spatial axis, got {shape!r}"
        )
    return shape


def _centre(shape: tuple[int, ...]) -> tuple:
    """Index of the kernel centre tap (k // 2 along every spatial axis), all channels."""
    return (slice(None), slice(None)) + tuple(k // 2 for k in shape[2:])


def orthogonal(shape, gain: float = 1.0, seed: RNGLike = None) -> np.ndarray:
    """A Haar-random (semi-)orthogonal matrix times ``gain`` (Saxe et al. 2014), as ``torch.nn.init.orthogonal_``.

    The array is drawn as a (rows, cols) = (shape[0], prod(shape[1:])) matrix Q from
    :func:`meanfield.simulate.haar_orthogonal` (QR with the sign fix of Mezzadri 2007) and reshaped:
    Q Q^T = I (rows <= cols) or Q^T Q = I (rows >= cols), so W = gain Q has every singular value equal
    to ``gain``.  Note the scale: torch's convention (gain only), not the mean-field fan-in scaling of
    :func:`meanfield.simulate.sample_weights` (they agree for square layers).
    """
    shape = _shape(shape)
    g = _scalar("gain", gain)
    rows, cols = shape[0], math.prod(shape[1:])
    return (g * haar_orthogonal(generator(seed), rows, cols)).reshape(shape)


def delta_orthogonal(shape, gain: float = 1.0, seed: RNGLike = None) -> np.ndarray:
    """Delta-orthogonal convolution kernel (Xiao et al. 2018, "Dynamical isometry and a mean field
    theory of CNNs", Algorithm 2): zero everywhere except the centre tap, which is gain H with H a
    Haar (C_out x C_in) (semi-)orthogonal matrix.

    With circular padding the convolution is then gain H applied at every pixel: an orthogonal
    operator (C_out >= C_in: H^T H = I; the paper requires C_out >= C_in, here C_out < C_in gives
    orthonormal rows instead).
    """
    shape = _kernel_shape(shape)
    out = np.zeros(shape)
    out[_centre(shape)] = orthogonal(shape[:2], gain, seed)
    return out


def eoi_min_density(shape) -> float:
    """The smallest density an EOI matrix of this shape can have: 1 / max(n, m) (the semi-identity).

    For a conv kernel (C_out, C_in, k...), n, m are the channel counts (the sparse orthogonal H)."""
    shape = _shape(shape)
    return 1.0 / max(shape[0], shape[1])


def _density(name: str, density, shape) -> float:
    d = _scalar(name, density)
    lo = eoi_min_density(shape)
    if not lo <= d <= 1.0:
        raise ParameterError(
            f"{name} = {density!r} is not achievable for shape {tuple(shape)}: EOI densities lie in "
            f"[1/max(n, m), 1] = [{lo:.6g}, 1]"
        )
    return d


def _sparse_orthogonal(n: int, m: int, density: float, rng: np.random.Generator) -> np.ndarray:
    """Nowak et al.'s exact sparse orthogonal (n x m) matrix of density ~``density``.

    Work on A (r x c) with r = min(n, m) <= c: start from the semi-identity I_{r x c} and right-multiply
    random Givens rotations (columns i != j, theta ~ U[0, 2 pi)) while density < target; a rotation
    keeps A A^T = I exactly and gives both columns the union of their supports.  Return the last or
    the previous matrix, whichever density is closer to the target; transpose back if n > m.
    """
    r, c = min(n, m), max(n, m)
    b = np.eye(c, r)  # b = A^T: A's columns are b's rows, contiguous in memory
    size = r * c
    nnz = r
    target = density * size
    while nnz < target:
        i, j = rng.choice(c, size=2, replace=False)
        theta = rng.uniform(0.0, 2.0 * math.pi)
        ci, cj = b[i].copy(), b[j].copy()
        union = int(np.count_nonzero((ci != 0) | (cj != 0)))
        new_nnz = nnz + 2 * union - np.count_nonzero(ci) - np.count_nonzero(cj)
        b[i] = math.cos(theta) * ci + math.sin(theta) * cj
        b[j] = -math.sin(theta) * ci + math.cos(theta) * cj
        if new_nnz >= target and abs(nnz - target) < abs(new_nnz - target):
            b[i], b[j] = ci, cj  # the previous matrix is closer to the target density
            break
        nnz = new_nnz
    return b.T.copy() if n <= m else b


def eoi(
    shape,
    density: float,
    gain: float = 1.0,
    seed: RNGLike = None,
    *,
    more_nonzeros: bool = False,
    return_mask: bool = False,
):
    """Exact Orthogonal Initialization (Nowak et al., "Sparser, Better, Deeper, Stronger"): an exactly
    (semi-)orthogonal matrix with a target fraction ``density`` of non-zeros.

    Dense layers (n, m): random Givens rotations of the semi-identity (see the authors'
    ``orthogonal_with_density``, woocash2/sparser-better-deeper-stronger); W = gain A with
    A A^T = I (n <= m) or A^T A = I (n >= m) to rounding at every density, and |density(W) - d| <= one
    rotation's increment (at most 2 / max(n, m)).  The mask is W != 0.

    Conv kernels (C_out, C_in, k...): delta-orthogonal with a sparse orthogonal H (C_out x C_in) of
    density d_H = d (``more_nonzeros``: min(d r, sqrt(d), 1), r = k1 k2 ...) at the centre tap, zero
    elsewhere; the training mask is H != 0 at the centre plus random zero entries "unfrozen" until the
    kernel's mask density reaches d (they start at 0).

    Parameters
    ----------
    shape : sequence of int
    density : float in [1/max(n, m), 1] (n, m the channel counts for a kernel)
    gain : float
        sigma_w: every singular value of W (of H for a kernel) equals gain.
    seed : int, Generator or None
    more_nonzeros : bool
        Conv only: the denser H of the authors' flag.
    return_mask : bool
        Also return the boolean training mask.

    Returns
    -------
    ndarray, or (ndarray, mask) with ``return_mask``

    Raises
    ------
    ParameterError
        A density outside [1/max(n, m), 1] (the authors' code warns and returns the identity), bad
        shape or gain.
    """
    shape = _shape(shape)
    d = _density("density", density, shape)
    g = _scalar("gain", gain)
    if not isinstance(more_nonzeros, (bool, np.bool_)):
        raise ParameterError(f"more_nonzeros must be True or False, got {more_nonzeros!r}")
    rng = generator(seed)
    if len(shape) == 2:
        if more_nonzeros:
            raise ParameterError("more_nonzeros applies to convolution kernels only, got a matrix shape")
        w = g * _sparse_orthogonal(shape[0], shape[1], d, rng)
        return (w, w != 0) if return_mask else w
    receptive = math.prod(shape[2:])
    d_h = min(d * receptive, math.sqrt(d), 1.0) if more_nonzeros else d
    d_h = max(d_h, eoi_min_density(shape))
    w = np.zeros(shape)
    w[_centre(shape)] = g * _sparse_orthogonal(shape[0], shape[1], d_h, rng)
    if not return_mask:
        return w
    mask = w != 0
    missing = int(round(d * mask.size)) - int(mask.sum())
    if missing > 0:
        zeros = np.flatnonzero(~mask)
        mask.flat[rng.choice(zeros, size=missing, replace=False)] = True
    return w, mask


def eoi_densities(shapes: Sequence, density: float) -> np.ndarray:
    """Per-layer densities of the Erdos-Renyi allocation used with EOI (Nowak et al.; Evci et al. 2020).

    d_l = clip(eps sum(shape_l) / prod(shape_l), 1/max(n_l, m_l), 1), with eps solved exactly (brentq on
    the monotone, piecewise-linear total) so that the parameter-weighted density
    sum_l d_l prod(shape_l) / sum_l prod(shape_l) equals ``density``.  (The authors' code stops its
    bisection within 0.01 of the target; the exact solve is used here.)  The lower clip keeps every
    layer achievable for :func:`eoi`.

    Raises
    ------
    ParameterError
        Target below the smallest achievable overall density sum_l prod_l / max(n_l, m_l) / sum_l prod_l,
        or above 1.
    """
    if isinstance(shapes, (str, bytes)) or not hasattr(shapes, "__len__") or len(shapes) == 0:
        raise ParameterError(f"shapes must be a non-empty list of weight shapes, got {shapes!r}")
    shapes = [_shape(s) for s in shapes]
    d = _scalar("density", density)
    sizes = np.array([math.prod(s) for s in shapes], dtype=float)
    raw = np.array([sum(s) for s in shapes], dtype=float) / sizes
    lo = np.array([eoi_min_density(s) for s in shapes])
    total = sizes.sum()
    d_min = float(lo @ sizes / total)
    if not d_min - 1e-15 <= d <= 1.0:
        raise ParameterError(
            f"density = {density!r} is outside the achievable overall range [{d_min:.6g}, 1] for these shapes"
        )

    def layer(eps):
        return np.clip(eps * raw, lo, 1.0)

    if d >= 1.0:
        return np.ones(len(shapes))
    if d <= d_min:
        return lo.copy()
    hi = float(np.max(1.0 / raw))  # every layer at 1
    eps = optimize.brentq(lambda e: layer(e) @ sizes / total - d, 0.0, hi, xtol=1e-15, rtol=1e-15)
    return layer(eps)


def idinit(shape, tau: float = 1.0) -> np.ndarray:
    """IDInit's identity-preserving IDI_tau (Pan et al., ICLR 2025): a padded identity-like matrix.

    Matrix (D_out, D_in) [our reading of Pan et al. 2025, section 3; not checked against their code]:
    D_out >= D_in: W[i, i mod D_in] = tau (stacked identities: 10 x 4 gives rows 0-3 = I_4, rows 4-7 =
    I_4, rows 8-9 = the first two rows of I_4); D_out < D_in: [tau I_{D_out}, 0].
    Singular values: tau sqrt(h_j), h_j = number of rows hitting column j (expanding layers), all tau
    when D_out <= D_in: isometric only for square and contracting layers.

    Conv kernels (C_out, C_in, k...) ("patch-maintain" reading): the kernel is IDI of its
    (C_out, C_in r) reshape, r = k1 k2 ...: output channel i copies input channel floor(i / r) at
    spatial offset i mod r (flattened), when C_out <= C_in r.
    """
    shape = _shape(shape)
    t = _scalar("tau", tau, signed=True)
    rows, cols = shape[0], math.prod(shape[1:])
    w = np.zeros((rows, cols))
    if rows >= cols:
        w[np.arange(rows), np.arange(rows) % cols] = t
    else:
        w[np.arange(rows), np.arange(rows)] = t
    return w.reshape(shape)


def idinit_zero(shape, eps: float = 1e-6) -> np.ndarray:
    """IDInit's zero-preserving IDIZ_eps for the last layer of a residual branch: eps times :func:`idinit`.

    The branch then transmits (almost) zero, eps x, while its earlier layers still receive non-zero
    gradients (an exactly zero last layer would kill them: the paper's dead-neuron remark).  Our
    reading of "initializing specific elements with a small numerical value" [verify against
    Section 3 of the paper]; eps = 1e-6 is the paper's typical value.
    """
    return idinit(shape, tau=_scalar("eps", eps))
