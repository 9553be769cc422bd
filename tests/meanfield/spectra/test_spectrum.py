"""Jacobian spectra by free probability vs closed forms (notes/spectra.md, section 2.9).

Independent routes: Marchenko-Pastur and Fuss-Catalan (linear Gaussian), the arcsine law of two
free projections (relu orthogonal, L = 2), the closed-form Bernoulli edges, closed-form moments from
the literature (Var = L (mu_2/mu_1^2 - 1 - s_1) chi^2L), and the mass balance of the density.
"""
import numpy as np
import pytest
from scipy import integrate, special

import meanfield as mf
from meanfield.errors import ParameterError
from meanfield.spectra.spectrum import jacobian_spectrum


def test_marchenko_pastur_density_cdf_edge():
    s = jacobian_spectrum("linear", 1.0, 0.0, 1, "gaussian")
    x = np.array([0.05, 0.5, 1.0, 2.0, 3.5, 3.99])
    rho = np.sqrt(4 * x - x * x) / (2 * np.pi * x)
    np.testing.assert_allclose(s.pdf(x), rho, rtol=1e-9)
    cdf = [integrate.quad(lambda t: np.sqrt(4 * t - t * t) / (2 * np.pi * t), 0, v, epsabs=1e-13)[0] for v in x]
    np.testing.assert_allclose(s.cdf(x), cdf, atol=1e-6)
    assert s.support()[1] == pytest.approx(4.0, rel=1e-12)


@pytest.mark.parametrize("L", [1, 2, 3, 7, 50])
def test_fuss_catalan_moments_and_edge(L):
    s = jacobian_spectrum("linear", 1.3, 0.0, L, "gaussian")
    for k in range(1, 5):
        fc = special.comb((L + 1) * k, k, exact=True) / (L * k + 1)
        assert s.moment(k) == pytest.approx(fc * 1.3 ** (L * k), rel=1e-11)
    assert s.support()[1] == pytest.approx(1.3**L * (L + 1) ** (L + 1) / L**L, rel=1e-11)


def test_linear_orthogonal_is_a_point_mass():
    s = jacobian_spectrum("linear", 1.5, 0.0, 20, "orthogonal")
    assert s.atoms == [(1.5**20, 1.0)]
    assert s.var() == pytest.approx(0.0, abs=1e-9 * s.mean() ** 2)
    assert s.cdf(1.5**20 * (1 - 1e-9)) == 0.0 and s.cdf(1.5**20) == 1.0


def test_relu_orthogonal_two_layers_is_arcsine_plus_atom():
    s = jacobian_spectrum("relu", 2.0, 0.0, 2, "orthogonal")
    assert s.atoms == [(0.0, 0.5)]
    x = np.array([0.1, 1.0, 2.0, 3.9])
    np.testing.assert_allclose(s.pdf(x), 1 / (2 * np.pi * np.sqrt(x * (4 - x))), rtol=1e-8)
    np.testing.assert_allclose(s.cdf(np.array([1.0, 2.0])), [0.5 + np.arcsin(0.5) / np.pi, 0.75], atol=1e-6)


@pytest.mark.parametrize("L", [1, 4, 16, 64])
def test_relu_moments_and_edges_closed_form(L):
    p = 0.5
    g = jacobian_spectrum("relu", 2.0, 0.0, L, "gaussian")
    o = jacobian_spectrum("relu", 2.0, 0.0, L, "orthogonal")
    assert g.mean() == pytest.approx(1.0, rel=1e-13) and o.mean() == pytest.approx(1.0, rel=1e-13)
    assert g.var() == pytest.approx(2 * L, rel=1e-12) and o.var() == pytest.approx(L, rel=1e-12)
    assert o.moment(3) == pytest.approx(1 + 1.5 * L + 1.5 * L * L, rel=1e-12)
    assert g.moment(3) == pytest.approx(1 + 4 * L + 6 * L * L, rel=1e-12)
    ms = (-(L - 1) + np.sqrt((L - 1) ** 2 + 4 * L * p)) / (2 * L)
    assert g.support()[1] == pytest.approx(2**L * (1 + ms) * (ms + p) ** L / ms, rel=1e-10)
    if L * (1 - p) > 1:
        mo = p / (L * (1 - p) - 1)
        assert o.support()[1] == pytest.approx(2**L * (mo + p) ** L / (mo * (1 + mo) ** (L - 1)), rel=1e-10)


