"""exact.ReLUNetwork: numerics checked against independent routes.

- grid at h vs h/2 (the quadrature error is geometric in 1/h, so agreement to ~1e-14 means both are
  that accurate);
- mass balance, and the grid's own moments vs the closed forms where the mean is not carried by rare
  networks (wide nets);
- closed-form moments (log-space recursion) vs a tiny mpmath recursion written here, at 40 digits;
- the first layers against scipy adaptive quadrature of the conditional laws (chi^2 mixtures, Gaussian
  scale mixtures), which shares no code with the grid;
- dead probability, kurtosis 3 prod(1 + 5/n_l) and E[s^l] = q^l (meanfield.variance_map);
- bad input.
"""
from unittest import mock

import math
import mpmath
import numpy as np
import pytest
from scipy import integrate, stats

import exact
import exact.relu as relu_module
from exact.grid import grid_step
from meanfield.errors import ParameterError, SigpropError

CASES = [
    # (widths, sigma_w2, sigma_b2, sharing)
    ([3, 2, 3, 1], 2.0, 0.3, False),
    ([2] * 21 + [1], 2.0, 0.0, False),
    ([2] * 11 + [1], 2.0, 0.1, False),
    ([1] * 21 + [1], 1.5, 0.5, False),
    ([10] * 101 + [1], 2.0, 0.0, False),
    ([4, 2, 8, 3, 16, 1, 5, 1], 2.0, 0.0, False),
    ([4, 2, 8, 1, 3, 1], 3.0, 0.2, False),
    ([5] * 11 + [1], 1.0, 0.3, True),
    ([100] * 51, 2.0, 0.0, False),
]


def _halved(widths, sw2, sb2, sharing):
    with mock.patch.object(relu_module, "grid_step", lambda w, s: 0.5 * grid_step(w, s)):
        return exact.ReLUNetwork(widths, sw2, sb2, parameter_sharing=sharing)


def _conditional_points(law, count=41):
    """Points spread over the continuous part: quantiles of the law given that it is not at an atom."""
    a = law.atom
    u = np.linspace(0.002, 0.998, count)
    if isinstance(law, exact.ScaleMixtureLaw):
        p = np.where(u < 0.5, (1 - a) * u, a + (1 - a) * u)
    else:
        p = a + (1 - a) * u
    x = law.ppf(p)
    return x[(x != 0) & np.isfinite(x)]


@pytest.mark.parametrize("widths, sw2, sb2, sharing", CASES)
def test_grid_step_halved(widths, sw2, sb2, sharing):
    """CDF/SF agree to 1e-12 absolute and densities to 1e-10 relative between steps h and h/2."""
    a = exact.ReLUNetwork(widths, sw2, sb2, parameter_sharing=sharing)
    b = _halved(widths, sw2, sb2, sharing)
    L = len(widths) - 1
    for la, lb in [
        (a.squared_norm(L - 1), b.squared_norm(L - 1)),
        (a.preactivation_variance(L), b.preactivation_variance(L)),
        (a.squared_norm(1), b.squared_norm(1)),
        (a.output(), b.output()),
    ]:
        x = _conditional_points(la)
        if x.size < 5:  # (almost) surely dead: the continuous part has mass below double precision
            continue
        np.testing.assert_allclose(la.cdf(x), lb.cdf(x), rtol=0, atol=1e-12)
        np.testing.assert_allclose(la.sf(x), lb.sf(x), rtol=0, atol=1e-12)
        np.testing.assert_allclose(la.pdf(x), lb.pdf(x), rtol=1e-10)
        assert la.atom == lb.atom


