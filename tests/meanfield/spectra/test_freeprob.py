"""Deformed-contour law of D^2 for smooth phi with d(g) neither even nor monotone (silu, gelu,
x erf x, softplus): the full-line contour of meanfield.spectra.freeprob._general_contour."""
import numpy as np
import pytest
from scipy import integrate


from meanfield import jacobian_spectrum
from meanfield.activations import activation
from meanfield.spectra.freeprob import d2_law

CASES = [("silu", 0.5), ("gelu", 2.0), ("x*erf(x)", 1.0)]


def _quad_m(act, q, z):
    """E[d/(z - d)] on the real g axis (adaptive quad, many breakpoints: z is close to the support)."""
    def f(g, part):
        d = act.dphi(np.sqrt(q) * np.atleast_1d(g))[0] ** 2
        r = d / (z - d) * np.exp(-0.5 * g * g) / np.sqrt(2 * np.pi)
        return r.real if part == 0 else r.imag

    pts = np.linspace(-11, 11, 45)
    return complex(*(integrate.quad(f, -12, 12, args=(p,), points=pts, limit=4000, epsabs=1e-15,
                                    epsrel=1e-12)[0] for p in (0, 1)))


@pytest.mark.parametrize("name,q", CASES)
def test_contour_transform_matches_real_axis(name, q):
    act = activation(name)
    law = d2_law(act, q)
    assert 0.0 < law.accuracy < 1e-8  # n vs 2n nodes per panel, near the support
    for frac in (0.2, 0.8):
        for y in (0.5, 0.01):
            z = frac * law.max_d + 1j * y
            ref = _quad_m(act, q, z)
            assert abs(complex(law.M(z)[0]) - ref) <= 1e-9 * abs(ref)


def test_supported_even_monotone_laws_keep_zero_accuracy_field():
    assert d2_law(activation("tanh"), 1.0).accuracy == 0.0


@pytest.mark.parametrize("name,q", [("silu", 1.0), ("gelu", 0.5), ("x*erf(x)", 0.5), ("softplus", 2.0)])
def test_one_layer_orthogonal_spectrum_is_law_of_sigma_w2_d(name, q):
    # L = 1, orthogonal: lambda = sigma_w2 d exactly; 1e6 Monte Carlo samples of g.  The cdf is
    # checked at 40 points, including the images sigma_w2 * v of the values where the density of d
    # is singular; tolerance 5 binomial standard deviations (a false alarm has probability < 3e-5 over
    # the 40 points) plus 1e-12 for the exact inversion
    act, sw2, n = activation(name), 1.3, 1_000_000
    s = jacobian_spectrum(name, sw2, 0.1, 1, "orthogonal", q=q)
    lam = np.sort(sw2 * act.dphi(np.sqrt(q) * np.random.default_rng(1).standard_normal(n)) ** 2)
    top = s.support()[1]
    assert top == pytest.approx(np.max(lam), rel=2e-3) and top >= np.max(lam)
    images = sw2 * np.array(s.law.interior)
    x = np.concatenate([np.linspace(0.0, 1.0, 34)[1:] * top, images * (1 - 1e-9), images * (1 + 1e-9), images])
    f_mc = np.searchsorted(lam, x, side="right") / n
    tol = 5 * np.sqrt(f_mc * (1 - f_mc) / n) + 1e-12
    np.testing.assert_array_less(np.abs(s.cdf(x) - f_mc), tol)


@pytest.mark.parametrize("name,q", [("silu", 1.0), ("gelu", 0.5), ("x*erf(x)", 0.5), ("tanh", 0.7),
                                    # kinked, piecewise smooth phi': the piecewise contour (one branch per piece)
                                    ("Max(x, tanh(x))", 0.8), ("Max(0, x) + 0.1*Min(0, tanh(x))", 1.2),
                                    ("abs(tanh(x))", 0.9), ("Max(tanh(x), 0.5*x)", 1.5)])
