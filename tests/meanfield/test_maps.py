"""Variance and correlation maps, q*, chi_1, depth scales: closed forms, identities, degenerate cases.

Independent routes used here: closed-form fixed points (sin via Lambert W, relu, SELU's
self-normalising point), the residual of the fixed-point equation, brute-force iteration of the maps,
finite differences of the correlation map (Price's theorem), and the identities of the notes.
"""
import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import special

import meanfield as mf
from meanfield.activations import SELU_ALPHA, SELU_SCALE
from meanfield.errors import DivergentFixedPointError, ParameterError


def test_sin_fixed_point_is_lambert_w():
    # sigma_w^2 = 2, sigma_b^2 = 0: q = 1 - e^{-2q}  =>  q* = 1 + W_0(-2 e^{-2}) / 2
    exact = 1 + special.lambertw(-2 * np.exp(-2)).real / 2
    assert mf.fixed_point("sin", 2.0, 0.0) == pytest.approx(exact, rel=1e-14)


@pytest.mark.parametrize("sw2,sb2", [(1.0, 0.1), (1.5, 0.3), (1.99, 0.01)])
def test_relu_fixed_point_and_chi1_closed_form(sw2, sb2):
    # q = (sw2/2) q + sb2  =>  q* = sb2 / (1 - sw2/2);  chi_1 = sw2/2
    assert mf.fixed_point("relu", sw2, sb2) == pytest.approx(sb2 / (1 - sw2 / 2), rel=1e-13)
    assert mf.chi1("relu", sw2, sb2) == pytest.approx(sw2 / 2, rel=1e-15)


def test_relu_divergence_is_an_error_not_a_hang():
    with pytest.raises(DivergentFixedPointError, match="sigma_w2"):
        mf.fixed_point("relu", 2.01, 0.0)
    with pytest.raises(DivergentFixedPointError):
        mf.fixed_point("relu", 2.0, 0.1)


def test_relu_correlation_map_closed_form():
    # sigma_b^2 = 0: c -> (sqrt(1 - c^2) + (pi - arccos c) c) / pi for any sigma_w^2 (notes)
    c = np.linspace(-1, 1, 21)
    expected = (np.sqrt(1 - c**2) + (np.pi - np.arccos(c)) * c) / np.pi
    np.testing.assert_allclose(mf.correlation_map("relu", 2.0, 0.0, c), expected, rtol=1e-13, atol=1e-15)
    assert mf.correlation_map("relu", 1.3, 0.0, 0.0, q=2.0) == pytest.approx(1 / np.pi, rel=1e-14)


def test_selu_self_normalising_point():
    # E[selu(z)] = 0, E[selu(z)^2] = 1: q* = 1, c* = 0, chi_1 = lambda^2 (1/2 + alpha^2 e^2 Phi(-2))
    assert mf.fixed_point("selu", 1.0, 0.0) == pytest.approx(1.0, rel=1e-12)
    assert mf.correlation_fixed_point("selu", 1.0, 0.0) == pytest.approx(0.0, abs=1e-12)
    chi = SELU_SCALE**2 * (0.5 + SELU_ALPHA**2 * np.exp(2) * special.ndtr(-2))
    assert mf.chi1("selu", 1.0, 0.0) == pytest.approx(chi, rel=1e-12)
    assert chi == pytest.approx(1.0715750, abs=1e-7)  # the anchor of the notes


def test_odd_activations_have_zero_correlation_fixed_point_in_the_chaotic_phase():
    for name, sw2 in (("tanh", 2.5), ("erf", 2.0), ("sin", 2.0)):
        assert mf.correlation_fixed_point(name, sw2, 0.0) == pytest.approx(0.0, abs=1e-12)


def test_degenerate_zero_fixed_point():
    # sigma_b^2 = 0, phi(0) = 0, sigma_w^2 phi'(0)^2 < 1: q* = 0, chi_1 = sigma_w^2 phi'(0)^2, xi_q = xi_c
    assert mf.fixed_point("tanh", 0.8, 0.0) == 0.0
    assert mf.chi1("tanh", 0.8, 0.0) == pytest.approx(0.8, rel=1e-15)
    xi = mf.depth_scales("tanh", 0.8, 0.0)
    assert xi.xi_q == pytest.approx(-1 / np.log(0.8), rel=1e-12)
    assert xi.xi_c == pytest.approx(-1 / np.log(0.8), rel=1e-12)


@pytest.mark.parametrize("name,sw2,sb2", [("tanh", 1.7, 0.05), ("sigmoid", 80.0, 0.1), ("gelu", 1.5, 0.5), ("softplus", 1.9, 0.2)])
def test_fixed_point_solves_the_map_and_matches_brute_iteration(name, sw2, sb2):
    q = mf.fixed_point(name, sw2, sb2)
    assert mf.variance_map(name, sw2, sb2, q) == pytest.approx(q, rel=1e-14)
    it = 1.0
    for _ in range(3000):  # plain iteration: slow but independent (s_q < 0.99 for these)
        it = mf.variance_map(name, sw2, sb2, it)
    assert it == pytest.approx(q, rel=1e-9)
    assert mf.q_slope(name, sw2, sb2) < 1


