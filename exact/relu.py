"""Exact finite-width laws of Gaussian ReLU networks (Burkholz & Dubatovka 2019; docs/conventions.md §6).

Network (docs/conventions.md §6): widths [n_0, n_1, ..., n_L]; h^l = W^l x^{l-1} + b^l, x^l = relu(h^l) for the
hidden layers l = 1..L-1 ("depth" = L - 1 hidden layers); the output is one pre-activation h^L_1;
W^l_ij ~ N(0, sigma_w^2 / n_{l-1}), b^l_i ~ N(0, sigma_b^2); the input x^0 is fixed with
|x^0|^2 = ``input_norm2`` (default n_0).

Given x^{l-1} the pre-activations of layer l are iid N(0, s_l), s_l = sigma_w^2 |x^{l-1}|^2 / n_{l-1}
+ sigma_b^2, so the squared signal is a Markov chain (R1, R2):

    |x^l|^2 = s_l chi^2_{K_l},  K_l ~ Bin(n_l, 1/2)   (chi^2_0 = 0: an atom at 0, the dead layer),
    s_{l+1} = sigma_b^2 + sigma_w^2 |x^l|^2 / n_l,     h^L_i | s_L ~ N(0, s_L).

The laws are computed by the log-grid Nystrom method (:mod:`exact.grid`, :mod:`exact.propagation`) and
the moments by the exact recursion (:mod:`exact.moments`).  Stated accuracy (checked in the
tests by halving the grid step, by the mass balance, and against independent mpmath routes): CDFs
to ~1e-13 absolute, densities to ~1e-10 relative wherever cdf and sf exceed ~1e-15 (the continuous
part of a law is resolved relative to its own mass, also for nets that are almost surely dead).

Parameter sharing (looks-linear; Balduzzi et al. 2017, Burkholz & Dubatovka 2019; docs/conventions.md §7):
physical weights [[W0, -W0], [-W0, W0]] (first layer [W0; -W0], last [W0, -W0]), biases [b0, -b0]
(last layer b0), W0 ~ N(0, sigma_w^2 / n_{l-1}).  Then z^l = x^l_top - x^l_bottom = W0 z^{l-1} + b0
exactly and |x^l|^2 = |z^l|^2: the same chain with K_l = n_l (no atoms).  ``widths`` are the
template's; physical hidden widths are 2 n_l.  sigma_w^2 is the template's variance, n_{l-1} Var(W0)
(as for :func:`meanfield.init.looks_linear`); the physical hidden layers then have fan-in variance
2 sigma_w^2.  The default sigma_w^2 is the critical one: 2 (He) without sharing, 1 with sharing (the
norm-preserving linear template).

Sizes are checked before anything is allocated: widths up to MAX_WIDTH, at most MAX_DEPTH weight
layers, grids within :data:`exact.propagation.MAX_NODES` / :data:`exact.propagation.MAX_WORK`, moment
orders up to :data:`meanfield.laws.MAX_MOMENT_ORDER`, Monte Carlo within half the machine's memory
(:func:`meanfield.validation.memory`); a bad size raises ParameterError saying what is allowed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from scipy.special import ndtri

import meanfield as mf
from meanfield import simulate as mfsim
from meanfield import validation as check
from meanfield.errors import ParameterError
from meanfield.init import looks_linear_layers
from meanfield.progress import progress_bar

from .distributions import PositiveLaw
from .grid import LogGammaMixture, grid_step
from .joint import OutputVectorLaw, TwoInputLaw
from .mixtures import NORMAL, ScaleMixtureLaw
from .moments import log_moments_chain, log_variances_chain
from .propagation import MARKOV_ORDERS, Propagation, widths_text

__all__ = ["ReLUNetwork", "NetworkSample", "NetworkSummary", "MAX_WIDTH", "MAX_DEPTH"]

#: largest layer width of the exact laws (the kernel of width n has ~9 sqrt(n) binomial terms)
MAX_WIDTH = 10**8
#: most weight layers
MAX_DEPTH = 10_000
#: with bias, moment(k) costs L k^2 (the binomial convolution of the recursion): at most this
MAX_MOMENT_WORK = 2e8
#: elements per stacked weight array in Monte Carlo batches (~32 MB of float64)
_MC_ELEMENTS = 4_000_000


class NetworkSample(dict):
    """Monte Carlo record of :meth:`ReLUNetwork.sample`; entries by key or attribute.

    Keys: ``"preactivation_variance"`` (n_networks, L): s^l of each network (s^1 is deterministic);
    ``"squared_norm"`` (n_networks, L-1): |x^l|^2 of the hidden layers (physical, with sharing);
    ``"output"`` (n_networks,): h^L_1; ``"outputs"`` (n_networks, n_L): the whole output vector h^L.
    """

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass(frozen=True)
class NetworkSummary:
    """Per-layer numbers of :meth:`ReLUNetwork.summary` (index l - 1 is layer l = 1..L).

    Attributes
    ----------
    q : mean-field q^l.
    mean, median, q05, q95 : exact mean (= q^l), median and 5 % / 95 % quantiles of s^l.
    dead : probability that some hidden layer below l had no active unit (the signal reaching layer l
        no longer depends on the input; with sigma_b^2 = 0 then s^l = 0).
    kurtosis : excess (Fisher) kurtosis of one pre-activation h^l_i, 3 Var(s^l) / E[s^l]^2 (0 for a
        Gaussian, i.e. in mean field; the Pearson value is this plus 3).
    output_ks_mean_field : KS distance sup |F_f - Phi(. / sqrt(q^L))| between the exact output law
        and the mean-field Gaussian, on a grid of quantiles.
    text : readable statement of the finite-width effects.
    """

    layers: np.ndarray
    q: np.ndarray
    mean: np.ndarray
    median: np.ndarray
    q05: np.ndarray
    q95: np.ndarray
    dead: np.ndarray
    kurtosis: np.ndarray
    output_ks_mean_field: float
    text: str = field(repr=False)

    def __str__(self) -> str:
        return self.text


class ReLUNetwork:
    """Exact layer-by-layer laws of a Gaussian ReLU network at initialization.

    Parameters
    ----------
    widths : sequence of int
        [n_0, n_1, ..., n_L], at least two entries, each in 1..MAX_WIDTH, at most MAX_DEPTH + 1 entries
        (with sharing: the template's widths).
    sigma_w2 : float or None
        Weight variance (>= 0), W_ij ~ N(0, sigma_w2 / fan_in); with sharing the template's variance
        n_{l-1} Var(W0) (docs/conventions.md §7).  None: the critical value, 2 (He) without sharing,
        1 with sharing.
    sigma_b2 : float
        Bias variance (>= 0).
    input_norm2 : float or None
        |x^0|^2 (>= 0); None means n_0 (inputs of mean square 1).
    parameter_sharing : bool
        The looks-linear initialization (see the module docstring).

    Notes
    -----
    Laws (each a :class:`meanfield.laws.Law`): :meth:`preactivation_variance` (s^l, l = 1..L),
    :meth:`squared_norm` (|x^l|^2, l = 1..L-1), :meth:`output` (h^L_1), :meth:`outputs` (the joint
    law of the vector h^L), :meth:`two_inputs` (two inputs' outputs, one weight layer).  Layers are
    1-based.  The grids are built in the constructor; laws are views on them.
    """

    def __init__(
        self,
        widths: Sequence[int],
        sigma_w2: float | None = None,
        sigma_b2: float = 0.0,
        input_norm2: float | None = None,
        parameter_sharing: bool = False,
    ):
        widths = check.widths(widths)
        if len(widths) - 1 > MAX_DEPTH:
            raise ParameterError(f"widths lists {len(widths) - 1} weight layers; at most {MAX_DEPTH} are allowed")
        for n in widths:
            check.positive_int("width", n, 1, MAX_WIDTH)
        if not isinstance(parameter_sharing, (bool, np.bool_)):
            raise ParameterError(f"parameter_sharing must be True or False, got {check.shown(parameter_sharing)}")
        self.widths = widths
        self.parameter_sharing = bool(parameter_sharing)
        if sigma_w2 is None:
            sigma_w2 = 1.0 if self.parameter_sharing else 2.0
        self.sigma_w2 = _scalar("sigma_w2", sigma_w2)
        self.sigma_b2 = _scalar("sigma_b2", sigma_b2)
        self.input_norm2 = float(widths[0]) if input_norm2 is None else _scalar("input_norm2", input_norm2)
        self.depth = len(widths) - 1
        with np.errstate(over="ignore"):
            self.s1 = self.sigma_w2 * (self.input_norm2 / widths[0]) + self.sigma_b2
        if not np.isfinite(self.s1):
            raise ParameterError(
                f"s^1 = sigma_w2 input_norm2 / n_0 + sigma_b2 overflows double precision (sigma_w2={self.sigma_w2!r}, "
                f"sigma_b2={self.sigma_b2!r}, input_norm2={self.input_norm2!r}); it must be below 1.8e308"
            )
        hidden = widths[1:-1]
        self._kernels = {n: LogGammaMixture(n, self.parameter_sharing) for n in set(hidden)}
        self._log_s = self._log_m = None
        self._moments(MARKOV_ORDERS)
        if self.sigma_b2 > 0:  # per-layer steps: fine enough for the layer's kernel and the next one's
            steps = [grid_step(hidden[i : i + 2], self.parameter_sharing) for i in range(len(hidden))]
        else:  # one lattice
            steps = [grid_step(hidden, self.parameter_sharing)] * len(hidden) if hidden else []
        self._grid = Propagation(widths, self.sigma_w2, self.sigma_b2, self.s1, self.parameter_sharing, steps,
                                 self._log_m, self._kernels)
        self._layers = self._grid.layers

    # ------------------------------------------------------------------------------------------
    # exact moments (R4)
    # ------------------------------------------------------------------------------------------
    def _moments(self, jmax: int):
        if self._log_s is None or self._log_s.shape[1] <= jmax:
            if self.sigma_b2 > 0 and self.depth * float(jmax) ** 2 > MAX_MOMENT_WORK and jmax > MARKOV_ORDERS:
                kmax = int(np.sqrt(MAX_MOMENT_WORK / self.depth))
                raise ParameterError(
                    f"this moment needs E[s^j] up to j = {jmax}, which for {self.depth} weight layers with bias "
                    f"costs L j^2 = {self.depth * float(jmax) ** 2:.3g} operations; at most {MAX_MOMENT_WORK:.3g} "
                    f"are allowed (j <= {kmax} here: moment orders up to {kmax} of s^l and |x^l|^2, {2 * kmax} of the outputs)"
                )
            jmax = max(jmax, 8)
            self._log_s, self._log_m = log_moments_chain(
                self.widths, self.sigma_w2, self.sigma_b2, self.s1, jmax, self.parameter_sharing
            )
            self._log_var_s, self._log_var_m = log_variances_chain(
                self.widths, self.sigma_w2, self._log_s, self.parameter_sharing
            )
        return self._log_s, self._log_m

    def _log_moment_s(self, l: int):
        return lambda k: self._moments(k)[0][l - 1, k]

    def _log_moment_y(self, l: int):
        return lambda k: k * np.log(self.widths[l]) + self._moments(k)[1][l - 1, k]

    # ------------------------------------------------------------------------------------------
    # laws
    # ------------------------------------------------------------------------------------------
    def _layer_index(self, l, last: int, what: str) -> int:
        try:
            return check.positive_int("l", l, 1, last)
        except ParameterError:
            raise ParameterError(
                f"l must be a layer number 1..{last} for {what} of a network with widths {widths_text(self.widths)}, "
                f"got {check.shown(l)}"
            ) from None

    def preactivation_variance(self, l: int) -> PositiveLaw:
        """Law of s^l = sigma_w^2 |x^{l-1}|^2 / n_{l-1} + sigma_b^2, l = 1..L.

        s^1 is deterministic: a point mass, i.e. a law whose only atom is (s^1, 1) (``atom`` is its
        mass at 0, so 0 unless s^1 = 0), pdf 0, cdf a unit step at s^1.  For l >= 2 the law has an atom
        of mass P(x^{l-1} = 0) at sigma_b^2 (at 0 without bias) and a density above it.
        """
        l = self._layer_index(l, self.depth, "s^l")
        sampler = lambda rng, size: self._chain(rng, size, "s", l)  # noqa: E731
        name = f"s^{l} of {self._describe()}"
        log_var = self._log_var_s[l - 1]
        if l == 1:
            return PositiveLaw(self.s1, 0.0, None, None, -np.inf, -np.inf, self._log_moment_s(1), log_var, sampler, name)
        prev = self._layers[l - 2]
        return PositiveLaw(self.sigma_b2, self.sigma_w2, prev.source, prev.table, prev.log_alive, prev.log_ps,
                           self._log_moment_s(l), log_var, sampler, name)

    def squared_norm(self, l: int) -> PositiveLaw:
        """Law of |x^l|^2 = s^l chi^2_{K_l}, l = 1..L-1 (atom at 0 of mass P(x^l = 0): the dead layer).

        With parameter sharing: the physical |x^l|^2 = |z^l|^2 = s^l chi^2_{n_l}, no atom.
        """
        l = self._layer_index(l, self.depth - 1, "|x^l|^2")
        layer = self._layers[l - 1]
        sampler = lambda rng, size: self._chain(rng, size, "y", l)  # noqa: E731
        log_var = 2 * np.log(layer.n) + self._log_var_m[l - 1]
        return PositiveLaw(0.0, float(layer.n), layer.source, layer.table, layer.log_alive, layer.log_ps,
                           self._log_moment_y(l), log_var, sampler, f"|x^{l}|^2 of {self._describe()}")

    def _mixture(self, family, log_factor: float, what: str) -> ScaleMixtureLaw:
        """A scale mixture over s^L, with s multiplied by exp(log_factor)."""
        log_ps, psi, w = self._grid.s_points(self.depth)
        can_have_one = any(n == 1 or not self.parameter_sharing for n in self.widths[1:-1])
        singular = self.sigma_b2 == 0 and self.depth >= 2 and psi.size > 0 and can_have_one
        L = self.depth
        factor = float(np.exp(log_factor))
        log_moment_s = lambda j: j * log_factor + self._moments(j)[0][L - 1, j]  # noqa: E731
        sampler = lambda rng, size: factor * self._chain(rng, size, "s", L)  # noqa: E731
        return ScaleMixtureLaw(family, psi + log_factor, w, log_ps, singular, log_moment_s,
                               2 * log_factor + self._log_var_s[L - 1], sampler, f"{what} of {self._describe()}")

    def output(self) -> ScaleMixtureLaw:
        """Law of one output unit h^L_i: N(0, s^L) mixed over the law of s^L.

        Atom at 0 of mass P(s^L = 0) (sigma_b^2 = 0 and the network died).  For sigma_b^2 = 0 the
        density is infinite at exactly 0 (pdf(0) = inf) whenever some hidden layer can have one active
        unit; it is finite for z != 0.
        """
        return self._mixture(NORMAL, 0.0, "output h^L_1")

    def outputs(self) -> OutputVectorLaw:
        """Joint law of the output vector h^L in R^{n_L}: N(0, s^L I) mixed over the law of s^L
        (:class:`exact.joint.OutputVectorLaw`: pdf, logpdf, rvs, norm2(), projection(u))."""
        return OutputVectorLaw(self, self.widths[-1])

    def two_inputs(self, x, x_prime) -> TwoInputLaw:
        """Joint law of the outputs (h^L(x), h^L(x')) of two inputs, where it is exact: one weight layer
        (L = 1), where it is bivariate normal given the inputs' Gram matrix (:class:`exact.joint.TwoInputLaw`).

        For L >= 2 the pair depends on the random 2 x 2 Gram matrix of the last hidden layer, a Markov
        chain on three numbers with no scalar reduction (docs/conventions.md §6): no exact law is
        computed and ParameterError says so (use :meth:`sample`-style Monte Carlo).
        """
        return TwoInputLaw(self, x, x_prime)

    def dead_probability(self) -> float:
        """P(some hidden layer has no active unit) = 1 - prod_{l<L} (1 - 2^-n_l) (0 with sharing).

        With or without bias this is the probability that the output no longer depends on the
        input; it is 1 if the signal is identically 0 (s^1 = 0, or
        sigma_w^2 = sigma_b^2 = 0 with a hidden layer beyond the first).
        """
        if any(layer.source is None for layer in self._layers):
            return 1.0
        return abs(float(np.expm1(np.sum([np.log1p(-self._grid.death(n)) for n in self.widths[1:-1]]))))

    def mean_field(self) -> np.ndarray:
        """Mean-field q^1..q^L: q^1 = s^1, q^{l+1} = meanfield.variance_map(relu, sigma_w2, sigma_b2, q^l)
        (linear with sharing: the template is a linear net), shape (L,).  E[s^l] = q^l exactly."""
        act = "linear" if self.parameter_sharing else "relu"
        q = [self.s1]
        with np.errstate(over="ignore"):
            for _ in range(self.depth - 1):
                q.append(float(mf.variance_map(act, self.sigma_w2, self.sigma_b2, q[-1])) if np.isfinite(q[-1]) else np.inf)
        return np.array(q)

    def _describe(self) -> str:
        share = ", parameter sharing (template sigma_w2)" if self.parameter_sharing else ""
        return f"widths {widths_text(self.widths)}, sigma_w2={self.sigma_w2:g}, sigma_b2={self.sigma_b2:g}{share}"

    def __repr__(self) -> str:
        return f"ReLUNetwork({self._describe()}, input_norm2={self.input_norm2:g})"

    def plot(self, kind: str = "output", ax=None, samples=None, **kwargs):
        """Figure of the exact laws (:func:`exact.plotting.plot_network`): ``kind="output"`` the output
        density against the mean-field N(0, q^L) (and a histogram of ``samples`` of outputs),
        ``kind="layers"`` the median and 5-95 % band of s^l per layer against q^l (and a
        :class:`NetworkSample` as ``samples``).  ``kwargs`` go to the exact curve's ``plot``; returns the Axes."""
        from .plotting import plot_network

        return plot_network(self, kind, ax=ax, samples=samples, **kwargs)

    # ------------------------------------------------------------------------------------------
    # summary
    # ------------------------------------------------------------------------------------------
    def summary(self) -> NetworkSummary:
        """Per-layer mean-field q, exact mean/median/quantiles of s^l, death and (Fisher) kurtosis, and a text."""
        L = self.depth
        q = self.mean_field()
        laws = [self.preactivation_variance(l) for l in range(1, L + 1)]
        mean = np.array([law.mean() for law in laws])
        quant = np.array([law.ppf(np.array([0.05, 0.5, 0.95])) for law in laws])
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            kurt = np.where(self._log_s[:, 1] > -np.inf, 3.0 * np.exp(self._log_var_s - 2 * self._log_s[:, 1]), np.nan)
        deaths = [self._grid.death(n) for n in self.widths[1:-1]]
        dead = np.concatenate([[0.0], 0.0 - np.expm1(np.cumsum(np.log1p(-np.array(deaths))))]) if L > 1 else np.zeros(1)
        if any(layer.source is None for layer in self._layers):
            first = next(i for i, layer in enumerate(self._layers) if layer.source is None)
            dead[first + 1 :] = 1.0
        out = self.output()
        qs = np.linspace(0.001, 0.999, 999)
        ok = 0 < q[-1] < np.inf
        ks = float(np.max(np.abs(out.cdf(np.sqrt(q[-1]) * ndtri(qs)) - qs))) if ok else float("nan")
        lines = [f"Exact finite-width laws, {self._describe()}, |x^0|^2 = {self.input_norm2:g}"]
        lines.append(f"{'l':>4} {'q (mean field)':>15} {'E s^l':>12} {'median':>12} {'5%':>12} {'95%':>12} {'P(dead)':>10} {'kurtosis':>10}")
        for i in range(L):
            lines.append(
                f"{i + 1:>4} {q[i]:>15.6g} {mean[i]:>12.6g} {quant[i, 1]:>12.6g} {quant[i, 0]:>12.6g} "
                f"{quant[i, 2]:>12.6g} {dead[i]:>10.3g} {kurt[i]:>10.4g}"
            )
        lines.append("(kurtosis: excess (Fisher) kurtosis of one pre-activation h^l_i, 3 Var s^l / E[s^l]^2; 0 in mean field)")
        ratio = quant[-1, 1] / q[-1] if ok else float("nan")
        lines.append(
            f"The mean of s^l equals mean field at every layer (E s^L = q^L = {q[-1]:.6g}), but the typical "
            f"signal does not: median(s^L) / q^L = {ratio:.4g}."
        )
        lines.append(
            f"Output h^L: excess kurtosis {out.kurtosis():.6g} (Gaussian: 0), atom at 0 {out.atom:.3g} "
            f"(continuous mass {out.continuous_mass:.3g}), KS distance from the mean-field N(0, q^L): {ks:.3g}; "
            f"P(some hidden layer dead) = {self.dead_probability():.3g}."
        )
        return NetworkSummary(
            np.arange(1, L + 1), q, mean, quant[:, 1], quant[:, 0], quant[:, 2], dead, kurt, ks, "\n".join(lines)
        )

    # ------------------------------------------------------------------------------------------
    # sampling
    # ------------------------------------------------------------------------------------------
    def _chain(self, rng: np.random.Generator, size: int, what: str, l: int) -> np.ndarray:
        """Exact samples of the Markov chain (R2): K ~ Bin(n, 1/2), |x|^2 = s 2 Gamma(K/2), s' = sb2 + sw2 |x|^2/n."""
        s = np.full(size, self.s1)
        for j, n in enumerate(self.widths[1:], start=1):
            if what == "s" and j == l:
                return s
            if what == "f" and j == self.depth:
                return np.sqrt(s) * rng.standard_normal(size)
            k = np.full(size, n) if self.parameter_sharing else rng.binomial(n, 0.5, size)
            y = s * 2.0 * rng.gamma(k / 2.0)
            if what == "y" and j == l:
                return y
            s = self.sigma_b2 + self.sigma_w2 * y / n
        raise AssertionError("unreachable")

    def sample(self, n_networks: int, seed=None, progress: bool = False) -> NetworkSample:
        """Monte Carlo from real sampled networks (every weight and bias drawn).

        Networks are drawn in batches through :func:`meanfield.simulate.sample_layers` (Gaussian
        weights; with sharing the template weights through :func:`meanfield.simulate.sample_weights`
        and the physical shared-weight ReLU net built from them by
        :func:`meanfield.init.looks_linear_layers`) and run by
        :func:`meanfield.simulate.propagate` on the input x^0 = sqrt(input_norm2 / n_0) (1, ..., 1).

        Parameters
        ----------
        n_networks : int
            At least 1; the record (8 n_networks (2 L + n_L) bytes) must fit in half the machine's memory.
        seed : int, SeedSequence, Generator, None or meanfield.simulate.NetworkStreams
            One stream for all batches (results depend on n_networks only through the batch split);
            NetworkStreams (of length n_networks, without sharing): one stream per network, so
            network k does not depend on the others.
        progress : bool
            tqdm bar over batches.

        Returns
        -------
        NetworkSample
            "preactivation_variance" (n_networks, L): s^l = sigma_w^2 |x^{l-1}|^2 / n_{l-1} + sigma_b^2
            (template widths with sharing); "squared_norm" (n_networks, L-1): physical |x^l|^2;
            "output" (n_networks,): h^L_1; "outputs" (n_networks, n_L): h^L.
        """
        n_networks = check.positive_int("n_networks", n_networks)
        if not isinstance(progress, (bool, np.bool_)):
            raise ParameterError(f"progress must be True or False, got {check.shown(progress)}")
        L = self.depth
        factor = 4 if self.parameter_sharing else 1
        per_net = max(a * b for a, b in zip(self.widths[:-1], self.widths[1:])) * factor
        # one network's largest weight matrix (and its Gaussian draws), and the record of all networks
        check.memory(f"Monte Carlo of widths {widths_text(self.widths)} (one weight matrix)", 3 * 8.0 * per_net)
        check.memory(f"the Monte Carlo record of {n_networks} networks", 8.0 * n_networks * (2 * L + self.widths[-1]))
        q = self.mean_field()
        if not np.all(np.isfinite(q)):
            raise ParameterError(
                f"Monte Carlo of {self._describe()}: the signal overflows double precision (q^{int(np.argmin(np.isfinite(q))) + 1} "
                "= inf), so sampled networks give inf/nan; the exact laws (computed in log scale) still apply"
            )
        if isinstance(seed, mfsim.NetworkStreams):
            if len(seed) != n_networks:
                raise ParameterError(f"n_networks={n_networks} but {len(seed)} network streams were given")
            if self.parameter_sharing:
                raise ParameterError("the looks-linear sampler draws from one Generator: give an int seed, not NetworkStreams")
            rng = seed
        else:
            rng = check.generator(seed)
        return _sample(self.widths, self.sigma_w2, self.sigma_b2, self.input_norm2, self.parameter_sharing,
                       n_networks, rng, progress)


def _sample(widths, sw2: float, sb2: float, input_norm2: float, sharing: bool, n_networks: int, rng,
            progress: bool = False) -> NetworkSample:
    """:meth:`ReLUNetwork.sample` for checked arguments: ``rng`` a Generator (one stream for all
    batches) or NetworkStreams (no sharing; each batch takes its networks' streams, so network k
    depends on its own stream only)."""
    L = len(widths) - 1
    per_net = max(a * b for a, b in zip(widths[:-1], widths[1:])) * (4 if sharing else 1)
    batch = int(max(1, min(n_networks, _MC_ELEMENTS // per_net)))
    x0 = np.full(widths[0], np.sqrt(input_norm2 / widths[0]))
    s_all = np.empty((n_networks, L))
    y_all = np.empty((n_networks, L - 1))
    f_all = np.empty((n_networks, widths[-1]))
    starts = range(0, n_networks, batch)
    for start in progress_bar(starts, len(starts), bool(progress), f"ReLU networks {widths}"):
        b = min(batch, n_networks - start)
        rows = slice(start, start + b)
        if sharing:
            layers = looks_linear_layers(widths, False, rng, sw2, sb2, b)
        else:
            streams = rng[start:start + b] if isinstance(rng, mfsim.NetworkStreams) else rng
            layers = mfsim.sample_layers(streams, widths, sw2, sb2, "gaussian", b)
        s_all[rows, 0] = sw2 * input_norm2 / widths[0] + sb2
        with np.errstate(over="ignore", invalid="ignore"):  # beyond the double range: inf, as the laws
            for l, (_, _, h) in enumerate(mfsim.propagate("relu", layers, x0), start=1):
                if l == L:
                    f_all[rows] = h
                    break
                y = np.sum(np.maximum(h, 0.0) ** 2, axis=-1)
                y_all[rows, l - 1] = y
                s_all[rows, l] = sb2 + sw2 * y / widths[l]
    return NetworkSample(preactivation_variance=s_all, squared_norm=y_all, output=f_all[:, 0], outputs=f_all)


def _scalar(name: str, value) -> float:
    arr = check.nonnegative(name, value)
    if arr.ndim != 0:
        raise ParameterError(f"{name} must be a single number, got an array of shape {arr.shape}")
    return float(arr)
