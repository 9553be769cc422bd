"""The "exact" sweep quantity: Monte Carlo of Gaussian ReLU networks through meanfield.simulate.sweep.

Routes: network k equals ReLUNetwork.sample(1, seed=SeedSequence(seed, spawn_key=(i, k))) bit for bit;
the sampled s^L against its exact law (KS at the DKW bound with alpha = 1e-4: a correct law fails with
probability <= 1e-4; the seed is fixed) and its mean against the mean-field closed form
q^{l+1} = sigma_w^2 q^l / 2 + sigma_b^2 (E[s^l] = q^l at every width; 2000 networks, bound 5 standard
errors).
"""
import concurrent.futures as cf

import numpy as np
import pytest

import exact
from meanfield import simulate as sim
from meanfield.errors import ParameterError
from meanfield.simulate.quantities import get_quantity
from tests.meanfield.simulate.memory_helpers import sampled_peak

CONFIG = dict(activation="relu", sigma_w2=2.2, sigma_b2=0.1, depth=4, width=12, n0=5, input_norm2=3.0)


@pytest.fixture(scope="module")
def result():
    with cf.ThreadPoolExecutor(2) as ex:
        return sim.sweep([CONFIG, dict(CONFIG, activation="tanh")], "exact", 2000, 17, executor=ex, chunk_size=300)


def test_networks_are_those_of_relu_network_sample(result):
    net = exact.ReLUNetwork([5, 12, 12, 12, 12], 2.2, 0.1, input_norm2=3.0)
    mc = result.samples(0)
    for k in (0, 299, 300, 1999):
        one = net.sample(1, seed=np.random.SeedSequence(17, spawn_key=(0, k)))
        for key in ("preactivation_variance", "squared_norm", "output"):
            assert np.array_equal(one[key][0], mc[key][k]), (k, key)
    whole = net.sample(2000, seed=sim.NetworkStreams.spawn(17, (0,), 0, 2000))
    assert np.array_equal(whole.output, mc.output)


def test_sampled_laws_and_means_against_theory(result):
    net = exact.ReLUNetwork([5, 12, 12, 12, 12], 2.2, 0.1, input_norm2=3.0)
    s = result.samples(0).preactivation_variance[:, -1]
    assert exact.ks_distance(s, net.preactivation_variance(4), alpha=1e-4).passed
    q = 2.2 * 3.0 / 5 + 0.1
    for _ in range(3):
        q = 2.2 * q / 2 + 0.1
    stats = result.statistics()
    assert stats.s_theory[0] == pytest.approx(q, rel=1e-10)
    assert abs(stats.s[0] - q) < 5 * stats.s_se[0]
    assert stats.output_theory[0] == 0 and abs(stats.output[0]) < 5 * stats.output_se[0]


def test_stated_memory_bounds_the_measured_peak():
    q = exact.sweep.QUANTITY
    config = q.prepare(dict(CONFIG, width=60))
    peak = sampled_peak(q, config)
    assert 0.3 * 3 * q.memory(config) < peak <= 3 * q.memory(config)


def test_the_quantity_is_registered_and_refuses_what_has_no_exact_law(result):
    assert get_quantity("exact") is exact.sweep.QUANTITY and get_quantity(exact.sweep.QUANTITY) is exact.sweep.QUANTITY
    assert "relu" in result.errors[1] and "gaussian" in result.errors[1]
    assert isinstance(exact.ExactReLUQuantity(), sim.SweepQuantity)
    with pytest.raises(ParameterError, match="NetworkStreams"):
        exact.ReLUNetwork([3, 4, 1], 1.0, 0.0, parameter_sharing=True).sample(2, seed=sim.NetworkStreams.spawn(1, (), 0, 2))
    with pytest.raises(ParameterError, match="n_networks=3"):
        exact.ReLUNetwork([3, 4, 1]).sample(3, seed=sim.NetworkStreams.spawn(1, (), 0, 2))
