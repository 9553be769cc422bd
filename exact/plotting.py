"""Figures of the exact laws (matplotlib, imported lazily).  Used by :meth:`exact.ReLUNetwork.plot` and
the ``exact`` command only."""
from __future__ import annotations

import numpy as np

from .propagation import widths_text

__all__ = ["plot_network"]


def _title(net, n_networks: int | None) -> str:
    share = ", looks-linear (template $\\sigma_w^2$)" if net.parameter_sharing else ""
    text = f"widths {widths_text(net.widths)}, $\\sigma_w^2$ = {net.sigma_w2:g}, $\\sigma_b^2$ = {net.sigma_b2:g}{share}"
    return text + (f"\nMonte Carlo: {n_networks} networks" if n_networks else "")


def _plot_output(net, ax, samples, kwargs):
    law = net.output()
    q = float(net.mean_field()[-1])
    scale = np.sqrt(q) if 0 < q < np.inf else 1.0
    z = np.linspace(-5 * scale, 5 * scale, 1000)  # even count: never exactly 0 (the density may diverge)
    if samples is not None:
        f = np.asarray(samples["output"] if isinstance(samples, dict) else samples, dtype=float).ravel()
        live = f[f != 0.0]
        bins = np.linspace(z[0], z[-1], 81)
        ax.hist(live, bins=bins, weights=np.full(live.size, 1.0 / (f.size * (bins[1] - bins[0]))),
                color="0.8", label=f"Monte Carlo ({f.size} networks)")
    atom = f", atom {law.atom:.3g} at 0" if law.atom > 0 else ""
    style = {"color": "C0", "label": "exact" + atom} | kwargs
    ax.plot(z, law.pdf(z), **style)
    if 0 < q < np.inf:
        ax.plot(z, np.exp(-z * z / (2 * q)) / np.sqrt(2 * np.pi * q), "--", color="C3",
                label=rf"mean field $N(0, q^L)$, $q^L$ = {q:.3g}")
    ax.set_yscale("log")
    ax.set_ylim(bottom=1e-4 / scale)
    ax.set_xlabel(r"output $h^L_1$")
    ax.set_ylabel("density")
    return ax


def _plot_layers(net, ax, samples, kwargs):
    L = net.depth
    l = np.arange(1, L + 1)
    band = np.array([net.preactivation_variance(k).ppf([0.05, 0.5, 0.95]) for k in l])
    q = net.mean_field()
    style = {"color": "C0", "label": "exact median", "marker": "o"} | kwargs
    ax.fill_between(l, band[:, 0], band[:, 2], color=style["color"], alpha=0.2, label="exact 5-95 %")
    ax.plot(l, band[:, 1], **style)
    ax.plot(l, q, "--", color="C3", label=r"mean field $q^l$ (= exact mean)")
    if samples is not None:
        s = np.asarray(samples["preactivation_variance"], dtype=float)
        mc = np.quantile(s, [0.05, 0.5, 0.95], axis=0)
        ax.plot(l, mc[1], "x", color="k", label="Monte Carlo median")
        ax.plot(l, mc[0], "1", color="0.4", label="Monte Carlo 5 %, 95 %")
        ax.plot(l, mc[2], "1", color="0.4")
    ax.set_yscale("log", nonpositive="mask")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("layer l")
    ax.set_ylabel(r"pre-activation variance $s^l$")
    return ax


def plot_network(net, kind: str = "output", ax=None, samples=None, title: str | None = None, **kwargs):
    """Exact laws of a :class:`~exact.ReLUNetwork` against mean field (and Monte Carlo).

    Parameters
    ----------
    net : ReLUNetwork
    kind : "output" or "layers"
        "output": the density of one output unit (log scale) against the mean-field N(0, q^L), over
        a histogram of sampled outputs; "layers": the median and 5-95 % band of s^l per layer against
        the mean-field q^l (= the exact mean), with Monte Carlo medians and quantiles.
    ax : matplotlib Axes or None (a new figure)
    samples : NetworkSample, array of outputs, or None
        Monte Carlo of real networks (:meth:`exact.ReLUNetwork.sample`); "layers" needs a NetworkSample.
    title : str or None
        The Axes title; None states the widths, sigma_w^2, sigma_b^2 (and the number of sampled networks).
    **kwargs
        Passed to the exact curve's ``Axes.plot`` (color, label, linestyle, ...).

    Returns
    -------
    matplotlib Axes
    """
    from meanfield.errors import ParameterError
    from meanfield.plotting import new_axes

    if kind not in ("output", "layers"):
        raise ParameterError(f"kind must be 'output' or 'layers', got {kind!r}")
    if kind == "layers" and samples is not None and not isinstance(samples, dict):
        raise ParameterError("kind='layers' takes samples=net.sample(...) (a NetworkSample), not an array")
    ax = new_axes(ax)
    (_plot_output if kind == "output" else _plot_layers)(net, ax, samples, kwargs)
    n_networks = None
    if samples is not None:
        n_networks = len(samples["output"]) if isinstance(samples, dict) else np.asarray(samples).size
    ax.set_title(_title(net, n_networks) if title is None else title, fontsize=9)
    ax.legend(fontsize=8, loc="best")
    return ax
