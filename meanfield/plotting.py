"""Matplotlib figures.  Imported lazily by the ``.plot`` methods and the command line only."""
from __future__ import annotations

import numpy as np

__all__ = ["plot_phase_diagram", "plot_spectrum", "spectrum_grid", "new_axes"]


def new_axes(ax=None):
    """The given Axes, or a fresh one on a new figure."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=(6, 4.5))
    return ax


_LABELS = {
    "chi1": r"$\chi_1$",
    "xi_c": r"$\log_{10} \xi_c$",
    "q_star": r"$\log_{10} q^*$",
}


_DIVERGED_COLOUR = "0.55"  # mid grey: neither blue (ordered) nor red (chaotic) nor white (chi_1 = 1)


def plot_phase_diagram(diagram, ax=None, quantity: str = "chi1", **kwargs):
    """Heat map of a :class:`~meanfield.phase.PhaseDiagram` with the edge of chaos drawn on it.

    ``chi1`` uses a diverging colour map centred on 1 (blue ordered, red chaotic); ``xi_c`` and
    ``q_star`` are shown in log10.  Points where q diverges have their own colour (grey) and legend
    entry.  The critical line is solid where its q* is stable and dashed where it is unstable (a
    network started at q^1 = 1 does not reach it); with dropout it is the line chi_1 = 1, no edge of chaos.  The title names only the phases that appear.
    ``kwargs`` go to ``pcolormesh`` (e.g. ``cmap``, ``rasterized``).
    """
    from matplotlib.colors import ListedColormap, TwoSlopeNorm
    from matplotlib.patches import Patch

    if quantity not in _LABELS:
        from .errors import ParameterError

        raise ParameterError(f"quantity must be one of {sorted(_LABELS)}, got {quantity!r}")
    ax = new_axes(ax)
    w, b = diagram.sigma_w2, diagram.sigma_b2
    diverged = diagram.diverged
    if quantity == "chi1":
        data = diagram.chi1
        finite = data[np.isfinite(data)]
        lo = min(float(finite.min()) if finite.size else 0.5, 0.999)
        hi = max(float(finite.max()) if finite.size else 1.5, 1.001)
        options = {"shading": "auto", "cmap": "RdBu_r", "norm": TwoSlopeNorm(1.0, lo, hi), **kwargs}
    else:
        values = getattr(diagram, quantity)
        with np.errstate(divide="ignore", invalid="ignore"):
            data = np.log10(np.where(np.isfinite(values) & (values > 0), values, np.nan))
        options = {"shading": "auto", "cmap": "viridis", **kwargs}
    mesh = ax.pcolormesh(w, b, np.ma.masked_invalid(data), **options)
    ax.figure.colorbar(mesh, ax=ax, label=_LABELS[quantity])
    handles = []
    if np.any(diverged):
        ax.pcolormesh(w, b, np.ma.masked_where(~diverged, np.ones(diverged.shape)), shading="auto",
                      cmap=ListedColormap([_DIVERGED_COLOUR]))
        handles.append(Patch(color=_DIVERGED_COLOUR, label="q diverges (no fixed point)"))
    crit = diagram.critical_sigma_w2
    stable = diagram.critical_stable
    inside = np.isfinite(crit) & (crit >= w.min()) & (crit <= w.max())
    edge = "edge of chaos" if not diagram.dropout else rf"$\chi_1 = 1$ (dropout {diagram.dropout:g}: no edge of chaos)"
    for mask, style, label in ((inside & stable, "-", edge), (inside & ~stable, "--", edge + " (unstable q*)")):
        if np.any(mask):
            (line,) = ax.plot(np.where(mask, crit, np.nan), b, style, color="k", lw=2, label=label)
            handles.append(line)
    if handles:
        ax.legend(handles=handles, loc="upper left", fontsize="small", framealpha=0.9)
    ax.set_xlabel(r"$\sigma_w^2$")
    ax.set_ylabel(r"$\sigma_b^2$")
    ax.set_xlim(w.min(), w.max())
    ax.set_ylim(b.min(), b.max())
    title = diagram.activation
    if quantity == "chi1":
        chi = diagram.chi1
        present = [name for name, where in (("ordered (blue)", chi < 1), ("chaotic (red)", chi > 1)) if np.any(where)]
        if present:
            title += ": " + ", ".join(present)
    ax.set_title(title)
    return ax


#: the plotted range of a spectrum starts at this quantile of its continuous part ...
_LOW_QUANTILE = 1e-3
#: ... but not below this fraction of lambda_max (a sampled product resolves nothing much smaller)
_LOW_FLOOR = 1e-8


def spectrum_grid(spectrum, n: int = 300) -> np.ndarray:
    """``n`` points, geometric in lambda, over the bulk of a spectrum's continuous part: from its
    0.1 % quantile (or 1e-8 lambda_max, where most of a deep spectrum's mass sits below that) to the top
    of the support, as :func:`plot_spectrum` draws it."""
    _, hi = spectrum.support()
    atom0 = spectrum.atom
    lo = float(spectrum.ppf(min(atom0 + _LOW_QUANTILE * spectrum.continuous_mass, 1.0))) if spectrum.continuous_mass > 0 else 0.0
    lo = min(max(lo, _LOW_FLOOR * hi), 0.5 * hi)
    return np.geomspace(lo, hi * (1 - 1e-9), n)


def _spectrum_title(spectrum) -> str:
    """What the spectrum is: activation, ensemble, depth, sigma_w^2, sigma_b^2 and where the layers sit."""
    head = spectrum.label
    if spectrum.act is None:  # layers given by their active fractions
        return f"{head}, $\\sigma_w^2$ = {spectrum.sigma_w2:.4g}"
    where = f"$q^L$ = {spectrum.q:.4g}" if spectrum.kind == "trajectory" else f"$q^*$ = {spectrum.q:.4g}"
    return f"{head}\n$\\sigma_w^2$ = {spectrum.sigma_w2:.6g}, $\\sigma_b^2$ = {spectrum.sigma_b2:.3g}, {where}"


def plot_spectrum(spectrum, ax=None, samples=None, **kwargs):
    """Density of lambda of a :class:`~meanfield.spectra.JacobianSpectrum` on a log axis.

    Plotted as the density of log10 lambda, lambda rho(lambda) ln 10, over :func:`spectrum_grid` (the
    range comes from the law's quantiles; the mass left of it is stated in the legend); atoms at lambda > 0
    are dashed vertical lines and the atom at 0 a legend entry, each with its mass.  ``samples`` (a
    :class:`~meanfield.simulate.JacobianSamples`, or eigenvalues of sampled J J^T) are shown as a histogram
    of the same quantity (in the curve's colour), labelled with the number of networks and their width.  The title gives the
    activation, ensemble, depth, sigma_w^2, sigma_b^2 and q* (or q0).  ``kwargs`` go to the theory curve's
    ``Axes.plot`` (color, label, linestyle, ...).  Returns the Axes.
    """
    ax = new_axes(ax)
    drawn = bool(ax.lines or ax.patches)  # another curve is on these Axes: keep its y range and labels
    x = spectrum_grid(spectrum)
    lo, hi = x[0], spectrum.support()[1]
    density = x * spectrum.pdf(x) * np.log(10)
    peak = float(np.max(density)) if density.size else 1.0
    labels = set(ax.get_legend_handles_labels()[1])  # entries already there are not repeated
    if samples is not None:
        lam = np.asarray(getattr(samples, "lam", samples), dtype=float).ravel()
        label = (f"Monte Carlo: {samples.n_networks} network{'s' * (samples.n_networks > 1)}, N = {samples.width}"
                 if hasattr(samples, "width") else f"Monte Carlo: {lam.size} eigenvalues")
        kept = lam[lam > lo]
        if kept.size:
            bins = np.linspace(np.log10(lo), np.log10(hi) + 0.05, int(np.clip(2 * np.sqrt(kept.size), 20, 80)))
            heights, _, _ = ax.hist(np.log10(kept), bins=bins, weights=np.full(kept.size, 1.0 / (lam.size * np.diff(bins)[0])),
                                    color=kwargs.get("color", "C0"), alpha=0.35,
                                    label=None if label in labels else label)
            atoms_in = [np.log10(loc) for loc, _ in spectrum.atoms if loc > 0]
            centres = 0.5 * (bins[:-1] + bins[1:])
            clear = np.all([np.abs(centres - a) > np.diff(bins)[0] for a in atoms_in], axis=0) if atoms_in else True
            peak = max(peak, float(np.max(np.where(clear, heights, 0.0))))
    below = float(spectrum.cdf(lo)) - spectrum.atom
    style = {"color": "k", "lw": 1.5, "label": "free probability"} | kwargs
    if below > 1e-3 and "label" not in kwargs:
        style["label"] += f" ({below:.1%} of the mass left of the plotted range)"
    ax.plot(np.log10(x), density, **style)
    for loc, mass in spectrum.atoms:
        text = f"atom {mass:.3g} at $\\lambda$ = {loc:.4g}" if loc > 0 else f"atom {mass:.3g} at $\\lambda$ = 0"
        if loc > 0:
            ax.axvline(np.log10(loc), color="C3", ls="--", label=None if text in labels else text)
        elif text not in labels:
            ax.plot([], [], " ", label=text)
    top = 1.4 * peak if peak > 0 else 1.0  # headroom for the legend
    ax.set_ylim(0, max(top, ax.get_ylim()[1]) if drawn else top)
    ax.set_xlabel(r"$\log_{10}\lambda$")
    ax.set_ylabel(r"density of $\log_{10}\lambda$")
    ax.set_title(_spectrum_title(spectrum), fontsize="medium")
    ax.legend(fontsize="small", loc="best", framealpha=0.9)
    return ax
