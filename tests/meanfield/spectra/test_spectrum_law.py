"""The Jacobian spectrum as a law of lambda with scipy.stats' method names (meanfield.laws.Law).

Independent routes:
- scipy itself where the spectrum is a scipy law in disguise: one Gaussian linear layer is
  Marchenko-Pastur with ratio 1, lambda / (4 sigma_w^2) ~ Beta(1/2, 3/2); relu with orthogonal weights
  at L = 2 is (1/2) delta_0 + (1/2) arcsine on [0, 4] (two free projections);
- deep spectra: the moments of the S-transform series against ``expect`` (the density integrated), the
  cdf and sf against composite Gauss-Legendre quadrature of ``pdf`` on nodes of its own (not the cdf's
  panels), and the Fuss-Catalan moments and kurtosis of linear Gaussian products.
"""
import numpy as np
import pytest
from numpy.polynomial import legendre
from scipy import special, stats

import meanfield as mf
from meanfield.errors import ParameterError
from meanfield.spectra.spectrum import jacobian_spectrum

_T, _W = legendre.leggauss(24)


def _integral(f, a, b, pieces=80):
    """int_a^b f by composite 24-point Gauss-Legendre on ``pieces`` equal panels, f called once (vectorized)."""
    edges = np.linspace(a, b, pieces + 1)
    mid, half = (edges[:-1] + edges[1:]) / 2, np.diff(edges) / 2
    v = mid[:, None] + half[:, None] * _T
    return float(np.sum(f(v.ravel()).reshape(v.shape) * _W * half[:, None]))


def _mass_between(s, lo, hi):
    """Continuous mass of the spectrum in [lo, hi] (0 < lo < hi): in log lambda, f(u) = lambda rho(lambda)."""
    return _integral(lambda u: np.exp(u) * s.pdf(np.exp(u)), np.log(lo), np.log(hi))


def _mass_below_edge(s, x, edge):
    """Continuous mass in [x, edge] for a square-root (or inverse-square-root) top edge: lambda = edge - w^2."""
    return _integral(lambda w: 2 * w * s.pdf(edge - w * w), 0.0, np.sqrt(edge - x), pieces=40)


def test_one_gaussian_linear_layer_is_scipys_beta():
    """Marchenko-Pastur (ratio 1, scale sigma_w^2): lambda = 4 sigma_w^2 B, B ~ Beta(1/2, 3/2)."""
    sw2 = 1.3
    s = jacobian_spectrum("linear", sw2, 0.0, 1, "gaussian")
    ref = stats.beta(0.5, 1.5, scale=4 * sw2)
    x = np.array([1e-12, 1e-6, 0.01, 0.5, 1.0, 2.0, 3.5, 5.0, 4 * sw2 * (1 - 1e-6)])
    np.testing.assert_allclose(s.pdf(x), ref.pdf(x), rtol=1e-7)
    np.testing.assert_allclose(s.logpdf(x), ref.logpdf(x), rtol=1e-7, atol=1e-7)
    for name in ("cdf", "sf", "logcdf", "logsf"):  # the panels: ~1e-10 of the mass; sf relative at the edge
        np.testing.assert_allclose(getattr(s, name)(x), getattr(ref, name)(x), rtol=1e-6, atol=1e-9, err_msg=name)
    q = np.array([1e-14, 1e-9, 1e-3, 0.1, 0.5, 0.9, 1 - 1e-6])
    np.testing.assert_allclose(s.ppf(q), ref.ppf(q), rtol=1e-8)
    np.testing.assert_allclose(s.isf(q), ref.isf(q), rtol=1e-8)
    np.testing.assert_allclose(s.stats("mvsk"), ref.stats("mvsk"), rtol=1e-12, atol=1e-12)
    assert s.std() == pytest.approx(ref.std(), rel=1e-12) and s.median() == pytest.approx(ref.median(), rel=1e-9)
    np.testing.assert_allclose(s.interval(0.9), ref.interval(0.9), rtol=1e-8)
    assert s.support() == pytest.approx(ref.support(), rel=1e-12)
    for k in range(1, 6):
        assert s.moment(k) == pytest.approx(ref.moment(k), rel=1e-11)
    assert s.kurtosis() == pytest.approx(float(ref.stats("k")), abs=1e-10)  # Fisher: 0 here
    assert s.kurtosis(fisher=False) == pytest.approx(float(ref.stats("k")) + 3, rel=1e-10)
    assert s.expect(np.sqrt) == pytest.approx(ref.expect(np.sqrt), rel=1e-8)
    assert s.expect(lambda t: t, lb=1, ub=2, conditional=True) == pytest.approx(
        ref.expect(lambda t: t, lb=1, ub=2, conditional=True), rel=1e-8)
    draws = s.rvs((40, 50), random_state=np.random.default_rng(3))
    assert draws.shape == (40, 50)
    assert stats.kstest(draws.ravel(), ref.cdf).pvalue > 1e-4  # seeded; a right sampler fails w.p. 1e-4


