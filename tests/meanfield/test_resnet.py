"""Tests of meanfield.resnet: Arpit et al.'s WeightNorm recipe, the He baseline, and Monte Carlo growth.

Independent routes:
- relu: closed forms by hand ((1 + 1/B)^B for WeightNorm ResNets, 3^B for the He baseline,
  n_l / n_0 for He feed-forward nets, 1 for WeightNorm feed-forward nets);
- smooth activations: a hand-written recursion with mpmath quadrature (not meanfield.gaussian);
- real sampled networks (seeded Monte Carlo), see ``_check`` for the tolerances.
"""
from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

from meanfield import init as mfinit
from meanfield import resnet as rn
from meanfield.errors import ActivationError, ParameterError, SigpropError

# ----------------------------------------------------------------------------------------------
# Monte Carlo tolerance
# ----------------------------------------------------------------------------------------------
K_SE = 5.0
#: Finite-width bias allowance for smooth activations, relative, in units of 1/width.  Measured with
#: 1000 networks (tanh ResNet alpha = 0.7, B = 8 and tanh feed-forward depth 8, widths 64 and 128):
#: width * |MC mean / mean field - 1| <= 2.7 for norms and Jacobians at every depth, itself within
#: about 2 SE of 0.  For relu the mean field is the exact finite-width expectation (module
#: docstring: sign symmetry of the weight rows), so the allowance there is 0.
BIAS_SMOOTH = 4.0


def _tolerance(se, theory, width, bias):
    """K_SE * (running max over depth of the relative SE) * theory + bias * theory / width.

    The SE across 48-64 networks (4000 at tiny width) is itself estimated from the sample; the
    running maximum over depth (the fluctuations of step l include those of the steps before it) can
    only widen the tolerance, so an accidentally small SE at one depth does not make the test
    fragile.  With the relu expectations exact, z = (mean - theory) / SE is close to standard normal:
    over 80 seeds of the B = 16 WeightNorm ResNet (width 128, 32 networks) z had mean -0.07, sd 1.07
    and max |z| 3.3.  5 SE is a normal two-sided tail of 6e-7 per comparison: the tests pass for
    (almost) any seed, while a 10 % error in the branch energy fails every residual Monte Carlo test
    below (checked by mutating the theory).
    """
    rel = np.maximum.accumulate(np.nan_to_num(se / theory))
    return K_SE * rel * theory + bias * theory / width + 1e-12 * theory


def _check(net, n_networks, seed, s0=1.0, bias=0.0):
    mf_growth = net.mean_field(s0)
    mc = net.sample(n_networks, seed=seed, s0=s0)
    width = min(layer.fan_out for layer in net.layers)
    for name in ("norm2", "jacobian"):
        theory = getattr(mf_growth, name)
        mean, se = getattr(mc, f"{name}_mean"), getattr(mc, f"{name}_se")
        tol = _tolerance(se, theory, width, bias)
        bad = np.abs(mean - theory) > tol
        assert not bad.any(), (
            f"{net.label} {name}: steps {np.nonzero(bad)[0]}, MC {mean[bad]}, mean field {theory[bad]}, "
            f"tol {tol[bad]}"
        )
    if net.residual:
        # the branch output is uncorrelated with the stream: E<x_b, F(x_b)> = 0 exactly (W_m -> -W_m)
        cross_se = mc.cross.std(axis=0, ddof=1) / math.sqrt(n_networks)
        assert np.all(np.abs(mc.cross.mean(axis=0)) <= K_SE * cross_se), mc.cross.mean(axis=0) / cross_se
        # so the squared norms add: E[alpha^2 |F|^2 / |x_b|^2] = the predicted factor - 1
        branch = mf_growth.norm2_factor - 1
        branch_se = mc.branch.std(axis=0, ddof=1) / math.sqrt(n_networks)
        tol = K_SE * branch_se + bias * branch / width
        assert np.all(np.abs(mc.branch.mean(axis=0) - branch) <= tol), (mc.branch.mean(axis=0), branch)
    return mf_growth, mc


def _arpit_widths(n0, m0, depth, seed):
    """Arpit et al.'s synthetic setting: hidden widths drawn uniformly from m0 +- 50."""
    return [n0] + list(np.random.default_rng(seed).integers(m0 - 50, m0 + 50, depth))