@pytest.mark.parametrize("name,weights", [("relu", "gaussian"), ("relu", "orthogonal"), ("linear", "gaussian"), ("hardtanh", "orthogonal")])
def test_density_integrates_to_the_continuous_mass(name, weights):
    sw2 = {"relu": 2.0, "linear": 1.0, "hardtanh": 1.1}[name]
    s = jacobian_spectrum(name, sw2, 0.05 if name == "hardtanh" else 0.0, 4, weights)
    hi = s.support()[1]
    cont = 1 - sum(m for _, m in s.atoms)
    # the continuous part from the top down to 1e-10 lambda_max, plus the (small) rest below
    assert s.cdf(hi) == pytest.approx(1.0, abs=1e-9)
    assert s.cdf(1e-10 * hi) - sum(m for loc, m in s.atoms if loc == 0) < 0.1 * cont


def test_no_jumps_in_the_density_along_a_fine_grid():
    # branch continuity: the density of a deep relu spectrum is smooth on a fine log grid
    s = jacobian_spectrum("relu", 2.0, 0.0, 16, "gaussian")
    x = np.geomspace(1e-4, s.support()[1] * 0.95, 600)
    r = np.log(s.pdf(x))
    # smooth: second differences are O(h^2) (at most ~0.05, near the square-root edge) on this grid;
    # a switch to a wrong root changes log rho by O(1)
    jumps = np.abs(np.diff(r, 2))
    assert np.max(jumps) < 0.2


def test_bad_input():
    with pytest.raises(ParameterError):
        jacobian_spectrum("relu", 2.0, 0.0, 0)
    with pytest.raises(ParameterError):
        jacobian_spectrum("relu", 2.0, 0.0, 3, weights="unitary")
    with pytest.raises(ParameterError):
        jacobian_spectrum("relu", -1.0, 0.0, 3)
    with pytest.raises(ParameterError):
        jacobian_spectrum("relu", 2.0, 0.0, 3).moment(20)


@pytest.mark.parametrize("name", ["tanh", "erf"])
def test_smooth_one_layer_orthogonal_is_a_change_of_variables(name):
    # L = 1, orthogonal: lambda = sigma_w^2 phi'(sqrt(q) g)^2 exactly, so
    # P(lambda <= x) = P(|g| >= g(x)) = erfc(g(x)/sqrt 2), with g(x) the inverse of the map on g > 0
    sw2, sb2 = 1.7, 0.1
    s = jacobian_spectrum(name, sw2, sb2, 1, "orthogonal")
    q = s.q
    if name == "tanh":
        g_of = lambda x: np.arccosh((sw2 / x) ** 0.25) / np.sqrt(q)  # d = sech^4(sqrt(q) g)
    else:
        g_of = lambda x: np.sqrt(np.log(4 * sw2 / (np.pi * x)) / (2 * q))  # d = (4/pi) e^{-2 q g^2}
    top = sw2 * (1.0 if name == "tanh" else 4 / np.pi)
    assert s.support()[1] == pytest.approx(top, rel=1e-9)
    x = top * np.array([0.05, 0.3, 0.6, 0.9, 0.99])
    np.testing.assert_allclose(s.cdf(x), special.erfc(g_of(x) / np.sqrt(2)), atol=1e-5)  # the stated cdf accuracy
    # density: derivative of the cdf (central difference, relative step 1e-5: error ~1e-9)
    h = 1e-5 * x
    fd = (special.erfc(g_of(x + h) / np.sqrt(2)) - special.erfc(g_of(x - h) / np.sqrt(2))) / (2 * h)
    np.testing.assert_allclose(s.pdf(x), fd, rtol=1e-6)


@pytest.mark.parametrize("name,weights,L", [("tanh", "orthogonal", 8), ("tanh", "gaussian", 4), ("erf", "orthogonal", 16)])
def test_smooth_density_mass_and_mean_match_closed_forms(name, weights, L):
    # the density (absolutely continuous, no atoms) has mean chi_1^L: trapezoid in log x on 2500
    # points down to 1e-12 lambda_max (~1e-4 accurate), tolerance 1e-3; and the cdf's table
    # integral equals an adaptive QUADPACK integral of the density over [0.5, 1] lambda_max (1e-6)
    p = mf.critical_point(name, 0.05)
    s = jacobian_spectrum(name, p.sigma_w2, 0.05, L, weights)
    hi = s.support()[1]
    x = np.geomspace(1e-12 * hi, hi, 2500)
    r = s.pdf(x)
    assert np.trapezoid(r * x * x, np.log(x)) == pytest.approx(s.mean(), rel=1e-3)
    top = integrate.quad(lambda v: float(s.pdf(v)), 0.5 * hi, hi, epsabs=1e-9, limit=100)[0]
    assert s.cdf(0.5 * hi) + top == pytest.approx(1.0, abs=1e-6)