def test_one_layer_density_free_probability_matches_inversion(name, q):
    """At L = 1 the spectrum uses the inversion of d(g) (meanfield.spectra.derivative_law); the free
    probability solver must give the same density away from the singular images sigma_w2 * v."""
    sw2 = 1.3
    s = jacobian_spectrum(name, sw2, 0.1, 1, "orthogonal", q=q)
    top = s.support()[1]
    x = np.linspace(0.02, 0.98, 49) * top
    images = sw2 * np.array(s.law.interior)
    far = np.all(np.abs(x[:, None] - images[None, :]) > 0.01 * top, axis=1)
    exact, free = s.pdf(x[far]), s._free_pdf(x[far])
    np.testing.assert_allclose(free, exact, rtol=1e-6)


def _gauss_legendre(f, a, b, panels=60, nodes=20):
    """Composite Gauss-Legendre integral of a vectorized f over [a, b]."""
    u, w = np.polynomial.legendre.leggauss(nodes)
    edges = np.linspace(a, b, panels + 1)
    lo, hi = edges[:-1, None], edges[1:, None]
    return float(np.sum((hi - lo) / 2 * w * f(lo + (hi - lo) * (u + 1) / 2)))


def test_one_layer_density_integrates_to_the_cdf():
    # x*erf(x): d -> 1 from above as |g| -> inf, so the density of lambda has an integrable
    # singularity at sigma_w2 from the right (mass within eps of it ~ eps^(1/2)).  Float d resolves
    # d - 1 only to ~1e-16 absolute (the density at 1 + 1e-12 to ~1e-4 relative), so the right piece
    # starts at sigma_w2 (1 + 1e-8) and is integrated
    # in log(lambda - sigma_w2); the left piece ends at sigma_w2, where the density is finite.
    sw2 = 1.3
    s = jacobian_spectrum("x*erf(x)", sw2, 0.1, 1, "orthogonal", q=2.0)
    top = s.support()[1]
    left = _gauss_legendre(s.pdf, 0.05, sw2)
    assert left == pytest.approx(float(s.cdf(sw2) - s.cdf(0.05)), abs=1e-10)
    a, b = sw2 * (1 + 1e-8), 0.9 * top
    right = _gauss_legendre(lambda u: s.pdf(sw2 + np.exp(u)) * np.exp(u), np.log(a - sw2), np.log(b - sw2))
    assert right == pytest.approx(float(s.cdf(b) - s.cdf(a)), abs=1e-10)


@pytest.mark.parametrize("name,q,weights", [("silu", 1.0, "gaussian")])
def test_depth4_density_mean(name, q, weights):
    sw2, depth = 1.2, 4
    s = jacobian_spectrum(name, sw2, 0.1, depth, weights, q=q)
    law = d2_law(activation(name), q)
    assert s.mean() == pytest.approx((sw2 * law.mu(1)) ** depth, rel=1e-10)
    top = s.support()[1]
    # int lambda rho dlambda = int lambda^2 rho d(log lambda), over (1e-12 top, top)
    log_mean = _gauss_legendre(lambda t: np.exp(2 * t) * s.pdf(np.exp(t)), np.log(1e-12 * top), np.log(top), 30, 60)
    mean = log_mean + sum(v * m for v, m in s.atoms)
    assert mean == pytest.approx(s.mean(), rel=2e-4)


