"""Phase diagrams equal the pointwise maps; the verified tables behind them equal the exact moments."""
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


def test_divergent_points_are_marked_not_raised():
    d = mf.phase_diagram("relu", [1.0, 2.5], [0.0, 0.1])
    assert np.isinf(d.q_star[:, 1]).all() and np.isnan(d.chi1[:, 1]).all()
    assert d.chi1[0, 0] == pytest.approx(0.5)


def test_plot_returns_axes_and_draws_the_critical_line():
    d = mf.phase_diagram("tanh", np.linspace(1, 3, 12), np.linspace(0, 0.3, 8))
    ax = d.plot()
    assert ax.get_xlabel() and ax.lines  # the edge of chaos
    ax2 = d.plot(quantity="xi_c")
    assert ax2 is not ax
    with pytest.raises(ValueError):
        d.plot(quantity="nope")


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "hardtanh", "x*erf(x)"])
def test_tables_reproduce_exact_moments(name):
    act = mf.activation(name)
    m = tabulated_moments(act)
    q = np.geomspace(1e-10, 1e6, 157) * 1.0137  # off the Chebyshev nodes
    np.testing.assert_allclose(m.V(q), second_moment(act, q), rtol=1e-11)
    np.testing.assert_allclose(m.D(q), derivative_moment(act, q), rtol=1e-11)
    # V' cancels at large q (V -> const): compare relative to the scale D of its integrand
    np.testing.assert_allclose(m.dV(q), second_moment_slope(act, q), rtol=1e-9, atol=1e-12 * np.max(np.abs(m.D(q))))