@pytest.mark.parametrize("widths, sw2, sb2, sharing", CASES)
def test_mass_and_pdf_integrates_to_cdf(widths, sw2, sb2, sharing):
    """Continuous mass + atom = 1 to 1e-12, and int_x1^x2 pdf = cdf(x2) - cdf(x1) (scipy quad)."""
    net = exact.ReLUNetwork(widths, sw2, sb2, parameter_sharing=sharing)
    L = len(widths) - 1
    for law in (net.squared_norm(L - 1), net.preactivation_variance(L), net.output()):
        assert abs(law.cdf(1e300) - 1.0) < 1e-12
        assert abs(law.sf(-1e300) - 1.0) < 1e-12
        top = 1e300
        assert law.sf(top) < 1e-12
        x = _conditional_points(law, 7)
        if x.size < 5:
            continue
        for x1, x2 in zip(x[:-1], x[1:]):
            if x1 < 0 < x2:  # the output's density has an integrable log singularity at 0
                continue
            val, err = integrate.quad(lambda t: float(law.pdf(t)), x1, x2, epsabs=1e-13, epsrel=1e-11, limit=200)
            assert abs(val - (law.cdf(x2) - law.cdf(x1))) < 1e-10, (x1, x2)


def _chi2_mixture_cdf(n, scale, x):
    """P(scale chi^2_K <= x), K ~ Bin(n, 1/2), atom at 0 included."""
    k = np.arange(n + 1)
    w = stats.binom.pmf(k, n, 0.5)
    return w[0] + sum(w[j] * stats.chi2.cdf(x / scale, j) for j in range(1, n + 1))


def _chi2_mixture_pdf(n, scale, x):
    k = np.arange(n + 1)
    w = stats.binom.pmf(k, n, 0.5)
    return sum(w[j] * stats.chi2.pdf(x / scale, j) / scale for j in range(1, n + 1))


@pytest.mark.parametrize("sb2", [0.0, 0.4])
def test_first_layers_against_scipy_quadrature(sb2):
    """Widths [3, 4, 2, 1]: |x^1|^2 is a chi^2 mixture (closed form); |x^2|^2 and the output are one
    adaptive 1-D quadrature over |x^1|^2 away (scipy quad on the closed-form conditional laws)."""
    widths, sw2 = [3, 4, 2, 1], 1.7
    net = exact.ReLUNetwork(widths, sw2, sb2, input_norm2=2.5)
    s1 = sw2 * 2.5 / 3 + sb2
    y1 = net.squared_norm(1)
    x = np.array([0.01, 0.3, 1.0, 3.0, 9.0, 30.0])
    np.testing.assert_allclose(y1.cdf(x), _chi2_mixture_cdf(4, s1, x), rtol=0, atol=1e-14)
    np.testing.assert_allclose(y1.pdf(x), _chi2_mixture_pdf(4, s1, x), rtol=1e-12)

    w1 = stats.binom.pmf(np.arange(5), 4, 0.5)

    def over_y1(fn):
        """E[fn(s_2)] with s_2 = sb2 + sw2 Y_1 / 4: atom + sum over k of quad in log Y_1."""
        total = w1[0] * fn(sb2)
        for k in range(1, 5):
            dens = lambda v, k=k: np.exp(v) * stats.chi2.pdf(np.exp(v) / s1, k) / s1  # noqa: E731
            val, _ = integrate.quad(lambda v: fn(sb2 + sw2 * np.exp(v) / 4) * dens(v), -80, 8, limit=400,
                                    epsabs=1e-15, epsrel=1e-13, points=[np.log(s1)])
            total += w1[k] * val
        return total

    y2 = net.squared_norm(2)
    for xv in [0.05, 0.8, 4.0]:
        ref_cdf = over_y1(lambda s: _chi2_mixture_cdf(2, s, xv) if s > 0 else 1.0)
        ref_pdf = over_y1(lambda s: _chi2_mixture_pdf(2, s, xv) if s > 0 else 0.0)
        assert abs(y2.cdf(xv) - ref_cdf) < 1e-11
        assert y2.pdf(xv) == pytest.approx(ref_pdf, rel=1e-9)
    out = exact.ReLUNetwork([3, 4, 1], sw2, sb2, input_norm2=2.5).output()
    for z in [-2.0, -0.3, 0.05, 1.0, 4.0]:
        ref_cdf = over_y1(lambda s: stats.norm.cdf(z / np.sqrt(s)) if s > 0 else float(z >= 0))
        ref_pdf = over_y1(lambda s: stats.norm.pdf(z / np.sqrt(s)) / np.sqrt(s) if s > 0 else 0.0)
        assert abs(out.cdf(z) - ref_cdf) < 1e-11
        assert out.pdf(z) == pytest.approx(ref_pdf, rel=1e-9)