def test_relu_orthogonal_two_layers_is_half_an_atom_half_scipys_arcsine():
    """relu, orthogonal, L = 2, sigma_w^2 = 2: (1/2) delta_0 + (1/2) arcsine(scale 4); sf and isf stay
    relatively accurate near the top edge, where 1 - cdf cancels."""
    s = jacobian_spectrum("relu", 2.0, 0.0, 2, "orthogonal")
    arc = stats.arcsine(scale=4)
    x = np.array([1e-12, 1e-6, 0.5, 2.0, 3.9, 4 * (1 - 1e-8)])
    np.testing.assert_allclose(s.cdf(x), 0.5 + 0.5 * arc.cdf(x), rtol=1e-9)
    np.testing.assert_allclose(s.sf(x), 0.5 * arc.sf(x), rtol=1e-5)
    np.testing.assert_allclose(s.logsf(x), np.log(0.5 * arc.sf(x)), rtol=1e-6)
    np.testing.assert_allclose(s.logcdf(x), np.log(0.5 + 0.5 * arc.cdf(x)), rtol=1e-9, atol=1e-9)
    q = np.array([1e-12, 1e-3, 0.3])
    np.testing.assert_allclose(s.isf(q), arc.isf(2 * q), rtol=1e-8)
    assert s.isf(0.5) == 0.0 and s.isf(0.7) == 0.0 and s.ppf(0.5) == 0.0 and s.median() == 0.0  # the atom
    for k in range(1, 5):
        assert s.moment(k) == pytest.approx(0.5 * arc.moment(k), rel=1e-12)
        assert s.expect(lambda t, k=k: t**k) == pytest.approx(0.5 * arc.moment(k), rel=1e-8)
    m, v = 0.5 * arc.moment(1), 0.5 * arc.moment(2) - 0.25 * arc.moment(1) ** 2
    central4 = sum(special.comb(4, i) * 0.5 * arc.moment(i) * (-m) ** (4 - i) for i in range(1, 5)) + m**4
    assert s.kurtosis(fisher=False) == pytest.approx(central4 / v**2, rel=1e-11)
    assert s.stats("vk") == pytest.approx((v, central4 / v**2 - 3), rel=1e-11)
    lo, hi = s.interval(0.8)
    assert lo == 0.0 and hi == pytest.approx(float(arc.isf(0.2)), rel=1e-8)