def test_near_critical_fixed_point_is_accurate_without_thousands_of_iterations():
    # relu with sigma_w^2 = 2 - 1e-6: s_q = 1 - 5e-7, plain iteration would need ~10^8 steps
    sw2, sb2 = 2 - 1e-6, 1e-3
    assert mf.fixed_point("relu", sw2, sb2) == pytest.approx(sb2 / (1 - sw2 / 2), rel=1e-9)


def test_correlation_map_slope_at_one_is_chi1():
    # Price's theorem: dc'/dc at c = 1 equals chi_1 (one-sided finite difference, O(h) error)
    for name, sw2, sb2 in (("tanh", 1.5, 0.1), ("erf", 2.0, 0.2), ("gelu", 1.8, 0.3)):
        h = 1e-6
        slope = (1 - mf.correlation_map(name, sw2, sb2, 1 - h)) / h
        assert slope == pytest.approx(mf.chi1(name, sw2, sb2), rel=1e-4)
        assert mf.correlation_map(name, sw2, sb2, 1.0) == pytest.approx(1.0, rel=1e-13)


def test_propagation_summary_and_phase_names():
    p = mf.propagation("tanh", np.array([1.0, 1.76095463960674, 2.5]), 0.05)
    assert list(p.phase) == ["ordered", "critical", "chaotic"]
    assert p.c_star[2] == pytest.approx(mf.correlation_fixed_point("tanh", 2.5, 0.05), rel=1e-13)
    assert p.xi_c[0] == pytest.approx(mf.depth_scales("tanh", 1.0, 0.05).xi_c, rel=1e-13)
    # from another q^1: gelu just below its unstable critical line diverges from q^1 = 1 ...
    with pytest.raises(DivergentFixedPointError):
        mf.propagation("gelu", 2.3, 0.05)
    # ... but settles from q^1 = 0.3, on the lower, ordered branch
    low = mf.propagation("gelu", 2.3, 0.05, q0=0.3)
    assert low.q_star < 0.3 and low.phase == "ordered"
    assert mf.variance_map("gelu", 2.3, 0.05, low.q_star) == pytest.approx(low.q_star, rel=1e-13)


def test_depth_scales_ordered_phase_and_edge():
    chi = mf.chi1("erf", 1.0, 0.1)
    assert chi < 1
    assert mf.depth_scales("erf", 1.0, 0.1).xi_c == pytest.approx(-1 / np.log(chi), rel=1e-12)
    assert mf.depth_scales("relu", 2.0, 0.0) == (np.inf, np.inf)


def test_unstable_edge_of_chaos_is_not_reached_from_q1():
    # gelu, sigma_b^2 = 0.05: chi_1 = 1 sits on a fixed point with q-map slope > 1
    point = mf.critical_point("gelu", 0.05)
    assert point.stable is False and point.q_slope > 1
    q = 1.0
    for _ in range(200):
        q = mf.variance_map("gelu", point.sigma_w2, 0.05, q)
    assert abs(q - point.q_star) > 0.1


@settings(max_examples=20, deadline=None)
@given(
    st.lists(st.floats(0.5, 1.7), min_size=1, max_size=3),  # selu's q diverges for sigma_w2 > 1.81
    st.lists(st.floats(0.0, 0.5), min_size=1, max_size=3),
    st.sampled_from(["tanh", "erf", "selu"]),
)
@example(w=[1.0, 1.0], b=[6.90871107598001e-22], name="tanh")  # q* ~ 2e-11, 1 - s_q ~ 7e-11
def test_vectorized_maps_equal_scalar_calls(w, b, name):
    W, B = np.array(w)[:, None], np.array(b)[None, :]
    q = mf.fixed_point(name, W, B)
    chi = mf.chi1(name, W, B)
    assert q.shape == chi.shape == (len(w), len(b))
    for i, wi in enumerate(w):
        for j, bj in enumerate(b):
            # q* is conditioned like 1/(1 - s_q): a rounding error eps V in the map moves the root by
            # eps V/(1 - s_q).  Near the q* -> 0 limit (tanh, sigma_w2 -> 1, sigma_b2 -> 0) that is
            # large (1e-6 relative at sigma_b2 = 7e-22), so the two solves agree to 1e-11 plus
            # 64 eps/(1 - s_q)
            single = mf.fixed_point(name, wi, bj)
            rtol = 1e-11 + 64 * np.finfo(float).eps / abs(1 - mf.q_slope(name, wi, bj, q=single))
            assert q[i, j] == pytest.approx(single, rel=rtol, abs=1e-300)
            assert chi[i, j] == pytest.approx(mf.chi1(name, wi, bj), rel=1e-13)


