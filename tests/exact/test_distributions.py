"""The distribution objects of exact: conventions (atoms, ppf), inversion, symmetry, sampling.

rvs draws from the exact Markov chain (binomial active counts and chi^2 draws), which shares nothing
with the grid: KS of rvs against the grid CDF is an independent check of the numerics.  Seeded:
5000 samples per law; the DKW bound at alpha = 1e-4 per comparison is exceeded with probability
<= 1e-4 for a correct law (and with atoms the statistic is only smaller), so over the ~20
comparisons here a false failure has probability < 0.2 % and a fixed seed makes the outcome
deterministic.  The power check below shows that the same bound rejects a slightly wrong law.
"""
import numpy as np
import pytest

import exact
from meanfield.errors import ParameterError

NETS = {
    "narrow": exact.ReLUNetwork([3, 2, 3, 2, 1], 2.0, 0.0),
    "bias": exact.ReLUNetwork([4, 3, 1, 5, 1], 1.5, 0.3),
    "wide": exact.ReLUNetwork([20] * 4, 2.0, 0.1),
    "sharing": exact.ReLUNetwork([4, 3, 5, 1], 1.0, 0.2, parameter_sharing=True),
}


def _laws(net):
    L = net.depth
    return [net.squared_norm(l) for l in range(1, L)] + [net.preactivation_variance(L), net.output()]


@pytest.mark.parametrize("key", list(NETS))
def test_ppf_inverts_cdf(key):
    for law in _laws(NETS[key]):
        a = sum(m for _, m in law.atoms)  # s^L with bias: the atom sits at sigma_b^2, the bottom of the support
        if isinstance(law, exact.ScaleMixtureLaw):
            p = np.concatenate([np.linspace(1e-6, (1 - a) / 2 * 0.999, 15), np.linspace(1 - (1 - a) / 2 * 0.999, 1 - 1e-6, 15)])
        else:
            p = a + (1 - a) * np.array([1e-9, 1e-4, 0.01, 0.3, 0.5, 0.7, 0.99, 1 - 1e-4, 1 - 1e-9])
            if law.atoms and law.atoms[0][0] > 0:  # x = sigma_b^2 + tiny is not representable near the atom
                p = p[1:]
        x = law.ppf(p)
        np.testing.assert_allclose(law.cdf(x), p, rtol=0, atol=1e-12)
        upper = p > 0.5
        np.testing.assert_allclose(law.sf(x[upper]), 1 - p[upper], rtol=1e-9, atol=1e-15)
        mid = (p > 1e-5) & (p < 0.99)  # away from the tails, where p -> x is ill-conditioned
        np.testing.assert_allclose(law.ppf(law.cdf(x[mid])), x[mid], rtol=1e-9)


def test_atom_conventions_positive_law():
    law = NETS["narrow"].squared_norm(2)
    a = law.atom
    assert a == pytest.approx(1 - (1 - 1 / 4) * (1 - 1 / 8), rel=1e-15)
    assert law.atoms == [(0.0, a)]
    assert law.ppf(0.0) == 0.0 and law.ppf(a) == 0.0 and law.ppf(a / 2) == 0.0
    assert law.ppf(a + 1e-9) > 0 and law.ppf(1.0) == np.inf
    assert law.cdf(0.0) == a and law.cdf(-1.0) == 0.0
    assert law.pdf(0.0) == 0.0 and law.pdf(-1.0) == 0.0  # the atom is not in the density
    assert law.sf(0.0) == pytest.approx(1 - a, abs=1e-15)
    x = np.array([0.01, 1.0, 10.0])
    np.testing.assert_allclose(law.cdf(x) + law.sf(x), 1.0, rtol=0, atol=1e-14)
    assert isinstance(law.cdf(1.0), float) and law.cdf(np.ones((2, 3))).shape == (2, 3)