@pytest.mark.parametrize("L", [2, 5])
def test_fuss_catalan_kurtosis_and_expect(L):
    """Linear Gaussian products: the Fuss-Catalan moments binom((L+1)k, k)/(Lk+1) sigma_w^(2Lk) give the
    kurtosis (Pearson and Fisher), and ``expect`` (the density integrated on the panels) gives them back."""
    sw2 = 1.1
    s = jacobian_spectrum("linear", sw2, 0.0, L, "gaussian")
    m = [1.0] + [special.comb((L + 1) * k, k, exact=True) / (L * k + 1) * sw2 ** (L * k) for k in range(1, 5)]
    central = [sum(special.comb(n, i) * m[i] * (-m[1]) ** (n - i) for i in range(n + 1)) for n in range(5)]
    assert s.kurtosis(fisher=False) == pytest.approx(central[4] / central[2] ** 2, rel=1e-10)
    assert s.kurtosis() == pytest.approx(central[4] / central[2] ** 2 - 3, rel=1e-10)
    assert s.skew() == pytest.approx(central[3] / central[2] ** 1.5, rel=1e-10)
    for k in (1, 2, 3):
        assert s.expect(lambda t, k=k: t**k) == pytest.approx(m[k], rel=1e-7)


@pytest.mark.parametrize("name,sb2,depth,weights", [("relu", 0.0, 8, "gaussian"), ("tanh", 0.05, 16, "gaussian"),
                                                    ("hardtanh", 0.05, 6, "orthogonal")])
def test_deep_spectra_against_quadrature_of_their_density(name, sb2, depth, weights):
    """Deep spectra (atoms at 0 and at the top for hard-tanh): moments of the S-transform series against
    expect; cdf differences and sf against Gauss-Legendre quadrature of pdf (in log lambda, and in
    w = sqrt(edge - lambda) at the top edge) to 1e-7 of the mass; cdf + sf = 1; ppf and isf invert."""
    s = jacobian_spectrum(name, mf.critical_sigma_w2(name, sb2), sb2, depth, weights)
    top = s.support()[1]
    for k in (1, 2, 3):
        assert s.expect(lambda t, k=k: t**k) == pytest.approx(s.moment(k), rel=1e-7)
    x = top * np.array([1e-20, 1e-12, 1e-6, 1e-2, 0.3])
    np.testing.assert_allclose(s.cdf(x) + s.sf(x), 1.0, rtol=0, atol=1e-14)
    for lo, hi in zip(x[:-1], x[1:]):
        assert s.cdf(hi) - s.cdf(lo) == pytest.approx(_mass_between(s, lo, hi), rel=1e-7, abs=1e-12)
    top_atom = sum(m for loc, m in s.atoms if loc == top)
    edge = top if top_atom == 0 else max(s.ppf(1 - top_atom - 1e-15), 0.0)  # the continuous part's top
    if top_atom == 0:
        for frac in (0.5, 0.99, 1 - 1e-5):
            sf = s.sf(frac * edge)
            assert sf == pytest.approx(_mass_below_edge(s, frac * edge, edge), rel=1e-6), frac
    q = np.array([1e-10, 1e-4, 0.2])
    np.testing.assert_allclose(s.sf(s.isf(q + top_atom)), q + top_atom, rtol=1e-8)
    p = s.atom + (1 - s.atom - top_atom) * np.array([1e-6, 0.01, 0.5])
    np.testing.assert_allclose(s.cdf(s.ppf(p)), p, rtol=1e-9)
    assert s.logcdf(x[0]) == pytest.approx(np.log(s.cdf(x[0])), rel=1e-12)


def test_law_arguments_as_scipy_takes_them():
    s = jacobian_spectrum("relu", 2.0, 0.0, 3, "gaussian")
    assert np.array_equal(s.rvs(5, random_state=7), s.rvs(5, random_state=np.random.default_rng(7)))
    assert s.rvs(size=(2, 3)).shape == (2, 3)
    assert s.cdf(-1.0) == 0.0 and s.cdf(np.inf) == 1.0 and s.pdf(-np.inf) == 0.0
    assert isinstance(s.cdf(1.0), float) and s.cdf([[1.0, 2.0]]).shape == (1, 2)
    assert s.moment(0) == 1.0
    with pytest.raises(ParameterError, match="moment order"):
        s.moment(9)  # the S-transform series stops at 8
    with pytest.raises(ParameterError):
        s.isf(-0.1)
    with pytest.raises(ParameterError):
        s.kurtosis(fisher="yes")
