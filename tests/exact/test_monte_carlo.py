"""Exact laws vs Monte Carlo of real sampled networks (net.sample: every weight and bias drawn through
meanfield.simulate), the route that shares no theory with the package.

Statistics: each KS comparison uses n independent networks (the layers of one network are dependent,
but each law is compared with one column, i.e. n iid draws).  The DKW bound at alpha = 1e-4 is
exceeded with probability <= 1e-4 for a correct law, and atoms only make the statistic smaller; over
the ~40 comparisons below a false alarm has probability < 0.5 %, and the fixed seeds make every run
identical.  Dead fractions are binomial counts: |z| < 4.5 (two-sided p ~ 7e-6 each).  Moments are
NOT compared here (for narrow deep nets they are carried by rare networks: notes R7).
"""
import numpy as np
import pytest

import exact
from meanfield.errors import ParameterError

ALPHA = 1e-4

CONFIGS = [
    # (widths, sigma_w2, sigma_b2, sharing, n_networks)
    ([3, 1, 1, 1, 1], 2.0, 0.0, False, 10000),  # width 1
    ([2] * 9 + [1], 2.0, 0.2, False, 10000),
    ([10] * 7 + [1], 2.0, 0.0, False, 10000),
    ([5] * 6 + [1], 1.5, 0.3, False, 10000),
    ([8] * 5 + [1], 3.0, 0.0, False, 10000),
    ([50] * 4 + [1], 2.0, 0.1, False, 3000),
    ([4, 2, 8, 3, 16, 1, 5, 1], 2.0, 0.0, False, 10000),  # mixed, with bottlenecks
    ([6, 4, 5, 3, 1], 1.0, 0.2, True, 10000),  # looks-linear, physical shared-weight net
    ([6, 4, 5, 3, 1], 1.0, 0.0, True, 10000),
]


@pytest.mark.parametrize("widths, sw2, sb2, sharing, n", CONFIGS)
def test_laws_match_sampled_networks(widths, sw2, sb2, sharing, n):
    net = exact.ReLUNetwork(widths, sw2, sb2, parameter_sharing=sharing)
    mc = net.sample(n, seed=sum(widths) + int(10 * sb2))
    L = net.depth
    hidden = sorted({1, (L + 1) // 2, L - 1})
    checks = [(mc.squared_norm[:, l - 1], net.squared_norm(l)) for l in hidden]
    checks += [(mc.preactivation_variance[:, l - 1], net.preactivation_variance(l)) for l in (2, L)]
    checks.append((mc.output, net.output()))
    for samples, law in checks:
        res = exact.ks_distance(samples, law, alpha=ALPHA)
        assert res.passed, (law, res)


def _z(count, n, p):
    return (count - n * p) / np.sqrt(n * p * (1 - p))


@pytest.mark.parametrize("sb2", [0.0, 0.4])
def test_dead_fractions(sb2):
    widths = [3, 2, 1, 2, 3, 1]
    net = exact.ReLUNetwork(widths, 2.0, sb2)
    n = 20000
    mc = net.sample(n, seed=11)
    dead = mc.squared_norm == 0.0
    for l in range(1, net.depth):
        p = net.squared_norm(l).atom
        assert abs(_z(dead[:, l - 1].sum(), n, p)) < 4.5
    p = net.dead_probability()
    assert abs(_z(dead.any(axis=1).sum(), n, p)) < 4.5
    assert abs(_z((mc.output == 0).sum(), n, net.output().atom)) < 4.5 if sb2 == 0 else (mc.output != 0).all()


def test_sample_record_and_seeds():
    net = exact.ReLUNetwork([3, 4, 2, 1], 2.0, 0.1, input_norm2=1.5)
    a = net.sample(7, seed=3)
    assert a.preactivation_variance.shape == (7, 3) and a["squared_norm"].shape == (7, 2) and a.output.shape == (7,)
    np.testing.assert_allclose(a.preactivation_variance[:, 0], 2.0 * 1.5 / 3 + 0.1, rtol=1e-15)
    np.testing.assert_allclose(a.preactivation_variance[:, 1], 0.1 + 2.0 * a.squared_norm[:, 0] / 4, rtol=1e-15)
    b = net.sample(7, seed=3)
    np.testing.assert_array_equal(a.output, b.output)
    assert not np.array_equal(a.output, net.sample(7, seed=4).output)
    with pytest.raises(AttributeError):
        a.nothing
    with pytest.raises(ParameterError):
        net.sample(5, progress="yes")


def test_sharing_sample_is_the_physical_looks_linear_net():
    """Zero bias, sharing: |x^l|^2 of the physical net equals |z^l|^2 of the linear template, so the
    sampled s^{l+1} = sigma_w^2 |x^l|^2 / n_l + sigma_b^2 and E|x^l|^2 = n_l q^l hold exactly per net."""
    net = exact.ReLUNetwork([5, 4, 6, 1], 1.0, 0.0, parameter_sharing=True)
    mc = net.sample(4000, seed=8)
    assert (mc.squared_norm > 0).all()  # no dead layers
    np.testing.assert_allclose(mc.preactivation_variance[:, 2], mc.squared_norm[:, 1] / 6, rtol=1e-14)
    # the mean over 4000 nets is within 5 standard errors of n_l q^l (relative sd sqrt(2/n) per layer)
    y = mc.squared_norm[:, 1]
    assert abs(y.mean() - 6 * net.mean_field()[1]) < 5 * y.std() / np.sqrt(y.size)
