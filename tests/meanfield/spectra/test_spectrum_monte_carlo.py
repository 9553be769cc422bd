"""Free-probability spectra vs the eigenvalues of J J^T of real sampled networks (N >= 1000).

KS bound: the DKW inequality at alpha = 1e-3 for the number of networks times N eigenvalues is
conservative here (eigenvalues of one matrix repel, so their empirical CDF fluctuates less than an
i.i.d. sample's); on top comes the finite-width bias of order 1/N (measured: KS 0.002-0.008 at
N = 1000 in 20-seed sweeps), so the tolerance is the DKW bound plus 5/N.  Deep relu-like spectra put
most of their mass below 1e-8 lambda_max, which a double-precision J cannot resolve: they are
compared above that floor, and the mass below it is compared separately.
"""
import pytest

import meanfield as mf
from meanfield.simulate import jacobian_singular_values, ks_bound, ks_distance

N, NETWORKS = 1000, 2


@pytest.mark.slow
@pytest.mark.parametrize(
    "name,sb2,depth,weights",
    [
        ("relu", 0.0, 8, "orthogonal"),
        ("relu", 0.0, 4, "gaussian"),
        ("tanh", 0.05, 16, "orthogonal"),
        ("linear", 0.0, 4, "gaussian"),
        ("hardtanh", 0.05, 4, "orthogonal"),
    ],
)
def test_theory_matches_sampled_networks(name, sb2, depth, weights):
    sw2 = {"relu": 2.0, "linear": 1.0}.get(name) or mf.critical_sigma_w2(name, sb2)
    theory = mf.jacobian_spectrum(name, sw2, sb2, depth, weights)
    samples = jacobian_singular_values(name, sw2, sb2, depth, N, weights=weights, n_networks=NETWORKS, seed=7)
    floor = 1e-8 * theory.support()[1]
    result = ks_distance(samples, theory, floor=floor)
    bound = ks_bound(N * NETWORKS) + 5.0 / N
    assert result.statistic < bound
    assert abs(result.mass_below_floor_empirical - result.mass_below_floor_theory) < bound
    # the largest sampled eigenvalue sits near the edge (finite-N fluctuations are O(N^-2/3))
    assert samples.lam.max() < theory.support()[1] * 1.15


@pytest.mark.slow
@pytest.mark.parametrize("weights", ["orthogonal", "gaussian"])
def test_comparison_conditioned_on_the_sampled_active_fractions(weights):
    # one network: its layers' active fractions fluctuate by sqrt(p(1-p)/N); the theory with those
    # sampled fractions (layer-dependent Bernoulli laws) is the fair reference, and at least as close
    from meanfield.simulate import conditioned_bernoulli_p
    from meanfield.spectra.spectrum import JacobianSpectrum

    L = 8
    samples = jacobian_singular_values("relu", 2.0, 0.0, L, N, weights=weights, n_networks=1, seed=11)
    p = conditioned_bernoulli_p(samples)[0]
    conditioned = JacobianSpectrum.bernoulli_layers(p, 2.0, weights)
    generic = mf.jacobian_spectrum("relu", 2.0, 0.0, L, weights)
    floor = 1e-8 * generic.support()[1]
    ks_conditioned = ks_distance(samples, conditioned, floor=floor).statistic
    assert ks_conditioned < ks_bound(N) + 5.0 / N
    assert ks_conditioned <= ks_distance(samples, generic, floor=floor).statistic + 2.0 / N
