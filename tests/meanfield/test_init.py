"""Initialization recipes: each recipe's defining property checked on real matrices."""
import numpy as np
import pytest

import meanfield as mf


def _relu_net_jacobian(weights, x):
    """Input-output Jacobian of the ReLU net with these weights (no activation after the last layer)."""
    jac = np.eye(x.size)
    h = x
    for i, w in enumerate(weights):
        pre = w @ h
        if i < len(weights) - 1:
            jac = ((pre > 0)[:, None] * w) @ jac
            h = np.maximum(pre, 0.0)
        else:
            jac = w @ jac
            h = pre
    return jac, h


def test_looks_linear_shapes_and_sharing():
    ws = mf.init.looks_linear([3, 4, 5, 2], seed=0)
    assert [w.shape for w in ws] == [(8, 3), (10, 8), (2, 10)]
    first, hidden, last = ws
    np.testing.assert_array_equal(first[:4], -first[4:])
    np.testing.assert_array_equal(hidden[:5, :4], -hidden[:5, 4:])
    np.testing.assert_array_equal(hidden[:5, :4], -hidden[5:, :4])
    np.testing.assert_array_equal(hidden[:5, :4], hidden[5:, 4:])
    np.testing.assert_array_equal(last[:, :5], -last[:, 5:])


@pytest.mark.parametrize("orthogonal", [True, False])
def test_looks_linear_network_is_the_linear_template(orthogonal):
    """The physical ReLU net computes W0^L ... W0^1 x exactly (relu(u) - relu(-u) = u)."""
    widths = [6, 7, 5, 4]
    ws = mf.init.looks_linear(widths, orthogonal=orthogonal, seed=3)
    x = np.random.default_rng(1).standard_normal(6)
    template = [ws[0][:7], ws[1][:5, :7], ws[2][:, :5]]
    jac, out = _relu_net_jacobian(ws, x)
    lin = template[2] @ template[1] @ template[0]
    np.testing.assert_allclose(out, lin @ x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(jac, lin, rtol=1e-12, atol=1e-12)


def test_looks_linear_orthogonal_is_exactly_isometric_at_depth_50():
    ws = mf.init.looks_linear([64] * 51, orthogonal=True, seed=7)
    x = np.random.default_rng(2).standard_normal(64)
    jac, _ = _relu_net_jacobian(ws, x)
    s = np.linalg.svd(jac, compute_uv=False)
    assert np.max(np.abs(s - 1.0)) < 1e-12


@pytest.mark.parametrize("bad", [[4], [4, 0, 2], "abc", [4, 2.5]])
def test_looks_linear_bad_widths(bad):
    with pytest.raises(ValueError, match="width"):
        mf.init.looks_linear(bad)