def test_s_transforms():
    from meanfield.spectra.freeprob import d2_law, weights_s_transform

    relu = d2_law(mf.activation("relu"), 1.0)
    w = np.array([0.1, 0.5, 2.0])
    np.testing.assert_allclose(relu.s_transform(w), (1 + w) / (w + 0.5), rtol=1e-15)
    # smooth law: the S-transform inverts M; check M(zeta(w)) = w through S's definition, and
    # the small-w expansion S(w) = (1/mu_1)(1 + (1 - mu_2/mu_1^2) w + O(w^2))
    law = d2_law(mf.activation("tanh"), 0.7)
    S = law.s_transform(w)
    zeta = (1 + w) / (w * S)
    np.testing.assert_allclose(law.M(zeta)[0], w, rtol=1e-12)
    small = 1e-4
    a1 = 1 - law.mu(2) / law.mu(1) ** 2
    assert law.s_transform(small).real == pytest.approx((1 + a1 * small) / law.mu(1), rel=1e-7)
    np.testing.assert_allclose(weights_s_transform("gaussian", 2.0, w), 1 / (2 * (1 + w)))
    np.testing.assert_allclose(weights_s_transform("orthogonal", 2.0, w), 0.5)


def test_hardtanh_orthogonal_two_layers_free_projections():
    # two free projections of rank p: atom 2p - 1 at sigma_w^4, continuous part ending at 4p(1-p) sigma_w^4
    s = jacobian_spectrum("hardtanh", 1.0, 0.05, 2, "orthogonal")
    p = float(special.erf(1 / np.sqrt(2 * s.q)))
    assert s.atoms == [(0.0, pytest.approx(1 - p)), (1.0, pytest.approx(2 * p - 1))]
    assert s._continuous_edge == pytest.approx(4 * p * (1 - p), rel=1e-10)
    assert s.pdf(np.array([0.5 * (1 + 4 * p * (1 - p))]))[0] == 0.0  # the gap below the atom


def test_point_mass_at_zero_fixed_point():
    # tanh, sigma_b^2 = 0, sigma_w^2 < 1: q* = 0, D^2 = I, J J^T = sigma_w^(2L) I (orthogonal)
    s = jacobian_spectrum("tanh", 0.9, 0.0, 8, "orthogonal")
    assert s.q == 0.0 and s.atoms == [(pytest.approx(0.9**8), 1.0)]
    assert s.support()[1] == pytest.approx(0.9**8) and s.var() == pytest.approx(0.0, abs=1e-12)


def test_formula_activation_spectrum_and_unsupported_formulas():
    # tanh(x)/2 has d = sech^4/4: at the same q its spectrum with sigma_w2 equals tanh's with sigma_w2/4
    a = jacobian_spectrum("tanh(x)/2", 1.6, 0.05, 4, "orthogonal", q=1.0)
    b = jacobian_spectrum("tanh", 0.4, 0.05, 4, "orthogonal", q=1.0)
    assert a.support()[1] == pytest.approx(b.support()[1], rel=1e-10)
    x = b.support()[1] * np.array([0.1, 0.5, 0.9])
    np.testing.assert_allclose(a.pdf(x), b.pdf(x), rtol=1e-7)
    # tanh(4x) at q = 1 is tanh at q = 16 with d scaled by 16: lambda scales by 16^L (the lift is
    # halved until the contour clears the singularities at pi/8)
    c = jacobian_spectrum("tanh(4*x)", 1.2, 0.05, 4, "orthogonal", q=1.0)
    e = jacobian_spectrum("tanh", 1.2, 0.05, 4, "orthogonal", q=16.0)
    assert c.support()[1] == pytest.approx(16**4 * e.support()[1], rel=1e-9)
    y = e.support()[1] * np.array([0.2, 0.6])
    np.testing.assert_allclose(c.pdf(16**4 * y) * 16**4, e.pdf(y), rtol=1e-6)
    with pytest.raises(ParameterError, match="not supported"):
        jacobian_spectrum("tanh(40*x)", 1.2, 0.05, 4, "orthogonal", q=1.0)