@pytest.mark.parametrize("name,depth,weights", [("silu", 2, "orthogonal"), ("gelu", 1, "gaussian"), ("x*erf(x)", 3, "orthogonal")])
def test_cdf_of_smoothed_laws_matches_direct_integration(name, depth, weights):
    # beyond one orthogonal layer the free convolution smooths the singular values of the law of d
    # to a continuous density, possibly with kinks in its slope; the cdf table must then agree with
    # adaptive quadrature of the density (QUADPACK, which refines around the kinks)
    s = jacobian_spectrum(name, 1.0, 0.0, depth, weights, q=2.0)
    top = s.support()[1]
    for a, b in [(0.05, 0.5), (0.5, 0.95)]:
        direct = integrate.quad(lambda v: float(s.pdf(v)), a * top, b * top, epsabs=1e-11, epsrel=1e-11, limit=200)[0]
        # 1e-6: inside a panel the table's 8-point interpolant of the density (steep near 0, where
        # rho ~ lambda^-1/2) is good to ~2e-7 (measured for silu); the issue asks 1e-5
        assert direct == pytest.approx(float(s.cdf(b * top) - s.cdf(a * top)), abs=1e-6)


def test_selu_law_of_d_has_an_atom_and_a_contour_part():
    # phi' = scale on x > 0 (atom 1/2 at scale^2), scale alpha e^x on x < 0: the mixed transform
    # against the real-axis integral split at the kink (adaptive quad, independent of the contour)
    act, q = activation("selu"), 1.0
    law = d2_law(act, q)
    scale, alpha = act.params["scale"], act.params["alpha"]
    assert law.atoms == ((pytest.approx(scale**2), 0.5),)
    assert law.max_d == pytest.approx((scale * alpha) ** 2)

    def m_ref(z):
        def f(g, part):
            d = (scale * alpha * np.exp(np.sqrt(q) * g)) ** 2
            r = d / (z - d) * np.exp(-0.5 * g * g) / np.sqrt(2 * np.pi)
            return r.real if part == 0 else r.imag

        cont = complex(*(integrate.quad(f, -12, 0, args=(p,), limit=2000, epsabs=1e-15, epsrel=1e-12)[0] for p in (0, 1)))
        return cont + 0.5 * scale**2 / (z - scale**2)

    for z in (0.5 + 0.05j, 2.0 + 0.01j, 3.5 + 0.5j):
        assert abs(complex(law.M(z)[0]) - m_ref(z)) <= 1e-9 * abs(m_ref(z))


@pytest.mark.parametrize(
    "name,sw2,sb2,weights,depth",
    [("selu", 1.0, 0.0, "orthogonal", 2), ("selu", 1.0, 0.0, "gaussian", 3), ("elu", 1.5, 0.1, "orthogonal", 3)],
)
def test_selu_elu_spectra_match_monte_carlo(name, sw2, sb2, weights, depth):
    """Free probability for the mixed laws against real networks at their q*, width 1000, 4 networks:
    KS below the 99.9 % bound for 4000 samples (the rows of one network are dependent, which makes
    the bound conservative only in expectation: seeds fixed).  selu orthogonal at L = 2 has an
    inverse-square-root singularity at (sigma_w^2 scale^2)^2 (mass 1/2 + 1/2 - 1 = 0), which the
    cdf panels are graded towards."""
    from meanfield import simulate

    s = jacobian_spectrum(name, sw2, sb2, depth, weights)
    assert s.q > 0
    smp = simulate.jacobian_singular_values(name, sw2, sb2, depth, 1000, weights=weights, n_networks=4, seed=3)
    ks = simulate.ks_distance(smp, s.cdf, atoms=s.atoms)
    assert ks.statistic < simulate.ks_bound(ks.n)
    assert s.atoms == []
    assert np.max(smp.lam_flat) <= s.support()[1] * 1.05


