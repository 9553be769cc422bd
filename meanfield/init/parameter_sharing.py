"""Parameter-sharing ("looks-linear") ReLU initialization (Balduzzi et al. 2017; Burkholz & Dubatovka 2019).

The physical network has the doubled hidden layers [[W0, -W0], [-W0, W0]] built from template
matrices W0^l; since relu(u) - relu(-u) = u it computes the linear template map W0^L ... W0^1 x
exactly, so with orthogonal W0 every singular value of its input-output Jacobian is 1 at any depth.
Public names are re-exported by :mod:`meanfield.init`.
"""
from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from .. import validation as check
from ..errors import ParameterError
from ..simulate.networks import sample_weights
from ..validation import generator

__all__ = ["looks_linear", "looks_linear_layers"]


def looks_linear(
    widths: Sequence[int], orthogonal: bool = True, seed=None, sigma_w2: float = 1.0
) -> list[np.ndarray]:
    """Parameter-sharing ("looks-linear") ReLU weights, shapes (fan_out, fan_in).

    Balduzzi et al. 2017 ("The shattered gradients problem"), Burkholz & Dubatovka 2019
    ("Initialization of ReLUs for dynamical isometry"): from template matrices W0^l
    (n_l x n_{l-1}) build

        first layer  [W0; -W0]              (2 n_1 x n_0)
        hidden       [[W0, -W0], [-W0, W0]] (2 n_l x 2 n_{l-1})
        last         [W0, -W0]              (n_L x 2 n_{L-1})

    with zero biases.  Since relu(u) - relu(-u) = u, the hidden representations are
    x^l = [relu(z^l); relu(-z^l)] with z^l = W0^l z^{l-1}, and the network computes
    the linear map W0^L ... W0^1 x exactly.  With orthogonal square W0 every input-output Jacobian
    singular value is exactly 1 at any depth.

    Parameters
    ----------
    widths : sequence of int
        The template's widths [n_0, n_1, ..., n_L] (L >= 1); physical hidden widths are 2 n_l.
        For L = 1 the single layer is the template itself (nothing to share).
    orthogonal : bool
        W0 = sigma_w O with O Haar (orthonormal rows or columns, fan-in scaling of
        :func:`meanfield.simulate.sample_weights`); otherwise W0_ij ~ N(0, sigma_w^2 / n_{l-1}).
    seed : int, Generator or None
    sigma_w2 : float
        Template weight variance (default 1: the critical linear net).

    Returns
    -------
    list of ndarray
        L weight matrices; the biases are zero.
    """
    return [w for w, _ in looks_linear_layers(widths, orthogonal, seed, sigma_w2)]


def looks_linear_layers(
    widths: Sequence[int],
    orthogonal: bool = True,
    seed=None,
    sigma_w2: float = 1.0,
    sigma_b2: float = 0.0,
    n_networks: int | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Lazily yield the physical looks-linear layers (W^l, b^l), optionally for a stack of networks.

    The weights are those of :func:`looks_linear` (same random stream for the same seed when
    ``sigma_b2`` is 0 and ``n_networks`` is None); the biases are [b0; -b0] on hidden layers and b0 on
    the last, b0_i ~ N(0, sigma_b^2), so that z^l = x^l_top - x^l_bottom follows the template
    z^l = W0^l z^{l-1} + b0^l exactly (Burkholz & Dubatovka 2019).  Arguments are checked at once.

    Yields
    ------
    (W, b) : ndarray (..., fan_out, fan_in), ndarray (..., fan_out); ``...`` = (n_networks,) if given
    """
    rng = generator(seed)
    widths = check.widths(widths)
    if not isinstance(orthogonal, (bool, np.bool_)):
        raise ParameterError(f"orthogonal must be True or False, got {orthogonal!r}")
    for name, value in (("sigma_w2", sigma_w2), ("sigma_b2", sigma_b2)):
        if check.nonnegative(name, value).ndim != 0:
            raise ParameterError(f"{name} must be a single number, got {value!r}")
    sb2 = float(sigma_b2)
    kind = "orthogonal" if orthogonal else "gaussian"
    depth = len(widths) - 1

    def layers():
        for l, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:]), start=1):
            w0 = sample_weights(rng, fan_out, fan_in, sigma_w2, kind, n_networks)
            b0 = np.sqrt(sb2) * rng.standard_normal(w0.shape[:-2] + (fan_out,)) if sb2 > 0 else np.zeros(w0.shape[:-1])
            if depth > 1:
                if l > 1:
                    w0 = np.concatenate([w0, -w0], axis=-1)
                if l < depth:
                    w0 = np.concatenate([w0, -w0], axis=-2)
                    b0 = np.concatenate([b0, -b0], axis=-1)
            yield w0, b0

    return layers()
