"""Tests of meanfield.simulate.jacobian_singular_values and the Monte Carlo comparison helpers.

Exact statements (isometry of linear orthogonal networks, rank of relu Jacobians, the log scale of
deep products) are tested to rounding; statistical ones (Marchenko-Pastur, mean chi_1^L) with
tolerances derived from the sample size, stated next to each test.  Every test is seeded.
Following notes/spectra.md 5, no test looks at sampled second or third moments of one deep network.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

import meanfield as mf
from meanfield import simulate as sim
from meanfield.errors import ParameterError


def mp_cdf(x, sigma_w2=1.0):
    """CDF of sigma_w2 times the Marchenko-Pastur law of ratio 1, rho(t) = sqrt(4t - t^2) / (2 pi t).

    Integrated numerically (scipy quad with the algebraic weight t^-1/2 for the edge at 0:
    rho(t) = t^-1/2 sqrt(4 - t) / (2 pi)); independent of the package.
    """
    t = np.atleast_1d(np.asarray(x, dtype=float)) / sigma_w2
    out = np.empty(t.shape)
    for i, v in enumerate(t.ravel()):
        if v <= 0:
            out.flat[i] = 0.0
        elif v >= 4:
            out.flat[i] = 1.0
        else:
            out.flat[i] = integrate.quad(
                lambda u: np.sqrt(4 - u) / (2 * np.pi), 0, v, weight="alg", wvar=(-0.5, 0.0)
            )[0]
    return out


def test_mp_cdf_reference():
    # total mass 1, and the closed form at the median-ish point t = 1: 1/3 + sqrt(3)/(2 pi)
    assert mp_cdf(4 - 1e-14)[0] == pytest.approx(1.0, abs=1e-7)
    assert mp_cdf(1.0)[0] == pytest.approx(1 / 3 + np.sqrt(3) / (2 * np.pi), abs=1e-12)


# ----------------------------------------------------------------------------------------------
# exact statements
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("sigma_w2, depth", [(1.5, 200), (0.7, 200), (1.0, 1), (2.0, 37)])
def test_linear_orthogonal_is_exact_isometry(sigma_w2, depth):
    """J = sigma_w^L O_L ... O_1: every lambda = sigma_w^(2L), here up to 1.5^200 ~ 1e35 (no overflow)."""
    r = sim.jacobian_singular_values("linear", sigma_w2, 0.1, depth, 48, "orthogonal", n_networks=2, seed=3)
    target = sigma_w2**depth
    assert r.lam.shape == (2, 48) and r.log_lam.shape == (2, 48)
    np.testing.assert_allclose(r.lam, target, rtol=1e-10)
    np.testing.assert_allclose(r.log_lam, depth * np.log(sigma_w2), rtol=1e-10, atol=1e-10)
    assert np.all(r.active_fraction == 1) and np.all(r.d2_mean == 1) and r.bernoulli


def test_log_scale_keeps_underflowing_eigenvalues():
    """sigma_w2 = 0.01, L = 200: lambda = 1e-400 underflows to 0, but log_lam holds it exactly."""
    r = sim.jacobian_singular_values("linear", 0.01, 0.0, 200, 16, "orthogonal", seed=1)
    assert np.all(r.lam == 0)
    np.testing.assert_allclose(r.log_lam, 200 * np.log(0.01), rtol=1e-12)
    assert np.all(r.numerical_rank() == 16)


def test_deep_chaotic_product_stays_finite():
    """tanh, orthogonal, sigma_w2 = 3 (chaotic, chi_1 ~ 1.24), L = 300, N = 64: no overflow, no NaN."""
    r = sim.jacobian_singular_values("tanh", 3.0, 0.0, 300, 64, "orthogonal", n_networks=2, seed=7)
    assert np.all(np.isfinite(r.lam)) and np.all(np.isfinite(r.log_lam))
    assert np.all(np.isfinite(r.log_scale))
    assert np.all(r.lam > 0)
    assert np.all(np.diff(r.lam, axis=1) >= 0)  # ascending
    assert not r.bernoulli and np.all(r.active_fraction == 1)


@pytest.mark.parametrize("act", ["relu", "hardtanh"])
@pytest.mark.parametrize("weights", ["gaussian", "orthogonal"])
def test_bernoulli_rank_is_min_active_units(act, weights):
    """rank J = min_l rank D^l for random weights (notes/spectra.md 2.8): the number of zero singular
    values is N - min_l k_l exactly.  Numerical rank at numpy's tolerance N eps s_max: at L = 3, N = 120
    the null directions sit at ~1e-16 relative and the smallest true singular values above ~1e-5."""
    sw2 = 2.0 if act == "relu" else 1.2
    r = sim.jacobian_singular_values(act, sw2, 0.05, 3, 120, weights, n_networks=4, seed=11)
    assert r.bernoulli
    k = r.active_units
    assert np.all(k < 120) and np.all(k > 0)
    np.testing.assert_array_equal(r.numerical_rank(), k.min(axis=1))
    n_zero = np.count_nonzero(r.lam <= 1e-25 * r.lam.max(axis=1, keepdims=True), axis=1)
    np.testing.assert_array_equal(n_zero, 120 - k.min(axis=1))
    np.testing.assert_array_equal(sim.conditioned_bernoulli_p(r), k / 120)


# ----------------------------------------------------------------------------------------------
# statistical statements
# ----------------------------------------------------------------------------------------------
def test_linear_gaussian_one_layer_is_marchenko_pastur():
    """L = 1, J = W: lambda are the eigenvalues of W W^T, sigma_w2 times MP of ratio 1.

    Mean: (1/N) tr W W^T is a sum of N^2 scaled chi^2_1 terms, exactly sigma_w2 in expectation with
    standard deviation sqrt(2) sigma_w2 / N per network; pooled over n networks, tolerance 5 of those
    standard errors.  Second moment: E (1/N) tr (W W^T)^2 = sigma_w2^2 (2 + 1/N) exactly (Wishart);
    tolerance 5 empirical standard errors across the independent networks, and within that plus 1/N
    of the limit 2 sigma_w2^2.  KS: below the DKW bound at alpha = 1e-3 for the pooled sample (the
    eigenvalues of one network repel, so this is conservative; typical values are ~1/N).
    """
    sw2, n_net, N = 0.7, 10, 400
    r = sim.jacobian_singular_values("linear", sw2, 0.3, 1, N, "gaussian", n_networks=n_net, seed=2024)
    assert r.lam.mean() == pytest.approx(sw2, abs=5 * np.sqrt(2) * sw2 / (N * np.sqrt(n_net)))
    m2 = (r.lam**2).mean(axis=1)
    se2 = m2.std(ddof=1) / np.sqrt(n_net)
    assert m2.mean() == pytest.approx(sw2**2 * (2 + 1 / N), abs=5 * se2)
    assert m2.mean() == pytest.approx(2 * sw2**2, abs=5 * se2 + sw2**2 / N)
    ks = sim.ks_distance(r, lambda x: mp_cdf(x, sw2))
    assert ks.n == n_net * N
    assert ks.statistic < sim.ks_bound(ks.n, 1e-3)
    errors = sim.moment_errors(r, sw2, sw2**2)
    assert abs(errors.mean_rel_error) < 5 * np.sqrt(2) / (N * np.sqrt(n_net))
    assert abs(errors.var_rel_error) < 0.05


def test_mean_lambda_is_chi1_to_the_depth():
    """E[(1/N) tr J J^T] = chi_1^L: tanh, Gaussian, sigma_w2 = 1.5, sigma_b2 = 0.05 (chi_1 = 0.94,
    ordered), L = 3, N = 300, 40 networks.

    Per-network relative std of the mean is ~7 %, so the standard error is ~1.2 %; tolerance 4 SE plus
    a finite-width bias allowance L/N = 1 % (measured with 1000 networks: bias -0.5 % +- 0.2 %).
    The sampled mu_1 = mean phi'(h)^2 of every layer, layer 1 included, is at q* (input convention of
    notes/spectra.md pitfall 9): within 4 SE of chi_1 / sigma_w2.
    """
    act, sw2, sb2, L, N, n_net = "tanh", 1.5, 0.05, 3, 300, 40
    chi = mf.chi1(act, sw2, sb2)
    r = sim.jacobian_singular_values(act, sw2, sb2, L, N, "gaussian", n_networks=n_net, seed=5)
    assert r.q0 is None and r.q_star == pytest.approx(mf.fixed_point(act, sw2, sb2))
    means = r.network_means
    se = means.std(ddof=1) / np.sqrt(n_net)
    assert abs(means.mean() - chi**L) < 4 * se + chi**L * L / N
    errors = sim.moment_errors(r, chi**L, 1.0)
    assert errors.mean_rel_se == pytest.approx(se / chi**L)
    assert abs(errors.mean_rel_error) < 4 * errors.mean_rel_se + L / N
    mu1 = r.d2_mean.mean(axis=0)
    mu1_se = r.d2_mean.std(axis=0, ddof=1) / np.sqrt(n_net)
    assert np.all(np.abs(mu1 - chi / sw2) < 4 * mu1_se + 1 / N)
    assert np.all(r.active_fraction == 1)
    with pytest.raises(ParameterError, match="two-valued"):
        sim.conditioned_bernoulli_p(r)


def test_raw_input_follows_the_trajectory():
    """q0 = |x^0|^2 / N is fed to layer 1 as it is: the sampled mu_1 of layer l sits at D(q^l) of the
    trajectory q^1 = sigma_w^2 q0 + sigma_b^2 (not at q*), and E[(1/N) tr J J^T] = prod_l chi_1^l.

    tanh, orthogonal, sigma_w2 = 1, sigma_b2 = 0 (q* = 0, reached like 1/l), q0 = 1, L = 6, N = 200,
    30 networks.  Per layer the sampled mu_1 averages N units of 30 networks: its standard error (from
    the spread across networks) is ~1e-3 while D(q^l) moves by ~0.03 per layer, so 5 SE plus an O(1/N)
    allowance separates the trajectory from the fixed point (D(q*) = 1) by a wide margin.
    """
    act, sw2, sb2, L, N, n_net, q0 = "tanh", 1.0, 0.0, 6, 200, 30, 1.0
    path = mf.trajectory(act, sw2, sb2, L, q0)
    r = sim.jacobian_singular_values(act, sw2, sb2, L, N, n_networks=n_net, seed=11, q0=q0)
    assert r.q0 == q0 and r.q_star is None
    d2 = r.d2_mean
    se = d2.std(axis=0, ddof=1) / np.sqrt(n_net)
    np.testing.assert_array_less(np.abs(d2.mean(axis=0) - path.chi1 / sw2), 5 * se + 1.0 / N)
    assert np.all(path.chi1 < 0.95)  # far from the fixed point's chi_1 = 1
    means = r.network_means
    se = means.std(ddof=1) / np.sqrt(n_net)
    assert abs(means.mean() - path.mean) < 5 * se + path.mean * L / N


# ----------------------------------------------------------------------------------------------
# the comparison helpers on known laws
# ----------------------------------------------------------------------------------------------
def test_ks_distance_matches_scipy_for_continuous_laws():
    x = np.random.default_rng(0).exponential(size=500)
    ours = sim.ks_distance(x, stats.expon.cdf)
    assert ours.statistic == pytest.approx(stats.kstest(x, "expon").statistic, abs=1e-14)
    assert ours.n == 500 and ours.floor is None and ours.mass_below_floor_empirical is None


def test_ks_distance_with_atoms_counts_both_sides_of_jumps():
    # a law with an atom of mass 0.3 at 0 and Exp(1) (mass 0.7) above
    def cdf(x):
        x = np.asarray(x, float)
        return np.where(x < 0, 0.0, 0.3 + 0.7 * (1 - np.exp(-np.maximum(x, 0))))

    rng = np.random.default_rng(1)
    n = 4000
    x = np.where(rng.random(n) < 0.3, 0.0, rng.exponential(size=n))
    d = sim.ks_distance(x, cdf).statistic
    assert d < sim.ks_bound(n)
    assert sim.ks_distance(x, cdf, atoms=[(0.0, 0.3)]).statistic == pytest.approx(d, abs=1e-15)
    # without the atom at 0 in the samples, the left side of the theoretical jump shows the full 0.3
    assert sim.ks_distance(x[x > 0], cdf).statistic >= 0.3


def test_ks_distance_snaps_rounded_samples_onto_atoms():
    """Linear orthogonal: a point mass at sigma_w^(2L), sampled to ~1e-13 relative."""
    r = sim.jacobian_singular_values("linear", 1.5, 0.0, 50, 32, "orthogonal", seed=4)
    loc = 1.5**50
    assert np.ptp(r.lam) > 0  # rounding spreads the atom

    def step(x):
        return np.where(np.asarray(x) >= loc, 1.0, 0.0)

    assert sim.ks_distance(r, step, atoms=[(loc, 1.0)]).statistic == 0.0

    class Spectrum:  # the interface of JacobianSpectrum: .cdf and .atoms
        atoms = [(loc, 1.0)]
        cdf = staticmethod(step)

    assert sim.ks_distance(r, Spectrum()).statistic == 0.0
    assert sim.ks_distance(r, step).statistic > 0.1  # not snapped: a spurious distance


def test_ks_distance_floor():
    def cdf(x):
        return np.clip(np.asarray(x, float), 0, 1)

    x = np.concatenate([np.full(300, 1e-30), np.linspace(0.01, 1, 700)])
    res = sim.ks_distance(x, cdf, floor=1e-3)
    assert res.floor == 1e-3
    assert res.mass_below_floor_empirical == pytest.approx(0.3)
    assert res.mass_below_floor_theory == pytest.approx(1e-3)
    assert res.statistic >= abs(0.3 - 1e-3) - 1e-15
    # a theory with the same mass below the floor: the statistic is only the part above it
    res2 = sim.ks_distance(x, lambda t: np.where(np.asarray(t) < 1e-3, 0.3, 0.3 + 0.7 * cdf(t)), floor=1e-3)
    assert res2.statistic < 0.02


def test_ks_bound_and_moment_errors():
    assert sim.ks_bound(1000, 0.05) == pytest.approx(np.sqrt(np.log(40) / 2000))
    e = sim.moment_errors(np.array([1.0, 3.0]), 2.0, 1.0)
    assert (e.sample_mean, e.sample_var, e.mean_rel_error, e.var_rel_error) == (2.0, 1.0, 0.0, 0.0)
    assert np.isnan(e.mean_rel_se)
    e = sim.moment_errors(np.array([2.0, 2.0]), 2.0, 0.0)  # point mass: var error relative to mean^2
    assert e.var_rel_error == 0.0


def test_progress_flag_and_shapes():
    r = sim.jacobian_singular_values("relu", 2.0, 0.0, 4, 20, "gaussian", n_networks=3, seed=0, progress=True)
    assert r.lam.shape == (3, 20) and r.active_fraction.shape == (3, 4) and r.d2_mean.shape == (3, 4)
    assert r.singular_values_flat.shape == (60,) and r.lam_flat.shape == (60,)
    np.testing.assert_allclose(r.singular_values**2, r.lam)
    assert (r.depth, r.width, r.n_networks, r.weights) == (4, 20, 3, "gaussian")
    # same seed, same numbers
    r2 = sim.jacobian_singular_values("relu", 2.0, 0.0, 4, 20, "gaussian", n_networks=3, seed=0)
    np.testing.assert_array_equal(r.lam, r2.lam)


def test_diverging_q_star_uses_q0_one_for_scale_free_activations():
    # relu at sigma_w2 = 3: q grows without bound, but phi' is scale-free, so any q gives the same law
    r = sim.jacobian_singular_values("relu", 3.0, 0.1, 2, 16, seed=0)
    assert r.q_star == 1.0 and r.q0 is None
    with pytest.raises(mf.DivergentFixedPointError):
        sim.jacobian_singular_values("softplus", 30.0, 0.1, 2, 16, seed=0)
    r = sim.jacobian_singular_values("softplus", 30.0, 0.1, 2, 16, seed=0, q0=2.0)
    assert r.q0 == 2.0 and r.q_star is None


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(depth=0), dict(depth=2.5), dict(width=0), dict(sigma_w2=-1.0), dict(sigma_b2=np.nan),
        dict(weights="haar"), dict(weights=None), dict(n_networks=0), dict(n_networks=1.5),
        dict(q0=-1.0), dict(seed="abc"), dict(progress="yes"),
    ],
)
def test_bad_input_raises(kwargs):
    args = dict(act="tanh", sigma_w2=1.0, sigma_b2=0.05, depth=2, width=8)
    args.update(kwargs)
    with pytest.raises(ParameterError):
        sim.jacobian_singular_values(**args)


def test_helpers_bad_input():
    with pytest.raises(ParameterError):
        sim.ks_bound(0)
    with pytest.raises(ParameterError):
        sim.ks_bound(10, alpha=1.5)
    with pytest.raises(ParameterError):
        sim.ks_distance([], stats.norm.cdf)
    with pytest.raises(ParameterError):
        sim.ks_distance([1.0, np.nan], stats.norm.cdf)
    with pytest.raises(ParameterError):
        sim.ks_distance([1.0], "not a cdf")
    with pytest.raises(ParameterError):
        sim.moment_errors([1.0], 0.0, 1.0)
    with pytest.raises(ParameterError):
        sim.conditioned_bernoulli_p(np.ones((2, 3)))
