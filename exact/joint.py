"""Joint laws of the outputs: the vector h^L of one input, and two inputs' outputs where exact.

**The output vector** (Burkholz & Dubatovka 2019; docs/conventions.md §6).  Given the last hidden
layer, the n_L output units are iid N(0, s^L), so h^L is a Gaussian scale mixture

    p(h) = P(s^L > 0) sum_j W_j (2 pi s_j)^{-n_L/2} exp(-|h|^2 / (2 s_j))

over the points s_j of the law of s^L (given s^L > 0), plus an atom at h = 0 of mass P(s^L = 0)
(zero bias: the network died).  The units are uncorrelated (Cov h^L = E[s^L] I = q^L I) but not
independent.  |h^L|^2 = s^L chi^2_{n_L} and u . h^L = sqrt(s^L |u|^2) Z are laws of one variable
(:class:`exact.mixtures.ScaleMixtureLaw`).

**Two inputs.**  With one weight layer (L = 1) the pairs (h_i(x), h_i(x')) are iid bivariate normal
with covariance K = sigma_w^2 / n_0 [[x.x, x.x'], [x.x', x'.x']] + sigma_b^2 1 1^T: exact.  For L >= 2
the pair depends on the random 2 x 2 Gram matrix of the last hidden layer, a Markov chain on three
numbers with no scalar reduction; its law is not computed here (use Monte Carlo of sampled networks).
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import logsumexp

from meanfield import validation as check
from meanfield.errors import ParameterError
from meanfield.laws import MAX_SAMPLES, random_generator

from .mixtures import NORMAL, ScaleMixtureLaw

__all__ = ["OutputVectorLaw", "TwoInputLaw"]

_CHUNK = 2_000_000


def _draws(size, per_draw: int) -> tuple[tuple, int]:
    """(shape, number of draws) of ``size``, refused beyond MAX_SAMPLES numbers in all."""
    shape = (size,) if np.ndim(size) == 0 else tuple(size)
    n = 1
    for s in shape:
        n *= check.positive_int("size", s)
    if n * per_draw > MAX_SAMPLES:
        raise ParameterError(f"size={check.shown(size)} asks for {n} draws of {per_draw} numbers; at most "
                             f"{MAX_SAMPLES} numbers per call are allowed (draw in batches)")
    return shape, n


class OutputVectorLaw:
    """Joint law of the output vector h^L in R^{n_L} of a :class:`~exact.ReLUNetwork` (module docstring).

    Attributes
    ----------
    dim : int
        n_L.
    atom : float
        P(h^L = 0) (zero bias: the network died); ``continuous_mass`` is 1 minus it, exact.
    """

    def __init__(self, net, dim: int):
        self._net = net
        self.dim = int(dim)
        self._unit = net.output()  # the same points and weights as every projection
        self.atom = self._unit.atom
        self.continuous_mass = self._unit.continuous_mass
        self.name = f"output vector h^L in R^{self.dim} of {net._describe()}"

    def __repr__(self) -> str:
        return f"<OutputVectorLaw: {self.name}, atom={self.atom:.6g}>"

    def _points(self, h) -> np.ndarray:
        h = check.real_array("h", h)
        if h.ndim == 0 or h.shape[-1] != self.dim:
            raise ParameterError(f"h must have shape (..., {self.dim}) (the last axis: the n_L outputs), got {h.shape}")
        return np.sum(h * h, axis=-1)

    def logpdf(self, h):
        """log density of the continuous part at h (shape (..., n_L)) -> shape (...).

        log-sum-exp over the points of s^L of log W_j - (n_L/2) log(2 pi s_j) - |h|^2 / (2 s_j): accurate
        far into the tails.  At h = 0 the density is infinite for zero bias when a hidden layer can have
        one active unit (E[s^{-n_L/2}] = inf), finite otherwise.
        """
        r2 = self._points(h)
        unit = self._unit
        flat = r2.ravel()
        out = np.full(flat.size, -np.inf)
        if unit._psi.size:
            base = unit._logw - 0.5 * self.dim * (math.log(2 * math.pi) + unit._psi)
            inv = np.exp(-unit._psi)
            step = max(1, _CHUNK // unit._psi.size)
            with np.errstate(under="ignore"):
                for s in range(0, flat.size, step):
                    out[s : s + step] = unit._log_scale + logsumexp(base - 0.5 * flat[s : s + step, None] * inv, axis=1)
            if unit._pdf0_infinite:
                out[flat == 0] = np.inf
        return float(out[0]) if r2.ndim == 0 else out.reshape(r2.shape)

    def pdf(self, h):
        """Density of the continuous part at h (shape (..., n_L)) -> shape (...); the atom excluded."""
        return np.exp(self.logpdf(h))

    def mean(self) -> np.ndarray:
        """E[h^L] = 0."""
        return np.zeros(self.dim)

    def cov(self) -> np.ndarray:
        """Cov h^L = E[s^L] I = q^L I (exact)."""
        return self._unit.var() * np.eye(self.dim)

    def rvs(self, size=1, random_state=None) -> np.ndarray:
        """Draws of shape (*size, n_L): s^L from the exact chain, then sqrt(s^L) times n_L standard normals."""
        shape, n = _draws(size, self.dim)
        rng = random_generator(random_state)
        s = self._net._chain(rng, n, "s", self._net.depth)
        return (np.sqrt(s)[:, None] * rng.standard_normal((n, self.dim))).reshape(shape + (self.dim,))

    def norm2(self) -> ScaleMixtureLaw:
        """The law of |h^L|^2 = s^L chi^2_{n_L} (a :class:`meanfield.laws.Law`)."""
        return self._net._mixture(ScaleMixtureLaw.chi_square(self.dim), 0.0, "|h^L|^2")

    def projection(self, u) -> ScaleMixtureLaw:
        """The law of u . h^L = sqrt(s^L |u|^2) Z, a Gaussian scale mixture (u of length n_L)."""
        u = check.real_array("u", u)
        if u.shape != (self.dim,):
            raise ParameterError(f"u must be a vector of length n_L = {self.dim}, got shape {u.shape}")
        norm2 = float(np.sum(u * u))
        if norm2 == 0.0:
            raise ParameterError("u must not be the zero vector (u . h^L = 0 is a point mass)")
        return self._net._mixture(NORMAL, math.log(norm2), f"u . h^L (|u|^2 = {norm2:g})")


class TwoInputLaw:
    """Joint law of (h^L(x), h^L(x')) for one weight layer (L = 1), exact (module docstring).

    Attributes
    ----------
    gram : ndarray (2, 2)
        K = sigma_w^2 / n_0 [[x.x, x.x'], [x.x', x'.x']] + sigma_b^2: the covariance of each unit's pair.
    dim : int
        n_L: the pairs of the n_L units are iid.
    """

    def __init__(self, net, x, x_prime):
        if net.depth != 1:
            raise ParameterError(
                f"the joint law of two inputs' outputs is exact only for one weight layer (widths [n_0, n_L]); "
                f"these widths have {net.depth} (for L >= 2 it depends on the random Gram matrix of the "
                "last hidden layer, a three-number Markov chain that is not computed: use Monte Carlo)"
            )
        n0 = net.widths[0]
        x, x_prime = check.real_array("x", x), check.real_array("x_prime", x_prime)
        if x.shape != (n0,) or x_prime.shape != (n0,):
            raise ParameterError(f"x and x_prime must be vectors of length n_0 = {n0}, got shapes {x.shape}, {x_prime.shape}")
        xs = np.stack([x, x_prime])
        self.gram = net.sigma_w2 * (xs @ xs.T) / n0 + net.sigma_b2
        self.dim = net.widths[-1]
        self._net = net

    def __repr__(self) -> str:
        return f"<TwoInputLaw: bivariate normal per output unit, covariance {self.gram.tolist()}>"

    @property
    def correlation(self) -> float:
        """K_12 / sqrt(K_11 K_22) (NaN if an input gives variance 0)."""
        k = self.gram
        with np.errstate(invalid="ignore", divide="ignore"):
            return float(k[0, 1] / np.sqrt(k[0, 0] * k[1, 1]))

    def logpdf(self, h, h_prime):
        """log density at (h, h') (shapes (..., n_L)): the sum over units of bivariate normal log densities."""
        h, h_prime = check.real_array("h", h), check.real_array("h_prime", h_prime)
        if h.shape != h_prime.shape or h.ndim == 0 or h.shape[-1] != self.dim:
            raise ParameterError(f"h and h_prime must both have shape (..., {self.dim}), got {h.shape} and {h_prime.shape}")
        det = float(np.linalg.det(self.gram))
        if not det > 1e-300 * max(self.gram[0, 0] * self.gram[1, 1], 1e-300):
            raise ParameterError(
                f"the covariance {self.gram.tolist()} is singular (parallel inputs without bias, or a zero input): "
                "the pair has no density"
            )
        a, b, c = self.gram[1, 1] / det, -self.gram[0, 1] / det, self.gram[0, 0] / det  # inverse
        quad = a * h * h + 2 * b * h * h_prime + c * h_prime * h_prime
        return np.sum(-0.5 * quad - math.log(2 * math.pi) - 0.5 * math.log(det), axis=-1)

    def pdf(self, h, h_prime):
        """Density at (h, h') (shapes (..., n_L))."""
        return np.exp(self.logpdf(h, h_prime))

    def rvs(self, size=1, random_state=None) -> np.ndarray:
        """Draws of shape (*size, 2, n_L): [h^L(x), h^L(x')]."""
        shape, n = _draws(size, 2 * self.dim)
        rng = random_generator(random_state)
        w, v = np.linalg.eigh(self.gram)
        root = v * np.sqrt(np.maximum(w, 0.0))
        z = rng.standard_normal((n, 2, self.dim))
        return np.einsum("ij,njk->nik", root, z).reshape(shape + (2, self.dim))