def test_layer_dependent_bernoulli_laws():
    from meanfield.spectra.spectrum import JacobianSpectrum

    # uniform fractions reproduce the common-law solver
    a = JacobianSpectrum.bernoulli_layers([0.5] * 6, 2.0, "gaussian")
    b = jacobian_spectrum("relu", 2.0, 0.0, 6, "gaussian")
    x = np.geomspace(1e-5, 0.99 * b.support()[1], 9)
    np.testing.assert_allclose(a.pdf(x), b.pdf(x), rtol=1e-10)
    # mixed fractions: m_1 = sigma_w^2L prod p_l, Var/m_1^2 = sum_l (1/p_l - 1) + L [Gaussian]
    p = np.array([0.4, 0.55, 0.5, 0.62])
    for weights, s1 in (("gaussian", 1.0), ("orthogonal", 0.0)):
        s = JacobianSpectrum.bernoulli_layers(p, 2.0, weights)
        m1 = 2.0**4 * p.prod()
        assert s.mean() == pytest.approx(m1, rel=1e-13)
        assert s.var() == pytest.approx(m1**2 * (np.sum(1 / p - 1) + 4 * s1), rel=1e-12)
        assert s.atoms[0] == (0.0, pytest.approx(1 - p.min()))
        assert s.cdf(s.support()[1]) == pytest.approx(1.0, abs=1e-9)
    with pytest.raises(ParameterError):
        JacobianSpectrum.bernoulli_layers([0.5, 1.5], 2.0)


@pytest.mark.parametrize("p", [(0.3, 0.6), (0.6, 0.3), (0.5, 0.45), (0.7, 0.6)])
def test_two_free_projections_have_a_gap_above_the_atom(p):
    """Orthogonal layers with active fractions p_1 != p_2: J J^T = sigma_w^4 P_2 U P_1 U^T P_2, the product of two
    free projections, whose law is closed form (Voiculescu): atoms 1 - min p at 0 and max(0, p_1 + p_2 - 1) at
    sigma_w^4, and sqrt((x - a)(b - x)) / (2 pi x (1 - x)) on [a, b] = [(sqrt(p_1 q_2) -+ sqrt(p_2 q_1))^2]
    (x = lambda / sigma_w^4, q = 1 - p): a GAP between 0 and a, where the density is 0 (no atom leaking into it),
    and a square-root edge at a; the cdf against adaptive quadrature of the closed form."""
    from meanfield.spectra.spectrum import JacobianSpectrum

    p1, p2 = p
    s4 = 1.3**2
    a = (np.sqrt(p1 * (1 - p2)) - np.sqrt(p2 * (1 - p1))) ** 2
    b = (np.sqrt(p1 * (1 - p2)) + np.sqrt(p2 * (1 - p1))) ** 2

    def density(x):  # of x = lambda / sigma_w^4
        return np.sqrt(np.clip((x - a) * (b - x), 0, None)) / (2 * np.pi * x * (1 - x))

    spec = JacobianSpectrum.bernoulli_layers([p1, p2], 1.3, "orthogonal")
    atoms = dict(spec.atoms)
    assert atoms[0.0] == pytest.approx(1 - min(p), abs=1e-15)
    assert atoms.get(s4, 0.0) == pytest.approx(max(0.0, p1 + p2 - 1), abs=1e-14)
    assert spec._solver.lower_edge() == pytest.approx(s4 * a, rel=1e-12)
    x = np.concatenate([a * np.geomspace(1e-12, 0.999, 25), np.linspace(a, b, 41)[1:-1]])
    np.testing.assert_allclose(spec.pdf(s4 * x) * s4, density(x), rtol=1e-7, atol=1e-7)  # y_end = 1e-9 x smooths
    for xi in (0.5 * a, a, a + 1e-3 * (b - a), (a + b) / 2, b - 1e-3 * (b - a)):
        expected = 1 - min(p) + (integrate.quad(density, a, xi, limit=200, epsabs=1e-13)[0] if xi > a else 0.0)
        assert spec.cdf(s4 * xi) == pytest.approx(expected, abs=5e-8)  # 4.5e-5 before the edge was found


@pytest.mark.parametrize("weights", ["orthogonal", "gaussian"])
def test_depth_1000_off_criticality(weights):
    # chi_1 = 0.95: the mean 0.95^1000 ~ 5e-23 and the density live far from 1 without overflow
    sw2 = 0.95 / float(mf.derivative_moment(mf.activation("tanh"), 0.5))
    s = jacobian_spectrum("tanh", sw2, 0.0, 1000, weights, q=0.5)
    assert s.mean() == pytest.approx(0.95**1000, rel=1e-9)
    hi = s.support()[1]
    assert np.isfinite(hi) and 0 < hi < 1e-10
    r = s.pdf(np.geomspace(1e-6 * hi, 0.99 * hi, 50))
    assert np.all(np.isfinite(r)) and np.all(r >= 0) and np.any(r > 0)
    assert s.cdf(hi) == pytest.approx(1.0, abs=1e-9)


