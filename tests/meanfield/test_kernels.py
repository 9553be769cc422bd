"""Two-input kernels and NNGP Gram matrices: conventions, closed forms, routes agree."""
import numpy as np
import pytest

import meanfield as mf
from meanfield import gaussian as g
from meanfield.errors import ParameterError


def _relu_kernel_by_hand(K, sw2, sb2):
    """One relu layer of the arc-cosine kernel written out here (Cho & Saul 2009)."""
    d = np.sqrt(np.diag(K))
    c = np.clip(K / np.outer(d, d), -1, 1)
    theta = np.arccos(c)
    return sw2 * np.outer(d, d) * (np.sin(theta) + (np.pi - theta) * np.cos(theta)) / (2 * np.pi) + sb2


def test_depth_one_is_the_first_dense_layer():
    X = np.random.default_rng(1).normal(size=(5, 7))
    K = mf.nngp_kernel("tanh", 1.3, 0.2, 1, X)
    np.testing.assert_allclose(K, 1.3 * X @ X.T / 7 + 0.2, rtol=1e-13)


def test_relu_nngp_matches_arc_cosine_iteration():
    X = np.random.default_rng(2).normal(size=(8, 4))
    K = 2.0 * X @ X.T / 4 + 0.1
    for _ in range(9):
        K = _relu_kernel_by_hand(K, 2.0, 0.1)
    np.testing.assert_allclose(mf.nngp_kernel("relu", 2.0, 0.1, 10, X), K, rtol=1e-12)


@pytest.mark.parametrize("name", ["relu", "erf", "tanh", "gelu", "selu", "hardtanh"])
def test_nngp_entries_equal_two_input_kernel(name):
    X = np.random.default_rng(3).normal(size=(4, 6))
    K = mf.nngp_kernel(name, 1.6, 0.1, 6, X)
    n0 = X.shape[1]
    for a, b in ((0, 1), (2, 3), (1, 3)):
        q1, q2 = X[a] @ X[a] / n0, X[b] @ X[b] / n0
        c = X[a] @ X[b] / np.sqrt(X[a] @ X[a] * X[b] @ X[b])
        k11, k22, k12 = mf.kernel(name, 1.6, 0.1, 6, q1, q2, c)
        assert K[a, a] == pytest.approx(k11, rel=1e-12)
        assert K[b, b] == pytest.approx(k22, rel=1e-12)
        assert K[a, b] / np.sqrt(K[a, a] * K[b, b]) == pytest.approx(k12, rel=1e-9, abs=1e-12)


def test_tanh_mehler_route_matches_nested_quadrature():
    # the Gram matrix of tanh uses Mehler's series; one layer checked against nested quadrature
    X = np.random.default_rng(4).normal(size=(6, 3))
    K1 = mf.nngp_kernel("tanh", 1.7, 0.05, 1, X)
    K2 = mf.nngp_kernel("tanh", 1.7, 0.05, 2, X, rtol=1e-12)
    q = np.diag(K1)
    i, j = np.triu_indices(6, 1)
    c = K1[i, j] / np.sqrt(q[i] * q[j])
    act = mf.activation("tanh")
    nested = g._bivariate(act.phi, act.phi, None, (), (), q[i], q[j], c)
    np.testing.assert_allclose(K2[i, j], 1.7 * nested + 0.05, rtol=1e-11)


def test_kernel_correlation_and_bad_input():
    q1, q2, c = mf.kernel("relu", 2.0, 0.0, 2, 1.0, 1.0, 0.0)
    assert (q1, q2) == (2.0, 2.0) and c == pytest.approx(1 / np.pi, rel=1e-14)
    with pytest.raises(ParameterError):
        mf.kernel("relu", 2.0, 0.0, 0, 1.0, 1.0, 0.0)
    with pytest.raises(ParameterError):
        mf.nngp_kernel("relu", 2.0, 0.0, 3, np.ones(4))
    with pytest.raises(ParameterError):
        mf.kernel("relu", 2.0, 0.0, 2, 1.0, 1.0, 1.5)


def test_depth_beyond_the_limit_is_refused_at_once():
    """depth = 2**64 used to loop for ever (10**6 took ~40 min): refused, the limit stated."""
    for fn in (lambda d: mf.kernel("relu", 2.0, 0.1, d, 1.0, 1.0, 0.5),
               lambda d: mf.nngp_kernel("relu", 2.0, 0.1, d, np.eye(2))):
        with pytest.raises(mf.ParameterError, match="between 1 and 1,000,000"):
            fn(2**64)
        with pytest.raises(mf.ParameterError, match="100000 layers the kernel recursion accepts"):
            fn(200_000)


def test_deep_kernels_stop_at_their_floating_point_fixed_point():
    """In the ordered phase the recursion reaches a fixed point to the last bit within a few hundred layers;
    deeper layers then return exactly the same numbers, so depth 10**5 equals depth 3000 bit for bit."""
    deep = mf.kernel("tanh", 1.2, 0.1, 10**5, 1.0, 2.0, 0.5)
    assert deep == mf.kernel("tanh", 1.2, 0.1, 3000, 1.0, 2.0, 0.5)
    # and it is the fixed point q*, c* = 1 (ordered)
    assert deep[0] == pytest.approx(mf.fixed_point("tanh", 1.2, 0.1), rel=1e-12)


def test_kernels_that_leave_double_precision_are_refused():
    with pytest.raises(mf.ParameterError, match="double precision"):
        mf.nngp_kernel("relu", 2.0, 0.1, 3, np.full((2, 2), 1e200))
    with pytest.raises(mf.ParameterError, match="double precision"):
        mf.kernel("relu", 3.0, 0.0, 2000, 1.0, 1.0, 0.5)  # grows like 1.5^L: inf near layer 1750