# ----------------------------------------------------------------------------------------------
# the recipes, in closed form
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("B", [1, 2, 3, 10, 40, 1000])
def test_weightnorm_resnet_follows_one_plus_one_over_b_to_the_b(B):
    net = rn.residual(64, B)
    first, last = net.layers
    assert first.weight_norm and last.weight_norm and first.weights == last.weights == "orthogonal"
    assert first.sigma_w2 == pytest.approx(2.0, rel=1e-15)  # g = sqrt(2 * 64 / 64)
    assert last.sigma_w2 == pytest.approx(1.0 / B, rel=1e-15)  # gain 1/B on g^2: g = 1/sqrt(B)
    growth = net.mean_field()
    b = np.arange(B + 1)
    np.testing.assert_allclose(growth.norm2, (1 + 1 / B) ** b, rtol=1e-12)
    np.testing.assert_allclose(growth.jacobian, (1 + 1 / B) ** b, rtol=1e-12)
    np.testing.assert_allclose(growth.chi, 1 + 1 / B, rtol=1e-13)
    assert growth.norm2[-1] < math.e  # bounded independently of depth
    s = (1 + 1 / B) ** b[:-1]
    np.testing.assert_allclose(growth.q, np.column_stack([2 * s, s / B]), rtol=1e-12)  # q1 = 2 s, q2 = (1/B) q1 / 2


def test_weightnorm_gain_uses_fan_ratio_in_nonsquare_branches():
    # branch 48 -> 80 -> 48: g1^2 = 2 * 48/80, g2^2 = 80/(48 B); the product of gains stays 2 * 1/B
    B = 7
    net = rn.residual(48, B, branch_widths=[80])
    np.testing.assert_allclose([layer.sigma_w2 for layer in net.layers], [2 * 48 / 80, 80 / (48 * B)], rtol=1e-15)
    np.testing.assert_allclose([layer.g for layer in net.layers],
                               [mfinit.weightnorm_gain(48, 80), mfinit.weightnorm_gain(80, 48, 1 / B)], rtol=1e-15)
    np.testing.assert_allclose(net.mean_field().norm2, (1 + 1 / B) ** np.arange(B + 1), rtol=1e-12)


def test_he_resnet_baseline_explodes():
    # He on both branch layers: |F|^2 = 2 * (1/2) * 2 |x|^2 per block, so |x_B|^2 = 3^B |x_0|^2
    growth = rn.residual(32, 30, init="he").mean_field()
    np.testing.assert_allclose(growth.norm2, 3.0 ** np.arange(31), rtol=1e-12)
    np.testing.assert_allclose(growth.jacobian, 3.0 ** np.arange(31), rtol=1e-12)
    # first branch layer with gain 1 (raw input), or a one-layer LeCun branch: 2^B
    for layers in ([rn.LayerSpec(32, 32, 1.0), rn.LayerSpec(32, 32, 2.0)], [rn.LayerSpec(32, 32, 1.0)]):
        net = rn.Network("relu", layers, num_blocks=12)
        np.testing.assert_allclose(net.mean_field().norm2, 2.0 ** np.arange(13), rtol=1e-12)
    # alpha scales the branch energy by alpha^2: 1 + 0.25 * 2 per block
    np.testing.assert_allclose(rn.residual(32, 5, init="he", alpha=0.5).mean_field().norm2, 1.5 ** np.arange(6),
                               rtol=1e-12)


def test_feedforward_recipes_in_closed_form():
    widths = _arpit_widths(500, 200, 20, seed=0)
    wn = rn.feedforward(widths)  # gain 2 on every layer: E|x^l|^2 = |x^0|^2 whatever the widths
    np.testing.assert_allclose([layer.sigma_w2 for layer in wn.layers],
                               [2 * a / b for a, b in zip(widths[:-1], widths[1:])], rtol=1e-15)
    growth = wn.mean_field()
    np.testing.assert_allclose(growth.norm2, 1.0, rtol=1e-12)
    np.testing.assert_allclose(growth.jacobian, 1.0, rtol=1e-12)
    he = rn.feedforward(widths, init="he").mean_field()  # per-unit variance kept: |x^l|^2 / |x^0|^2 = n_l / n_0
    np.testing.assert_allclose(he.norm2, np.array(widths) / widths[0], rtol=1e-12)
    np.testing.assert_allclose(he.jacobian, np.array(widths) / widths[0], rtol=1e-12)


def test_relu_growth_does_not_depend_on_the_input_scale():
    net = rn.residual(16, 6, branch_widths=[24, 8])
    for s0 in (1e-3, 1.0, 1e3):
        np.testing.assert_allclose(net.mean_field(s0).norm2, (1 + 1 / 6) ** np.arange(7), rtol=1e-12)


def _mp_moment(f, q):
    """E[f(sqrt(q) z)] by mpmath's tanh-sinh quadrature at 20 digits (f an mpmath function), split
    where tanh bends (|x| = 1, 3)."""
    with mpmath.workdps(20):
        r = mpmath.sqrt(q)
        points = [-mpmath.inf, -3 / r, -1 / r, 0, 1 / r, 3 / r, mpmath.inf]
        return float(mpmath.quad(lambda z: f(r * z) * mpmath.npdf(z), points))


