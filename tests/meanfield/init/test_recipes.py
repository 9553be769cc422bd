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


# ----------------------------------------------------------------------------------------------
# fans and torch's gain table (numbers from notes/init_recipes.md 0 and 2, not from the code)
# ----------------------------------------------------------------------------------------------
import math

from scipy import integrate

from meanfield.errors import ActivationError, ParameterError


def test_fans_of_conv_and_dense_shapes():
    assert mf.init.fans((64, 32, 3, 3)) == (288, 576)  # notes: fan_in 32*9, fan_out 64*9
    assert mf.init.fans((20, 10)) == (10, 20)
    assert mf.init.fans((4, 2, 5)) == (10, 20)


@pytest.mark.parametrize("bad", [(5,), (), (3, 0), (3, -2), "ab", 7, (2.5, 3)])
def test_fans_bad_shape(bad):
    with pytest.raises(ParameterError, match="shape"):
        mf.init.fans(bad)


@pytest.mark.parametrize(
    "name, param, expected",
    [
        ("linear", None, 1.0), ("conv1d", None, 1.0), ("conv2d", None, 1.0), ("conv3d", None, 1.0),
        ("conv_transpose1d", None, 1.0), ("conv_transpose2d", None, 1.0), ("conv_transpose3d", None, 1.0),
        ("sigmoid", None, 1.0), ("tanh", None, 5 / 3), ("relu", None, math.sqrt(2.0)),
        ("leaky_relu", None, math.sqrt(2 / (1 + 0.01**2))), ("leaky_relu", 0.2, math.sqrt(2 / 1.04)),
        ("leaky_relu", 0, math.sqrt(2.0)), ("leaky_relu", math.sqrt(5), math.sqrt(1 / 3)), ("selu", None, 0.75),
    ],
)
def test_calculate_gain_matches_torch_table(name, param, expected):
    assert mf.init.calculate_gain(name, param) == pytest.approx(expected, rel=1e-15)


def test_calculate_gain_errors_like_torch():
    with pytest.raises(ActivationError, match="Unsupported nonlinearity 'gelu'"):
        mf.init.calculate_gain("gelu")
    for bad in ("0.2", True, float("nan"), [0.1]):
        with pytest.raises(ParameterError, match="negative_slope .* not a valid number"):
            mf.init.calculate_gain("leaky_relu", bad)


# ----------------------------------------------------------------------------------------------
# iid recipes: variances by seeded Monte Carlo.  For n iid entries the sample variance has relative
# standard deviation sqrt(2/n) (normal) or sqrt(0.8/n) (uniform: kurtosis 9/5); every tolerance below is
# 6 of those standard deviations (two-sided false-alarm probability ~2e-9 per check; the seeds are fixed).
# ----------------------------------------------------------------------------------------------
def _assert_variance(w, var, kurtosis=3.0):
    n = w.size
    rel_sd = math.sqrt((kurtosis - 1) / n)
    assert abs(np.mean(w)) < 6 * math.sqrt(var / n)
    assert abs(np.mean(w**2) / var - 1) < 6 * rel_sd


def test_he_normal_conv_std_is_one_twelfth():
    w = mf.init.he((64, 32, 3, 3), seed=0)  # notes: fan_in 288, std sqrt(2/288) = 1/12
    assert w.shape == (64, 32, 3, 3)
    _assert_variance(w, 1 / 144)


def test_he_modes_uniform_and_leaky():
    w = mf.init.he((300, 100), mode="fan_out", seed=1)
    _assert_variance(w, 2 / 300)
    u = mf.init.he((300, 100), distribution="uniform", seed=2)
    bound = math.sqrt(3) * math.sqrt(2 / 100)
    assert np.max(np.abs(u)) <= bound and np.max(np.abs(u)) > 0.99 * bound
    _assert_variance(u, 2 / 100, kurtosis=9 / 5)
    lk = mf.init.he((300, 100), a=0.2, nonlinearity="leaky_relu", seed=3)
    _assert_variance(lk, 2 / 1.04 / 100)


