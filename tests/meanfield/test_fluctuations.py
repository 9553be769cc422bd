"""Monte Carlo of sampled networks against the first-order finite-width theory (mf.finite_width,
mf.jacobian_norm_law) for smooth activations, and the two samplers of meanfield.simulate.sample_fluctuations
against each other.

Sample sizes and tolerances.  For tanh (60 000 networks), erf and gelu (30 000 networks each), near their edge of
chaos, networks of depth 4 at widths n = 32 and n = 64 (every layer, the input included) are drawn with the exact
Gaussian chain (validated against real weight matrices below).  A first-order quantity X(n) = c_1/n + c_2/n^2 + ... is extrapolated by
Richardson, c_1 ~ 2 (64 X(64)) - 32 X(32), which removes the O(1/n^2) term; its standard error comes from 20
batch means per width (t with 19 degrees of freedom: 5 standard errors is exceeded with probability < 2e-4).
The tolerance is 5 standard errors plus 3 % of the prediction for the O(1/n^3) remainder of the extrapolation
(measured: below 2 % for these configurations with 10^5 networks at n = 32, 64, 128).  With tanh's 60 000 networks
the resolution is enough to see each ingredient of the theory: its kurtosis coefficient is 2.3 (0 at infinite
width), and in log |J u|^2 the x-v correlation term is about 20 % of the mean's coefficient and the noise-vertex
covariance about 10 % of the variance's (5 standard errors + 3 % is about 6 % and 9 % there).
All draws are seeded: the tests are deterministic.
"""
import warnings

import numpy as np
import pytest
from scipy import stats

import meanfield as mf

L, BATCHES, WIDTHS = 4, 20, (32, 64)
CONFIGS = {"tanh": (1.76, 0.05, 60_000), "erf": (1.5, 0.1, 30_000), "gelu": (1.5, 0.1, 30_000)}


def _statistics(mc, fw, jl, n, rows):
    s, q, lj = mc.s[rows, -1], mc.q[rows, -1], mc.log_jacobian[rows, -1]
    return n * np.array([
        3 * s.var(ddof=1) / s.mean() ** 2,   # excess kurtosis of h^L
        s.mean() - fw.q[-1],                 # kernel shift
        q.var(ddof=1),                       # variance of |h^L|^2 / n
        lj.mean() - jl.mean_field[-1],       # mean of log |J u|^2 beyond infinite width
        lj.var(ddof=1),                      # its variance
    ])


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def extrapolated(request):
    """(Richardson estimate, its standard error, the theory's c_1) of the five statistics of ``_statistics``."""
    name = request.param
    sw2, sb2, networks = CONFIGS[name]
    values, errors = [], []
    for n in WIDTHS:
        widths = [n] * (L + 1)
        mc = mf.simulate.sample_fluctuations(name, sw2, sb2, widths, networks, seed=n)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", mf.FiniteWidthWarning)  # n = 32 is past the threshold; extrapolated
            fw, jl = mf.finite_width(name, sw2, sb2, widths), mf.jacobian_norm_law(name, sw2, sb2, widths)
        size = networks // BATCHES
        batches = np.array([_statistics(mc, fw, jl, n, slice(k * size, (k + 1) * size)) for k in range(BATCHES)])
        values.append(_statistics(mc, fw, jl, n, slice(None)))
        errors.append(batches.std(axis=0, ddof=1) / np.sqrt(BATCHES))
        theory = n * np.array([fw.excess_kurtosis[-1], fw.kernel_shift[-1], fw.q_variance[-1],
                               jl.mean[-1] - jl.mean_field[-1], jl.var[-1]])
    rich = 2 * values[1] - values[0]
    return name, rich, np.sqrt(4 * errors[1] ** 2 + errors[0] ** 2), theory


def _check(extrapolated, which):
    name, rich, se, theory = extrapolated
    for i in which:
        assert abs(rich[i] - theory[i]) <= 5 * se[i] + 0.03 * abs(theory[i]), (name, i, rich[i], theory[i], se[i])


def test_finite_width_vs_monte_carlo(extrapolated):
    """Excess kurtosis, kernel shift and the variance of the empirical q^L (the 1/n coefficients)."""
    _check(extrapolated, (0, 1, 2))
    name, rich, se, theory = extrapolated
    assert abs(theory[0]) > 10 * se[0]  # the kurtosis is resolved, far from the infinite-width 0


def test_log_normal_jacobian_vs_monte_carlo(extrapolated):
    """Mean and variance of log |J u|^2 (their 1/n coefficients) and its Gaussian shape (Hanin & Nica)."""
    _check(extrapolated, (3, 4))