@pytest.mark.parametrize(
    "call",
    [
        lambda: mf.variance_map("tanh", -1.0, 0.0, 1.0),
        lambda: mf.variance_map("tanh", 1.0, float("nan"), 1.0),
        lambda: mf.fixed_point("tanh", float("inf"), 0.0),
        lambda: mf.fixed_point("tanh", 1.0, 0.0, q0=0.0),
        lambda: mf.fixed_point("tanh", "1.0", 0.0),
        lambda: mf.chi1("tanh", 1j, 0.0),
        lambda: mf.correlation_map("tanh", 1.0, 0.0, 1.5),
        lambda: mf.depth_scales("tanh", [1.0, -2.0], 0.0),
        lambda: mf.variance_map("tanh", None, 0.0, 1.0),
        lambda: mf.fixed_point("tanh", True, 0.0),
    ],
)
def test_bad_numbers_raise_parameter_error(call):
    with pytest.raises(ParameterError):
        call()


# ---- marginal points under floating-point noise (issue: torch's calculate_gain('relu')**2 = 2 + 4.4e-16) ----
@pytest.mark.parametrize("slope", [0.0, 0.01, 0.1, 0.3])
def test_gain_squared_is_the_marginal_point(slope):
    """sigma_w^2 = calculate_gain(...)**2 of a (leaky) relu is 2/(1 + a^2) up to rounding: the marginal,
    critical point.  There every q is a fixed point of q -> sigma_w^2 (1 + a^2)/2 q, so q* = q^1 = q0
    (closed form), chi_1 = 1 and both depth scales are infinite."""
    act = mf.activation("leaky_relu", slope=slope) if slope else mf.activation("relu")
    gain2 = mf.init.calculate_gain("leaky_relu" if slope else "relu", slope if slope else None) ** 2
    assert gain2 != 2.0 / (1.0 + slope**2) or slope == 0.01  # the noise is real (0.01: exact by chance)
    assert mf.fixed_point(act, gain2, 0.0) == 1.0
    assert mf.fixed_point(act, gain2, 0.0, q0=3.5) == 3.5
    assert mf.chi1(act, gain2, 0.0) == pytest.approx(1.0, abs=4e-16)
    assert mf.depth_scales(act, gain2, 0.0) == (np.inf, np.inf)
    assert mf.propagation(act, gain2, 0.0).phase == "critical"


def test_homogeneous_fixed_points_are_the_closed_form():
    """q* = sigma_b^2 / (1 - sigma_w^2 D) for the linear map of a homogeneous phi (D = 1/2 for relu, 1 for
    |x|), including values far above the old search limit of 1e9."""
    assert mf.fixed_point("relu", 1.5, 0.1) == pytest.approx(0.1 / (1 - 0.75), rel=1e-15)
    assert mf.fixed_point("abs(x)", 0.5, 0.1) == pytest.approx(0.2, rel=1e-15)
    assert mf.fixed_point("relu", 1.5, 0.0) == 0.0
    assert mf.fixed_point("relu", 2.0 - 1e-12, 1.0) == pytest.approx(1.0 / (1 - (1 - 5e-13)), rel=1e-3)


def test_divergence_message_never_contradicts_itself():
    """The message prints the given numbers in full (repr) and the exact limit."""
    gain2 = math.sqrt(2.0) ** 2
    with pytest.raises(mf.DivergentFixedPointError) as info:
        mf.fixed_point("relu", gain2, 0.1)
    message = str(info.value)
    assert "sigma_w2=2.0000000000000004" in message and "sigma_b2=0.1" in message and "sigma_w2 = 2.0" in message
    with pytest.raises(mf.DivergentFixedPointError, match=r"sigma_w2=2\.0000000002"):
        mf.fixed_point("relu", 2.0000000002, 0.0)  # a real departure (1e-10 relative) is not rounding


@pytest.mark.parametrize("c", [-0.7, 0.0, 0.5, 0.95])
def test_correlation_map_at_vanishing_signal_is_the_limit(c):
    """q = 0, sigma_b2 = 0: both signals vanish and the map is 0/0 (it returned NaN).  Its limit q -> 0 is
    c for phi differentiable at 0 (tanh), the arc-cosine map (sqrt(1 - c^2) + (pi - arccos c) c)/pi for relu
    (Cho & Saul 2009; scale-free, so also its value at any q), and the leaky map for Max(x, 0.2x)."""
    assert mf.correlation_map("tanh", 1.5, 0.0, c, q=0.0) == pytest.approx(c, abs=1e-15)
    relu = (np.sqrt(1 - c * c) + (np.pi - np.arccos(c)) * c) / np.pi
    assert mf.correlation_map("relu", 1.5, 0.0, c, q=0.0) == pytest.approx(relu, rel=1e-14)
    assert mf.correlation_map("Max(x, 0.2*x)", 1.5, 0.0, c, q=0.0) == pytest.approx(
        mf.correlation_map("Max(x, 0.2*x)", 1.5, 0.0, c, q=1.0), rel=1e-12)
    # the limit is the limit: tanh at q = 1e-8 is within O(q) of it
    assert mf.correlation_map("tanh", 1.5, 0.0, c, q=1e-8) == pytest.approx(c, abs=1e-7)
    with pytest.raises(ParameterError, match="undefined"):
        mf.correlation_map("x**2", 1.5, 0.0, c, q=0.0)