def test_one_orthogonal_layer_keeps_the_atoms_of_d():
    # leaky relu: d in {a^2, 1} with mass 1/2 each, so one orthogonal layer has lambda in
    # {sigma_w2 a^2, sigma_w2} exactly; two layers: no atoms (1/2 + 1/2 - 1 = 0, Bercovici-Voiculescu)
    a, sw2 = 0.2, 1.5
    one = jacobian_spectrum(mf.activation("leaky_relu", slope=a), sw2, 0.0, 1, "orthogonal")
    assert one.atoms == [(pytest.approx(sw2 * a * a), 0.5), (pytest.approx(sw2), 0.5)]
    assert one.support()[1] == pytest.approx(sw2)
    np.testing.assert_allclose(one.cdf([0.5 * sw2 * a * a, sw2 * a * a, 0.5 * sw2, sw2]), [0, 0.5, 0.5, 1.0])
    np.testing.assert_array_equal(one.pdf([0.5 * sw2 * a * a, 0.5 * sw2]), 0.0)
    assert one.moment(2) == pytest.approx(0.5 * sw2**2 * (a**4 + 1), rel=1e-12)
    two = jacobian_spectrum(mf.activation("leaky_relu", slope=a), sw2, 0.0, 2, "orthogonal")
    assert two.atoms == []


def test_ppf_and_rvs_against_the_arcsine_law():
    """relu, orthogonal, L = 2, sigma_w2 = 2: (1/2) delta_0 + density 1/(2 pi sqrt(lambda (4 - lambda))) on
    [0, 4] (free product of two projections), so F = 1/2 + arcsin(sqrt(lambda)/2)/pi and
    ppf(p) = 4 sin^2(pi (p - 1/2)) above the atom; lambda/4 of the continuous part is scipy's arcsine law."""
    from scipy import stats

    s = jacobian_spectrum("relu", 2.0, 0.0, 2, "orthogonal")
    p = np.array([0.0, 0.25, 0.5, 0.5 + 1e-9, 0.6, 0.9, 0.999, 1.0])
    expected = np.where(p > 0.5, 4 * np.sin(np.pi * (p - 0.5)) ** 2, 0.0)
    expected[-1] = 4.0
    np.testing.assert_allclose(s.ppf(p), expected, rtol=1e-7, atol=1e-12)
    draws = s.rvs(20000, random_state=np.random.default_rng(5))
    zeros = np.mean(draws == 0.0)
    assert abs(zeros - 0.5) < 5 * np.sqrt(0.25 / 20000)  # binomial SE, 5 sigma
    ks = stats.kstest(draws[draws > 0] / 4, stats.arcsine.cdf)
    assert ks.pvalue > 1e-4  # seeded; a correct sampler fails this with probability 1e-4
    assert np.array_equal(s.rvs(7, random_state=3), s.rvs(7, random_state=3))


@pytest.mark.parametrize("name,sb2,depth,weights", [("erf", 0.184, 4, "orthogonal"), ("tanh", 0.05, 16, "gaussian"),
                                                    ("hardtanh", 0.05, 3, "orthogonal")])
def test_ppf_inverts_the_cdf(name, sb2, depth, weights):
    """cdf(ppf(p)) = p on the continuous part (to the cdf's own accuracy, 1e-9) and ppf is the smallest
    lambda with cdf >= p inside atoms (hard-tanh: an atom at 0 of mass 1 - p_active)."""
    s = jacobian_spectrum(name, mf.critical_sigma_w2(name, sb2), sb2, depth, weights)
    atom0 = dict(s.atoms).get(0.0, 0.0)
    p = atom0 + (1 - atom0) * np.array([1e-6, 1e-3, 0.05, 0.3, 0.7, 0.99])
    x = s.ppf(p)
    at_atom = np.isin(x, [loc for loc, _ in s.atoms])
    np.testing.assert_allclose(s.cdf(x[~at_atom]), p[~at_atom], rtol=1e-9, atol=1e-12)
    assert np.all(s.cdf(x[at_atom]) >= p[at_atom])  # inside a jump: the atom itself
    for loc, mass in s.atoms:  # just below the jump the cdf is still below p
        if loc > 0 and np.any(x == loc):
            assert s.cdf(loc * (1 - 1e-9)) < p[x == loc].min()
    if atom0 > 0:
        assert np.all(s.ppf(np.array([atom0 / 2, atom0])) == 0.0)
    with pytest.raises(ParameterError):
        s.ppf(1.5)