def test_smooth_activation_against_hand_recursion():
    tanh2 = lambda x: mpmath.tanh(x) ** 2  # noqa: E731
    dtanh2 = lambda x: mpmath.sech(x) ** 4  # noqa: E731
    # residual: s_{b+1} = s_b + alpha^2 sw2_2 V(sw2_1 s_b); chi = 1 + alpha^2 sw2_1 sw2_2 D(sw2_1 s_b)
    net = rn.residual(40, 6, act="tanh", init="he", alpha=0.7)
    s, chi = [0.5], []
    for _ in range(6):
        q1 = 2.0 * s[-1]
        s.append(s[-1] + 0.49 * 2.0 * _mp_moment(tanh2, q1))
        chi.append(1 + 0.49 * 4.0 * _mp_moment(dtanh2, q1))
    growth = net.mean_field(0.5)
    np.testing.assert_allclose(growth.norm2, np.array(s) / 0.5, rtol=1e-10)
    np.testing.assert_allclose(growth.chi, chi, rtol=1e-10)
    # feed-forward, varying widths: |x^l|^2 / |x^0|^2 = n_l V(q^l) / (n_0 s0), factor sw2 (n_l/n_{l-1}) D(q^l)
    widths = [30, 50, 20, 40]
    net = rn.feedforward(widths, act="tanh", gain=1.5)
    sw2 = [1.5 * a / b for a, b in zip(widths[:-1], widths[1:])]
    ms, norm2, jac = 2.0, [1.0], [1.0]
    for l, w in enumerate(sw2, start=1):
        q = w * ms
        ms = _mp_moment(tanh2, q)
        norm2.append(widths[l] * ms / (widths[0] * 2.0))
        jac.append(jac[-1] * w * widths[l] / widths[l - 1] * _mp_moment(dtanh2, q))
    growth = net.mean_field(2.0)
    np.testing.assert_allclose(growth.norm2, norm2, rtol=1e-10)
    np.testing.assert_allclose(growth.jacobian, jac, rtol=1e-10)


# ----------------------------------------------------------------------------------------------
# sampled weights
# ----------------------------------------------------------------------------------------------
def test_weight_normalized_layers_have_row_norm_g():
    rng = np.random.default_rng(1)
    for fan_out, fan_in in ((30, 50), (50, 30)):
        for weights in ("orthogonal", "gaussian"):
            spec = rn.LayerSpec(fan_in, fan_out, 2.0 * fan_in / fan_out, weights, weight_norm=True)
            w = spec.sample(rng, n_networks=3)
            assert w.shape == (3, fan_out, fan_in)
            np.testing.assert_allclose(np.linalg.norm(w, axis=-1), spec.g, rtol=1e-14)
            if weights == "orthogonal" and fan_out <= fan_in:  # orthonormal rows times g
                gram = w @ np.swapaxes(w, -1, -2)
                np.testing.assert_allclose(gram, np.broadcast_to(spec.g**2 * np.eye(fan_out), gram.shape), atol=1e-13)
    v = np.arange(1.0, 7.0).reshape(2, 3)
    expected = v / np.sqrt([[14.0], [77.0]]) * [[2.0], [3.0]]  # |(1, 2, 3)|^2 = 14, |(4, 5, 6)|^2 = 77
    np.testing.assert_allclose(rn.weight_normalize(v, [2.0, 3.0]), expected, rtol=1e-15)


# ----------------------------------------------------------------------------------------------
# Monte Carlo against the mean field
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("B, n_networks, seed", [(4, 64, 11), (16, 48, 12)])
def test_weightnorm_resnet_monte_carlo(B, n_networks, seed):
    growth, mc = _check(rn.residual(128, B), n_networks, seed)
    # the point of the recipe: bounded by e, far from the He baseline's 3^B
    assert mc.norm2_mean[-1] < math.e + K_SE * mc.norm2_se[-1]


def test_weightnorm_resnet_gaussian_directions_nonsquare_branch_monte_carlo():
    _check(rn.residual(96, 40, branch_widths=[160], weights="gaussian"), 48, 13)


def test_he_resnet_monte_carlo_explodes():
    growth, mc = _check(rn.residual(128, 8, init="he"), 64, 14)
    assert mc.norm2_mean[-1] > 0.5 * 3.0**8  # versus (1 + 1/8)^8 = 2.57 with the WeightNorm recipe


@pytest.mark.parametrize("init, weights", [("weightnorm", "orthogonal"), ("weightnorm", "gaussian"),
                                           ("he", "gaussian")])
def test_feedforward_monte_carlo(init, weights):
    widths = _arpit_widths(200, 150, 12, seed=1)
    _check(rn.feedforward(widths, init=init, weights=weights), 64, 15)