def test_log_jacobian_is_nearly_gaussian():
    """Width 128, depth 6 (sum 1/n = 0.05), 10 000 networks: log |J u|^2 is close to the predicted normal law
    (Hanin & Nica): KS distance within the DKW bound at level 1e-3 (0.0195) plus 0.01 for the O(1/n^2) misplacement
    of the first-order mean and variance, and skewness below 0.25 (its sampling error is 0.025)."""
    widths = [128] * 7
    mc = mf.simulate.sample_fluctuations("tanh", 1.76, 0.05, widths, 10_000, seed=3)
    law = mf.jacobian_norm_law("tanh", 1.76, 0.05, widths).law()
    x = mc.log_jacobian[:, -1]
    assert abs(stats.skew(x)) < 0.25
    assert stats.kstest(x, law.cdf).statistic < mf.simulate.ks_bound(x.size, 1e-3) + 0.01


def test_chain_sampler_equals_real_weights():
    """The exact Gaussian chain and real weight matrices give the same laws: two-sample KS tests (3000 networks
    each, width 16, depth 3, two inputs, dropout 0.1) of s^L, |h^L|^2/n, c^L and log |J u|^2; each p-value above
    1e-3 (seeded, so deterministic; a wrong covariance in the chain shifts these laws by far more)."""
    args = ("tanh", 2.0, 0.1, [16, 16, 16, 16], 3000)
    a = mf.simulate.sample_fluctuations(*args, seed=1, c0=0.5, dropout=0.1, method="chain")
    b = mf.simulate.sample_fluctuations(*args, seed=2, c0=0.5, dropout=0.1, method="weights")
    for key in ("s", "q", "c", "log_jacobian"):
        assert stats.ks_2samp(getattr(a, key)[:, -1], getattr(b, key)[:, -1]).pvalue > 1e-3, key


def test_sampler_bad_input():
    with pytest.raises(mf.ParameterError, match="method"):
        mf.simulate.sample_fluctuations("tanh", 1.0, 0.0, [4, 4], 2, method="exact")
    with pytest.raises(mf.ParameterError, match="n_0 >= 2"):
        mf.simulate.sample_fluctuations("tanh", 1.0, 0.0, [1, 4], 2, c0=0.5)


def test_singular_value_spread_within_and_across_networks():
    """var_within (over directions u in one network) and var_across (over networks, of log tr(J^T J)/n_0, the log
    of the network's mean squared singular value) against real sampled tanh networks near the edge of chaos.

    Depth 4, every width n = 32 (8000 networks) and n = 64 (4000 networks), Gaussian weights, |x^0|^2/n_0 = 1;
    within a network, 64 Gaussian directions u per network (|J u|^2/|u|^2 = sum_i lambda_i w_i / sum_i w_i in the
    singular basis, w_i ~ chi^2_1).  Both are first-order quantities, X(n) = c_1/n + c_2/n^2: Richardson's
    2 (64 X(64)) - 32 X(32) removes the second-order term (large across networks: +16 % at n = 64), leaving
    O(1/n^2) ~ 3 % (measured 2.5 % with 4000 networks at n = 32, 64, 128).  Standard errors: a sample variance of
    K nearly Gaussian values has relative error sqrt(2/(K-1)); the extrapolation's error is 0.26/4.4 = 6 % across
    networks, below 1 % within.  Tolerance: 4 standard errors (probability < 1e-4) plus 5 % for the remainder.
    A wrong split (e.g. the whole conditional variance 3 mu_2/D^2 counted as within-network) misses by > 50 %.
    """
    from meanfield.simulate import jacobian_singular_values

    sw2, sb2, depth = 1.76, 0.05, 4
    c_across, c_within, se_across = [], [], []
    rng = np.random.default_rng(12)
    for n, networks in ((32, 8000), (64, 4000)):
        lam = jacobian_singular_values("tanh", sw2, sb2, depth, n, weights="gaussian", n_networks=networks,
                                       seed=n, q0=1.0).lam
        w = rng.standard_normal((networks, 64, n)) ** 2
        log_ju = np.log(np.einsum("kj,kmj->km", lam, w) / w.sum(axis=-1))
        across = np.log(lam.mean(axis=1)).var(ddof=1)
        c_across.append(n * across)
        se_across.append(n * across * np.sqrt(2 / (networks - 1)))
        c_within.append(n * log_ju.var(axis=1, ddof=1).mean())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mf.FiniteWidthWarning)
        law = mf.jacobian_norm_law("tanh", sw2, sb2, [64] * (depth + 1), q0=1.0)
    across = 2 * c_across[1] - c_across[0]
    se = np.hypot(2 * se_across[1], se_across[0])
    assert abs(across - 64 * law.var_across[-1]) < 4 * se + 0.05 * 64 * law.var_across[-1]
    within = 2 * c_within[1] - c_within[0]
    assert abs(within - 64 * law.var_within[-1]) < 0.05 * 64 * law.var_within[-1]