def _mp_moments(widths, sw2, sb2, s1, jmax, sharing=False):
    """E[s_l^j] by the chain's moment recursion (docs/conventions.md §6) in mpmath (40 digits), written
    independently here; the working precision is restored on return (other tests depend on the default)."""
    with mpmath.workdps(40):
        return _mp_moments_at_working_precision(widths, sw2, sb2, s1, jmax, sharing)


def _mp_moments_at_working_precision(widths, sw2, sb2, s1, jmax, sharing):
    sw2, sb2 = mpmath.mpf(sw2), mpmath.mpf(sb2)
    es = [[mpmath.mpf(s1) ** j for j in range(jmax + 1)]]
    for n in widths[1:-1]:
        ks = [n] if sharing else range(n + 1)

        def eg(j):
            tot = mpmath.mpf(0)
            for k in ks:
                w = mpmath.mpf(1) if sharing else mpmath.binomial(n, k) / mpmath.mpf(2) ** n
                tot += w * mpmath.rf(mpmath.mpf(k) / 2, j)
            return (mpmath.mpf(2) / n) ** j * tot

        em = [es[-1][j] * eg(j) for j in range(jmax + 1)]
        es.append([sum(mpmath.binomial(j, i) * sb2 ** (j - i) * sw2**i * em[i] for i in range(j + 1))
                   for j in range(jmax + 1)])
    return es


@pytest.mark.parametrize("widths, sw2, sb2, sharing", [
    ([3, 1, 4, 2, 1], 2.0, 0.0, False),
    ([5, 7, 3, 9, 1], 1.3, 0.25, False),
    ([2] * 31 + [1], 2.0, 0.05, False),
    ([4, 3, 5, 2], 0.9, 0.2, True),
])
def test_moments_against_mpmath_recursion(widths, sw2, sb2, sharing):
    net = exact.ReLUNetwork(widths, sw2, sb2, parameter_sharing=sharing)
    es = _mp_moments(widths, sw2, sb2, net.s1, 6, sharing)
    L = len(widths) - 1
    for l in range(1, L + 1):
        law = net.preactivation_variance(l)
        for j in range(7):
            assert law.moment(j) == pytest.approx(float(es[l - 1][j]), rel=1e-12)
    # E[f^2j] = (2j-1)!! E[s_L^j], odd moments 0
    out = net.output()
    assert out.moment(4) == pytest.approx(3 * float(es[-1][2]), rel=1e-12)
    assert out.moment(6) == pytest.approx(15 * float(es[-1][3]), rel=1e-12)
    assert out.moment(3) == 0.0 and out.mean() == 0.0


def test_high_order_moments_overflow_to_inf_not_nan():
    net = exact.ReLUNetwork([2] * 41 + [1])
    m = net.output().moment(200)
    assert m == np.inf
    assert net.squared_norm(1).moment(0) == 1.0


@pytest.mark.parametrize("widths", [[10] * 21 + [1], [3, 1, 7, 2, 5, 1], [50] * 5 + [1]])
def test_kurtosis_and_mean_field(widths):
    """Zero bias: Pearson kurtosis 3 prod_{l<L} (1 + 5/n_l) (notes R4), Fisher (scipy's default) 3 less;
    E[s^l] = q^l of meanfield.variance_map."""
    net = exact.ReLUNetwork(widths, 2.0, 0.0)
    expected = 3 * np.prod([1 + 5 / n for n in widths[1:-1]])
    assert net.output().kurtosis(fisher=False) == pytest.approx(expected, rel=1e-12)
    assert net.output().kurtosis() == pytest.approx(expected - 3, rel=1e-12)
    for sb2, sw2 in [(0.0, 2.0), (0.3, 1.4)]:
        net = exact.ReLUNetwork(widths, sw2, sb2)
        q = net.mean_field()
        means = [net.preactivation_variance(l).mean() for l in range(1, len(widths))]
        np.testing.assert_allclose(means, q, rtol=1e-13)
        np.testing.assert_allclose(net.output().var(), q[-1], rtol=1e-13)


