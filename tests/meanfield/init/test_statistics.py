"""Per-layer statistics of real weights (meanfield.init.statistics) against independent routes.

Standard errors are checked against the empirical spread over R seeded draws: the sample standard
deviation of R = 400 near-Gaussian estimates has relative standard error 1/sqrt(2(R - 1)) = 3.5 %, so
the 18 % tolerance is 5 of them.  Means are checked within 5 standard errors of the mean.  The
classification thresholds are 6-sigma ones (module docstring): over 40 seeds per case no misreading is
expected (a per-draw probability below 1e-8 for the iid tests).
"""
import math

import numpy as np
import pytest
from scipy.special import erfc

import meanfield as mf
from meanfield.init.statistics import homogeneity_pvalue, layer_statistics, orthogonality_tolerance, pooled

R = 400


def _stats(w, b=None, dtype=np.float64, index=1):
    return layer_statistics(index, f"W{index}", np.asarray(w, dtype=float), dtype, b)


@pytest.mark.parametrize(
    "draw, kurtosis",
    [
        (lambda rng, shape, s: s * rng.standard_normal(shape), 3.0),
        (lambda rng, shape, s: rng.uniform(-math.sqrt(3) * s, math.sqrt(3) * s, shape), 9.0 / 5.0),
    ],
    ids=["gaussian", "uniform"],
)
def test_sigma_w2_standard_error_matches_the_spread_of_draws(draw, kurtosis):
    rng = np.random.default_rng(0)
    fan_out, fan_in, sw2 = 24, 40, 2.0
    n = fan_out * fan_in
    stats = [_stats(draw(rng, (fan_out, fan_in), math.sqrt(sw2 / fan_in))) for _ in range(R)]
    est = np.array([s.sigma_w2 for s in stats])
    se = np.array([s.sigma_w2_se for s in stats])
    # closed form: Var(fan_in m_2) = fan_in^2 (mu_4 - sigma^4) / n = sigma_w2^2 (kurtosis - 1) / n
    exact_se = sw2 * math.sqrt((kurtosis - 1.0) / n)
    assert abs(est.mean() - sw2) <= 5 * exact_se / math.sqrt(R)
    assert est.std(ddof=1) == pytest.approx(exact_se, rel=0.18)
    assert se.mean() == pytest.approx(exact_se, rel=0.05)  # the plug-in fourth moment, averaged over draws


def test_orthogonal_layers_have_an_exact_scale():
    w = mf.init.orthogonal((30, 50), gain=1.5, seed=1)
    s = _stats(w)
    assert s.ensemble == "orthogonal" and s.sigma_w2_se == 0.0
    # |W|_F^2 = gain^2 min(n, m), sigma_w2 = fan_in |W|_F^2 / (fan_out fan_in) = gain^2 min(n, m) / fan_out
    assert s.sigma_w2 == pytest.approx(1.5**2, rel=1e-12)
    tall = _stats(mf.init.orthogonal((50, 30), gain=1.5, seed=1))
    assert tall.sigma_w2 == pytest.approx(1.5**2 * 30 / 50, rel=1e-12) and tall.sigma_w2_se == 0.0


def test_bias_variance_and_its_error():
    rng = np.random.default_rng(2)
    w = rng.standard_normal((64, 64)) / 8
    draws = [_stats(w, math.sqrt(0.05) * rng.standard_normal(64)) for _ in range(R)]
    est = np.array([s.sigma_b2 for s in draws])
    exact_se = 0.05 * math.sqrt(2 / 64)
    assert abs(est.mean() - 0.05) <= 5 * exact_se / math.sqrt(R)
    assert est.std(ddof=1) == pytest.approx(exact_se, rel=0.18)
    assert draws[0].n_biases == 64
    none = _stats(w)
    assert (none.n_biases, none.sigma_b2, none.sigma_b2_se) == (0, 0.0, 0.0)


CASES = {
    "iid-gaussian": lambda rng: rng.standard_normal((48, 64)),
    "iid": lambda rng: rng.uniform(-1, 1, (64, 48)),
    "orthogonal": lambda rng: mf.init.orthogonal((64, 64), seed=rng),
    "sparse-orthogonal": lambda rng: mf.init.eoi((64, 64), 0.2, seed=rng),
    "structured": lambda rng: mf.init.looks_linear([32, 32, 32, 32], orthogonal=False, seed=rng)[1],
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_ensemble_classification(kind):
    rng = np.random.default_rng(3)
    assert {_stats(CASES[kind](rng)).ensemble for _ in range(40)} == {kind}


def test_structured_catches_low_rank_identity_blocks_and_a_mean():
    rng = np.random.default_rng(4)
    low_rank = rng.standard_normal((64, 4)) @ rng.standard_normal((4, 64))
    shifted = rng.standard_normal((64, 64)) + 10 / 64  # mean 10 standard errors of the mean away from 0
    assert _stats(low_rank).ensemble == "structured"
    assert _stats(shifted).ensemble == "structured" and _stats(shifted).mean_z > 6
    expanding = _stats(mf.init.idinit((38, 10)))  # stacked identities, columns hit 4 or 3 times: not orthogonal
    assert expanding.ensemble == "structured"
    conv = _stats(mf.init.he((32, 16, 3, 3), seed=rng))
    assert conv.ensemble == "iid-gaussian" and (conv.fan_in, conv.fan_out) == (144, 288)


def test_float32_orthogonal_uses_the_dtype_tolerance():
    w = mf.init.orthogonal((128, 128), seed=5).astype(np.float32)
    assert orthogonality_tolerance(np.float32) == pytest.approx(1000 * np.finfo(np.float32).eps)
    assert orthogonality_tolerance(np.float64) == 1e-8
    s = _stats(w, dtype=np.float32)
    assert 1e-8 < s.orthogonality_error < s.orthogonality_tolerance and s.ensemble == "orthogonal"
    assert _stats(w, dtype=np.float64).ensemble != "orthogonal"  # float32 rounding is not float64 orthogonal


def test_pooling_and_homogeneity():
    rng = np.random.default_rng(6)
    layers = [_stats(rng.standard_normal((32, 32)) * math.sqrt(2 / 32), index=i) for i in (1, 2)]
    sw2, sw2_se, _, _ = pooled(layers)
    assert sw2 == pytest.approx((layers[0].sigma_w2 + layers[1].sigma_w2) / 2, rel=1e-15)
    assert sw2_se == pytest.approx(math.hypot(layers[0].sigma_w2_se, layers[1].sigma_w2_se) / 2, rel=1e-15)
    # two layers: chi^2 = (x1 - x2)^2 / (se1^2 + se2^2) on 1 degree of freedom, p = erfc(sqrt(chi^2 / 2))
    (x1, e1), (x2, e2) = ((s.sigma_w2, s.sigma_w2_se) for s in layers)
    chi2 = (x1 - x2) ** 2 / (e1**2 + e2**2)
    assert homogeneity_pvalue(layers) == pytest.approx(erfc(math.sqrt(chi2 / 2)), rel=1e-10)
    off = layers + [_stats(rng.standard_normal((32, 32)) * math.sqrt(3 / 32), index=3)]
    assert homogeneity_pvalue(off) < 1e-3
