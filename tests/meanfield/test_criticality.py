"""Edge of chaos: statuses from the notes, and every critical point verified on the maps themselves.

A reported critical point is checked independently of the S(q) parametrisation that found it: q*
must be a fixed point of the variance map at (sigma_w2, sigma_b2) (residual), chi_1 there must be 1,
and a stable q* must be the one reached from q^1 = 1 by the fixed-point solver.
"""
import numpy as np
import pytest

import meanfield as mf
from meanfield.activations import SELU_ALPHA, SELU_SCALE

SMOOTH_CASES = [
    ("tanh", 0.05), ("tanh", 0.3), ("erf", 0.1), ("sin", 0.05), ("hardtanh", 0.2), ("selu", 0.1),
    ("elu", 0.05), ("sigmoid", 0.0), ("sigmoid", 0.1), ("gelu", 0.3), ("gelu", 0.05), ("silu", 0.2),
]


@pytest.mark.parametrize("name,sb2", SMOOTH_CASES)
def test_critical_point_is_a_fixed_point_with_chi1_one(name, sb2):
    p = mf.critical_point(name, sb2)
    assert np.isfinite(p.sigma_w2) and p.q_star > 0
    assert mf.variance_map(name, p.sigma_w2, sb2, p.q_star) == pytest.approx(p.q_star, rel=1e-12)
    assert mf.chi1(name, p.sigma_w2, sb2, q=p.q_star) == pytest.approx(1.0, rel=1e-12)
    assert p.q_slope == pytest.approx(mf.q_slope(name, p.sigma_w2, sb2, q=p.q_star), rel=1e-12)
    if p.stable:
        assert mf.fixed_point(name, p.sigma_w2, sb2) == pytest.approx(p.q_star, rel=1e-9)


def test_anchor_tanh_schoenholz():
    p = mf.critical_point("tanh", 0.05)
    assert p.sigma_w2 == pytest.approx(1.76095, abs=1e-5) and p.q_star == pytest.approx(0.5700, abs=1e-4)
    assert p.status == "critical" and p.stable


@pytest.mark.parametrize(
    "name,expected",
    [
        ("tanh", 1.0), ("erf", np.pi / 4), ("sin", 1.0), ("hardtanh", 1.0),
        ("selu", 2 / (SELU_SCALE**2 * (1 + SELU_ALPHA**2))), ("gelu", 4.0), ("silu", 4.0),
    ],
)
def test_degenerate_limit_at_zero_bias(name, expected):
    p = mf.critical_point(name, 0.0)
    assert p.status == "degenerate" and p.q_star == 0.0
    assert p.sigma_w2 == pytest.approx(expected, rel=1e-13)


def test_gelu_and_swish_marginal_at_zero_bias_stable_tanh():
    assert mf.critical_point("gelu", 0.0).stable is False
    assert mf.critical_point("silu", 0.0).stable is False
    assert mf.critical_point("tanh", 0.0).stable is True


def test_gelu_unstable_below_and_stable_above():
    assert mf.critical_point("gelu", 0.05).status == "unstable"
    assert mf.critical_point("gelu", 0.3).status == "critical"


def test_swish_unstable_over_the_whole_range():
    for sb2 in (0.01, 0.05, 0.1, 0.2, 0.5):
        p = mf.critical_point("swish", sb2)
        assert p.stable is False and p.q_slope > 1, sb2


@pytest.mark.parametrize("sb2", [0.0, 0.1, 1.0])
def test_softplus_has_no_edge_of_chaos(sb2):
    p = mf.critical_point("softplus", sb2)
    assert p.status == "none" and np.isnan(p.sigma_w2) and "ordered" in p.reason


def test_relu_family():
    p = mf.critical_point("relu", 0.0)
    assert p.status == "marginal" and p.sigma_w2 == 2.0 and p.stable
    none = mf.critical_point("relu", 0.1)
    assert none.status == "none" and "diverges" in none.reason
    assert mf.critical_sigma_w2("leaky_relu", 0.0) == pytest.approx(2 / (1 + 0.01**2), rel=1e-14)
    assert mf.critical_sigma_w2(mf.activation("leaky_relu", slope=0.2)) == pytest.approx(2 / 1.04, rel=1e-14)


def test_sigmoid_needs_large_q():
    p = mf.critical_point("sigmoid", 0.0)
    assert 44 < p.q_star < 48 and p.stable


def test_vectorized_over_bias_with_nan_only_where_none():
    sb2 = np.array([0.0, 0.05, 0.3])
    values = mf.critical_sigma_w2("tanh", sb2)
    assert values.shape == (3,)
    for v, b in zip(values, sb2):
        assert v == pytest.approx(mf.critical_sigma_w2("tanh", float(b)), rel=1e-14)
    relu = mf.critical_sigma_w2("relu", sb2)
    assert relu[0] == 2.0 and np.isnan(relu[1:]).all()
    points = mf.critical_point("tanh", sb2)
    assert [p.sigma_b2 for p in points] == list(sb2)


def test_kumar_rule():
    assert mf.init.kumar_sigma_w2("sigmoid") == pytest.approx(12.8, rel=1e-14)
    verdict = mf.init.kumar("sigmoid")
    assert 0.34 < verdict.chi1 < 0.37 and not verdict.critical  # "about 0.35": deep in the ordered phase
    assert mf.init.kumar("tanh").critical  # 1/phi'(0)^2 = 1 is tanh's edge at sigma_b2 = 0
    assert mf.init.kumar_sigma_w2("erf") == pytest.approx(np.pi / 4, rel=1e-14)