def test_atom_conventions_output_law():
    out = NETS["narrow"].output()
    a = out.atom
    assert a > 0 and out.atoms == [(0.0, a)]
    assert out.cdf(0.0) == pytest.approx((1 + a) / 2, abs=1e-14)
    assert out.cdf(-1e-300) == pytest.approx((1 - a) / 2, abs=1e-14)
    for p in ((1 - a) / 2 + 1e-6, 0.5, (1 + a) / 2 - 1e-6):
        assert out.ppf(p) == 0.0
    assert out.ppf(0.0) == -np.inf and out.ppf(1.0) == np.inf
    assert out.ppf(0.5 * (1 - a) * 0.5) < 0
    z = np.array([0.01, 0.5, 2.0, 8.0])
    np.testing.assert_allclose(out.pdf(-z), out.pdf(z), rtol=1e-15)
    np.testing.assert_allclose(out.cdf(-z), out.sf(z), rtol=1e-15)
    assert out.pdf(0.0) == np.inf  # zero bias: log singularity at 0
    assert np.isfinite(NETS["bias"].output().pdf(0.0))
    assert NETS["bias"].output().atom == 0.0 and NETS["bias"].output().atoms == []


@pytest.mark.parametrize("key", list(NETS))
def test_rvs_chain_sampler_matches_grid_laws(key):
    for i, law in enumerate(_laws(NETS[key])):
        samples = law.rvs(5000, random_state=100 + i)
        res = exact.ks_distance(samples, law, alpha=1e-4)
        assert res.passed, (law, res)


def test_ks_distance_rejects_a_wrong_law():
    """Power: 5000 samples of |x^2|^2 at sigma_w^2 = 2 are rejected against the law at sigma_w^2 = 2.6."""
    right = exact.ReLUNetwork([4, 3, 3, 1], 2.0, 0.0).squared_norm(2)
    wrong = exact.ReLUNetwork([4, 3, 3, 1], 2.6, 0.0).squared_norm(2)
    samples = right.rvs(5000, random_state=5)
    assert exact.ks_distance(samples, right, alpha=1e-4).passed
    res = exact.ks_distance(samples, wrong, alpha=1e-4)
    assert not res.passed and res.statistic > 2 * res.bound


def test_rvs_shape_and_seed():
    law = NETS["bias"].output()
    a = law.rvs((3, 4), random_state=1)
    assert a.shape == (3, 4)
    np.testing.assert_array_equal(a, law.rvs((3, 4), random_state=1))
    assert not np.array_equal(a, law.rvs((3, 4), random_state=2))
    with pytest.warns(DeprecationWarning, match="random_state"):  # the old keyword, for one release
        np.testing.assert_array_equal(a, law.rvs((3, 4), seed=1))
    with pytest.raises(ParameterError):
        law.rvs(0)
    with pytest.raises(ParameterError):
        law.rvs(3, random_state="x")


def test_moment_shortcuts():
    law = NETS["bias"].squared_norm(3)
    assert law.moment(0) == 1.0
    assert law.var() == pytest.approx(law.moment(2) - law.mean() ** 2, rel=1e-13)
    assert law.std() == pytest.approx(np.sqrt(law.var()), rel=1e-15)
    out = NETS["bias"].output()
    assert out.var() == pytest.approx(out.moment(2), rel=1e-15)
    assert out.kurtosis(fisher=False) == pytest.approx(out.moment(4) / out.moment(2) ** 2, rel=1e-15)
    assert out.kurtosis() == pytest.approx(out.moment(4) / out.moment(2) ** 2 - 3, rel=1e-13)


def test_ks_distance_bad_input():
    with pytest.raises(ParameterError):
        exact.ks_distance([1.0, 2.0], lambda x: x)
    with pytest.raises(ParameterError):
        exact.ks_distance([1.0, np.nan], NETS["wide"].output())
    with pytest.raises(ParameterError):
        exact.ks_distance([1.0, 2.0], NETS["wide"].output(), alpha=2.0)
