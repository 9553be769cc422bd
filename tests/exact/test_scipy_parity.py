"""The exact laws that are scipy distributions in disguise, against scipy.stats itself; almost surely
dead networks against the mpmath reference; the log-methods in the tails.

- s^1 is a point mass; |x^1|^2 given s^1 is a binomial mixture of scaled chi^2 laws (scipy chi2 with
  binomial weights); the output of a net without hidden layers is N(0, s^1) (scipy norm), its vector
  N(0, s^1 I) (scipy multivariate_normal), its |h|^2 = s^1 chi^2_{n_L} (scipy chi2).  Every scipy-named
  method is compared, at 1e-12 relative (quantiles through scipy's own cdf/sf at them).
- width 1, 100 hidden layers, zero bias: the atom rounds to 1, the continuous mass 2^-100 does not;
  the continuous part against the reference's Mellin inversion (30 digits, tests/exact/reference_exact.py);
  var() of [1]*61 (formerly 0.0) against the mpmath moment recursion.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import exact
from tests.exact import reference_exact as ref

mp = ref.mp


def test_first_layer_preactivation_variance_is_a_point_mass():
    net = exact.ReLUNetwork([3, 5, 4, 1], 1.7, 0.4, input_norm2=2.2)
    s1 = 1.7 * 2.2 / 3 + 0.4
    law = net.preactivation_variance(1)
    assert law.atoms == [(pytest.approx(s1, rel=1e-15), 1.0)] and law.support() == (law.c0, law.c0)
    assert law.ppf(0.3) == law.c0 and law.isf(0.3) == law.c0 and law.median() == law.c0
    assert law.interval(0.9) == (law.c0, law.c0) and law.var() == 0.0 and math.isnan(law.kurtosis())
    assert law.expect(lambda s: s**3) == pytest.approx(s1**3, rel=1e-14)
    assert law.logcdf(law.c0) == 0.0 and law.logsf(law.c0) == -np.inf and law.logpdf(law.c0) == -np.inf
    assert (law.rvs(5, random_state=0) == law.c0).all()


def _chi2_mixture(n, s):
    """|x^1|^2 = s chi^2_K, K ~ Bin(n, 1/2): scipy chi2 laws with binomial weights (k = 0: an atom)."""
    w = stats.binom.pmf(np.arange(n + 1), n, 0.5)
    laws = [stats.chi2(k, scale=s) for k in range(1, n + 1)]
    cdf = lambda x: w[0] + sum(wk * d.cdf(x) for wk, d in zip(w[1:], laws))  # noqa: E731
    sf = lambda x: sum(wk * d.sf(x) for wk, d in zip(w[1:], laws))  # noqa: E731
    pdf = lambda x: sum(wk * d.pdf(x) for wk, d in zip(w[1:], laws))  # noqa: E731
    moment = lambda j: sum(wk * d.moment(j) for wk, d in zip(w[1:], laws))  # noqa: E731
    return w, cdf, sf, pdf, moment


def test_first_squared_norm_is_a_binomial_chi2_mixture():
    n, s1 = 5, 1.3 * 4.0 / 4 + 0.2
    law = exact.ReLUNetwork([4, n, 3, 1], 1.3, 0.2).squared_norm(1)
    w, cdf, sf, pdf, moment = _chi2_mixture(n, s1)
    x = np.array([1e-6, 0.01, 0.5, 2.0, 7.0, 40.0, 150.0])  # pdf(150) ~ 1e-18 of the peak (kernel band: 1e-40)
    np.testing.assert_allclose(law.pdf(x), pdf(x), rtol=1e-12)
    np.testing.assert_allclose(law.cdf(x), cdf(x), rtol=1e-13)
    np.testing.assert_allclose(law.sf(x), sf(x), rtol=1e-12)
    np.testing.assert_allclose(law.logpdf(x), np.log(pdf(x)), rtol=1e-12)
    np.testing.assert_allclose(law.logsf(x), np.log(sf(x)), rtol=1e-12)
    np.testing.assert_allclose(law.logcdf(x), np.log(cdf(x)), rtol=1e-12, atol=1e-15)
    assert law.atom == pytest.approx(w[0], rel=1e-14) and law.continuous_mass == pytest.approx(1 - w[0], rel=1e-14)
    p = np.array([w[0] / 2, w[0] + 1e-6, 0.3, 0.5, 0.99])
    q = np.array([1e-30, 1e-12, 1e-5, 0.4])  # the kernel band is cut at 1e-40 of its peak
    x = law.ppf(p)
    assert x[0] == 0.0
    np.testing.assert_allclose(cdf(x[1:]), p[1:], rtol=1e-12)
    np.testing.assert_allclose(sf(law.isf(q)), q, rtol=1e-10)
    lo, hi = law.interval(0.9)
    assert cdf(lo) == pytest.approx(0.05, rel=1e-12) and sf(hi) == pytest.approx(0.05, rel=1e-11)
    m = [1.0] + [moment(j) for j in range(1, 5)]  # the atom at 0 adds to E[Y^0] only
    central = [sum(math.comb(k, i) * m[i] * (-m[1]) ** (k - i) for i in range(k + 1)) for k in range(5)]
    assert law.mean() == pytest.approx(m[1], rel=1e-13) and law.var() == pytest.approx(central[2], rel=1e-13)
    mean, var, skew, kurt = law.stats("mvsk")
    assert skew == pytest.approx(central[3] / central[2] ** 1.5, rel=1e-11)
    assert kurt == pytest.approx(central[4] / central[2] ** 2 - 3, rel=1e-11)
    assert law.kurtosis(fisher=False) == pytest.approx(central[4] / central[2] ** 2, rel=1e-11)
    assert law.expect(lambda y: y * y) == pytest.approx(m[2], rel=1e-9)


def test_output_without_hidden_layers_is_scipy_norm():
    net = exact.ReLUNetwork([3, 4], 1.5, 0.3, input_norm2=2.0)
    s1 = 1.5 * 2.0 / 3 + 0.3
    law, d = net.output(), stats.norm(scale=math.sqrt(s1))
    z = np.array([-60.0, -9.0, -1.0, 0.0, 0.4, 3.0, 45.0])
    np.testing.assert_allclose(law.pdf(z), d.pdf(z), rtol=1e-13)
    np.testing.assert_allclose(law.cdf(z), d.cdf(z), rtol=1e-13)
    np.testing.assert_allclose(law.sf(z), d.sf(z), rtol=1e-13)
    np.testing.assert_allclose(law.logpdf(z), d.logpdf(z), rtol=1e-13)
    np.testing.assert_allclose(law.logcdf(z), d.logcdf(z), rtol=1e-13)  # far below double: log_ndtr
    np.testing.assert_allclose(law.logsf(z), d.logsf(z), rtol=1e-13)
    p = np.array([1e-300, 1e-20, 0.1, 0.5, 0.9, 1 - 1e-12])
    np.testing.assert_allclose(law.ppf(p), d.ppf(p), rtol=1e-11, atol=1e-300)
    q = np.array([1e-300, 1e-50, 0.2, 0.7])
    np.testing.assert_allclose(law.isf(q), d.isf(q), rtol=1e-11)
    np.testing.assert_allclose(np.array(law.interval(0.95)), np.array(d.interval(0.95)), rtol=1e-12)
    assert law.stats("mvsk") == pytest.approx((0.0, s1, 0.0, 0.0), abs=1e-14)
    assert law.kurtosis(fisher=False) == 3.0 and law.median() == 0.0 and law.std() == pytest.approx(math.sqrt(s1))
    assert law.expect(lambda t: t**4) == pytest.approx(3 * s1**2, rel=1e-9)


def test_output_vector_without_hidden_layers_is_scipy_multivariate_normal():
    net = exact.ReLUNetwork([3, 4], 1.5, 0.3, input_norm2=2.0)
    s1 = 1.5 * 2.0 / 3 + 0.3
    joint = net.outputs()
    h = np.random.default_rng(0).normal(size=(5, 4)) * np.array([[0.1], [1.0], [2.0], [5.0], [30.0]])
    mvn = stats.multivariate_normal(np.zeros(4), s1 * np.eye(4))
    np.testing.assert_allclose(joint.logpdf(h), mvn.logpdf(h), rtol=1e-13)
    np.testing.assert_allclose(joint.pdf(h[:4]), mvn.pdf(h[:4]), rtol=1e-13)
    assert joint.logpdf(h[0]) == pytest.approx(mvn.logpdf(h[0]), rel=1e-13)
    np.testing.assert_allclose(joint.cov(), s1 * np.eye(4), rtol=1e-14)
    norm2, c = joint.norm2(), stats.chi2(4, scale=s1)
    y = np.array([1e-4, 0.5, 3.0, 20.0, 200.0])
    for name in ("pdf", "cdf", "sf", "logpdf", "logsf"):
        np.testing.assert_allclose(getattr(norm2, name)(y), getattr(c, name)(y), rtol=1e-12, err_msg=name)
    np.testing.assert_allclose(norm2.ppf([1e-8, 0.5, 0.99]), c.ppf([1e-8, 0.5, 0.99]), rtol=1e-11)
    np.testing.assert_allclose(norm2.isf([1e-100, 1e-3]), c.isf([1e-100, 1e-3]), rtol=1e-11)
    assert norm2.stats("mvsk") == pytest.approx(tuple(float(v) for v in c.stats("mvsk")), rel=1e-12)
    u = np.array([0.5, -1.0, 2.0, 0.0])
    proj, d = joint.projection(u), stats.norm(scale=math.sqrt(s1 * u @ u))
    np.testing.assert_allclose(proj.cdf([-3.0, 0.2, 5.0]), d.cdf([-3.0, 0.2, 5.0]), rtol=1e-13)
    assert proj.var() == pytest.approx(s1 * u @ u, rel=1e-14)


# ---------------------------------------------------------------------------------------------------
# almost surely dead networks


def test_dead_network_var_is_the_exact_second_moment():
    """[1]*61, zero bias: var() of the output was 0.0 (the atom rounded to 1); it is E[f^2] = q^L = 2."""
    nt = ref.net([1] * 61, 2, 0)
    out = exact.ReLUNetwork([1] * 61, 2.0, 0.0).output()
    assert out.atom == 1.0  # rounded: 1 - 2^-59 is not a double
    assert out.var() == pytest.approx(float(ref.moment_f(nt, 2)), rel=1e-13) and out.var() == pytest.approx(2.0, rel=1e-13)
    s = exact.ReLUNetwork([1] * 61, 2.0, 0.0).preactivation_variance(60)
    var = ref.moment_s(nt, 60, 2) - ref.moment_s(nt, 60, 1) ** 2
    assert s.var() == pytest.approx(float(var), rel=1e-12)
    assert out.kurtosis() == pytest.approx(float(3 * var / ref.moment_s(nt, 60, 1) ** 2), rel=1e-12)


def test_dead_network_keeps_its_continuous_part():
    """Width 1, 100 hidden layers, zero bias: P(|x^100|^2 > 0) = 2^-100 is carried exactly, and the
    continuous part (ppf, cdf, pdf, isf, logsf) agrees with the reference's Mellin inversion."""
    widths = [1] * 101 + [1]
    nt = ref.net(widths, 2, 0)
    law = exact.ReLUNetwork(widths, 2.0, 0.0).squared_norm(100)
    assert law.atom == 1.0 and law.ppf(0.999) == 0.0
    assert law.continuous_mass == pytest.approx(2.0**-100, rel=1e-14)
    assert law.log_continuous_mass == pytest.approx(-100 * math.log(2), rel=1e-14)
    cont = law.continuous_part()
    mellin = ref.mellin(nt, "Y", 100)  # the law of log |x^100|^2 given alive
    p = np.array([1e-6, 0.05, 0.5, 0.95, 1 - 1e-6])
    y = cont.ppf(p)
    assert (y > 0).all()
    for pi, yi in zip(p, y):
        assert abs(float(mellin.cdf_x(mp.log(yi))) - pi) < 1e-10
        assert float(cont.pdf(yi)) == pytest.approx(float(mellin.pdf_x(mp.log(yi))) / yi, rel=1e-8)
    # the whole law's upper tail in log space: sf = 2^-100 P(Y > y | alive); isf reaches it directly
    y = float(cont.ppf(0.9))
    expected = math.log(2.0**-100) + math.log(1 - float(mellin.cdf_x(mp.log(y))))
    assert law.logsf(y) == pytest.approx(expected, rel=1e-12)
    q = 2.0**-100 * 0.1
    assert float(mellin.cdf_x(mp.log(law.isf(q)))) == pytest.approx(0.9, abs=1e-10)
    assert law.mean() == pytest.approx(float(ref.moment_Y(nt, 100, 1)), rel=1e-12)
    assert cont.mean() == pytest.approx(float(ref.moment_Y(nt, 100, 1)) * 2.0**100, rel=1e-12)


def test_log_methods_in_the_tails_against_the_reference():
    """Grid laws: logsf and logcdf where sf and cdf are ~1e-20 (Mellin reference at 30 digits): the
    grid keeps relative accuracy there (tails sums of positive terms)."""
    nt = ref.net([3, 2, 5, 2, 1], 2, 0)
    law = exact.ReLUNetwork([3, 2, 5, 2, 1], 2.0, 0.0).squared_norm(3)
    mellin = ref.mellin(nt, "Y", 3)
    alive = 1 - ref.atom(nt, "Y", 3)[1]
    for level in (1e-20, 1e-12):
        y_hi = float(law.isf(level))
        expected = mp.log(alive * (1 - mellin.cdf_x(mp.log(y_hi))))
        assert law.logsf(y_hi) == pytest.approx(float(expected), rel=1e-9)
        y_lo = float(law.continuous_part().ppf(level))
        expected = mp.log(ref.atom(nt, "Y", 3)[1] + alive * mellin.cdf_x(mp.log(y_lo)))
        assert law.logcdf(y_lo) == pytest.approx(float(expected), rel=1e-12)
        assert float(mellin.cdf_x(mp.log(y_lo))) == pytest.approx(level, rel=1e-8)
