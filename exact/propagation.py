"""The log-grid propagation of one network through its hidden layers (method of :mod:`exact.grid`).

For each hidden layer l = 1..L-1 it holds the density p_l of log M_l (M_l = |x^l|^2 / n_l) given
s_l > 0 on a uniform grid, the atom P(M_l = 0) and log P(M_l > 0) (docs/conventions.md §6):

- ``log_ps`` = log P(s_l > 0): 0 with bias (s_l >= sigma_b^2), log P(M_{l-1} > 0) without (the dead
  state is absorbing), so that the continuous part of a law that is almost surely dead (width 1,
  depth 100: P = 2^-100, or below the double range) keeps its own mass and its relative accuracy;
- the source points of layer l: the law of log s_l given s_l > 0 as points with weights summing to 1,
  the previous grid mapped by log(sigma_b^2 + sigma_w^2 e^u) (trapezoid weights), plus the revived
  atom (log sigma_b^2, P(M_{l-1} = 0)) with bias.

Grids.  Zero bias: log M_l = log s_1 + (l-1) log sigma_w^2 + sum log G_j lives on one lattice of step
h (the finest the widths need), and each layer is one discrete convolution with the kernel on the
lattice.  With bias: each layer has its own step h_l, fine enough for its own kernel and for the next
layer's (the Nystrom quadrature of layer l+1 integrates g_{n_{l+1}}(v - phi(u)) p_l(u) du on layer l's
grid), and its own range; a narrow layer next to a wide one is then fine only where it must be, and
a wide layer's kernel is evaluated from its table (:class:`exact.grid.LogGammaMixture`).  Layers that
share (width, own step, previous step) share one dense Nystrom matrix over the union of their ranges.

Grid ends cut mass < TAIL_MASS P(M_l > 0) at each end: Markov bounds with the exact moments (top),
Chernoff bounds with exact negative moments (bottom).  Sizes are checked before anything is allocated
(:data:`MAX_NODES` nodes per layer, :data:`MAX_WORK` kernel evaluations in all).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from meanfield.errors import ParameterError

from .grid import TAIL_MASS, SourcePoints

__all__ = ["Layer", "Propagation", "MARKOV_ORDERS", "MAX_NODES", "MAX_WORK", "widths_text"]

#: orders of the exact moments used for the Markov bounds of the grids' upper ends
MARKOV_ORDERS = 64
#: largest dense Nystrom matrix kept for reuse (sigma_b^2 > 0), 128 MB
DENSE_ELEMENTS = 16_000_000
#: most grid nodes of one layer
MAX_NODES = 2**19
#: most kernel evaluations (node x source pairs, or multiply-adds of the lattice convolutions) in all
MAX_WORK = 4e9


def widths_text(widths) -> str:
    """Widths with runs written as [n]*k: [10, 10, 10, 1] -> "[10]*3 + [1]"; short lists as they are."""
    runs = []
    for n in widths:
        if runs and runs[-1][0] == n:
            runs[-1][1] += 1
        else:
            runs.append([n, 1])
    if all(k < 3 for _, k in runs):
        return "[" + ", ".join(str(n) for n in widths) + "]"
    parts, plain = [], []
    for n, k in runs:
        if k >= 3:
            if plain:
                parts.append("[" + ", ".join(plain) + "]")
                plain = []
            parts.append(f"[{n}]*{k}")
        else:
            plain.extend([str(n)] * k)
    if plain:
        parts.append("[" + ", ".join(plain) + "]")
    return " + ".join(parts)


@dataclass
class Layer:
    """Hidden layer l: the law of M_l = |x^l|^2 / n_l."""

    n: int
    log_ps: float  # log P(s_l > 0)
    log_alive: float  # log P(M_l > 0) = log_ps + log(1 - 2^-n)
    source: SourcePoints | None  # law of log s_l given s_l > 0, through the kernel of width n
    nodes: np.ndarray | None = None  # grid of log M_l
    p: np.ndarray | None = None  # density of log M_l given s_l > 0 at the nodes (mass 1 - 2^-n)
    h: float = 1.0
    m0: int = 0  # zero bias: lattice index of the first node

    @property
    def zero(self) -> float:
        """P(M_l = 0) (it rounds to 1 when the layer is almost surely dead; log_alive does not)."""
        return float(-np.expm1(self.log_alive))

    @property
    def table(self):
        """Nodes and the cumulative trapezoid CDF there, given s_l > 0 (brackets for ppf)."""
        if self.nodes is None:
            return None
        w = self.h * self.p
        return self.nodes, np.cumsum(w) - 0.5 * w


class Propagation:
    """The hidden layers' grids of a network (see the module docstring).

    Parameters
    ----------
    widths, sigma_w2, sigma_b2, s1, sharing : the network (s1 = s^1, deterministic).
    steps : list of float
        Grid step of each hidden layer (all equal without bias).
    log_m : ndarray (L - 1, MARKOV_ORDERS + 1)
        log E[M_l^k], the exact moments.
    kernels : dict width -> LogGammaMixture
    """

    def __init__(self, widths, sigma_w2, sigma_b2, s1, sharing, steps, log_m, kernels):
        self.widths, self.sw2, self.sb2, self.s1 = widths, sigma_w2, sigma_b2, s1
        self.sharing = sharing
        self.kernels = kernels
        self.hidden = widths[1:-1]
        self.layers: list[Layer] = []
        if not self.hidden:
            return
        self.steps = list(steps)
        lo, hi = self._ranges(log_m)
        self._check_sizes(lo, hi)
        if sigma_b2 > 0:
            self._build_bias(lo, hi)
        else:
            self._build_zero_bias(lo, hi)

    # ------------------------------------------------------------------------------------------
    def death(self, n: int) -> float:
        """P(K = 0) for a layer of width n (0 with sharing)."""
        return 0.0 if self.sharing else float(2.0**-n)

    def _log_alive_bound(self) -> np.ndarray:
        """log P(M_l > 0) for l = 1..L-1 from the widths alone (product of 1 - 2^-n_j without bias)."""
        per_layer = np.array([np.log1p(-self.death(n)) for n in self.hidden])
        return per_layer if self.sb2 > 0 else np.cumsum(per_layer)

    def s_points(self, l: int):
        """Law of s_l as (log P(s_l > 0), points psi = log s given s_l > 0, weights summing to 1)."""
        if l == 1:
            return (0.0, np.array([np.log(self.s1)]), np.ones(1)) if self.s1 > 0 else (-np.inf, np.empty(0), np.empty(0))
        prev = self.layers[l - 2]
        sb2, sw2 = self.sb2, self.sw2
        if sw2 == 0 or prev.source is None:
            return (0.0, np.array([np.log(sb2)]), np.ones(1)) if sb2 > 0 else (-np.inf, np.empty(0), np.empty(0))
        w = prev.h * prev.p
        if sb2 > 0:
            psi = np.logaddexp(np.log(sb2), np.log(sw2) + prev.nodes)
            return 0.0, np.concatenate([[np.log(sb2)], psi]), np.concatenate([[prev.zero], w])
        return prev.log_alive, np.log(sw2) + prev.nodes, w / (1.0 - self.death(prev.n))

    def _layer(self, l: int) -> tuple[Layer, tuple]:
        n = self.hidden[l - 1]
        log_ps, psi, w = self.s_points(l)
        layer = Layer(n, log_ps, log_ps + np.log1p(-self.death(n)), None, h=self.steps[l - 1])
        if psi.size:
            layer.source = SourcePoints(self.kernels[n], psi, w)
        return layer, (psi, w)

    # ------------------------------------------------------------------------------------------
    def _ranges(self, log_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Grid ends of log M_l (l = 1..L-1) cutting < TAIL_MASS P(M_l > 0) at each end.

        Top: Markov, P(M > x) <= E[M^k] / x^k with the exact moments, k <= 64.  Bottom: Chernoff,
        P(0 < M < x) <= x^t E[M^-t; M > 0], with E[s_{l+1}^-t] <= min(sb2^-t, P(M_l = 0) sb2^-t +
        sw2^-t E[M_l^-t; M_l > 0]) (s >= max(sb2, sw2 M)) and E[M^-t; M > 0] = E[s^-t] E[G^-t; K >= kmin]
        for the kernel as truncated (exact for sigma_b^2 = 0).
        """
        hidden = self.hidden
        log_eps = np.log(TAIL_MASS) + self._log_alive_bound()  # conditional accuracy
        k = np.arange(1, MARKOV_ORDERS + 1)
        with np.errstate(invalid="ignore"):
            hi = np.min((log_m[:, 1 : MARKOV_ORDERS + 1] - log_eps[:, None]) / k, axis=1)
        t_max = max(self.kernels[n].kmin for n in hidden) / 2.0
        t = np.concatenate([np.geomspace(0.01, 0.45, 12), np.linspace(0.5, 0.995, 12) * t_max])
        log_sb2 = np.log(self.sb2) if self.sb2 > 0 else np.inf
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            log_sw2 = np.log(self.sw2)
            log_n = -t * np.log(self.s1)  # log E[s_1^-t]
            lo = np.empty(len(hidden))
            negative = {n: self.kernels[n].negative_moment(t) for n in set(hidden)}
            for i, n in enumerate(hidden):
                log_mneg = log_n + negative[n]
                bound = (log_eps[i] - log_mneg) / t
                lo[i] = np.max(np.where(np.isfinite(bound), bound, -np.inf))
                via_m = -t * log_sw2 + log_mneg
                if self.sb2 > 0:
                    revived = np.log(self.death(n)) - t * log_sb2 if self.death(n) > 0 else -np.inf
                    log_n = np.minimum(-t * log_sb2, np.logaddexp(revived, via_m))
                else:
                    log_n = via_m
        return lo, hi

    def _check_sizes(self, lo: np.ndarray, hi: np.ndarray):
        """Refuse, before allocating, grids beyond MAX_NODES per layer or MAX_WORK in all."""
        steps = np.array(self.steps)
        with np.errstate(invalid="ignore"):
            nodes = np.where(np.isfinite(hi - lo), (hi - lo) / steps + 2, 1.0)
        bands = np.array([(self.kernels[n].t_hi - self.kernels[n].t_lo) for n in self.hidden]) / steps + 1
        if self.sb2 > 0:
            before = np.concatenate([[1.0], nodes[:-1]])
            prev_steps = np.concatenate([[1.0], steps[:-1]])
            work = nodes * np.minimum(before, bands * steps / prev_steps)
        else:
            work = np.concatenate([[0.0], nodes[:-1]]) * bands
        worst = int(np.argmax(nodes))
        if nodes[worst] > MAX_NODES or work.sum() > MAX_WORK:
            raise ParameterError(
                f"widths {widths_text(self.widths)}: the exact grids would need {nodes[worst]:.3g} nodes in hidden layer "
                f"{worst + 1} and {work.sum():.3g} kernel evaluations in all; allowed are at most {MAX_NODES} "
                f"nodes per layer and {MAX_WORK:.3g} evaluations.  The grid step ({steps[worst]:.3g} in log M) "
                "is set by the widest layers, the range by the narrowest and by the depth: use fewer layers "
                "or less different neighbouring widths (or Monte Carlo, net.sample)"
            )

    # ------------------------------------------------------------------------------------------
    def _build_zero_bias(self, lo, hi):
        """Lattice log M_l = log s_1 + (l-1) log sigma_w^2 + m h; each layer one convolution."""
        h = self.steps[0]
        lattices = {n: self.kernels[n].lattice(h) for n in set(self.hidden)}
        for l, n in enumerate(self.hidden, start=1):
            layer, _ = self._layer(l)
            self.layers.append(layer)
            if layer.source is None:
                continue
            base = np.log(self.s1) + (l - 1) * np.log(self.sw2)
            m_lo = int(np.floor((lo[l - 1] - base) / h))
            m_hi = int(np.ceil((hi[l - 1] - base) / h))
            k0, gvec = lattices[n]
            if l == 1:
                m0, p = k0, gvec
            else:
                prev = self.layers[-2]
                m0 = prev.m0 + k0
                p = h * np.convolve(prev.p, gvec) / (1.0 - self.death(prev.n))
            a, b = max(m_lo, m0), min(m_hi, m0 + p.size - 1)
            layer.nodes, layer.p, layer.m0 = base + h * np.arange(a, b + 1), p[a - m0 : b - m0 + 1], a

    def _build_bias(self, lo, hi):
        """Per-layer grids; dense Nystrom matrices shared by layers of the same (width, steps)."""
        index = [(int(np.floor(lo[i] / h)), int(np.ceil(hi[i] / h))) for i, h in enumerate(self.steps)]
        keys = [None] + [(n, self.steps[i - 1], self.steps[i]) for i, n in enumerate(self.hidden) if i > 0]
        shared = {}
        for key in set(keys[1:]):
            users = [i for i, k in enumerate(keys) if k == key]
            rows = (min(index[i][0] for i in users), max(index[i][1] for i in users))
            cols = (min(index[i - 1][0] for i in users), max(index[i - 1][1] for i in users))
            size = (rows[1] - rows[0] + 1) * (cols[1] - cols[0] + 1)
            if len(users) > 1 and size <= DENSE_ELEMENTS:
                shared[key] = {"rows": rows, "cols": cols, "last": users[-1], "matrix": None}
        log_sb2 = np.log(self.sb2)
        for i, n in enumerate(self.hidden):
            layer, (psi, w) = self._layer(i + 1)
            self.layers.append(layer)
            if layer.source is None:
                continue
            kernel, h = self.kernels[n], layer.h
            layer.nodes = h * np.arange(index[i][0], index[i][1] + 1)
            prev = self.layers[-2] if i else None
            if psi.size == 1:  # the first layer, or sigma_w^2 = 0: a single source point
                layer.p = w[0] * kernel.pdf(layer.nodes - psi[0])
            elif keys[i] in shared:
                entry = shared[keys[i]]
                if entry["matrix"] is None:
                    (r0, r1), (c0, c1) = entry["rows"], entry["cols"]
                    cols = prev.h * np.arange(c0, c1 + 1)
                    entry["matrix"] = kernel.matrix(h * np.arange(r0, r1 + 1), np.logaddexp(log_sb2, np.log(self.sw2) + cols))
                r0, c0 = entry["rows"][0], entry["cols"][0]
                block = entry["matrix"][index[i][0] - r0 : index[i][1] - r0 + 1, index[i - 1][0] - c0 : index[i - 1][1] - c0 + 1]
                layer.p = block @ (prev.h * prev.p) + prev.zero * kernel.pdf(layer.nodes - log_sb2)
                if entry["last"] == i:
                    entry["matrix"] = None  # dense M x M: keep only the matrices still needed
            else:  # used once, or too large to store: the same Nystrom sum, evaluated directly
                layer.p = layer.source.density(layer.nodes)