def test_parameter_sharing_kurtosis_and_no_atoms():
    widths = [6, 4, 5, 3, 1]
    net = exact.ReLUNetwork(widths, 1.0, 0.0, parameter_sharing=True)
    assert net.output().kurtosis(fisher=False) == pytest.approx(3 * np.prod([1 + 2 / n for n in widths[1:-1]]), rel=1e-12)
    assert net.dead_probability() == 0.0 and math.copysign(1.0, net.dead_probability()) == 1.0  # not -0.0
    assert all(net.squared_norm(l).atom == 0.0 for l in range(1, 4))
    np.testing.assert_allclose(net.mean_field(), [1.0] * 4)  # linear template, sigma_w^2 = 1


@pytest.mark.parametrize("widths", [[5, 3, 4, 2, 1], [7, 1, 1, 6, 1]])
@pytest.mark.parametrize("sb2", [0.0, 0.5])
def test_dead_probability_and_atoms(widths, sb2):
    net = exact.ReLUNetwork(widths, 2.0, sb2)
    hidden = widths[1:-1]
    alive = np.prod([1 - 0.5**n for n in hidden])
    assert net.dead_probability() == pytest.approx(1 - alive, rel=1e-14)
    if sb2 == 0:
        # absorbing: the atom of |x^l|^2 is 1 - prod_{j<=l} (1 - 2^-n_j), the output's that of layer L-1
        for l in range(1, len(hidden) + 1):
            expect = 1 - np.prod([1 - 0.5**n for n in hidden[:l]])
            assert net.squared_norm(l).atom == pytest.approx(expect, rel=1e-14)
        assert net.output().atom == pytest.approx(1 - alive, rel=1e-14)
        assert net.output().pdf(0.0) == np.inf
    else:
        for l, n in enumerate(hidden, start=1):
            assert net.squared_norm(l).atom == pytest.approx(0.5**n, rel=1e-14)
        assert net.output().atom == 0.0
        assert np.isfinite(net.output().pdf(0.0))
        # the atom of s^l sits at sigma_b^2
        assert net.preactivation_variance(2).atoms == [(sb2, 0.5 ** hidden[0])]


def test_grid_moments_match_closed_form_for_wide_nets():
    """Where the mean is not rare-event dominated, moments of the grid density equal the closed forms."""
    net = exact.ReLUNetwork([100] * 21, 2.0, 0.0)
    layer = net._layers[-1]
    h = layer.nodes[1] - layer.nodes[0]
    for j in (1, 2, 3):
        grid_moment = np.sum(h * layer.p * np.exp(j * layer.nodes))  # E[M^j] (atom 0 contributes 0)
        closed = net.squared_norm(19).moment(j) / 100.0**j
        assert grid_moment == pytest.approx(closed, rel=1e-12)


def test_narrow_deep_typical_signal_collapses():
    """Width 2, 40 hidden layers: the mean of s^L is mean field's q^L, its median is far below it."""
    net = exact.ReLUNetwork([2] * 41 + [1])
    law = net.preactivation_variance(41)
    assert law.mean() == pytest.approx(net.mean_field()[-1], rel=1e-13)
    assert law.median() < 1e-3 * net.mean_field()[-1]


def test_depth_100_width_1_and_point_mass_first_layer():
    net = exact.ReLUNetwork([1] * 101 + [1], 2.0, 0.2)
    law = net.preactivation_variance(101)
    assert abs(law.cdf(1e300) - 1) < 1e-12
    s1 = net.preactivation_variance(1)
    assert s1.atoms == [(2.2, 1.0)] and s1.atom == 0.0
    assert s1.cdf(2.2) == 1.0 and s1.cdf(2.1999) == 0.0 and s1.pdf(2.2) == 0.0
    assert s1.ppf(0.3) == 2.2 and s1.var() == 0.0 and s1.mean() == pytest.approx(2.2, rel=1e-15)


