"""Residual and weight-normalized networks at initialization: norm and gradient growth with depth.

Two architectures, both without biases (as in Arpit, Campos & Bengio 2019 and Fixup):

- feed-forward:  h^l = W^l x^{l-1},  x^l = phi(h^l),  l = 1..L, widths [n_0, n_1, ..., n_L];
- residual:      x_{b+1} = x_b + alpha F_b(x_b),  b = 0..B-1, all x_b in R^N, where each block has its
  own branch F_b(x) = W_m phi(W_{m-1} ... phi(W_1 x)) of m dense layers with widths
  [N, n_1, ..., n_{m-1}, N] and no activation after the addition (Arpit et al.'s WN-ResNet block
  F = conv2(ReLU(conv1(x))) is m = 2).

Every layer is described by a :class:`LayerSpec`: its widths, its *effective* mean-field weight
variance sigma_w^2 = fan_in E[W_ij^2], the random family of its matrix ("gaussian" or
"orthogonal", see :func:`meanfield.simulate.sample_weights`) and whether it is weight-normalized,
w_i = g v_i / |v_i| for every output unit i (Salimans & Kingma 2016).  A weight-normalized row has
|w_i|^2 = g^2 and a direction uniform on the sphere, so E[W_ij^2] = g^2 / fan_in: its mean-field
sigma_w^2 is g^2, whatever the family of v.

Mean field (per unit: s = |x|^2 / width for a signal, q = variance of a pre-activation;
V(q) = E[phi(sqrt(q) z)^2], D(q) = E[phi'(sqrt(q) z)^2] from :mod:`meanfield.gaussian`):

- a layer fed with a signal of mean square s has q = sigma_w^2 s; with phi(h^{l-1}) it has
  q^l = sigma_w^2 V(q^{l-1}) (the variance map of :mod:`meanfield.maps` with sigma_b^2 = 0);
- residual stream: s_{b+1} = s_b + alpha^2 q_m(s_b), with q_m the variance of the branch output.
  The cross term 2 alpha <x_b, F(x_b)> has mean zero because F is linear in W_m, whose law is
  symmetric (W_m -> -W_m): the branch adds energy orthogonally to the stream;
- norm growth |x|^2 / |x_0|^2 = (width s) / (n_0 s_0);
- Jacobian growth: the mean squared singular value E|J v|^2 / |v|^2 of J = dx^l/dx^0 (feed-forward,
  post-activation) or dx_b/dx_0 (residual) along a fixed unit vector v, i.e. (1/n_0) E tr(J^T J).
  Per feed-forward layer the factor is sigma_w^2 (n_l / n_{l-1}) D(q^l) (chi_1 at the layer's q for
  square layers); per residual block it is

      chi_block = 1 + alpha^2 chi_F,   chi_F = prod_{k=1}^m sigma_k^2 (n_k / n_{k-1}) prod_{k=1}^{m-1} D(q_k),

  where the width ratios telescope to n_m / n_0 = 1 (the cross term 2 alpha tr J_F vanishes in mean
  for the same reason as above).  Backpropagated squared gradient norms of isotropic gradients grow
  by the same factors.

For relu these predictions are exact expectations at every finite width, not only in the limit:
flipping the sign of a row of W^l (a symmetry of every family used here) flips h^l_i, so
E[relu(h_i)^2] = E[h_i^2] / 2 and E[1{h_i > 0} (w_i . t)^2] = E[(w_i . t)^2] / 2 exactly, and
E|W x|^2 = sigma_w^2 (n_out / n_in) |x|^2 holds exactly given x.  Monte Carlo means of relu
networks therefore differ from the theory by sampling noise only; smooth activations carry an
O(1/width) finite-width bias in addition.

Initializations (:func:`feedforward`, :func:`residual`):

- ``"weightnorm"``: Arpit, Campos & Bengio 2019, "How to initialize your network? Robust
  initialization for WeightNorm & ResNets" (arXiv 1906.02341; code victorcampos7/weightnorm-init):
  orthogonal v (``weights="orthogonal"``, their ``orthogonal_proposed``; ``"gaussian"`` is their
  ``proposed`` with v ~ N(0, 1/fan_in)), g = sqrt(gain fan_in / fan_out)
  (:func:`meanfield.init.weightnorm_gain`), gain = 2 for the layers followed by a ReLU.  In a
  ResNet the last layer of every branch gets gain 1/B, which multiplies g^2 (not g):
  g = sqrt(fan_in / (B fan_out)) (``conv2_g_gain_init_fn`` returns 1/B and is passed as the gain
  inside the square root).  Then chi_F = 2 (1/2) (1/B) = 1/B for relu, and
  |x_B|^2 / |x_0|^2 = (1 + 1/B)^B < e for every depth.  Feed-forward: gain 2 on every layer, the
  first included (their MLP and synthetic experiment), so E|x^l|^2 = |x^0|^2 for relu and any widths.
- ``"he"``: the un-normalized baseline, W_ij ~ N(0, 2 / fan_in) on every layer (torch's
  ``kaiming_normal_``, fan-in mode, relu gain; their ``traditional`` init).  Feed-forward relu:
  |x^l|^2 / |x^0|^2 = n_l / n_0.  ResNet with the two-layer relu branch: chi_F = 2 (1/2) 2 = 2, so the
  squared norm grows like 3^B.  (It grows like 2^B if the first branch layer gets gain 1, as a layer
  fed with a raw input would, or for a one-layer branch F(x) = W x with Var W_ij = 1 / fan_in.)
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np

from . import validation as check
from .activations import Activation, activation
from .errors import ParameterError
from .gaussian import derivative_moment, second_moment
from .init.fans import _scalar
from .init.scaling import weightnorm_gain
from .simulate.networks import WEIGHT_KINDS, _se, propagate, sample_weights, single_threaded_blas
from .validation import RNGLike, generator

__all__ = [
    "INITS",
    "LayerSpec",
    "Network",
    "MeanFieldGrowth",
    "GrowthSamples",
    "feedforward",
    "residual",
    "weight_normalize",
    "sample_growth",
]

#: Allowed values of the ``init`` argument of :func:`feedforward` and :func:`residual`.
INITS = ("weightnorm", "he")

#: He's (kaiming_normal_, relu gain) fan-in weight variance: sigma_w^2 = gain^2 = 2.
HE_SIGMA_W2 = 2.0


@dataclass(frozen=True)
class LayerSpec:
    """One dense layer (weights of shape (fan_out, fan_in), no bias).

    Attributes
    ----------
    fan_in, fan_out : int
    sigma_w2 : float
        Effective mean-field weight variance fan_in E[W_ij^2] (>= 0).  For a weight-normalized
        layer this is g^2.
    weights : {"gaussian", "orthogonal"}
        Random family of W (plain) or of the direction v (weight-normalized).
    weight_norm : bool
        w_i = g v_i / |v_i| with g = sqrt(sigma_w2) for every row i.
    """

    fan_in: int
    fan_out: int
    sigma_w2: float
    weights: str = "gaussian"
    weight_norm: bool = False

    def __post_init__(self):
        object.__setattr__(self, "fan_in", check.positive_int("fan_in", self.fan_in))
        object.__setattr__(self, "fan_out", check.positive_int("fan_out", self.fan_out))
        object.__setattr__(self, "sigma_w2", _scalar("sigma_w2", self.sigma_w2))
        if not isinstance(self.weights, str) or self.weights.strip().lower() not in WEIGHT_KINDS:
            kinds = ", ".join(map(repr, WEIGHT_KINDS))
            raise ParameterError(f"weights must be one of {kinds}; got {self.weights!r}")
        object.__setattr__(self, "weights", self.weights.strip().lower())
        if not isinstance(self.weight_norm, (bool, np.bool_)):
            raise ParameterError(f"weight_norm must be True or False, got {self.weight_norm!r}")
        object.__setattr__(self, "weight_norm", bool(self.weight_norm))

    @property
    def g(self) -> float:
        """The weight-norm scale g = sqrt(sigma_w2) (the norm of every row of W)."""
        return math.sqrt(self.sigma_w2)

    def sample(self, rng: RNGLike, n_networks: int | None = None) -> np.ndarray:
        """W of shape (fan_out, fan_in), or a stack (n_networks, fan_out, fan_in).

        Plain: :func:`meanfield.simulate.sample_weights` with this sigma_w2.  Weight-normalized:
        v from the same sampler (unit scale), then :func:`weight_normalize` with g.
        """
        if not self.weight_norm:
            return sample_weights(rng, self.fan_out, self.fan_in, self.sigma_w2, self.weights, n_networks)
        v = sample_weights(rng, self.fan_out, self.fan_in, 1.0, self.weights, n_networks)
        return weight_normalize(v, self.g)


def weight_normalize(v, g) -> np.ndarray:
    """Weight normalization w_i = g v_i / |v_i| of every row (Salimans & Kingma 2016).

    Parameters
    ----------
    v : array_like, shape (..., fan_out, fan_in)
        Directions; rows must be non-zero.
    g : float or array_like broadcasting against (..., fan_out)
        Row norms of the result.

    Returns
    -------
    ndarray, the shape of v
        |w_i| = |g_i| for every row.
    """
    v = check.real_array("v", v)
    if v.ndim < 2 or v.size == 0:
        raise ParameterError(f"v must be a (..., fan_out, fan_in) array of weight rows, got shape {v.shape}")
    g = check.real_array("g", g)
    norms = np.linalg.norm(v, axis=-1)
    if np.any(norms == 0):
        raise ParameterError("v has a zero row: weight normalization needs non-zero rows")
    try:
        scale = np.broadcast_to(g, norms.shape) / norms
    except ValueError:
        raise ParameterError(f"g of shape {g.shape} does not broadcast to the rows {norms.shape} of v") from None
    return v * scale[..., None]


@dataclass(frozen=True, eq=False)
class MeanFieldGrowth:
    """Mean-field predictions of :meth:`Network.mean_field` (index 0 = the input, then one entry per
    layer (feed-forward) or block (residual)).

    Attributes
    ----------
    norm2 : ndarray, shape (depth + 1,)
        E|x|^2 / |x_0|^2 after 0, 1, ..., depth layers or blocks (norm2[0] = 1).
    jacobian : ndarray, shape (depth + 1,)
        E|J v|^2 / |v|^2 for J = dx/dx_0 and a unit vector v (jacobian[0] = 1).
    norm2_factor, chi : ndarray, shape (depth,)
        The per-layer or per-block factors of norm2 and jacobian (chi = the block's chi,
        1 + alpha^2 chi_F, for residual networks).
    q : ndarray
        Pre-activation variances: shape (L,) for feed-forward networks, (B, m) for residual ones
        (q[b, k] for layer k + 1 of the branch of block b + 1; the last column is the branch output).
    """

    norm2: np.ndarray
    jacobian: np.ndarray
    norm2_factor: np.ndarray
    chi: np.ndarray
    q: np.ndarray


@dataclass(frozen=True)
class Network:
    """A feed-forward (``num_blocks=None``) or residual network of :class:`LayerSpec` layers.

    Attributes
    ----------
    activation : Activation
        Anything :func:`meanfield.activation` accepts is converted.
    layers : tuple of LayerSpec
        Feed-forward: the L layers.  Residual: the m layers of one branch, repeated (with fresh
        random weights) in each of the ``num_blocks`` blocks; the branch must map R^N to R^N.
    num_blocks : int or None
        B >= 1 for a residual network.
    alpha : float
        Branch multiplier of x_{b+1} = x_b + alpha F_b(x_b) (residual networks only).
    label : str
        Name used in plots (default: activation and architecture).
    """

    activation: Activation
    layers: tuple
    num_blocks: int | None = None
    alpha: float = 1.0
    label: str = field(default="", compare=False)

    def __post_init__(self):
        object.__setattr__(self, "activation", activation(self.activation))
        try:
            layers = tuple(self.layers)
        except TypeError:
            raise ParameterError(f"layers must be a sequence of LayerSpec, got {self.layers!r}") from None
        if not layers or not all(isinstance(layer, LayerSpec) for layer in layers):
            raise ParameterError(f"layers must be a non-empty sequence of LayerSpec, got {self.layers!r}")
        for k in range(1, len(layers)):
            if layers[k].fan_in != layers[k - 1].fan_out:
                raise ParameterError(
                    f"layer {k + 1} has fan_in {layers[k].fan_in} but layer {k} has fan_out "
                    f"{layers[k - 1].fan_out}"
                )
        object.__setattr__(self, "layers", layers)
        if self.num_blocks is not None:
            object.__setattr__(self, "num_blocks", check.positive_int("num_blocks", self.num_blocks))
            if layers[0].fan_in != layers[-1].fan_out:
                raise ParameterError(
                    f"a residual branch must map R^N to R^N, got fan_in {layers[0].fan_in} and fan_out "
                    f"{layers[-1].fan_out}"
                )
        object.__setattr__(self, "alpha", _scalar("alpha", self.alpha, signed=True))
        if not self.label:
            kind = f"ResNet, B = {self.num_blocks}" if self.residual else f"feed-forward, L = {len(layers)}"
            object.__setattr__(self, "label", f"{self.activation.name} {kind}")

    @property
    def residual(self) -> bool:
        """True for a residual network."""
        return self.num_blocks is not None

    @property
    def depth(self) -> int:
        """Number of layers (feed-forward) or of blocks (residual)."""
        return self.num_blocks if self.residual else len(self.layers)

    @property
    def input_width(self) -> int:
        return self.layers[0].fan_in

    def mean_field(self, s0: float = 1.0) -> MeanFieldGrowth:
        """Mean-field norm and Jacobian growth (the formulas of the module docstring).

        Parameters
        ----------
        s0 : float
            Mean square |x_0|^2 / n_0 of the input entries (> 0).  Irrelevant for relu and other
            positively homogeneous phi; it sets the operating point of smooth activations.

        Returns
        -------
        MeanFieldGrowth
        """
        s0 = _scalar("s0", s0, positive=True)
        act = self.activation
        sw2 = np.array([layer.sigma_w2 for layer in self.layers])
        widths = np.array([self.layers[0].fan_in] + [layer.fan_out for layer in self.layers], dtype=float)
        ratio = sw2 * widths[1:] / widths[:-1]  # E|W t|^2 / |t|^2 of each layer

        def chain(s):
            """q, V(q), D(q) of every layer, for layers fed with a signal of mean square s."""
            q, v, d = np.empty(len(sw2)), np.empty(len(sw2)), np.empty(len(sw2))
            ms = s
            for k, w in enumerate(sw2):
                q[k] = w * ms
                ms = v[k] = float(second_moment(act, q[k]))
                d[k] = float(derivative_moment(act, q[k]))
            return q, v, d

        with np.errstate(over="ignore", invalid="ignore"):
            if not self.residual:
                q, v, d = chain(s0)
                norm2 = np.concatenate([[1.0], widths[1:] * v / (widths[0] * s0)])
                chi = ratio * d
                jac = np.concatenate([[1.0], np.cumprod(chi)])
                return MeanFieldGrowth(norm2, jac, norm2[1:] / norm2[:-1], chi, q)
            B, a2 = self.num_blocks, self.alpha**2
            q_all = np.empty((B, len(sw2)))
            chi = np.empty(B)
            s = np.empty(B + 1)
            s[0] = s0
            for b in range(B):
                q, _, d = chain(s[b])
                q_all[b] = q
                s[b + 1] = s[b] + a2 * q[-1]
                chi[b] = 1.0 + a2 * np.prod(ratio) * np.prod(d[:-1])
            norm2 = s / s0
            jac = np.concatenate([[1.0], np.cumprod(chi)])
            return MeanFieldGrowth(norm2, jac, norm2[1:] / norm2[:-1], chi, q_all)

    def sample(self, n_networks: int, seed: RNGLike = None, s0: float = 1.0) -> "GrowthSamples":
        """Monte Carlo on real sampled networks: :func:`sample_growth`."""
        return sample_growth(self, n_networks, seed, s0)


def _widths(name: str, widths) -> list[int]:
    try:
        return [check.positive_int(name, n) for n in widths]
    except TypeError:
        raise ParameterError(f"{name} must be a sequence of integers, got {widths!r}") from None


def _init_name(init) -> str:
    if not isinstance(init, str) or init.strip().lower() not in INITS:
        raise ParameterError(f"init must be one of {', '.join(map(repr, INITS))}; got {init!r}")
    return init.strip().lower()


def _default_weights(init: str, weights) -> str:
    return ("orthogonal" if init == "weightnorm" else "gaussian") if weights is None else weights


def _layer(init: str, fan_in: int, fan_out: int, gain: float, weights: str) -> LayerSpec:
    if init == "he":
        return LayerSpec(fan_in, fan_out, HE_SIGMA_W2, weights, weight_norm=False)
    return LayerSpec(fan_in, fan_out, weightnorm_gain(fan_in, fan_out, gain) ** 2, weights, weight_norm=True)


def feedforward(widths: Sequence[int], act="relu", init: str = "weightnorm", weights: str | None = None,
                gain: float = 2.0) -> Network:
    """A feed-forward network h^l = W^l x^{l-1}, x^l = phi(h^l) with an initialization recipe.

    Parameters
    ----------
    widths : sequence of int
        [n_0, n_1, ..., n_L], L >= 1.
    act : str, callable or Activation
    init : {"weightnorm", "he"}
        ``"weightnorm"``: every layer weight-normalized with g = sqrt(gain n_{l-1} / n_l) (Arpit et
        al. 2019, the first layer included); ``"he"``: plain W_ij ~ N(0, 2 / n_{l-1}).
    weights : {"orthogonal", "gaussian"} or None
        Family of v (weightnorm) or W (he); default orthogonal for weightnorm, gaussian for he.
    gain : float
        Arpit et al.'s gain (2 for relu; ignored by ``"he"``).
    """
    init = _init_name(init)
    widths = _widths("width", widths)
    if len(widths) < 2:
        raise ParameterError(f"widths must list n_0 and at least one layer width, got {widths!r}")
    gain = _scalar("gain", gain, positive=True)
    weights = _default_weights(init, weights)
    layers = [_layer(init, a, b, gain, weights) for a, b in zip(widths[:-1], widths[1:])]
    return Network(act, layers, None, 1.0, label=f"{init} feed-forward, L = {len(layers)}")


def residual(width: int, num_blocks: int, act="relu", init: str = "weightnorm",
             branch_widths: Sequence[int] | None = None, weights: str | None = None, alpha: float = 1.0,
             gain: float = 2.0) -> Network:
    """A residual network x_{b+1} = x_b + alpha F_b(x_b) with an initialization recipe.

    Parameters
    ----------
    width : int
        N, the width of the residual stream.
    num_blocks : int
        B >= 1.
    act : str, callable or Activation
    init : {"weightnorm", "he"}
        ``"weightnorm"`` (Arpit et al. 2019): every branch layer weight-normalized,
        g = sqrt(gain fan_in / fan_out) for all but the last layer and g = sqrt(fan_in / (B fan_out))
        for the last (gain 1/B on g^2), so that |x_B|^2 / |x_0|^2 = (1 + 1/B)^B for relu.
        ``"he"``: plain W_ij ~ N(0, 2 / fan_in) in every branch layer (3^B growth for relu, m = 2).
    branch_widths : sequence of int or None
        Hidden widths [n_1, ..., n_{m-1}] of the branch; default [N] (Arpit et al.'s two-layer
        branch).  An empty sequence gives the one-layer branch F(x) = W x.
    weights : {"orthogonal", "gaussian"} or None
        Family of v (weightnorm) or W (he); default orthogonal for weightnorm, gaussian for he.
    alpha : float
        Branch multiplier.
    gain : float
        Arpit et al.'s gain of the non-final branch layers (2 for relu; ignored by ``"he"``).
    """
    init = _init_name(init)
    width = check.positive_int("width", width)
    num_blocks = check.positive_int("num_blocks", num_blocks)
    hidden = [width] if branch_widths is None else _widths("branch width", branch_widths)
    gain = _scalar("gain", gain, positive=True)
    weights = _default_weights(init, weights)
    sizes = [width] + hidden + [width]
    gains = [gain] * len(hidden) + [1.0 / num_blocks]
    layers = [_layer(init, a, b, g, weights) for a, b, g in zip(sizes[:-1], sizes[1:], gains)]
    return Network(act, layers, num_blocks, alpha, label=f"{init} ResNet, B = {num_blocks}")


# ----------------------------------------------------------------------------------------------
# Monte Carlo
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class GrowthSamples:
    """Norm and Jacobian growth measured on sampled networks (:func:`sample_growth`).

    Attributes
    ----------
    network : Network
    n_networks : int
    seed : object
    s0 : float
        Mean square of the input entries.
    norm2 : ndarray, shape (n_networks, depth + 1)
        |x|^2 / |x_0|^2 after 0..depth layers or blocks, per network (one random input each).
    jacobian : ndarray, shape (n_networks, depth + 1)
        |J v|^2 for a random unit vector v (forward-mode product along the same pass).
    cross : ndarray, shape (n_networks, B), or None
        Residual networks: 2 alpha <x_b, F(x_b)> / |x_b|^2, the cross term of
        |x_{b+1}|^2 = |x_b|^2 + 2 alpha <x_b, F> + alpha^2 |F|^2 (mean zero at initialization).
    branch : ndarray, shape (n_networks, B), or None
        Residual networks: alpha^2 |F(x_b)|^2 / |x_b|^2.

    Properties ``*_mean`` and ``*_se`` average over networks (standard error std(ddof=1)/sqrt(n),
    NaN for one network).
    """

    network: Network
    n_networks: int
    seed: object
    s0: float
    norm2: np.ndarray
    jacobian: np.ndarray
    cross: np.ndarray | None
    branch: np.ndarray | None

    @property
    def norm2_mean(self) -> np.ndarray:
        return self.norm2.mean(axis=0)

    @property
    def norm2_se(self) -> np.ndarray:
        return _se(self.norm2)

    @property
    def jacobian_mean(self) -> np.ndarray:
        return self.jacobian.mean(axis=0)

    @property
    def jacobian_se(self) -> np.ndarray:
        return _se(self.jacobian)

    def plot(self, ax=None, quantity: str = "norm2", label: str | None = None, color=None, **kwargs):
        """Theory (line) over Monte Carlo (mean +- 2 SE) against depth; returns the Axes.

        ``quantity`` is "norm2" (|x|^2 / |x_0|^2) or "jacobian" (|J v|^2 / |v|^2).  The y axis is
        logarithmic when the values span more than a factor 100.  ``label`` and ``color`` name and colour
        both; other ``kwargs`` (linestyle, lw, ...) go to the theory line's ``Axes.plot``.  The legend sits
        in the upper corner the curve does not reach.
        """
        if quantity not in ("norm2", "jacobian"):
            raise ParameterError(f"quantity must be 'norm2' or 'jacobian', got {quantity!r}")
        from .plotting import new_axes

        ax = new_axes(ax)
        theory = getattr(self.network.mean_field(self.s0), quantity)
        mean, se = getattr(self, f"{quantity}_mean"), getattr(self, f"{quantity}_se")
        steps = np.arange(theory.size)
        label = label or self.network.label
        line = ax.plot(steps, theory, **({"color": color, "label": f"{label}: mean field"} | kwargs))[0]
        ax.errorbar(steps, mean, yerr=2 * np.nan_to_num(se), fmt="o", ms=3, color=line.get_color(),
                    label=f"{label}: Monte Carlo ({self.n_networks} nets, {_width_text(self.network)})")
        values = np.concatenate([theory, mean])
        values = values[np.isfinite(values) & (values > 0)]
        if values.size and values.max() / values.min() > 100:
            ax.set_yscale("log")
        ax.set_xlabel("block b" if self.network.residual else "layer l")
        ax.set_ylabel(r"$|x|^2/|x_0|^2$" if quantity == "norm2" else r"$|J v|^2/|v|^2$")
        ax.legend(fontsize="small", loc="upper left" if theory[-1] >= theory[0] else "upper right")
        return ax


def _width_text(net: Network) -> str:
    widths = [layer.fan_out for layer in net.layers]
    return f"width {widths[0]}" if min(widths) == max(widths) else f"widths {min(widths)}-{max(widths)}"


def _zero_bias_layers(specs, rng, n_networks) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for spec in specs:
        yield spec.sample(rng, n_networks), np.zeros((n_networks, spec.fan_out))


def _tangent_pass(act: Activation, specs, rng, n_networks, x, t) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (h^k, dh^k) layer by layer through freshly sampled zero-bias layers: h^k the
    pre-activations of the inputs x (n_networks, 1, n_0), dh^k their forward-mode derivative along the
    tangent t (same shape), dh^k = W^k (phi'(h^{k-1}) * dh^{k-1}) with dh^0 = t."""
    prev = None
    for w, _, h in propagate(act, _zero_bias_layers(specs, rng, n_networks), x):
        u = t if prev is None else act.dphi(prev) * t
        t = np.matmul(u, np.swapaxes(w, -1, -2))
        prev = h
        yield h, t