def test_selu_one_orthogonal_layer_is_exact():
    act, sw2, n = activation("selu"), 1.2, 1_000_000
    s = jacobian_spectrum("selu", sw2, 0.0, 1, "orthogonal", q=1.5)
    scale, alpha = act.params["scale"], act.params["alpha"]
    assert s.atoms == [(pytest.approx(sw2 * scale**2), pytest.approx(0.5, abs=1e-15))]
    assert s.support()[1] == pytest.approx(sw2 * (scale * alpha) ** 2, rel=1e-9)
    lam = np.sort(sw2 * act.dphi(np.sqrt(1.5) * np.random.default_rng(4).standard_normal(n)) ** 2)
    x = np.linspace(0.05, 1.0, 20) * s.support()[1]
    f_mc = np.searchsorted(lam, x, side="right") / n
    # 5 binomial standard deviations over 20 points
    np.testing.assert_array_less(np.abs(s.cdf(x) - f_mc), 5 * np.sqrt(f_mc * (1 - f_mc) / n) + 1e-12)


def test_kinked_laws_at_q_zero_are_the_one_sided_limit():
    # elu (alpha = 1) is C^1 at 0: d = 1 with certainty; selu's one-sided slopes differ there, and
    # q -> 0+ leaves phi'(0-)^2 and phi'(0+)^2 with mass 1/2 each
    assert d2_law(activation("elu"), 0.0).atoms == ((1.0, 1.0),)
    act = activation("selu")
    scale, alpha = act.params["scale"], act.params["alpha"]
    law = d2_law(act, 0.0)
    assert [v for v, _ in law.atoms] == pytest.approx([scale**2, (scale * alpha) ** 2], rel=1e-12)
    assert [m for _, m in law.atoms] == [0.5, 0.5]
    assert d2_law(act, 1e-14).mu(1) == pytest.approx(law.mu(1), rel=1e-6)


def test_piecewise_constant_formulas_are_discrete_laws():
    # a formula version of leaky relu gives the built-in's spectrum; abs(x) is an orthogonal point mass
    a = jacobian_spectrum("Max(x, 0.2*x)", 1.5, 0.1, 3, "gaussian")
    b = jacobian_spectrum(activation("leaky_relu", slope=0.2), 1.5, 0.1, 3, "gaussian")
    assert a.law.discrete and sorted(v for v, _ in a.law.atoms) == pytest.approx([0.04, 1.0])
    x = np.linspace(0.1, 0.9, 5) * b.support()[1]
    np.testing.assert_allclose(a.pdf(x), b.pdf(x), rtol=1e-9)
    c = jacobian_spectrum("abs(x)", 0.8, 0.1, 5, "orthogonal")
    assert c.atoms == [(pytest.approx(0.8**5), pytest.approx(1.0))]


@pytest.mark.slow
@pytest.mark.parametrize("name, depth, weights", [
    ("Max(x, tanh(x))", 2, "orthogonal"),  # atom 1/2 of d at 1: the L(1 - m) = 1 boundary, no atom
    ("Max(x, tanh(x))", 4, "gaussian"),
    ("Max(0, x) + 0.1*Min(0, tanh(x))", 3, "orthogonal"),
    ("Max(tanh(x), 0.5*x)", 4, "orthogonal"),
])
def test_kinked_piecewise_smooth_spectra_match_sampled_networks(name, depth, weights):
    """Formulas whose phi' is piecewise smooth with kinks (refused before): KS against real networks
    above 1e-8 lambda_max, bound = DKW at alpha 1e-3 for the pooled eigenvalues (conservative for
    repelling eigenvalues) + 5/N for the finite-width bias, as in test_spectrum_monte_carlo.py."""
    import meanfield as mf
    from meanfield.simulate import jacobian_singular_values, ks_bound, ks_distance

    n, networks = 500, 4
    point = mf.critical_point(name, 0.1)
    spec = jacobian_spectrum(name, point.sigma_w2, 0.1, depth, weights)
    samples = jacobian_singular_values(name, point.sigma_w2, 0.1, depth, n, weights=weights, n_networks=networks,
                                       seed=3)
    result = ks_distance(samples, spec, floor=1e-8 * spec.support()[1])
    bound = ks_bound(n * networks) + 5.0 / n
    assert result.statistic < bound, result
    assert samples.lam.mean() == pytest.approx(spec.mean(), rel=0.1)
