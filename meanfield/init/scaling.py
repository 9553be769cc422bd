"""Variance-scaling initializers: He / Glorot / LeCun, critical, Kumar, SELU, WeightNorm, Fixup.

Public names are re-exported by :mod:`meanfield.init` (use ``mf.init.he``, not this module).

Shapes and fans follow ``torch.nn.init`` (:mod:`meanfield.init.fans`).  The mean-field scale is
Var(W_ij) = sigma_w^2 / fan_in, so every iid recipe here is "sigma_w^2 = fan_in Var(W_ij)" for some
sigma_w^2: He 2 (ReLU gain^2), LeCun 1, Glorot 2 fan_in / (fan_in + fan_out), Kumar
1 / (phi'(0)^2 (1 + phi(0)^2)), critical = the edge of chaos of :func:`meanfield.critical_sigma_w2`.

Kumar 2017 ("On weight initialization in deep neural networks") linearises phi around 0 and asks that
the variance of the pre-activations be preserved:

    sigma_w^2 = 1 / (phi'(0)^2 (1 + phi(0)^2))      (per fan-in unit: Var W = sigma_w^2 / N)

(sigmoid: phi(0) = 1/2, phi'(0) = 1/4, sigma_w^2 = 12.8; the paper rounds the std to 3.6/sqrt(N)).
:func:`kumar` reports where that lands in the mean-field phase diagram: for the sigmoid the
fixed point is deep in the ordered phase (chi_1 about 0.35), far from the edge of chaos
sigma_w^2 ~ 103; for odd phi with phi'(0) = 1 (tanh) it coincides with the critical point at
sigma_b^2 = 0.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize
from scipy.special import erfc, ndtr

from .. import validation as check
from ..activations import SELU_ALPHA, SELU_SCALE, activation
from ..criticality import critical_point
from ..errors import ActivationError, DivergentFixedPointError, ParameterError
from ..maps import chi1, fixed_point
from ..validation import RNGLike, generator
from .fans import _DISTRIBUTIONS, _MODES, _choice, _scalar, _shape, _variance_to_std, calculate_gain, fans
from .isometric import orthogonal

__all__ = [
    "gaussian",
    "uniform",
    "he",
    "glorot",
    "lecun",
    "critical_sigma_w2",
    "critical",
    "kumar_sigma_w2",
    "kumar_normal",
    "kumar",
    "KumarVerdict",
    "selu_constants",
    "weightnorm_gain",
    "weightnorm",
    "fixup_scale",
    "fixup_branch",
]


# ----------------------------------------------------------------------------------------------
# iid initializers
# ----------------------------------------------------------------------------------------------
def _draw(shape: tuple[int, ...], std: float, distribution: str, seed: RNGLike) -> np.ndarray:
    """iid entries of standard deviation ``std``: N(0, std^2) or U(-sqrt(3) std, sqrt(3) std)."""
    rng = generator(seed)
    distribution = _choice("distribution", distribution, _DISTRIBUTIONS)
    if distribution == "normal":
        return std * rng.standard_normal(shape)
    bound = math.sqrt(3.0) * std
    return rng.uniform(-bound, bound, size=shape)


def _sigma_w2_from(sigma_w2, gain) -> float:
    if sigma_w2 is not None and gain is not None:
        raise ParameterError(f"give sigma_w2 or gain, not both (got sigma_w2={sigma_w2!r}, gain={gain!r})")
    if gain is not None:
        return _scalar("gain", gain) ** 2
    return 1.0 if sigma_w2 is None else _scalar("sigma_w2", sigma_w2)


def gaussian(shape, sigma_w2: float | None = None, gain: float | None = None, seed: RNGLike = None) -> np.ndarray:
    """W_ij ~ N(0, sigma_w^2 / fan_in) (Poole et al. 2016), sigma_w^2 given directly or as gain^2.

    Default sigma_w^2 = 1 (LeCun).  ``gain`` and ``sigma_w2`` are mutually exclusive.
    """
    shape = _shape(shape)
    sw2 = _sigma_w2_from(sigma_w2, gain)
    return _draw(shape, _variance_to_std(sw2, fans(shape)[0]), "normal", seed)


def uniform(shape, sigma_w2: float | None = None, gain: float | None = None, seed: RNGLike = None) -> np.ndarray:
    """W_ij ~ U(-a, a), a = sqrt(3 sigma_w^2 / fan_in): the same variance sigma_w^2 / fan_in as :func:`gaussian`."""
    shape = _shape(shape)
    sw2 = _sigma_w2_from(sigma_w2, gain)
    return _draw(shape, _variance_to_std(sw2, fans(shape)[0]), "uniform", seed)


def he(
    shape,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    distribution: str = "normal",
    seed: RNGLike = None,
) -> np.ndarray:
    """He / Kaiming initialization (He et al. 2015), as ``torch.nn.init.kaiming_{normal,uniform}_``.

    std = gain / sqrt(fan), gain = :func:`calculate_gain` (nonlinearity, a) (default: leaky_relu with
    a = 0, i.e. the ReLU gain sqrt(2)), fan = fan_in (preserves the forward variance: sigma_w^2 = 2
    for ReLU, chi_1 = 1) or fan_out (preserves the backward variance).  ``distribution="uniform"``
    draws U(-sqrt(3) std, sqrt(3) std).
    """
    shape = _shape(shape)
    mode = _choice("mode", mode, _MODES)
    fan_in, fan_out = fans(shape)
    gain = calculate_gain(nonlinearity, a)
    return _draw(shape, gain / math.sqrt(fan_in if mode == "fan_in" else fan_out), distribution, seed)


def glorot(shape, gain: float = 1.0, distribution: str = "normal", seed: RNGLike = None) -> np.ndarray:
    """Glorot / Xavier initialization (Glorot & Bengio 2010), as ``torch.nn.init.xavier_*_``.

    std = gain sqrt(2 / (fan_in + fan_out)); uniform bound gain sqrt(6 / (fan_in + fan_out)).
    Mean-field sigma_w^2 = gain^2 2 fan_in / (fan_in + fan_out) (gain^2 for square layers).
    """
    shape = _shape(shape)
    fan_in, fan_out = fans(shape)
    g = _scalar("gain", gain)
    return _draw(shape, g * math.sqrt(2.0 / (fan_in + fan_out)), distribution, seed)


def lecun(shape, distribution: str = "normal", seed: RNGLike = None) -> np.ndarray:
    """LeCun initialization (LeCun et al. 1998): Var(W_ij) = 1 / fan_in (sigma_w^2 = 1).

    With SELU this is the self-normalizing initialization of Klambauer et al. 2017 (omega = 0, tau = 1).
    """
    shape = _shape(shape)
    return _draw(shape, _variance_to_std(1.0, fans(shape)[0]), distribution, seed)


def critical_sigma_w2(act, sigma_b2: float = 0.0) -> float:
    """The edge-of-chaos sigma_w^2 (chi_1 = 1) of :func:`meanfield.critical_point`, or a ParameterError.

    Unlike :func:`meanfield.critical_sigma_w2` (NaN where no critical point exists) this raises, with
    the reason, since an initializer cannot use NaN.
    """
    act = activation(act)
    point = critical_point(act, _scalar("sigma_b2", sigma_b2))
    if not math.isfinite(point.sigma_w2):
        raise ParameterError(
            f"{act.name} has no critical sigma_w2 at sigma_b2 = {sigma_b2!r} ({point.status}): {point.reason}"
        )
    return float(point.sigma_w2)


def critical(shape, act, sigma_b2: float = 0.0, seed: RNGLike = None) -> np.ndarray:
    """Gaussian weights on the edge of chaos: W_ij ~ N(0, sigma_w^2* / fan_in), chi_1 = 1.

    sigma_w^2* from :func:`critical_sigma_w2` (Poole et al. 2016; Schoenholz et al. 2017).  Guarantee:
    chi_1 = 1 at the fixed point q*, so squared gradient norms neither grow nor shrink exponentially.
    """
    shape = _shape(shape)
    return gaussian(shape, sigma_w2=critical_sigma_w2(act, sigma_b2), seed=seed)


def kumar_sigma_w2(act) -> float:
    """Kumar's sigma_w^2 = 1/(phi'(0)^2 (1 + phi(0)^2)) (one-sided average of phi'(0)^2 at a kink)."""
    act = activation(act)
    slope2 = act.dphi0_squared
    if slope2 == 0:
        raise ActivationError(f"Kumar's rule needs phi'(0) != 0; {act.name} has phi'(0) = 0")
    return 1.0 / (slope2 * (1.0 + act.phi0**2))


def kumar_normal(shape, act, seed: RNGLike = None) -> np.ndarray:
    """Kumar 2017: W_ij ~ N(0, v^2), v^2 = 1 / (fan_in phi'(0)^2 (1 + phi(0)^2)) (sigmoid: 12.8 / N).

    Guarantee claimed: constant pre-activation variance in the linear regime of phi; this is not
    chi_1 = 1 (sigmoid: chi_1 ~ 0.35, see :func:`meanfield.init.kumar`).
    """
    shape = _shape(shape)
    return gaussian(shape, sigma_w2=kumar_sigma_w2(act), seed=seed)


@dataclass(frozen=True)
class KumarVerdict:
    """Kumar's sigma_w^2 with its mean-field consequences at one sigma_b^2."""

    activation: str
    sigma_w2: float
    sigma_b2: float
    q_star: float
    chi1: float
    critical_sigma_w2: float
    critical: bool

    def __str__(self) -> str:
        if self.q_star == float("inf"):
            return (
                f"Kumar's rule for {self.activation}: sigma_w2 = {self.sigma_w2:.6g} (sigma_b2 = {self.sigma_b2:g}): "
                "q diverges with depth (no finite fixed point)"
            )
        phase = "critical" if self.critical else ("ordered" if self.chi1 < 1 else "chaotic")
        return (
            f"Kumar's rule for {self.activation}: sigma_w2 = {self.sigma_w2:.6g} (sigma_b2 = {self.sigma_b2:g}), "
            f"q* = {self.q_star:.6g}, chi_1 = {self.chi1:.6g} -> {phase}; the edge of chaos is at "
            f"sigma_w2 = {self.critical_sigma_w2:.6g}"
        )


def kumar(act, sigma_b2: float = 0.0, rtol: float = 1e-6) -> KumarVerdict:
    """Kumar's sigma_w^2, its q* and chi_1, and whether it is critical (|chi_1 - 1| <= rtol).

    Where q diverges (softplus: sigma_w^2 = 2.70 > 2), q_star is inf and chi1 NaN.
    """
    act = activation(act)
    sb2 = check.nonnegative("sigma_b2", sigma_b2, scalar=True)
    sw2 = kumar_sigma_w2(act)
    try:
        q = fixed_point(act, sw2, sb2)
        c = chi1(act, sw2, sb2, q=q)
    except DivergentFixedPointError:  # e.g. softplus: sigma_w2 = 2.70 > 2, q grows without bound
        q, c = float("inf"), float("nan")
    return KumarVerdict(act.name, sw2, sb2, q, c, critical_point(act, sb2).sigma_w2, abs(c - 1) <= rtol)


# ----------------------------------------------------------------------------------------------
# SELU
# ----------------------------------------------------------------------------------------------
def _selu_moments(alpha: float, lam: float, mu: float, nu: float) -> tuple[float, float]:
    """(E[selu(z)], Var[selu(z)]) for z ~ N(mu, nu), closed forms in Phi and exp.

    With s = sqrt(nu): E[z; z > 0] = mu Phi(mu/s) + s phi(mu/s), E[z^2; z > 0] = (mu^2 + nu) Phi(mu/s)
    + mu s phi(mu/s), E[e^{kz}; z <= 0] = e^{k mu + k^2 nu / 2} Phi(-(mu + k nu)/s).
    """
    s = math.sqrt(nu)
    t = mu / s
    pdf = math.exp(-t * t / 2) / math.sqrt(2 * math.pi)
    pos1 = mu * ndtr(t) + s * pdf
    pos2 = (mu * mu + nu) * ndtr(t) + mu * s * pdf
    neg0 = ndtr(-t)
    e1 = math.exp(mu + nu / 2) * ndtr(-(mu + nu) / s)
    e2 = math.exp(2 * mu + 2 * nu) * ndtr(-(mu + 2 * nu) / s)
    mean = lam * (pos1 + alpha * (e1 - neg0))
    second = lam**2 * (pos2 + alpha**2 * (e2 - 2 * e1 + neg0))
    return mean, second - mean**2


def selu_constants(mu: float = 0.0, nu: float = 1.0) -> tuple[float, float]:
    """(lambda, alpha) of the SELU whose moment map has the fixed point (mu, nu) (Klambauer et al. 2017).

    selu(x) = lambda x (x > 0), lambda alpha (e^x - 1) (x <= 0).  The fixed point means: for
    z ~ N(mu, nu), E[selu(z)] = mu and Var[selu(z)] = nu (bioinf-jku/SNNs ``getSELUparameters.ipynb``).
    For (0, 1) the closed forms of that notebook are used:

        alpha01 = -sqrt(2/pi) / (exp(1/2) erfc(1/sqrt 2) - 1)
        lambda01 = (1 - sqrt(e) erfc(1/sqrt 2)) sqrt(2 pi / (2 + pi - 2 sqrt(e) (2 + pi) erfc(1/sqrt 2)
                   + e pi erfc(1/sqrt 2)^2 + 2 e^2 erfc(sqrt 2)))

    (1.0507009873554805, 1.6732632423543772); any other (mu, nu) is solved numerically (scipy
    ``root`` on the closed-form moments above, started at the standard constants).

    Raises
    ------
    ParameterError
        nu <= 0, non-finite input, or no positive (lambda, alpha) found.
    """
    mu = _scalar("mu", mu, signed=True)
    nu = _scalar("nu", nu, positive=True)
    if mu == 0.0 and nu == 1.0:
        r2 = 1.0 / math.sqrt(2.0)
        e = math.e
        alpha = -math.sqrt(2.0 / math.pi) / (math.exp(0.5) * erfc(r2) - 1.0)
        lam = (1.0 - math.sqrt(e) * erfc(r2)) * math.sqrt(
            2.0 * math.pi / (2.0 + math.pi - 2.0 * math.sqrt(e) * (2.0 + math.pi) * erfc(r2)
                             + e * math.pi * erfc(r2) ** 2 + 2.0 * e**2 * erfc(math.sqrt(2.0)))
        )
        return float(lam), float(alpha)

    def equations(p):
        lam_, alpha_ = p
        m, v = _selu_moments(alpha_, lam_, mu, nu)
        return [m - mu, v - nu]

    try:
        with np.errstate(all="ignore"):
            sol = optimize.root(equations, [SELU_SCALE, SELU_ALPHA], method="hybr", options={"xtol": 1e-15})
            lam, alpha = (float(v) for v in sol.x)
            residual = max(abs(v) for v in equations(sol.x))
    except (OverflowError, ValueError, ZeroDivisionError):  # the moments leave double precision
        raise ParameterError(
            f"no SELU (lambda > 0, alpha > 0) has the fixed point (mu, nu) = ({mu!r}, {nu!r}): its moments "
            "overflow double precision"
        ) from None
    # hybr may report "no further improvement" at the rounding floor: judge by the residual instead
    if not (lam > 0 and alpha > 0 and residual < 1e-12):
        raise ParameterError(
            f"no SELU (lambda > 0, alpha > 0) has the fixed point (mu, nu) = ({mu!r}, {nu!r}): {sol.message}"
        )
    return lam, alpha


# ----------------------------------------------------------------------------------------------
# WeightNorm (Arpit, Campos & Bengio 2019) and Fixup (Zhang, Dauphin & Ma 2019)
# ----------------------------------------------------------------------------------------------
def weightnorm_gain(fan_in: int, fan_out: int, gain: float = 2.0) -> float:
    """Arpit et al. 2019's WeightNorm scale g = sqrt(gain fan_in / fan_out) (forward version).

    gain = 2 after a ReLU, 1 for a raw input, 1/B for the last layer of each of B residual branches
    (victorcampos7/weightnorm-init ``src/models/init.py``).  With orthonormal directions v this keeps
    E|h_l|^2 = |x|^2 through ReLU layers (Arpit et al. 2019, section 3).  For convolutions pass C_in, C_out.
    """
    fan_in = check.positive_int("fan_in", fan_in)
    fan_out = check.positive_int("fan_out", fan_out)
    return math.sqrt(_scalar("gain", gain, positive=True) * fan_in / fan_out)


def weightnorm(shape, gain: float = 2.0, direction: str = "orthogonal", seed: RNGLike = None) -> np.ndarray:
    """A WeightNorm layer w_i = g v_i / |v_i| at Arpit et al.'s initialization, as one array.

    v: (semi-)orthogonal (``"orthogonal"``, their ``orthogonal_proposed``) or Gaussian (``"gaussian"``,
    ``he_proposed``; only its direction matters); g = :func:`weightnorm_gain` (C_in, C_out, gain) for
    every unit, with C_in = shape[1], C_out = shape[0] (the fan ratio of a conv is C_in / C_out).
    Every output unit's weight vector (row of the (C_out, C_in k...) reshaped array) has norm g.
    """
    shape = _shape(shape)
    direction = _choice("direction", direction, ("orthogonal", "gaussian"))
    g = weightnorm_gain(shape[1], shape[0], gain)
    v = orthogonal(shape, seed=seed) if direction == "orthogonal" else generator(seed).standard_normal(shape)
    rows = v.reshape(shape[0], -1)
    return (g * rows / np.linalg.norm(rows, axis=1, keepdims=True)).reshape(shape)


def fixup_scale(num_blocks: int, layers_per_branch: int = 2) -> float:
    """Fixup's branch scaling L^(-1/(2m-2)) (Zhang, Dauphin & Ma 2019), L blocks, m >= 2 layers per branch.

    ResNet-20 (L = 9, m = 2): 1/3; ResNet-50 bottleneck (L = 16, m = 3): 1/2.
    """
    L = check.positive_int("num_blocks", num_blocks)
    m = check.positive_int("layers_per_branch", layers_per_branch)
    if m < 2:
        raise ParameterError(
            f"Fixup needs at least 2 weight layers per residual branch (the exponent is -1/(2m-2)), got m = {m}"
        )
    return float(L) ** (-1.0 / (2 * m - 2))


def fixup_branch(shapes, num_blocks: int, mode: str = "fan_out", seed: RNGLike = None) -> list[np.ndarray]:
    """The weights of one Fixup residual branch: He-normal layers times :func:`fixup_scale`, last layer 0.

    ``shapes`` lists the branch's m >= 2 weight shapes in order.  Layers 1..m-1: He normal with the ReLU
    gain (fan_out mode by default, as hongyi-zhang/Fixup's CIFAR code: std = sqrt(2/(C_out k^2))) times
    L^(-1/(2m-2)); layer m: all zeros, so the branch outputs 0 and the network is the identity through
    the skips at initialization.  (The scalar multipliers and biases of Fixup are 1 and 0.)
    """
    if isinstance(shapes, (str, bytes)) or not hasattr(shapes, "__len__"):
        raise ParameterError(f"shapes must be a list of weight shapes, got {shapes!r}")
    shapes = [_shape(s) for s in shapes]
    scale = fixup_scale(num_blocks, len(shapes))
    rng = generator(seed)
    out = [scale * he(s, mode=mode, seed=rng) for s in shapes[:-1]]
    out.append(np.zeros(shapes[-1]))
    return out
