"""meanfield.laws.Law: the methods it derives from the small contract, against scipy.stats itself.

Two laws are written here with the contract only (atoms, support, _pdf, _cdf, _sf, _moment): a
Gaussian, and a gamma law with two atoms (at 0 and inside the support).  Every derived method (ppf,
isf, interval, median, stats, skew, kurtosis, expect, logcdf, logsf, rvs) is compared with scipy's
own methods for the same law, or with closed forms of the mixture; rvs by inversion with a KS test
(20 000 draws, DKW bound at alpha = 1e-6: a correct sampler fails with probability 1e-6; seeded).
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import stats

from meanfield import simulate as mfsim
from meanfield.errors import ParameterError
from meanfield.laws import MAX_MOMENT_ORDER, MAX_SAMPLES, Law


class Gaussian(Law):
    def __init__(self, mu, sigma):
        self.d = stats.norm(mu, sigma)

    atoms = []

    def support(self):
        return (-np.inf, np.inf)

    def _pdf(self, x):
        return self.d.pdf(x)

    def _cdf(self, x):
        return self.d.cdf(x)

    def _sf(self, x):
        return self.d.sf(x)

    def _moment(self, k):
        return self.d.moment(k)


class GammaWithAtoms(Law):
    """mass 0.2 at 0, 0.1 at 2.0, 0.7 Gamma(2.5, scale 1.3)."""

    G = stats.gamma(2.5, scale=1.3)
    W = 0.7

    @property
    def atoms(self):
        return [(0.0, 0.2), (2.0, 0.1)]

    def support(self):
        return (0.0, np.inf)

    def _pdf(self, x):
        return self.W * self.G.pdf(x)

    def _cdf(self, x):
        return 0.2 * (x >= 0) + 0.1 * (x >= 2.0) + self.W * self.G.cdf(x)

    def _sf(self, x):
        return 0.2 * (x < 0) + 0.1 * (x < 2.0) + self.W * self.G.sf(x)

    def _moment(self, k):
        return 0.1 * 2.0**k + self.W * self.G.moment(k) + (0.2 if k == 0 else 0.0)


def test_gaussian_derived_methods_equal_scipy():
    law, ref = Gaussian(0.3, 1.7), stats.norm(0.3, 1.7)
    p = np.array([1e-300, 1e-20, 1e-5, 0.2, 0.5, 0.9, 1 - 1e-12])
    np.testing.assert_allclose(law.ppf(p), ref.ppf(p), rtol=1e-12)
    q = np.array([1e-300, 1e-100, 1e-8, 0.3, 0.999])
    np.testing.assert_allclose(law.isf(q), ref.isf(q), rtol=1e-12)
    lo, hi = law.interval([0.5, 0.99])
    np.testing.assert_allclose(np.array([lo, hi]), np.array(ref.interval([0.5, 0.99])), rtol=1e-12)
    assert law.median() == pytest.approx(0.3, rel=1e-13)
    m, v, s, k = law.stats("mvsk")
    assert (m, v) == pytest.approx((0.3, 1.7**2), rel=1e-13) and abs(s) < 1e-12 and abs(k) < 1e-12
    assert law.kurtosis(fisher=False) == pytest.approx(3.0, rel=1e-13)
    assert law.std() == pytest.approx(1.7, rel=1e-14)
    x = np.array([-3.0, 0.0, 2.5])
    np.testing.assert_allclose(law.logcdf(x), ref.logcdf(x), rtol=1e-13)
    np.testing.assert_allclose(law.logsf(x), ref.logsf(x), rtol=1e-13)
    assert law.expect(lambda t: t * t) == pytest.approx(1.7**2 + 0.3**2, rel=1e-9)
    assert law.expect(lambda t: 1.0, lb=0.3) == pytest.approx(0.5, rel=1e-9)
    assert law.expect(lambda t: t, lb=0.3, conditional=True) == pytest.approx(ref.expect(lambda t: t, lb=0.3, conditional=True), rel=1e-8)
    assert law.cdf(-np.inf) == 0.0 and law.cdf(np.inf) == 1.0 and law.pdf(np.inf) == 0.0
    assert law.logpdf(-np.inf) == -np.inf and law.sf(-np.inf) == 1.0
    assert law.continuous_mass == 1.0 and law.atom == 0.0


def test_atoms_in_ppf_isf_moments_and_expect():
    law, g = GammaWithAtoms(), GammaWithAtoms.G
    # ppf: 0 inside the atom at 0, 2.0 inside the jump at 2.0, else the gamma quantile of the rest
    F2 = 0.2 + 0.7 * g.cdf(2.0)  # cdf just below 2
    p = np.array([0.0, 0.1, 0.2, 0.2 + 1e-4, 0.3, F2 + 0.05, F2 + 0.1, 0.9, 1 - 1e-10])
    expected = np.where(p <= 0.2, 0.0, g.ppf(np.clip((p - 0.2) / 0.7, 0, 1)))
    expected = np.where((p > F2) & (p <= F2 + 0.1), 2.0, expected)
    upper = p > F2 + 0.1
    expected[upper] = g.isf((1 - p[upper]) / 0.7)  # 1 - p is exact in double, p - 0.3 is not
    np.testing.assert_allclose(law.ppf(p), expected, rtol=1e-11, atol=1e-13)
    assert law.cdf(law.ppf(0.3)) >= 0.3 - 1e-12
    assert 0 < law.ppf(0.2 + 1e-9) < 1e-3 and law.cdf(law.ppf(0.2 + 1e-9)) == pytest.approx(0.2 + 1e-9, abs=1e-15)
    q = np.array([1e-200, 1e-6, 0.05, 1 - F2 - 0.05, 0.75, 0.8, 0.95])
    # sf(x) = 0.1 [x < 2] + 0.7 G.sf(x) for x >= 0; sf(0) = 0.8; the jump at 2 holds q in [1 - F2 - 0.1, 1 - F2)
    exp_isf = np.array([g.isf(1e-200 / 0.7), g.isf(1e-6 / 0.7), g.isf(0.05 / 0.7), 2.0, g.ppf(0.05 / 0.7), 0.0, 0.0])
    np.testing.assert_allclose(law.isf(q), exp_isf, rtol=1e-11, atol=1e-13)
    # moments: mixture closed forms; central moments and kurtosis from them
    raw = [0.1 * 2.0**k + 0.7 * g.moment(k) + (0.2 if k == 0 else 0) for k in range(5)]
    m = raw[1]
    central = [sum(math.comb(k, i) * raw[i] * (-m) ** (k - i) for i in range(k + 1)) for k in range(5)]
    assert law.mean() == pytest.approx(m, rel=1e-14) and law.var() == pytest.approx(central[2], rel=1e-13)
    assert law.skew() == pytest.approx(central[3] / central[2] ** 1.5, rel=1e-12)
    assert law.kurtosis() == pytest.approx(central[4] / central[2] ** 2 - 3, rel=1e-12)
    assert law.stats("k") == law.kurtosis() and law.stats() == (law.mean(), law.var())
    assert law.expect(lambda t: t**2) == pytest.approx(raw[2], rel=1e-9)
    assert law.expect(lambda t: 1.0, lb=1.0, ub=3.0) == pytest.approx(0.1 + 0.7 * (g.cdf(3.0) - g.cdf(1.0)), rel=1e-9)
    assert law.atom == 0.2 and law.continuous_mass == pytest.approx(0.7, rel=1e-15)
    assert law.logcdf(-1.0) == -np.inf and law.logcdf(0.0) == pytest.approx(math.log(0.2), rel=1e-15)


def test_rvs_by_inversion_and_random_state():
    law = GammaWithAtoms()
    x = law.rvs(20000, random_state=3)
    res = mfsim.ks_distance(x, law.cdf, atoms=law.atoms)
    assert res.statistic <= mfsim.ks_bound(x.size, 1e-6)
    np.testing.assert_array_equal(x, law.rvs(20000, random_state=np.random.default_rng(3)))
    assert law.rvs((2, 3), random_state=np.random.RandomState(0)).shape == (2, 3)
    assert law.rvs(4, random_state=None).shape == (4,)
    with pytest.warns(DeprecationWarning, match="random_state"):
        old = law.rvs(5, seed=3)
    np.testing.assert_array_equal(old, x[:5])
    with warnings.catch_warnings(), pytest.raises(ParameterError, match="not both"):
        warnings.simplefilter("ignore")
        law.rvs(5, random_state=1, seed=2)


@pytest.mark.parametrize("call,fragment", [
    (lambda law: law.cdf(np.nan), "NaN"),
    (lambda law: law.ppf(1.5), "probabilities"),
    (lambda law: law.isf(-0.1), "probabilities"),
    (lambda law: law.moment(MAX_MOMENT_ORDER + 1), f"0..{MAX_MOMENT_ORDER}"),
    (lambda law: law.moment(2.5), "integer"),
    (lambda law: law.rvs(MAX_SAMPLES + 1), "at most"),
    (lambda law: law.rvs(10**12), "between 1 and"),
    (lambda law: law.rvs(3, random_state="x"), "random_state"),
    (lambda law: law.stats("mq"), "mvsk"),
    (lambda law: law.kurtosis(fisher="yes"), "fisher"),
    (lambda law: law.expect(3.0), "callable"),
    (lambda law: law.cdf("1"), "real"),
])
def test_bad_input(call, fragment):
    with pytest.raises(ParameterError, match=fragment):
        call(GammaWithAtoms())
