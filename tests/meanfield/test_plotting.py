"""Figures: every plotting function takes ax, forwards **kwargs to matplotlib and returns the Axes; spectrum
plots take their range from the law's quantiles and say what they show (title, legend).

The range is checked against a closed form (relu, orthogonal, L = 2: half an atom at 0, half the arcsine
law on [0, 4], whose quantile is 4 sin^2(pi (p - 1/2))), the labels against the parameters given.
"""
import numpy as np
import pytest

pytest.importorskip("matplotlib")
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import exact  # noqa: E402
import meanfield as mf  # noqa: E402
from meanfield import resnet  # noqa: E402
from meanfield.plotting import spectrum_grid  # noqa: E402


def _axes():
    fig = Figure()
    FigureCanvasAgg(fig)
    return fig.add_subplot()


def test_spectrum_range_from_quantiles_and_kwargs():
    s = mf.jacobian_spectrum("relu", 2.0, 0.0, 2, "orthogonal")
    x = spectrum_grid(s)
    # the 0.1 % quantile of the continuous part: cdf = 1/2 + 1/2 * 1e-3 -> 4 sin^2(pi 5e-4)
    assert x[0] == pytest.approx(4 * np.sin(np.pi * 5e-4) ** 2, rel=1e-7) and x[-1] == pytest.approx(4.0, rel=1e-8)
    ax = _axes()
    out = s.plot(ax=ax, color="C2", linestyle="--", label="two layers")
    assert out is ax
    (line,) = [l for l in ax.lines if l.get_label() == "two layers"]
    assert line.get_linestyle() == "--" and line.get_color() == "C2"
    np.testing.assert_allclose(line.get_xdata(), np.log10(x))
    labels = ax.get_legend_handles_labels()[1]
    assert "atom 0.5 at $\\lambda$ = 0" in labels  # the atom at 0 is a legend entry, not a text over the data
    assert not ax.texts
    title = ax.get_title()
    for part in ("relu", "orthogonal", "L = 2", "$\\sigma_w^2$ = 2", "$\\sigma_b^2$ = 0", "$q^*$ = 1"):
        assert part in title, title


def test_deep_spectrum_range_stops_at_the_floor_and_says_what_is_left_out():
    """relu, Gaussian, L = 16: most of the continuous mass sits far below 1e-8 lambda_max (density ~
    lambda^(1/L - 1)); the range stops at 1e-8 lambda_max and the legend gives the mass left of it."""
    s = mf.jacobian_spectrum("relu", 2.0, 0.0, 16, "gaussian")
    x = spectrum_grid(s)
    assert x[0] == pytest.approx(1e-8 * s.support()[1], rel=1e-12)
    ax = s.plot(ax=_axes())
    below = float(s.cdf(x[0])) - 0.5
    assert f"{below:.1%} of the mass left of the plotted range" in ax.get_legend_handles_labels()[1][0]


def test_monte_carlo_histogram_names_its_networks_and_overlays_keep_their_range():
    s8 = mf.jacobian_spectrum("relu", 2.0, 0.0, 8, "orthogonal")
    s4 = mf.jacobian_spectrum("relu", 2.0, 0.0, 4, "orthogonal")
    samples = mf.simulate.jacobian_singular_values("relu", 2.0, 0.0, 4, 50, "orthogonal", n_networks=2, seed=0)
    ax = s4.plot(ax=_axes(), samples=samples)
    assert "Monte Carlo: 2 networks, N = 50" in ax.get_legend_handles_labels()[1]
    top = ax.get_ylim()[1]
    s8.plot(ax=ax, color="C1", label="L = 8")  # a flatter curve drawn second keeps the first one's range
    assert ax.get_ylim()[1] == top
    assert ax.get_legend_handles_labels()[1].count("atom 0.5 at $\\lambda$ = 0") == 1


def test_other_plots_take_ax_forward_kwargs_and_return_the_axes():
    ax = _axes()
    d = mf.phase_diagram("tanh", np.linspace(1, 3, 5), np.linspace(0, 0.2, 4))
    assert d.plot(ax=ax, cmap="coolwarm") is ax and ax.collections[0].get_cmap().name == "coolwarm"
    ax = _axes()
    run = resnet.residual(16, 3).sample(4, seed=0)
    assert run.plot(ax=ax, label="WN", color="C4", linestyle=":") is ax
    assert ax.lines[0].get_linestyle() == ":" and ax.lines[0].get_label() == "WN: mean field"
    ax = _axes()
    net = exact.ReLUNetwork([4, 3, 1])
    assert net.plot("output", ax=ax, color="C5", linestyle="-.") is ax
    assert any(l.get_linestyle() == "-." and l.get_color() == "C5" for l in ax.lines)