def _sq(v: np.ndarray) -> np.ndarray:
    return np.einsum("nij,nij->n", v, v)


@single_threaded_blas
def sample_growth(net: Network, n_networks: int, seed: RNGLike = None, s0: float = 1.0) -> GrowthSamples:
    """Sample ``n_networks`` independent networks and measure the norm and Jacobian growth.

    Each network gets its own random input x_0 (uniform direction, |x_0|^2 = n_0 s0) and unit
    tangent v; layers are drawn one at a time for the whole stack from one Generator (the weights of
    :meth:`LayerSpec.sample`, i.e. :func:`meanfield.simulate.sample_weights`, run through
    :func:`meanfield.simulate.propagate`), with a fresh branch for every block.  The Jacobian is
    measured as the forward-mode product J v along the same pass (no matrices of size n_0^2).

    Parameters
    ----------
    net : Network
    n_networks : int
        Independent networks, sampled together (memory: one stack of n_networks weight matrices).
    seed : int, SeedSequence, Generator or None
    s0 : float
        Mean square of the input entries (> 0).

    Returns
    -------
    GrowthSamples
    """
    if not isinstance(net, Network):
        raise ParameterError(f"net must be a meanfield.resnet.Network, got {type(net).__name__}")
    n = check.positive_int("n_networks", n_networks)
    s0 = _scalar("s0", s0, positive=True)
    rng = generator(seed)
    act, n0 = net.activation, net.input_width
    x = rng.standard_normal((n, 1, n0))
    x *= np.sqrt(n0 * s0) / np.linalg.norm(x, axis=-1, keepdims=True)
    t = rng.standard_normal((n, 1, n0))
    t /= np.linalg.norm(t, axis=-1, keepdims=True)
    x0_norm2 = _sq(x)
    norm2 = np.ones((n, net.depth + 1))
    jac = np.ones((n, net.depth + 1))
    cross = branch = None
    with np.errstate(over="ignore", invalid="ignore"):
        if not net.residual:
            for l, (h, dh) in enumerate(_tangent_pass(act, net.layers, rng, n, x, t), start=1):
                norm2[:, l] = _sq(act.phi(h)) / x0_norm2
                jac[:, l] = _sq(act.dphi(h) * dh)
        else:
            B, alpha = net.num_blocks, net.alpha
            cross, branch = np.empty((n, B)), np.empty((n, B))
            for b in range(B):
                *_, (f, df) = _tangent_pass(act, net.layers, rng, n, x, t)  # the branch output and its derivative
                x_norm2 = _sq(x)
                cross[:, b] = 2 * alpha * np.einsum("nij,nij->n", x, f) / x_norm2
                branch[:, b] = alpha**2 * _sq(f) / x_norm2
                x = x + alpha * f
                t = t + alpha * df
                norm2[:, b + 1] = _sq(x) / x0_norm2
                jac[:, b + 1] = _sq(t)
    return GrowthSamples(net, n, seed, s0, norm2, jac, cross, branch)
