"""Matplotlib figures.  Imported lazily by the ``.plot`` methods and the command line only."""
from __future__ import annotations

import numpy as np

__all__ = ["plot_phase_diagram", "new_axes"]


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


def plot_spectrum(spectrum, ax=None, samples=None):
    """Density of lambda of a :class:`~meanfield.spectra.JacobianSpectrum` on a log axis.

    Plotted as lambda rho(lambda) against log10 lambda (the density per unit of log lambda, which
    shows deep spectra whose mass sits near 0); atoms are drawn as vertical bars labelled with their
    mass; ``samples`` (eigenvalues of sampled J J^T) are shown as a histogram of the same quantity.
    """
    ax = new_axes(ax)
    _, hi = spectrum.support()
    x = np.geomspace(1e-8 * hi, hi * (1 - 1e-9), 300)
    density = x * spectrum.pdf(x) * np.log(10)
    if samples is not None:
        lam = np.asarray(samples, dtype=float).ravel()
        lam = lam[lam > 1e-8 * hi]
        if lam.size:
            bins = np.linspace(np.log10(1e-8 * hi), np.log10(hi) + 0.05, 80)
            weight = np.full(lam.size, 1.0 / np.asarray(samples).size)
            ax.hist(np.log10(lam), bins=bins, weights=weight / np.diff(bins)[0], alpha=0.4, label="Monte Carlo")
    ax.plot(np.log10(x), density, "k-", lw=1.5, label="free probability")
    for loc, mass in spectrum.atoms:
        if loc > 0:
            ax.axvline(np.log10(loc), color="C3", ls="--", label=f"atom {mass:.3g} at {loc:.3g}")
        else:
            ax.text(0.02, 0.95, f"atom {mass:.3g} at 0", transform=ax.transAxes, va="top")
    ax.set_xlabel(r"$\log_{10}\lambda$")
    ax.set_ylabel(r"density of $\log_{10}\lambda$")
    ax.set_title(spectrum.label)
    ax.legend(fontsize="small")
    return ax