def test_glorot_and_lecun_variances():
    _assert_variance(mf.init.glorot((300, 100), seed=4), 2 / 400)
    _assert_variance(mf.init.glorot((300, 100), gain=5 / 3, seed=5), (5 / 3) ** 2 * 2 / 400)
    u = mf.init.glorot((300, 100), distribution="uniform", seed=6)
    assert np.max(np.abs(u)) <= math.sqrt(6 / 400)
    _assert_variance(u, 2 / 400, kurtosis=9 / 5)
    _assert_variance(mf.init.lecun((200, 150), seed=7), 1 / 150)
    _assert_variance(mf.init.lecun((200, 150), distribution="uniform", seed=8), 1 / 150, kurtosis=9 / 5)


def test_gaussian_and_uniform_take_sigma_w2_or_gain():
    _assert_variance(mf.init.gaussian((200, 100), sigma_w2=3.0, seed=9), 3.0 / 100)
    _assert_variance(mf.init.gaussian((200, 100), gain=2.0, seed=10), 4.0 / 100)
    _assert_variance(mf.init.gaussian((200, 100), seed=11), 1.0 / 100)
    _assert_variance(mf.init.uniform((200, 100), sigma_w2=3.0, seed=12), 3.0 / 100, kurtosis=9 / 5)
    with pytest.raises(ParameterError, match="not both"):
        mf.init.gaussian((3, 3), sigma_w2=1.0, gain=1.0)
    with pytest.raises(ParameterError, match="sigma_w2"):
        mf.init.gaussian((3, 3), sigma_w2=-1.0)


def test_seeding_is_reproducible_and_generators_are_accepted():
    a = mf.init.he((5, 4), seed=3)
    np.testing.assert_array_equal(a, mf.init.he((5, 4), seed=3))
    np.testing.assert_array_equal(a, mf.init.he((5, 4), seed=np.random.default_rng(3)))
    with pytest.raises(ParameterError, match="seed"):
        mf.init.he((5, 4), seed="x")


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: mf.init.he((3, 3), mode="fan_avg"), "mode"),
        (lambda: mf.init.he((3, 3), distribution="cauchy"), "distribution"),
        (lambda: mf.init.he((3, 3), nonlinearity="softsign"), "Unsupported nonlinearity"),
        (lambda: mf.init.glorot((3, 3), gain=float("inf")), "gain"),
        (lambda: mf.init.glorot((3,)), "fewer than 2 dimensions"),
    ],
)
def test_iid_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def _gauss(f, q):
    """E[f(sqrt(q) z)], z ~ N(0, 1), by adaptive quadrature (independent of meanfield.gaussian)."""
    val, _ = integrate.quad(lambda z: f(math.sqrt(q) * z) * math.exp(-z * z / 2) / math.sqrt(2 * math.pi),
                            -np.inf, np.inf, epsabs=1e-14, epsrel=1e-13)
    return val


def test_critical_tanh_chi1_is_one_by_independent_quadrature():
    sw2 = mf.init.critical_sigma_w2("tanh", 0.05)
    assert sw2 == pytest.approx(1.761, abs=5e-4)  # notes 10: about 1.761, q* about 0.570
    q = 1.0
    for _ in range(2000):  # q-map iteration converges (stable fixed point, slope < 1)
        q = sw2 * _gauss(lambda u: math.tanh(u) ** 2, q) + 0.05
    chi = sw2 * _gauss(lambda u: (1 - math.tanh(u) ** 2) ** 2, q)
    assert q == pytest.approx(0.570, abs=5e-4)
    assert chi == pytest.approx(1.0, abs=1e-8)
    _assert_variance(mf.init.critical((300, 200), "tanh", 0.05, seed=13), sw2 / 200)


