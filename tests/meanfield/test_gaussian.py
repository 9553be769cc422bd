"""Gaussian expectations: closed forms vs quadrature, the kink pitfall, divergence, broadcasting.

The closed forms (meanfield.closed_forms) and the adaptive quadrature (meanfield.quadrature) are two
independent routes: every built-in with a closed form is compared with the same function written
as a formula, which has no closed form and goes through quadrature (nested quadrature for the
bivariate integrals).  The 30-digit mpmath reference is in test_reference.py.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.polynomial.hermite_e import hermegauss
from scipy import special

import meanfield as mf
from meanfield import gaussian as g
from meanfield.errors import DivergentExpectationError

Q = np.array([1e-6, 1e-3, 0.1, 1.0, 10.0, 100.0, 1e3])

TWINS = {
    "relu": "Max(0, x)",
    "leaky_relu": "Max(0, x) + 0.01*Min(0, x)",
    "erf": "erf(x)",
    "sin": "sin(x)",
    "hardtanh": "Max(-1, Min(1, x))",
    "gelu": "x*Phi(x)",
    "elu": "Max(0, x) + exp(Min(0, x)) - 1",
    "linear": "x + 0*x**2",
}


@pytest.mark.parametrize("name", sorted(TWINS))
def test_closed_form_moments_match_quadrature(name):
    # 1D: quadrature reaches ~1e-14 relative to the integral of |integrand|; 1e-11 leaves a
    # margin of 1000.  sin's V'(q) = e^-2q is a cancellation (integrand of size 1, result 2e-9 at
    # q = 10), so it is compared in absolute terms, 1e-15.
    closed, twin = mf.activation(name), mf.activation(TWINS[name])
    q = Q if name != "sin" else Q[:5]
    for fn in (g.second_moment, g.derivative_moment, g.second_moment_slope):
        atol = 1e-15 if (name == "sin" and fn is g.second_moment_slope) else 0.0
        np.testing.assert_allclose(fn(closed, q), fn(twin, q), rtol=1e-11, atol=atol)


@pytest.mark.parametrize("name", sorted(TWINS))
def test_closed_form_bivariate_match_nested_quadrature(name):
    # 2D (outer quadrature x inner closed form or inner quadrature): ~1e-14; tolerance 1e-10.
    closed, twin = mf.activation(name), mf.activation(TWINS[name])
    q1 = np.array([1e-3, 0.5, 1.0, 3.0, 30.0, 1.0])
    q2 = np.array([2e-3, 0.7, 1.0, 1.0, 40.0, 0.3])
    c = np.array([0.3, -0.9, 0.999999, 0.5, 0.99, -1.0])
    for fn in (g.cross_moment, g.derivative_cross_moment):
        a, b = fn(closed, q1, q2, c), fn(twin, q1, q2, c)
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13 * np.max(np.abs(a)))


def test_selu_closed_form_small_q_series_is_continuous():
    # the series branch (q < 0.5) and the erfcx branch must agree where they meet
    act = mf.activation("selu")
    twin = mf.activation("1.0507009873554804934193349852946*(Max(0,x) + 1.6732632423543772848170429916717*(exp(Min(0,x)) - 1))")
    q = np.array([1e-8, 1e-4, 0.1, 0.4999999, 0.5, 0.5000001, 2.0])
    np.testing.assert_allclose(g.second_moment(act, q), g.second_moment(twin, q), rtol=1e-12)


def test_odd_gauss_hermite_rule_through_a_kink_is_wrong_and_ours_is_not():
    # notes: a 201-node Gauss-Hermite rule puts a node on relu's kink: chi_1 ~ 0.91 or 1.09, not 1
    z, w = hermegauss(201)
    w = w / np.sqrt(2 * np.pi)
    naive_low = 2.0 * np.sum(w * (z > 0))
    naive_high = 2.0 * np.sum(w * (z >= 0))
    assert abs(naive_low - 1) > 0.05 and abs(naive_high - 1) > 0.05
    relu_formula = mf.activation("Max(0, x)")  # no closed form: the panel quadrature
    assert mf.chi1(relu_formula, 2.0, 0.0, q=np.array([1e-4, 1.0, 1e3])) == pytest.approx(1.0, rel=1e-13)


def test_divergent_expectation_raises_and_convergent_one_is_exact():
    act = mf.activation("exp(x**2)")
    # E[exp(2 x^2)], x ~ N(0, q) = 1/sqrt(1 - 4q) for q < 1/4
    assert g.second_moment(act, 0.2) == pytest.approx(1 / np.sqrt(1 - 0.8), rel=1e-10)
    with pytest.raises(DivergentExpectationError):
        g.second_moment(act, 0.3)
    with pytest.raises(ValueError, match="diverge"):
        mf.fixed_point("exp(x**2)", 1.0, 0.1)


def test_overflowing_expectation_raises():
    with pytest.raises(DivergentExpectationError):
        g.second_moment(mf.activation("exp(x)"), 1e3)  # e^2000 is not a double


def test_narrow_derivative_spike_at_large_q_is_resolved():
    # tanh'(sqrt(q) z)^2 at q = 3e4 is a spike of width ~0.006 in z: D(q) ~ (4/3)/sqrt(2 pi q);
    # two Gauss-Hermite rules both miss it and agree on 0, which must never be accepted
    q = 3e4
    expected = (4 / 3) / np.sqrt(2 * np.pi * q)  # integral of sech^4 = 4/3, Gaussian density ~ flat
    assert g.derivative_moment(mf.activation("tanh"), q) == pytest.approx(expected, rel=1e-3)


def test_softplus_derivative_moment_is_sigmoid_second_moment():
    # identity (notes): softplus' = logistic, so D_softplus(q) = V_sigmoid(q), also at q ~ 46 and 1e3
    q = np.array([1e-4, 1.0, 46.0, 1e3])
    np.testing.assert_allclose(
        g.derivative_moment(mf.activation("softplus"), q), g.second_moment(mf.activation("sigmoid"), q), rtol=1e-12
    )


def test_mehler_series_matches_nested_quadrature():
    # tanh: the certified Mehler series vs the nested panel quadrature (no series), 1e-11
    act = mf.activation("tanh")
    q1 = np.array([0.3, 1.0, 2.0, 1.5])
    q2 = np.array([0.5, 1.0, 1.0, 1.5])
    c = np.array([0.2, 0.9, -0.7, 0.999])
    series, ok = g._mehler(act.phi, lambda v: g.second_moment(act, v), q1, q2, c)
    nested = g._bivariate(act.phi, act.phi, None, (), (), q1, q2, c)
    assert ok.all()
    np.testing.assert_allclose(series, nested, rtol=1e-11)
    a = g.hermite_coefficients(act.phi, 1.0)
    assert np.sum(a**2) == pytest.approx(g.second_moment(act, 1.0), rel=1e-13)


def test_uncertified_mehler_falls_back_to_quadrature():
    # tanh at q = 30 has slowly decaying Hermite coefficients: near c = 1 the series is not
    # certified and the value must still match the nested quadrature
    act = mf.activation("tanh")
    q, c = np.array([30.0]), np.array([0.9999])
    nested = g._bivariate(act.phi, act.phi, None, (), (), q, q, c)
    assert g.cross_moment(act, q, q, c) == pytest.approx(nested[0], rel=1e-11)


def test_smoothed_at_zero_width_is_the_point_value_with_kink_average():
    relu = mf.activation("relu")
    assert g.smoothed(relu.phi, 2.0, 0.0) == 2.0
    assert g.smoothed(relu.dphi, 0.0, 0.0, relu.kinks) == 0.5
    assert g.derivative_moment(mf.activation("selu"), 0.0) == pytest.approx(mf.activation("selu").dphi0_squared)


def test_inner_expectation_is_a_gaussian_smoothing():
    # E[relu(a + b Z)] = a Phi(a/b) + b varphi(a/b)
    a, b = np.array([-1.0, 0.3, 2.0]), np.array([0.5, 1.0, 3.0])
    expected = a * special.ndtr(a / b) + b * np.exp(-((a / b) ** 2) / 2) / np.sqrt(2 * np.pi)
    np.testing.assert_allclose(g.smoothed(mf.activation("relu").phi, a, b, (0.0,)), expected, rtol=1e-13)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.floats(1e-4, 50.0), min_size=1, max_size=4),
    st.lists(st.floats(-1.0, 1.0), min_size=1, max_size=3),
    st.sampled_from(["relu", "erf", "tanh", "hardtanh"]),
)
def test_bivariate_broadcasting_matches_elementwise(qs, cs, name):
    act = mf.activation(name)
    q = np.array(qs)[:, None]
    c = np.array(cs)[None, :]
    grid = g.cross_moment(act, q, 1.0, c)
    assert grid.shape == (len(qs), len(cs))
    for i, qi in enumerate(qs):
        for j, cj in enumerate(cs):
            assert grid[i, j] == pytest.approx(float(g.cross_moment(act, qi, 1.0, cj)), rel=1e-12, abs=1e-15)


@settings(max_examples=30, deadline=None)
@given(st.floats(1e-6, 1e3), st.sampled_from(["tanh", "sigmoid", "selu", "silu", "softplus"]))
def test_moments_invariants(q, name):
    act = mf.activation(name)
    V, D = g.second_moment(act, q), g.derivative_moment(act, q)
    assert V >= 0 and D >= 0
    # Cauchy-Schwarz with the Mehler/direct bivariate value: |E[phi(u1)phi(u2)]| <= V at equal variances
    assert abs(float(g.cross_moment(act, q, q, 0.3))) <= V * (1 + 1e-12)