def test_smooth_activations_monte_carlo():
    _check(rn.residual(128, 8, act="tanh", init="he", alpha=0.7), 64, 16, s0=0.5, bias=BIAS_SMOOTH)
    _check(rn.feedforward([128] * 9, act="tanh", gain=1.5, weights="gaussian"), 64, 17, s0=2.0, bias=BIAS_SMOOTH)


def test_relu_mean_field_is_exact_at_tiny_width():
    # the module's claim: for relu the mean-field growth is the exact expectation at any width (the
    # sign symmetry of the weight rows), so even width-4..10 networks match within sampling noise
    _check(rn.residual(6, 5, branch_widths=[10]), 4000, 18)
    _check(rn.feedforward([5, 7, 3, 6, 4], init="he"), 4000, 19)
    _check(rn.feedforward([5, 7, 3, 6, 4], weights="gaussian"), 4000, 20)


def test_sampling_is_seeded():
    net = rn.residual(16, 3, branch_widths=[12])
    a, b = net.sample(4, seed=3), rn.sample_growth(net, 4, seed=np.random.default_rng(3))
    np.testing.assert_array_equal(a.norm2, b.norm2)
    np.testing.assert_array_equal(a.jacobian, b.jacobian)
    assert not np.array_equal(a.norm2, net.sample(4, seed=4).norm2)
    assert a.norm2.shape == a.jacobian.shape == (4, 4) and a.cross.shape == a.branch.shape == (4, 3)


# ----------------------------------------------------------------------------------------------
# bad input
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: rn.feedforward([10]), "widths"),
        (lambda: rn.feedforward([10, 0]), "width"),
        (lambda: rn.feedforward("10 20"), "width"),
        (lambda: rn.feedforward([10, 10], init="xavier"), "init must be one of"),
        (lambda: rn.feedforward([10, 10], gain=0.0), "gain"),
        (lambda: rn.feedforward([10, 10], gain=float("nan")), "gain"),
        (lambda: rn.feedforward([10, 10], weights="uniform"), "weights must be one of"),
        (lambda: rn.residual(0, 3), "width"),
        (lambda: rn.residual(8, 0), "num_blocks"),
        (lambda: rn.residual(8, 2.5), "num_blocks"),
        (lambda: rn.residual(8, 3, alpha=float("inf")), "alpha"),
        (lambda: rn.residual(8, 3, branch_widths=[4, -1]), "branch width"),
        (lambda: rn.LayerSpec(4, 4, -1.0), "sigma_w2"),
        (lambda: rn.LayerSpec(4, 4, 1.0, weight_norm="yes"), "weight_norm"),
        (lambda: rn.Network("relu", []), "non-empty"),
        (lambda: rn.Network("relu", [rn.LayerSpec(4, 5, 1.0), rn.LayerSpec(4, 4, 1.0)]),
         "fan_in 4 but layer 1 has fan_out 5"),
        (lambda: rn.Network("relu", [rn.LayerSpec(4, 5, 1.0)], num_blocks=2), "R\\^N to R\\^N"),
        (lambda: rn.residual(8, 3).mean_field(s0=0.0), "s0"),
        (lambda: rn.residual(8, 3).sample(0), "n_networks"),
        (lambda: rn.residual(8, 3).sample(2, seed="abc"), "seed"),
        (lambda: rn.residual(8, 3).sample(2, s0=-1.0), "s0"),
        (lambda: rn.sample_growth("net", 2), "Network"),
        (lambda: rn.weight_normalize(np.zeros((2, 3)), 1.0), "zero row"),
        (lambda: rn.weight_normalize(np.ones((2, 3)), [1.0, 2.0, 3.0]), "broadcast"),
        (lambda: rn.weight_normalize(np.ones(3), 1.0), "fan_out, fan_in"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ParameterError, match=match):
        call()


def test_bad_activation_and_plot_quantity():
    with pytest.raises(ActivationError):
        rn.residual(8, 2, act="no_such_activation")
    mc = rn.residual(8, 2).sample(2, seed=0)
    with pytest.raises(SigpropError, match="quantity"):
        mc.plot(quantity="q")


def test_plot_draws_theory_and_monte_carlo():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mc = rn.residual(16, 6, init="he").sample(3, seed=0)
    ax = mc.plot()
    np.testing.assert_allclose(ax.lines[0].get_ydata(), 3.0 ** np.arange(7), rtol=1e-12)  # the mean-field line
    assert ax.get_yscale() == "log"  # 3^6 spans more than a factor 100
    ax2 = mc.plot(ax=plt.figure().gca(), quantity="jacobian", label="He")
    assert "He: mean field" in [t.get_text() for t in ax2.get_legend().get_texts()]
    plt.close("all")