def test_critical_without_critical_point_raises():
    with pytest.raises(ParameterError, match="no critical sigma_w2"):
        mf.init.critical_sigma_w2("relu", 0.1)  # relu: chi_1 = sigma_w2 / 2, q diverges at 2 for sigma_b2 > 0


def test_kumar_rule_values_and_array():
    assert mf.init.kumar_sigma_w2("sigmoid") == pytest.approx(12.8, rel=1e-12)  # notes 1 (paper: 3.6^2 rounded)
    assert mf.init.kumar_sigma_w2("tanh") == pytest.approx(1.0, rel=1e-12)
    assert math.sqrt(mf.init.kumar_sigma_w2("sigmoid")) == pytest.approx(3.5777, abs=1e-4)
    _assert_variance(mf.init.kumar_normal((300, 200), "sigmoid", seed=14), 12.8 / 200)


# ----------------------------------------------------------------------------------------------
# SELU constants: notes 3 / bioinf-jku/SNNs
# ----------------------------------------------------------------------------------------------
def test_selu_constants_closed_forms():
    lam, alpha = mf.init.selu_constants()
    assert lam == pytest.approx(1.0507009873554804934193349852946, rel=1e-15)
    assert alpha == pytest.approx(1.6732632423543772848170429916717, rel=1e-15)


def test_selu_constants_general_fixed_point_matches_the_notebook_and_quadrature():
    lam, alpha = mf.init.selu_constants(-0.1, 2.0)
    # getSELUparameters.ipynb prints (alpha, lambda) = (1.9769021954241999, 1.073851239616047)
    assert alpha == pytest.approx(1.9769021954241999, rel=1e-12)
    assert lam == pytest.approx(1.073851239616047, rel=1e-12)

    def selu(x):
        return lam * x if x > 0 else lam * alpha * math.expm1(x)

    def moment(k):  # E[selu(z)^k], z ~ N(-0.1, 2), split at the kink
        dens = lambda x: math.exp(-((x + 0.1) ** 2) / 4) / math.sqrt(4 * math.pi)  # noqa: E731
        return sum(integrate.quad(lambda x: selu(x) ** k * dens(x), a, b, epsabs=1e-14, epsrel=1e-13)[0]
                   for a, b in ((-np.inf, 0), (0, np.inf)))

    m1 = moment(1)
    assert m1 == pytest.approx(-0.1, abs=1e-10)
    assert moment(2) - m1**2 == pytest.approx(2.0, abs=1e-10)


@pytest.mark.parametrize("mu, nu", [(0.0, 0.0), (0.0, -1.0), (float("nan"), 1.0), ("a", 1.0)])
def test_selu_constants_bad_input(mu, nu):
    with pytest.raises(ParameterError):
        mf.init.selu_constants(mu, nu)


# ----------------------------------------------------------------------------------------------
# WeightNorm (Arpit et al. 2019) and Fixup: notes 4 and 8
# ----------------------------------------------------------------------------------------------
def test_weightnorm_gain_reference_values():
    assert mf.init.weightnorm_gain(20, 60) == pytest.approx(math.sqrt(2 * 20 / 60), rel=1e-15)  # code's self-test
    assert mf.init.weightnorm_gain(64, 64) == pytest.approx(math.sqrt(2), rel=1e-15)
    assert mf.init.weightnorm_gain(64, 64, gain=1 / 40) == pytest.approx(1 / math.sqrt(40), rel=1e-15)
    for bad in [(0, 3, 2.0), (3, 3, 0.0), (3, 3, -1.0), (2.5, 3, 2.0)]:
        with pytest.raises(ParameterError):
            mf.init.weightnorm_gain(*bad)


def test_weightnorm_layer_rows_have_norm_g_and_are_orthogonal():
    w = mf.init.weightnorm((20, 60), seed=0)  # fan_out < fan_in: orthonormal rows, times g
    g2 = 2 * 60 / 20
    np.testing.assert_allclose(w @ w.T, g2 * np.eye(20), atol=1e-12)
    t = mf.init.weightnorm((60, 20), direction="gaussian", seed=1)
    np.testing.assert_allclose(np.sum(t * t, axis=1), 2 * 20 / 60, rtol=1e-13)


