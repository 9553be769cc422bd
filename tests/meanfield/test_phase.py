"""Phase diagrams equal the pointwise maps; the verified tables behind them equal the exact moments."""
import math

import matplotlib
import numpy as np
import pytest

import meanfield as mf
from meanfield.gaussian import derivative_moment, second_moment, second_moment_slope
from meanfield.tabulate import tabulated_moments

matplotlib.use("Agg")


@pytest.mark.parametrize("name", ["tanh", "erf", "selu"])
def test_phase_diagram_matches_pointwise_functions(name):
    w = np.linspace(0.8, 2.4, 7) if name == "selu" else np.linspace(0.8, 3.0, 7)
    w = w[w < 1.75] if name == "selu" else w  # selu's q diverges for sigma_w2 > 1.81
    b = np.array([0.0, 0.05, 0.2])
    d = mf.phase_diagram(name, w, b)
    assert d.q_star.shape == (b.size, w.size)
    for i, bi in enumerate(b):
        for j, wj in enumerate(w):
            assert d.q_star[i, j] == pytest.approx(mf.fixed_point(name, wj, bi), rel=1e-11, abs=1e-300)
            assert d.chi1[i, j] == pytest.approx(mf.chi1(name, wj, bi), rel=1e-11)
            xi = mf.depth_scales(name, wj, bi)
            # xi_c = -1/log chi_c amplifies relative errors by 1/|log chi_c|
            assert d.xi_c[i, j] == pytest.approx(xi.xi_c, rel=1e-8)
            assert d.xi_q[i, j] == pytest.approx(xi.xi_q, rel=1e-8)
    np.testing.assert_allclose(d.critical_sigma_w2, mf.critical_sigma_w2(name, b), rtol=1e-14)
    phase = d.phase
    assert np.all((phase == -1) == (d.chi1 < 1 - 1e-9))


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "x*erf(x)", "gelu"])
def test_grid_agrees_with_pointwise_functions_wherever_they_are_finite(name):
    """No holes: at every grid point where mf.fixed_point / mf.chi1 are finite the grid has the same
    numbers (1e-10), and where they raise DivergentFixedPointError the grid says diverged.  The relu
    grid used to have NaN holes inside the ordered region (sigma_w2 just below 2 with bias)."""
    w = np.concatenate([np.linspace(0.5, 4, 15), [1.99, 1.999999, 2.0, math.sqrt(2) ** 2]])
    b = np.array([0.0, 1e-6, 0.05, 0.3])
    d = mf.phase_diagram(name, w, b)
    for i, bi in enumerate(b):
        for j, wj in enumerate(w):
            try:
                q = mf.fixed_point(name, wj, bi)
            except mf.DivergentFixedPointError:
                assert d.diverged[i, j], (wj, bi, d.q_star[i, j])
                continue
            # the root's conditioning: V known to ~1e-12 moves q* by that over 1 - s_q (s_q -> 1 as q* grows)
            rtol = 1e-10 + 1e-12 / max(1e-16, abs(1 - mf.q_slope(name, wj, bi, q=q)))
            assert d.q_star[i, j] == pytest.approx(q, rel=rtol, abs=1e-300), (wj, bi)
            assert d.chi1[i, j] == pytest.approx(mf.chi1(name, wj, bi), rel=rtol), (wj, bi)


def test_bounded_activation_with_a_huge_fixed_point_is_not_diverged():
    """tanh at sigma_w2 = 1e10: q* = 1e10 V(q*) + 0.5 with V(q) = 1 - sqrt(2/(pi q)) + O(q^-3/2) for large q
    (the mass of 1 - tanh^2 near 0 is 2), so q* = 1e10 - 7.98e4 (+- 2): finite, not "diverged"."""
    d = mf.phase_diagram("tanh", [1.0, 1e10], [0.5])
    assert not d.diverged.any()
    expected = 1e10 - math.sqrt(2e10 / math.pi)
    assert d.q_star[0, 1] == pytest.approx(expected, rel=1e-9)
    assert mf.fixed_point("tanh", 1e10, 0.5) == pytest.approx(expected, rel=1e-9)


def test_divergent_points_are_marked_not_raised():
    d = mf.phase_diagram("relu", [1.0, 2.5], [0.0, 0.1])
    assert np.isinf(d.q_star[:, 1]).all() and np.isnan(d.chi1[:, 1]).all()
    assert d.chi1[0, 0] == pytest.approx(0.5)


def test_plot_returns_axes_and_draws_the_critical_line():
    d = mf.phase_diagram("tanh", np.linspace(1, 3, 12), np.linspace(0, 0.3, 8))
    ax = d.plot(rasterized=True)  # keyword arguments reach pcolormesh
    assert ax.get_xlabel() and ax.lines  # the edge of chaos
    assert ax.collections[0].get_rasterized()
    assert ax.get_title() == "tanh: ordered (blue), chaotic (red)"
    ax2 = d.plot(quantity="xi_c")
    assert ax2 is not ax
    with pytest.raises(ValueError):
        d.plot(quantity="nope")


def test_divergence_has_its_own_colour_and_legend_entry():
    """Diverged points used to be blank (the white of chi_1 = 1): now grey, with a legend entry, and the
    title names only the phases that appear (relu at sigma_w2 <= 4 is never chaotic)."""
    import matplotlib.colors as mcolors

    d = mf.phase_diagram("relu", np.linspace(0.5, 4, 30), np.linspace(0, 0.5, 20))
    ax = d.plot()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "q diverges (no fixed point)" in labels
    grey = ax.collections[1]
    values = grey.get_array().ravel()
    shown = ~np.ma.getmaskarray(values)
    assert shown.sum() == d.diverged.sum() > 0
    assert np.all(grey.to_rgba(values[shown].data) == mcolors.to_rgba("0.55"))
    assert ax.get_title() == "relu: ordered (blue)"


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "hardtanh", "x*erf(x)"])
def test_tables_reproduce_exact_moments(name):
    act = mf.activation(name)
    m = tabulated_moments(act)
    q = np.geomspace(1e-10, 1e6, 157) * 1.0137  # off the Chebyshev nodes
    np.testing.assert_allclose(m.V(q), second_moment(act, q), rtol=1e-11)
    np.testing.assert_allclose(m.D(q), derivative_moment(act, q), rtol=1e-11)
    # V' cancels at large q (V -> const): compare relative to the scale D of its integrand
    np.testing.assert_allclose(m.dV(q), second_moment_slope(act, q), rtol=1e-9, atol=1e-12 * np.max(np.abs(m.D(q))))
