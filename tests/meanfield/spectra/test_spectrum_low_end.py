"""The bottom of the Jacobian spectrum for smooth activations, where the law of phi'(h)^2 reaches 0.

The issue's example: erf, orthogonal weights, depth 4, on the edge of chaos at sigma_b^2 = 0.184.  Real
networks put F(5.3e-7) = 0.096 +- 0.002; the library said 0.0835, because the contour of the law of D^2
did not decay in the Gaussian tail of d = (4/pi) exp(-2 q g^2) and took a wrong residue for small zeta
(density twice too large below 1e-6 lambda_max, a wrong branch).  Two independent routes check it:

1. Monte Carlo of real networks: per-network fractions F_k(x) of eigenvalues <= x, their mean and its
   standard error over the networks (independent), at the 0.2 %, 1 %, 5 % and 20 % quantiles of the
   sample and at the issue's point.  Tolerance 5 SE + 2/N: a 5 SE miss has probability < 1e-6 per point,
   2/N budgets the finite-width bias (measured below 1/N here, 3 widths).  Quantiles below 1e-28
   lambda_max are skipped: a float64 product cannot resolve them (docs/conventions.md §4).
2. An independent solver written here: M_{D^2}(zeta) by scipy quad on the real g-axis (no contour), the
   subordination equation continued by Newton from far above the spectrum to z = x + 0.5 i x, compared
   with the library's G at the same z.  At that height the real-axis integral is regular, so this
   checks the contour quadrature and the branch at small lambda without sharing their code.
"""
from __future__ import annotations

import cmath
import math

import numpy as np
import pytest
from scipy import integrate

import meanfield as mf

SB2 = 0.184


def _per_network_cdf(samples, x):
    per = (samples.lam[:, :, None] <= np.asarray(x)[None, None, :]).mean(axis=1)
    return per.mean(axis=0), per.std(axis=0, ddof=1) / math.sqrt(per.shape[0])


@pytest.mark.slow
@pytest.mark.parametrize("name, depth, weights", [
    ("erf", 4, "orthogonal"),   # the issue's case
    ("erf", 2, "orthogonal"),
    ("erf", 4, "gaussian"),
    ("tanh", 4, "orthogonal"),
    ("silu", 4, "orthogonal"),  # full-line contour (d neither even nor monotone)
])
def test_low_end_matches_sampled_networks(name, depth, weights):
    point = mf.critical_point(name, SB2)
    spec = mf.jacobian_spectrum(name, point.sigma_w2, SB2, depth, weights)
    n, networks = 400, 30
    samples = mf.simulate.jacobian_singular_values(
        name, point.sigma_w2, SB2, depth, n, weights=weights, n_networks=networks, seed=11)
    lam = np.sort(samples.lam_flat)
    x = lam[(np.array([0.002, 0.01, 0.05, 0.2]) * lam.size).astype(int)]
    if name == "erf" and depth == 4 and weights == "orthogonal":
        x = np.append(x, 5.3e-7)
    x = x[x > 1e-28 * spec.support()[1]]
    assert x.size >= 3
    empirical, se = _per_network_cdf(samples, x)
    theory = spec.cdf(x)
    assert np.all(np.abs(empirical - theory) <= 5 * se + 2.0 / n), (x, empirical, theory, se)


def test_issue_example_density_is_smooth_and_resolved():
    """lambda rho(lambda) over 28 decades: positive, increasing and smooth (no branch jump: the ratio of
    neighbours on a 1/2-decade grid changes by < 3 % from one pair to the next, where the old wrong branch
    jumped by a factor 2), and the same with four times the contour nodes (1e-8)."""
    point = mf.critical_point("erf", SB2)
    x = np.geomspace(1e-28, 1.0, 57)
    rho = [mf.jacobian_spectrum("erf", point.sigma_w2, SB2, 4, "orthogonal", n_nodes=n).pdf(x) * x
           for n in (400, 1600)]
    assert np.all(rho[0] > 0)
    ratios = rho[0][1:] / rho[0][:-1]
    assert np.all(ratios > 1.0)
    assert np.all(np.abs(ratios[1:] / ratios[:-1] - 1) < 0.03)
    np.testing.assert_allclose(rho[0], rho[1], rtol=1e-8)


# ---- the independent real-axis solver -------------------------------------------------------
def _m_d2(zeta: complex, q: float) -> complex:
    """M(zeta) = E[d/(zeta - d)], d = (4/pi) exp(-2 q g^2), g ~ N(0, 1): quad on g >= 0 (d is even in g)."""
    root = math.sqrt(max(math.log(4 / (math.pi * abs(zeta))), 0.0) / (2 * q)) if abs(zeta) < 4 / math.pi else 0.0

    def part(fn):
        f = lambda g: fn(2 * math.exp(-g * g / 2) / math.sqrt(2 * math.pi)  # noqa: E731
                         * (d := 4 / math.pi * math.exp(-2 * q * g * g)) / (zeta - d))
        pts = [p for p in (root,) if 0 < p < 12]
        return integrate.quad(f, 0, 12, points=pts or None, limit=400, epsabs=1e-14, epsrel=1e-12)[0]

    return complex(part(lambda v: v.real), part(lambda v: v.imag))


def _independent_g(x: float, sw2: float, q: float, depth: int) -> complex:
    """G(z) at z = x + 0.5 i x for orthogonal weights: z = sw2^L ((1+m)/m) (m zeta/(1+m))^L, m = M(zeta),
    continued from z = x + 50 i (zeta ~ mu_1 z / chi^L far away) down the line Re z = x."""
    mu1 = 4 / (math.pi * math.sqrt(1 + 4 * q))
    chi = sw2 * mu1
    heights = np.geomspace(50.0, 0.5 * x, 400)
    zeta = mu1 * (x + 1j * heights[0]) / chi**depth
    for y in heights:
        log_z = cmath.log(x + 1j * y)
        for _ in range(50):
            def F(zt):
                m = _m_d2(zt, q)
                return depth * math.log(sw2) + cmath.log(1 + m) - cmath.log(m) + depth * (
                    cmath.log(m) + cmath.log(zt) - cmath.log(1 + m)) - log_z

            f = F(zeta)
            h = 1e-7 * abs(zeta)
            step = f / ((F(zeta + h) - f) / h)
            if abs(step) > 0.5 * abs(zeta):
                step *= 0.5 * abs(zeta) / abs(step)
            zeta -= step
            if abs(step) < 1e-11 * abs(zeta):
                break
    m = _m_d2(zeta, q)
    return (1 + m) / (x + 0.5j * x)


@pytest.mark.slow
@pytest.mark.parametrize("x", [1e-8, 1e-5])
def test_low_end_green_function_matches_an_independent_real_axis_solver(x):
    point = mf.critical_point("erf", SB2)
    spec = mf.jacobian_spectrum("erf", point.sigma_w2, SB2, 4, "orthogonal")
    m, _ = spec._solver.solve(np.array([x]), 1.0, np.array([0.5 * x]))
    library = (1 + m[0]) / (x + 0.5j * x)
    reference = _independent_g(x, point.sigma_w2, point.q_star, 4)
    assert abs(library - reference) <= 1e-7 * abs(reference)