def test_fixup_scale_reference_values():
    assert mf.init.fixup_scale(9) == pytest.approx(1 / 3, rel=1e-15)  # ResNet-20
    assert mf.init.fixup_scale(54) == pytest.approx(54 ** -0.5, rel=1e-15)  # ResNet-110
    assert mf.init.fixup_scale(16, 3) == pytest.approx(0.5, rel=1e-15)  # ResNet-50 bottleneck
    with pytest.raises(ParameterError, match="at least 2"):
        mf.init.fixup_scale(9, 1)
    with pytest.raises(ParameterError, match="num_blocks"):
        mf.init.fixup_scale(0)


def test_fixup_branch_zero_last_layer_and_scaled_he():
    ws = mf.init.fixup_branch([(128, 64, 3, 3), (64, 128, 3, 3)], num_blocks=9, seed=0)
    assert np.all(ws[-1] == 0) and ws[-1].shape == (64, 128, 3, 3)
    _assert_variance(ws[0], 2 / (128 * 9) / 9)  # fan_out He std sqrt(2/(C_out k^2)) times 9^(-1/2)
    with pytest.raises(ParameterError, match="at least 2"):
        mf.init.fixup_branch([(4, 4)], num_blocks=3)


# ----------------------------------------------------------------------------------------------
# orthogonal, delta-orthogonal, EOI, IDInit: exact properties on real matrices
# ----------------------------------------------------------------------------------------------
def _gram_defect(w, gain=1.0):
    m = w.reshape(w.shape[0], -1)
    g = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
    return np.max(np.abs(g - gain**2 * np.eye(g.shape[0])))


@pytest.mark.parametrize("shape", [(50, 50), (30, 70), (70, 30), (16, 8, 3, 3)])
def test_orthogonal_any_shape(shape):
    w = mf.init.orthogonal(shape, gain=1.5, seed=0)
    assert w.shape == shape
    assert _gram_defect(w, 1.5) < 1e-12


def test_delta_orthogonal_is_an_orthogonal_convolution():
    k = mf.init.delta_orthogonal((8, 5, 3, 3), gain=2.0, seed=1)
    centre = k[:, :, 1, 1]
    np.testing.assert_allclose(centre.T @ centre, 4.0 * np.eye(5), atol=1e-12)
    k2 = k.copy()
    k2[:, :, 1, 1] = 0
    assert np.all(k2 == 0)
    # circular 2-D convolution of a random 5-channel image: |y| = 2 |x| exactly
    x = np.random.default_rng(0).standard_normal((5, 7, 6))
    y = sum(
        np.einsum("oi,ihw->ohw", k[:, :, a, b], np.roll(x, (1 - a, 1 - b), axis=(1, 2)))
        for a in range(3) for b in range(3)
    )
    assert np.linalg.norm(y) == pytest.approx(2.0 * np.linalg.norm(x), rel=1e-12)
    with pytest.raises(ParameterError, match="spatial"):
        mf.init.delta_orthogonal((8, 5))


@pytest.mark.parametrize("shape", [(100, 100), (40, 90), (90, 40)])
@pytest.mark.parametrize("density", [None, 0.05, 0.14, 0.5, 1.0])
def test_eoi_exactly_orthogonal_at_the_target_density(shape, density):
    n = max(shape)
    d = 1 / n if density is None else density
    w = mf.init.eoi(shape, d, gain=0.7, seed=3)
    assert _gram_defect(w, 0.7) < 1e-12
    # one Givens rotation adds at most 2 min(n, m) non-zeros, i.e. 2 / max(n, m) of the density
    assert abs(np.count_nonzero(w) / w.size - d) <= 2 / n
    if density is None:
        assert np.count_nonzero(w) == min(shape)  # the semi-identity itself


