"""The joint law of the output vector (ReLUNetwork.outputs) and of two inputs' outputs (two_inputs).

Independent routes:
- one hidden layer of width 1 (widths [n0, 1, m]): |x^1|^2 = s^1 Z^2 when the unit is active
  (probability 1/2) and 0 otherwise, so s^2 = sigma_b^2 + c Z^2 (c = sigma_w^2 s^1) or sigma_b^2, and
  the output vector's density is a closed form: without bias (Gradshteyn-Ryzhik 3.471.9)
      p(h) = 1/2 * 2/sqrt(2 pi) (2 pi c)^{-m/2} (2a)^{(1-m)/4} K_{(m-1)/2}(sqrt(2a)),  a = |h|^2 / (2c),
  and with bias a one-dimensional scipy quadrature over Z;
- Monte Carlo of real sampled networks (net.sample: every weight drawn), KS with the DKW bound at
  alpha = 1e-4 for 8000 networks per configuration (a correct law fails a comparison with probability
  <= 1e-4; seeded): |h^L|^2 against norm2(), u . h^L against projection(u), and the direction
  h_1^2 / |h|^2 ~ Beta(1/2, (m-1)/2) (scipy.stats.beta), which holds for any Gaussian scale mixture
  N(0, s I) and tests the joint structure;
- two inputs through one layer: scipy.stats.multivariate_normal of the stacked vector, and direct
  numpy sampling of (W x + b, W x' + b).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, special, stats

import exact
from meanfield import simulate as mfsim
from meanfield.errors import ParameterError

ALPHA = 1e-4


def _width1_closed_form(h, c):
    """Continuous density of h in R^m for s = c Z^2 with probability 1/2 (zero bias, width-1 layer)."""
    h = np.atleast_2d(h)
    m = h.shape[-1]
    a = np.sum(h * h, axis=-1) / (2 * c)
    return 0.5 * 2 / math.sqrt(2 * math.pi) * (2 * math.pi * c) ** (-m / 2) * (2 * a) ** ((1 - m) / 4) * special.kv((m - 1) / 2, np.sqrt(2 * a))


@pytest.mark.parametrize("m", [1, 2, 3])
def test_width_one_layer_zero_bias_closed_form(m):
    sw2, r = 1.7, 2.5
    net = exact.ReLUNetwork([4, 1, m], sw2, 0.0, input_norm2=r)
    s1 = sw2 * r / 4
    c = sw2 * s1  # s^2 = sw2 |x^1|^2 / 1 = sw2 s1 Z^2 when the unit is active
    joint = net.outputs()
    assert joint.atom == 0.5 and joint.continuous_mass == 0.5
    h = np.random.default_rng(m).normal(size=(6, m)) * np.array([[0.01], [0.3], [1.0], [2.0], [5.0], [12.0]])
    np.testing.assert_allclose(joint.pdf(h), _width1_closed_form(h, c), rtol=1e-9)
    np.testing.assert_allclose(joint.logpdf(h), np.log(_width1_closed_form(h, c)), rtol=1e-10)
    assert joint.pdf(np.zeros(m)) == np.inf  # zero bias: E[s^{-m/2}] = inf
    # a projection is the same law in one dimension with c |u|^2; its cdf from the closed-form density
    u = np.linspace(0.5, 1.5, m)
    proj = joint.projection(u)
    cu = c * float(u @ u)
    for z in (0.2, 1.0, 4.0):
        assert proj.pdf(z) == pytest.approx(float(_width1_closed_form([[z]], cu)[0]), rel=1e-9)
        tail, _ = integrate.quad(lambda t: float(_width1_closed_form([[t]], cu)[0]), z, np.inf, epsabs=0, epsrel=1e-12)
        assert proj.sf(z) == pytest.approx(tail, rel=1e-9)


def test_width_one_layer_with_bias_against_quadrature():
    sw2, sb2, m = 2.0, 0.3, 2
    net = exact.ReLUNetwork([3, 1, m], sw2, sb2)
    s1 = sw2 + sb2
    c = sw2 * s1
    joint = net.outputs()
    assert joint.atom == 0.0

    def dens(h):  # 1/2 N(0, sb2 I) + 1/2 E_Z N(0, (sb2 + c Z^2) I)
        r2 = float(np.sum(np.square(h)))
        g = lambda s: (2 * math.pi * s) ** (-m / 2) * math.exp(-r2 / (2 * s))  # noqa: E731
        alive, _ = integrate.quad(lambda z: 2 * stats.norm.pdf(z) * g(sb2 + c * z * z), 0, np.inf, epsabs=0, epsrel=1e-12, limit=200)
        return 0.5 * g(sb2) + 0.5 * alive

    for h in ([0.0, 0.0], [0.1, -0.2], [1.0, 2.0], [-4.0, 6.0]):
        assert joint.pdf(np.array(h)) == pytest.approx(dens(h), rel=1e-9)


CONFIGS = [
    # widths, sigma_w2, sigma_b2, sharing
    ([4, 3, 3, 3], 2.0, 0.0, False),
    ([5, 2, 4, 3], 1.5, 0.2, False),
    ([4, 3, 5, 4], 1.0, 0.1, True),
]


@pytest.mark.parametrize("widths, sw2, sb2, sharing", CONFIGS)
def test_joint_law_against_sampled_networks(widths, sw2, sb2, sharing):
    """8000 real networks each: KS of |h|^2, of a projection, and of the direction h_1^2/|h|^2."""
    net = exact.ReLUNetwork(widths, sw2, sb2, parameter_sharing=sharing)
    h = net.sample(8000, seed=sum(widths))["outputs"]
    joint = net.outputs()
    m = widths[-1]
    u = np.arange(1.0, m + 1) * (-1) ** np.arange(m)
    for samples, law in ((np.sum(h * h, axis=1), joint.norm2()), (h @ u, joint.projection(u))):
        res = exact.ks_distance(samples, law, alpha=ALPHA)
        assert res.passed, (law, res)
    live = np.any(h != 0, axis=1)
    ratio = h[live, 0] ** 2 / np.sum(h[live] ** 2, axis=1)
    beta = stats.beta(0.5, (m - 1) / 2)
    res = mfsim.ks_distance(ratio, beta.cdf)
    assert res.statistic <= mfsim.ks_bound(ratio.size, ALPHA)
    # and the law's own sampler agrees with the sampled networks' norms
    draws = joint.rvs(8000, random_state=1)
    assert draws.shape == (8000, m)
    assert exact.ks_distance(np.sum(draws**2, axis=1), joint.norm2(), alpha=ALPHA).passed


def test_joint_law_api():
    net = exact.ReLUNetwork([3, 4, 2], 2.0, 0.1)
    joint = net.outputs()
    assert joint.dim == 2 and joint.rvs((3, 5), random_state=0).shape == (3, 5, 2)
    assert joint.logpdf(np.ones((4, 3, 2))).shape == (4, 3) and isinstance(joint.logpdf([1.0, 2.0]), float)
    np.testing.assert_allclose(joint.mean(), 0.0)
    assert joint.cov()[0, 0] == pytest.approx(net.mean_field()[-1], rel=1e-13)
    assert np.isfinite(joint.pdf(np.zeros(2)))  # with bias the density at 0 is finite
    for call, fragment in ((lambda: joint.pdf([1.0, 2.0, 3.0]), "shape"), (lambda: joint.projection([0.0, 0.0]), "zero"),
                           (lambda: joint.projection([1.0]), "length"), (lambda: joint.rvs(10**8), "at most")):
        with pytest.raises(ParameterError, match=fragment):
            call()


def test_two_inputs_one_layer_is_bivariate_normal():
    n0, m, sw2, sb2 = 4, 3, 1.7, 0.25
    net = exact.ReLUNetwork([n0, m], sw2, sb2)
    x, xp = np.array([1.0, -0.5, 2.0, 0.3]), np.array([0.2, 1.0, 1.5, -1.0])
    law = net.two_inputs(x, xp)
    gram = sw2 / n0 * np.array([[x @ x, x @ xp], [x @ xp, xp @ xp]]) + sb2
    np.testing.assert_allclose(law.gram, gram, rtol=1e-14)
    assert law.correlation == pytest.approx(gram[0, 1] / math.sqrt(gram[0, 0] * gram[1, 1]), rel=1e-14)
    rng = np.random.default_rng(0)
    h, hp = rng.normal(size=(5, m)), rng.normal(size=(5, m))
    stacked = np.stack([h, hp], axis=-1).reshape(5, 2 * m)  # (h_1, h'_1, h_2, h'_2, ...)
    mvn = stats.multivariate_normal(np.zeros(2 * m), np.kron(np.eye(m), gram))
    np.testing.assert_allclose(law.logpdf(h, hp), mvn.logpdf(stacked), rtol=1e-13)
    # real networks (numpy, independent of the package): 20000 draws of W x + b, W x' + b
    n = 20000
    W = rng.normal(scale=math.sqrt(sw2 / n0), size=(n, m, n0))
    b = rng.normal(scale=math.sqrt(sb2), size=(n, m))
    a = np.array([0.7, -1.3])
    proj = a[0] * (W @ x + b)[:, 0] + a[1] * (W @ xp + b)[:, 0]
    d = stats.norm(scale=math.sqrt(a @ gram @ a))
    assert mfsim.ks_distance(proj, d.cdf).statistic <= mfsim.ks_bound(n, ALPHA)
    draws = law.rvs(n, random_state=2)
    assert draws.shape == (n, 2, m)
    assert mfsim.ks_distance(a[0] * draws[:, 0, 1] + a[1] * draws[:, 1, 1], d.cdf).statistic <= mfsim.ks_bound(n, ALPHA)


def test_two_inputs_refused_where_not_exact():
    net = exact.ReLUNetwork([4, 3, 2], 2.0, 0.1)
    with pytest.raises(ParameterError, match="exact only for one weight layer"):
        net.two_inputs(np.ones(4), np.arange(4.0))
    one = exact.ReLUNetwork([2, 3], 2.0, 0.0)
    with pytest.raises(ParameterError, match="singular"):
        one.two_inputs([1.0, 2.0], [2.0, 4.0]).logpdf(np.zeros(3), np.zeros(3))
    with pytest.raises(ParameterError, match="length n_0"):
        one.two_inputs([1.0, 2.0, 3.0], [1.0, 0.0])
