"""Deformed-contour law of D^2 for smooth phi with d(g) neither even nor monotone (silu, gelu,
x erf x, softplus): the full-line contour of meanfield.freeprob._general_contour."""
import numpy as np
import pytest
from scipy import integrate

from meanfield.errors import ParameterError

from meanfield import jacobian_spectrum
from meanfield.activations import activation
from meanfield.freeprob import d2_law

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
    # L = 1, orthogonal: lambda = sigma_w2 d exactly; 1e6 Monte Carlo samples of g, tolerance
    # 5 binomial standard deviations + 2e-4 (quadrature of the density)
    act, sw2, n = activation(name), 1.3, 1_000_000
    s = jacobian_spectrum(name, sw2, 0.1, 1, "orthogonal", q=q)
    lam = np.sort(sw2 * act.dphi(np.sqrt(q) * np.random.default_rng(1).standard_normal(n)) ** 2)
    top = s.support()[1]
    assert top == pytest.approx(np.max(lam), rel=2e-3) and top >= np.max(lam)
    if not s.law.interior:  # softplus: the cdf is available
        x = top * np.array([0.05, 0.2, 0.4, 0.6, 0.8, 0.95])
        f_mc = np.searchsorted(lam, x) / n
        tol = 5 * np.sqrt(f_mc * (1 - f_mc) / n) + 2e-4
        np.testing.assert_array_less(np.abs(s.cdf(x) - f_mc), tol)
        return
    # laws of d with interior singular values: the cdf refuses; the density is checked on an
    # interval away from the singular images sigma_w2 * v
    with pytest.raises(ParameterError, match="not available"):
        s.cdf(0.5 * top)
    images = sw2 * np.array(s.law.interior)
    grid = np.linspace(0.05, 0.95, 19) * top
    ok = [(a, b) for a, b in zip(grid[:-1], grid[1:]) if not np.any((images > a - 0.02 * top) & (images < b + 0.02 * top))]
    a, b = ok[len(ok) // 2]
    mass = integrate.quad(lambda v: float(s.pdf(v)), a, b, epsabs=1e-10, limit=100)[0]
    f_mc = (np.searchsorted(lam, b) - np.searchsorted(lam, a)) / n
    assert abs(mass - f_mc) < 5 * np.sqrt(f_mc * (1 - f_mc) / n) + 2e-4


@pytest.mark.parametrize("name,q,weights", [("silu", 1.0, "gaussian")])
def test_depth4_density_mean(name, q, weights):
    sw2, depth = 1.2, 4
    s = jacobian_spectrum(name, sw2, 0.1, depth, weights, q=q)
    law = d2_law(activation(name), q)
    assert s.mean() == pytest.approx((sw2 * law.mu(1)) ** depth, rel=1e-10)
    top = s.support()[1]
    # int lambda rho dlambda = int lambda^2 rho d(log lambda), over (1e-12 top, top)
    u, w = np.polynomial.legendre.leggauss(60)
    a, b = np.log(1e-12 * top), np.log(top)
    edges = np.linspace(a, b, 31)
    lo, hi = edges[:-1, None], edges[1:, None]
    t = (lo + (hi - lo) * (u + 1) / 2).ravel()
    wt = ((hi - lo) / 2 * w).ravel()
    xs = np.exp(t)
    mean = np.sum(wt * xs * xs * s.pdf(xs)) + sum(v * m for v, m in s.atoms)
    assert mean == pytest.approx(s.mean(), rel=2e-4)
