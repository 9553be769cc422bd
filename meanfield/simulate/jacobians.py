"""Input-output Jacobians of sampled networks and the eigenvalues of J J^T.

J = dx^L / dx^0 = D^L W^L ... D^1 W^1 with D^l = diag(phi'(h^l)) at the sampled pre-activations
(docs/conventions.md; Pennington, Schoenholz & Ganguli 2017).  :func:`jacobian_singular_values`
builds J for a stack of networks with one N x N product per layer, rescaled so that products over
hundreds of layers neither overflow nor underflow, and returns a :class:`JacobianSamples`; its
infinite-width law is :func:`meanfield.jacobian_spectrum`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import validation as check
from ..activations import Activation, activation
from ..errors import DivergentFixedPointError, ParameterError
from ..maps import fixed_point
from ..progress import progress_bar
from ..validation import RNGLike
from .networks import ActivationLike, _weights_kind, propagate, sample_layers, single_threaded_blas
from .streams import _normal, _source

__all__ = ["JacobianSamples", "jacobian_singular_values"]


@dataclass(frozen=True, eq=False)
class JacobianSamples:
    """Eigenvalues of J J^T for sampled networks (from :func:`jacobian_singular_values`).

    J = dx^L / dx^0 = D^L W^L ... D^1 W^1, D^l = diag(phi'(h^l)) (docs/conventions.md §4).  Row k of every
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
    q0 : float or None
        The input's second moment |x^0|^2 / N when it was given (then q^1 = sigma_w^2 q0 + sigma_b^2);
        None when the input was prepared at the fixed point.
    q_star : float or None
        The pre-activation variance the input was prepared at when ``q0`` was not given (q*, or 1 where
        q* diverges and phi' is scale-free); None otherwise.
    lam : ndarray, shape (n_networks, width)
        Eigenvalues lambda = s^2 of J J^T, ascending per network, computed as exp(log_lam): they
        underflow to 0 (deep relu, contracting phases) or overflow to inf (deep chaotic phases) where
        float64 cannot hold them; ``log_lam`` keeps them.
    log_lam : ndarray, shape (n_networks, width)
        log lambda = 2 (log_scale + log s~) with s~ the singular values of the rescaled product;
        -inf where s~ = 0 exactly.  Below ~1e-30 lambda_max (float64 rounding of the product) the
        values are numerical noise, not spectrum (docs/conventions.md §4).
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
    q0: float | None
    q_star: float | None
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
        """min_l k_l per network: rank J = min_l rank D^l for random weights (docs/conventions.md §4)."""
        return self.active_units.min(axis=1)

    def numerical_rank(self, rtol: float | None = None) -> np.ndarray:
        """Number of singular values above ``rtol`` times the largest, per network.

        The default rtol = width * eps(float64) is numpy's ``matrix_rank`` convention; the test is
        done on ``log_lam``, so it works where ``lam`` under- or overflows.
        """
        if rtol is None:
            rtol = self.width * np.finfo(float).eps
        rtol = check.positive("rtol", rtol, scalar=True)
        threshold = self.log_lam_max[:, None] + 2.0 * np.log(rtol)
        return np.count_nonzero(self.log_lam > threshold, axis=1)


def _jacobian_q(act: Activation, sw2: float, sb2: float) -> float:
    """q* for the Jacobian sampler; q = 1 where q* diverges but the spectrum does not depend on q."""
    try:
        return float(fixed_point(act, sw2, sb2))
    except DivergentFixedPointError:
        if act.scale_free_derivative:
            return 1.0
        raise


@single_threaded_blas
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
    (docs/conventions.md §4; Pennington, Schoenholz & Ganguli 2017).  The infinite-width law of lambda is
    ``meanfield.jacobian_spectrum(act, sigma_w2, sigma_b2, depth, weights)``; its mean is chi_1^L.

    Procedure, for ``n_networks`` independent networks at once (stacked arrays; the only Python loop is
    over layers):

    1. The input.  With ``q0`` given (docs/conventions.md §2): x^0 = sqrt(N q0) g / |g|, g ~ N(0, I_N), so
       |x^0|^2 / N = q0 and h^1 = W^1 x^0 + b^1 has variance q^1 = sigma_w^2 q0 + sigma_b^2: the network
       follows its trajectory q^l from there, as ``jacobian_spectrum(..., q0=q0)`` assumes.  Without it,
       prepared at q* (docs/conventions.md §4): h^0 = sqrt(N q*) g / |g| and x^0 = phi(h^0), so that
       h^1 has variance sigma_w^2 V(q*) + sigma_b^2 = q* and every layer sits at q* (up to O(N^-1/2)
       fluctuations), as the fixed-point spectrum ``jacobian_spectrum(...)`` assumes.
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
    seed : int, SeedSequence, Generator, None or NetworkStreams
        The draws are made layer by layer for the whole stack, so network k depends on n_networks;
        with a :class:`~meanfield.simulate.NetworkStreams` (of length n_networks) network k depends
        on its own stream only (the input, then W^l and b^l layer by layer, as for one network).
    q0 : float or None
        The input's second moment |x^0|^2 / N (>= 0), fed to the first layer as it is (step 1).  None:
        the input is prepared at q* = meanfield.fixed_point(act, sigma_w2, sigma_b2).  Where q grows
        without bound (DivergentFixedPointError, e.g. relu or linear with large sigma_w2) q* = 1 is used
        if phi' is scale-free (phi'(c x) = phi'(x) for c > 0: linear, relu, leaky relu), whose spectrum
        does not depend on q; otherwise the error is raised: give q0.
    progress : bool
        Show a tqdm progress bar over layers.

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
    sw2 = check.nonnegative("sigma_w2", sigma_w2, scalar=True)
    sb2 = check.nonnegative("sigma_b2", sigma_b2, scalar=True)
    depth = check.depth(depth)
    width = check.positive_int("width", width)
    n_networks = check.positive_int("n_networks", n_networks)
    kind = _weights_kind(weights)
    if not isinstance(progress, (bool, np.bool_)):
        raise ParameterError(f"progress must be True or False, got {progress!r}")
    q0 = None if q0 is None else check.nonnegative("q0", q0, scalar=True)
    q_star = _jacobian_q(act, sw2, sb2) if q0 is None else None
    rng, n_networks = _source(seed, n_networks)
    check.memory(f"the Jacobians of {n_networks} networks of width {width}", 4.0 * n_networks * float(width) ** 2 * 8)
    arrays = _jacobian_arrays(act, sw2, sb2, depth, width, kind, q0, q_star, rng, n_networks, progress)
    return _jacobian_samples(act, sw2, sb2, depth, width, kind, seed, q0, q_star, arrays)


def _jacobian_samples(act: Activation, sw2: float, sb2: float, depth: int, width: int, kind: str, seed,
                      q0: float | None, q_star: float | None, arrays: dict[str, np.ndarray]) -> JacobianSamples:
    """A :class:`JacobianSamples` from the per-network arrays of :func:`_jacobian_arrays` (lambda =
    exp(log lambda); the two-point flag holds when it holds for every network)."""
    with np.errstate(over="ignore"):
        lam = np.exp(arrays["log_lam"])
    return JacobianSamples(
        act, sw2, sb2, depth, width, kind, len(arrays["log_scale"]), seed, q0, q_star, lam, arrays["log_lam"],
        arrays["log_scale"], arrays["active_fraction"], arrays["d2_mean"], bool(np.all(arrays["bernoulli"])),
    )


def _jacobian_arrays(act: Activation, sw2: float, sb2: float, depth: int, N: int, kind: str, q0: float | None,
                     q_star: float | None, rng, n: int, progress: bool = False) -> dict[str, np.ndarray]:
    """The per-network arrays of :func:`jacobian_singular_values` (steps 1-4 of its docstring), for
    arguments already checked: ``rng`` a Generator or NetworkStreams, ``n`` networks, the raw input at
    second moment ``q0`` or (``q0`` None) the input prepared at ``q_star``.

    Returns
    -------
    dict
        "log_lam" (n, N) ascending, "log_scale" (n,), "active_fraction" (n, depth), "d2_mean"
        (n, depth) as in :class:`JacobianSamples`, and "bernoulli" (n,): per network, whether phi'^2
        took at most the two values {0, c_l} in every layer.  Row k depends only on network k's draws
        (every operation acts network by network), so with NetworkStreams it does not depend on the
        other rows.
    """
    g = _normal(rng, n, (1, N))
    q = q_star if q0 is None else q0
    h0 = g * (np.sqrt(N * q) / np.linalg.norm(g, axis=-1, keepdims=True))
    if q0 is None:
        with np.errstate(over="ignore", invalid="ignore"):
            x0 = np.asarray(act.phi(h0), dtype=float)
        if not np.all(np.isfinite(x0)):
            raise ParameterError(f"phi({act.name}) is not finite at inputs of variance q*={q!r}")
    else:
        x0 = h0

    active = np.empty((n, depth))
    d2_mean = np.empty((n, depth))
    two_point = np.ones(n, dtype=bool)
    log_scale = np.zeros(n)
    jac = np.empty((n, N, N))
    work = np.empty((n, N, N))
    steps = propagate(act, sample_layers(rng, [N] * (depth + 1), sw2, sb2, kind, n), x0)
    steps = progress_bar(steps, depth, bool(progress), f"Jacobian ({n} x {N}x{N}, L={depth})")
    for l, (w, _, h) in enumerate(steps):
        d = np.broadcast_to(np.asarray(act.dphi(h[:, 0, :]), dtype=float), (n, N))
        with np.errstate(over="ignore"):
            d2 = d * d
        if not np.all(np.isfinite(d2)):
            raise ParameterError(
                f"phi'^2 of {act.name} is not finite at the sampled pre-activations of layer {l + 1}"
            )
        active[:, l] = np.count_nonzero(d, axis=1) / N
        d2_mean[:, l] = d2.mean(axis=1)
        top = d2.max(axis=1, keepdims=True)
        two_point &= np.all((d2 == 0.0) | (d2 == top), axis=1)
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
    return {
        "log_lam": np.ascontiguousarray(log_lam), "log_scale": log_scale, "active_fraction": active,
        "d2_mean": d2_mean, "bernoulli": two_point,
    }