def test_degenerate_signal_is_a_point_mass_at_zero():
    net = exact.ReLUNetwork([3, 4, 4, 1], 2.0, 0.0, input_norm2=0.0)
    assert net.dead_probability() == 1.0
    assert net.squared_norm(2).atom == 1.0 and net.output().atom == 1.0
    assert net.output().cdf(-1e-9) == 0.0 and net.output().cdf(0.0) == 1.0
    net = exact.ReLUNetwork([3, 4, 4, 1], 0.0, 0.5)  # sigma_w^2 = 0: s^l = sigma_b^2 for l >= 2
    assert net.preactivation_variance(3).atoms == [(0.5, 1.0)]
    np.testing.assert_allclose(net.output().cdf([-1.0, 0.3]), stats.norm.cdf([-1.0, 0.3], scale=np.sqrt(0.5)),
                               rtol=0, atol=1e-14)


def test_summary_states_finite_width_effects():
    s = exact.ReLUNetwork([5] * 11 + [1]).summary()
    np.testing.assert_allclose(s.mean, s.q, rtol=1e-12)
    assert s.median[-1] < 0.5 * s.q[-1]
    assert "mean field" in s.text and "median" in s.text
    assert s.kurtosis[-1] == pytest.approx(3 * 2**10 - 3, rel=1e-12)  # Fisher: 3 prod(1 + 5/n) - 3
    assert str(s) == s.text


@pytest.mark.parametrize("kwargs", [
    dict(widths=[3, 2, 1], sigma_w2=-1.0),
    dict(widths=[3, 2, 1], sigma_b2=-0.1),
    dict(widths=[3, 2, 1], input_norm2=-2.0),
    dict(widths=[3, 0, 1]),
    dict(widths=[3]),
    dict(widths=[3, 2.5, 1]),
    dict(widths="3,2,1"),
    dict(widths=[3, 2, 1], sigma_w2=float("nan")),
    dict(widths=[3, 2, 1], parameter_sharing="yes"),
])
def test_bad_network_arguments(kwargs):
    with pytest.raises(ParameterError):
        exact.ReLUNetwork(**kwargs)


def test_bad_layer_and_probability():
    net = exact.ReLUNetwork([3, 2, 2, 1])
    for bad in (0, 3, -1, 1.5):
        with pytest.raises(ParameterError, match="l must"):
            net.squared_norm(bad)
    with pytest.raises(ParameterError):
        net.preactivation_variance(4)
    for bad in (-0.1, 1.1, np.nan):
        with pytest.raises(SigpropError):
            net.output().ppf(bad)
    with pytest.raises(ParameterError):
        net.output().moment(-1)
    with pytest.raises(ParameterError):
        net.output().moment(2.5)
    with pytest.raises(ParameterError):
        net.squared_norm(1).cdf(np.nan)
    with pytest.raises(ParameterError):
        net.sample(0)


def test_plot_returns_the_axes_and_forwards_kwargs():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    net = exact.ReLUNetwork([4, 3, 3, 2], 2.0, 0.1)
    sample = net.sample(200, seed=0)
    ax = net.plot(samples=sample, color="C4", linestyle=":", label="mine")
    line = next(l for l in ax.get_lines() if l.get_label() == "mine")
    assert line.get_color() == "C4" and line.get_linestyle() == ":"
    title = ax.get_title()
    assert "[4, 3, 3, 2]" in title and "sigma_w^2$ = 2" in title and "sigma_b^2$ = 0.1" in title and "200 networks" in title
    _, other = plt.subplots()
    assert net.plot("layers", ax=other, samples=sample) is other
    plt.close("all")
    with pytest.raises(ParameterError, match="kind"):
        net.plot("spectrum")