def test_eoi_density_range_errors():
    with pytest.raises(ParameterError, match=r"\[1/max\(n, m\), 1\]"):
        mf.init.eoi((100, 40), 0.009)
    with pytest.raises(ParameterError, match="not achievable"):
        mf.init.eoi((10, 10), 1.2)
    with pytest.raises(ParameterError, match="density"):
        mf.init.eoi((10, 10), float("nan"))
    with pytest.raises(ParameterError, match="convolution"):
        mf.init.eoi((10, 10), 0.5, more_nonzeros=True)


def test_eoi_conv_kernel_and_mask():
    w, mask = mf.init.eoi((16, 8, 3, 3), 0.3, seed=4, return_mask=True)
    h = w[:, :, 1, 1]
    np.testing.assert_allclose(h.T @ h, np.eye(8), atol=1e-12)
    assert np.count_nonzero(w) == np.count_nonzero(h)
    assert abs(np.count_nonzero(h) / h.size - 0.3) <= 2 / 16
    assert np.all(mask[w != 0])
    assert abs(mask.mean() - 0.3) <= 1 / mask.size
    dense = mf.init.eoi((16, 8, 3, 3), 0.08, seed=4, more_nonzeros=True)
    d_h = min(0.08 * 9, math.sqrt(0.08), 1.0)  # 0.283 (notes 6: more_nonzeros)
    assert abs(np.count_nonzero(dense[:, :, 1, 1]) / 128 - d_h) <= 2 / 16


def test_eoi_densities_erdos_renyi_allocation():
    shapes = [(100, 50), (100, 100), (10, 100), (64, 32, 3, 3)]
    d = mf.init.eoi_densities(shapes, 0.3)
    sizes = np.array([5000, 10000, 1000, 64 * 32 * 9])
    assert d @ sizes / sizes.sum() == pytest.approx(0.3, abs=1e-12)
    raw = np.array([150 / 5000, 200 / 10000, 110 / 1000, (64 + 32 + 6) / (64 * 32 * 9)])
    free = d < 1
    assert np.all(d[~free] == 1.0)
    np.testing.assert_allclose(d[free] / raw[free], (d[free] / raw[free])[0], rtol=1e-12)  # one eps
    with pytest.raises(ParameterError, match="achievable overall range"):
        mf.init.eoi_densities([(100, 100)], 0.001)
    with pytest.raises(ParameterError):
        mf.init.eoi_densities([], 0.5)


def test_idinit_padded_identity_from_the_notes():
    w = mf.init.idinit((10, 4), tau=2.0)
    expected = np.zeros((10, 4))
    expected[:4] = 2 * np.eye(4)
    expected[4:8] = 2 * np.eye(4)
    expected[8:] = 2 * np.eye(4)[:2]
    np.testing.assert_array_equal(w, expected)
    s = np.linalg.svd(w, compute_uv=False)
    np.testing.assert_allclose(s, 2.0 * np.sqrt([3, 3, 2, 2]), rtol=1e-14)  # tau sqrt(h_j)
    np.testing.assert_array_equal(mf.init.idinit((4, 10)), np.eye(4, 10))
    np.testing.assert_array_equal(mf.init.idinit((6, 6), tau=0.5), 0.5 * np.eye(6))
    np.testing.assert_array_equal(mf.init.idinit_zero((6, 6)), 1e-6 * np.eye(6))


def test_idinit_conv_patch_maintain():
    k = mf.init.idinit((18, 4, 3, 3))
    for i in range(18):  # output channel i copies input channel i // 9 at flattened offset i % 9
        nz = np.argwhere(k[i] != 0)
        assert nz.tolist() == [[i // 9, (i % 9) // 3, (i % 9) % 3]]
    with pytest.raises(ParameterError, match="tau"):
        mf.init.idinit((3, 3), tau=float("inf"))
