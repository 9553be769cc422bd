"""Dynamical-isometry verdicts (meanfield/isometry.py) against Pennington, Schoenholz & Ganguli 2017/2018.

Verdicts: orthogonal tanh/erf/hard-tanh on the critical line at small q* are isometric; Gaussian
weights (Var >= L) and relu (atom 1/2 at 0, Var >= L) are not; a linear orthogonal network at
sigma_w^2 = 1 is exactly isometric.  Numbers: the report's moments and edges equal independent closed
forms (notes/spectra.md 2.6, 2.7, 2.9: relu Var = 2L Gaussian / L orthogonal at sigma_w^2 = 2, the
Bernoulli edges, erf's mu_k = (4/pi)^k / sqrt(1 + 4kq), Fuss-Catalan).  No density of a smooth
activation is evaluated here (the verdict never needs one).
"""
import dataclasses
import json
import math

import numpy as np
import pytest

import meanfield as mf
from meanfield.errors import ActivationError, ParameterError, SigpropError
from meanfield.spectra.isometry import _moment_bound
from meanfield.spectra.spectrum import jacobian_spectrum


def critical(act, sigma_b2):
    return mf.critical_point(act, sigma_b2).sigma_w2


def strict_json(text):
    def refuse(token):
        raise AssertionError(f"non-standard JSON token {token!r}")

    return json.loads(text, parse_constant=refuse)


# ------------------------------------------------------------------------------------------------
# verdicts
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("act", ["tanh", "erf"])
@pytest.mark.parametrize("L", [16, 64])
def test_orthogonal_smooth_critical_small_q_is_isometric(act, L):
    r = mf.isometry(act, critical(act, 1e-5), 1e-5, L, "orthogonal")
    assert r.isometric and r.verdict.startswith("ISOMETRIC")
    assert r.q_star < 0.025 and r.chi1 == pytest.approx(1.0, abs=1e-9)
    assert 0.04 < r.normalised_var < 0.2  # L r with r ~ 0.0028 per layer (q* ~ 0.02)
    assert 1.3 < r.lambda_max < 2.0 and r.atoms == () and r.zero_atom == 0.0
    assert r.max_isometric_depth >= L
    assert all(c.passed for c in r.criteria)


def test_tanh_orthogonal_at_moderate_q_isometric_only_while_shallow():
    sw2 = critical("tanh", 1e-4)  # q* ~ 0.046: r ~ 0.0115 per layer
    shallow = mf.isometry("tanh", sw2, 1e-4, 16)
    deep = mf.isometry("tanh", sw2, 1e-4, 64)
    assert shallow.isometric and not deep.isometric
    assert shallow.max_isometric_depth == deep.max_isometric_depth == math.floor(0.25 / deep.var_rate)
    assert {c.name for c in deep.criteria if not c.passed} == {"spread"}
    # larger q* on the critical line: far from isometric at L = 64 (Var ~ 2.8, lambda_max ~ 9.3)
    far = mf.isometry("tanh", critical("tanh", 1e-3), 1e-3, 64)
    assert not far.isometric and far.normalised_var > 2.5 and far.edge_ratio > 4
    # a looser spread threshold is honoured
    assert mf.isometry("tanh", sw2, 1e-4, 64, spread_threshold=1.0).isometric


@pytest.mark.parametrize("act", ["tanh", "erf", "hardtanh", "linear"])
@pytest.mark.parametrize("L", [16, 64])
def test_gaussian_weights_are_never_isometric(act, L):
    sw2 = 1.0 if act == "linear" else critical(act, 1e-5)
    r = mf.isometry(act, sw2, 1e-5 if act != "linear" else 0.0, L, "gaussian")
    assert not r.isometric and r.verdict.startswith("NOT ISOMETRIC")
    assert r.normalised_var >= L and r.var_rate >= 1.0
    assert r.max_isometric_depth == 0
    failed = {c.name for c in r.criteria if not c.passed}
    assert {"spread", "edge"} <= failed


@pytest.mark.parametrize("weights", ["orthogonal", "gaussian"])
@pytest.mark.parametrize("L", [1, 4, 16, 64])
def test_relu_is_never_isometric_and_matches_closed_forms(weights, L):
    r = mf.isometry("relu", 2.0, 0.0, L, weights)
    assert not r.isometric
    assert r.zero_atom == 0.5 and (0.0, 0.5) in r.atoms
    assert not next(c for c in r.criteria if c.name == "rank").passed
    assert r.mean == pytest.approx(1.0, rel=1e-14) and r.chi1 == pytest.approx(1.0, rel=1e-14)
    expected_var = 2 * L if weights == "gaussian" else L
    assert r.var == pytest.approx(expected_var, rel=1e-10)
    assert r.var_rate == pytest.approx(expected_var / L, rel=1e-12)
    p = 0.5
    if weights == "gaussian":
        m = (-(L - 1) + math.sqrt((L - 1) ** 2 + 4 * L * p)) / (2 * L)
        edge = 2.0**L * (1 + m) * (m + p) ** L / m
    elif L * (1 - p) > 1:
        m = p / (L * (1 - p) - 1)
        edge = 2.0**L * (m + p) ** L / (m * (1 + m) ** (L - 1))
    else:
        edge = None
    if edge is not None:
        assert r.lambda_max == pytest.approx(edge, rel=1e-9)
    if L == 64:
        assert r.lambda_max == pytest.approx(347.9 if weights == "gaussian" else 172.6, rel=1e-3)


def test_linear_orthogonal_is_isometric_exactly_at_sigma_w2_one():
    r = mf.isometry("linear", 1.0, 0.0, 16, "orthogonal")
    assert r.isometric
    assert (r.mean, r.var, r.lambda_max, r.band_fraction) == (1.0, 0.0, 1.0, 1.0)
    assert r.atoms == ((1.0, 1.0),) and r.band_fraction_method == "cdf"
    assert r.max_isometric_depth == math.inf and r.var_slope == 0.0
    off = mf.isometry("linear", 1.1, 0.0, 16, "orthogonal")  # a point mass at 1.1^16 ~ 4.6
    assert not off.isometric
    assert [c.name for c in off.criteria if not c.passed] == ["mean"]
    assert off.log_mean == pytest.approx(16 * math.log(1.1), rel=1e-14)
    assert off.lambda_max == pytest.approx(1.1**16, rel=1e-12) and off.band_fraction == 0.0


def test_linear_gaussian_is_fuss_catalan():
    L = 5
    r = mf.isometry("linear", 1.0, 0.0, L, "gaussian")
    assert r.var == pytest.approx(L, rel=1e-12)  # Fuss-Catalan moments 1, L + 1
    assert r.lambda_max == pytest.approx((L + 1) ** (L + 1) / L**L, rel=1e-10)
    assert not r.isometric


def test_tanh_at_q_star_zero_is_a_linear_network():
    """tanh, sigma_b^2 = 0, sigma_w^2 = 1, inputs at q0 = 0 = q*: D = I in every layer, so an orthogonal
    net is exactly isometric and a Gaussian one has the Fuss-Catalan edge (L+1)^(L+1)/L^L."""
    r = mf.isometry("tanh", 1.0, 0.0, 32, "orthogonal", q0=0.0)
    assert r.q_star == 0.0 and r.isometric and r.fixed_point_status == "degenerate"
    assert r.var == 0.0 and r.lambda_max == pytest.approx(1.0, rel=1e-12)
    g = mf.isometry("tanh", 1.0, 0.0, 32, "gaussian", q0=0.0)
    assert not g.isometric and g.lambda_max == pytest.approx(33**33 / 32**32, rel=1e-10)


def test_degenerate_edge_is_judged_on_the_trajectory_of_unit_inputs():
    """Regression (issue 11): isometry("tanh", 1, 0, 100) said ISOMETRIC at q* = 0, which no network of
    finite depth reaches (q^l ~ 3/(2l)).  Without q0 it is now judged from q0 = 1 and says why; the
    numbers are those of the trajectory (E[lambda] = prod_l chi_1^l from mf.trajectory, an independent
    recursion) and the spread is the free-probability sum of the per-layer rates r_l computed here from
    Gauss-Hermite moments of phi'(sqrt(q^l) z)^2."""
    L = 100
    r = mf.isometry("tanh", 1.0, 0.0, L)
    assert r.kind == "trajectory" and r.q0 == 1.0 and r.fixed_point_status == "degenerate"
    assert not r.isometric
    assert any("degenerate" in n for n in r.notes) and "q0" in str(r)
    path = mf.trajectory("tanh", 1.0, 0.0, L, 1.0)
    assert r.mean == pytest.approx(np.prod(path.chi1), rel=1e-12)
    assert r.q_last == path.q[-1] and r.chi1_last == path.chi1[-1]
    z, w = np.polynomial.hermite_e.hermegauss(200)
    w = w / w.sum()
    d2 = (1.0 / np.cosh(np.sqrt(path.q)[:, None] * z) ** 2) ** 2
    rates = (d2**2 @ w) / (d2 @ w) ** 2 - 1.0  # orthogonal weights: s_1 = 0
    assert r.normalised_var == pytest.approx(rates.sum(), rel=1e-8)
    small = mf.isometry("tanh", 1.0, 0.0, L, q0=1e-4)  # nearly linear inputs: isometric (2017's recipe)
    assert small.isometric and small.kind == "trajectory"


def test_unstable_edge_is_named():
    """gelu's edge of chaos at sigma_b^2 = 0.1 is an unstable fixed point (q-map slope > 1): the report says
    so and judges the attracting fixed point the network settles at (chi_1 there from mf.chi1)."""
    point = mf.critical_point("gelu", 0.1)
    assert not point.stable
    r = mf.isometry("gelu", point.sigma_w2, 0.1, 10)
    assert r.fixed_point_status == "unstable edge" and not r.isometric
    assert any("unstable" in n for n in r.notes)
    q = mf.fixed_point("gelu", point.sigma_w2, 0.1)
    assert r.q_star == q and r.chi1 == pytest.approx(float(mf.chi1("gelu", point.sigma_w2, 0.1, q=q)), rel=1e-12)
    assert abs(r.chi1 - 1) > 0.1


def test_trajectory_against_real_networks():
    """tanh at its stable edge (sigma_b^2 = 0.05), orthogonal, L = 10, inputs at q0 = 2 (not q*): the
    trajectory verdict's E[lambda] and Var[lambda] against 6 sampled networks of width 300 fed
    |x^0|^2/N = 2.  The pooled mean of 1800 eigenvalues from 6 networks has a relative standard error of
    ~(spread / sqrt(6 N)) ~ 4 % plus O(L/N) = 3 % finite-width bias; the 20 % bound is > 3 SE + bias."""
    point = mf.critical_point("tanh", 0.05)
    r = mf.isometry("tanh", point.sigma_w2, 0.05, 10, q0=2.0, monte_carlo_width=300, n_networks=6, seed=3)
    assert r.kind == "trajectory"
    assert abs(r.monte_carlo.mean_rel_error) < 0.2
    assert abs(r.monte_carlo.var_rel_error) < 0.35
    assert r.monte_carlo.agrees
    fixed = mf.isometry("tanh", point.sigma_w2, 0.05, 10)
    assert fixed.kind == "fixed point" and r.mean < fixed.mean  # started above q*: chi_1^l < 1 on the way


def test_hardtanh_small_atom_within_tolerance():
    sb2 = 1e-5
    r = mf.isometry("hardtanh", critical("hardtanh", sb2), sb2, 64, "orthogonal")
    assert 0 < r.zero_atom < 1e-3 and r.isometric
    assert r.band_fraction_method == "cdf" and r.band_fraction > 0.98
    strict = mf.isometry("hardtanh", critical("hardtanh", sb2), sb2, 64, "orthogonal", atom_tolerance=0.0)
    assert not strict.isometric and [c.name for c in strict.criteria if not c.passed] == ["rank"]


def test_off_critical_deep_networks_do_not_overflow():
    r = mf.isometry("tanh", 3.0, 0.1, 1000, "orthogonal")  # chaotic: chi_1^L ~ 1e72
    assert not r.isometric and r.log_mean == pytest.approx(1000 * math.log(r.chi1), rel=1e-12)
    assert math.isfinite(r.lambda_max) and r.edge_ratio > 4
    r = mf.isometry("relu", 2.5, 0.1, 1000, "gaussian")  # q* diverges; relu does not care
    assert not r.isometric and r.normalised_var == pytest.approx(2000, rel=1e-9)
    r = mf.isometry("tanh", 0.5, 0.0, 2000, "orthogonal")  # ordered: chi_1^L underflows
    assert not r.isometric and r.log_mean < -1000 and r.mean == 0.0
    strict_json(json.dumps(r.to_dict(), allow_nan=False))


# ------------------------------------------------------------------------------------------------
# numbers equal the closed forms
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("weights, s1", [("orthogonal", 0.0), ("gaussian", -1.0)])
def test_erf_moments_equal_the_closed_form(weights, s1):
    sb2, L = 0.01, 24
    sw2 = 0.95 * critical("erf", sb2)  # off the critical line: chi^L != 1 matters
    r = mf.isometry("erf", sw2, sb2, L, weights)
    q = mf.fixed_point("erf", sw2, sb2)
    mu = [(4 / math.pi) ** k / math.sqrt(1 + 4 * k * q) for k in (1, 2)]
    chi = sw2 * mu[0]
    rate = mu[1] / mu[0] ** 2 - 1 - s1
    assert r.q_star == pytest.approx(q, rel=1e-12)
    assert r.chi1 == pytest.approx(chi, rel=1e-10)
    assert r.mean == pytest.approx(chi**L, rel=1e-9)
    assert r.var_rate == pytest.approx(rate, rel=1e-9)
    assert r.normalised_var == pytest.approx(L * rate, rel=1e-9)
    assert r.var == pytest.approx(chi ** (2 * L) * L * rate, rel=1e-9)
    assert r.spread == pytest.approx(math.sqrt(L * rate), rel=1e-9)
    assert r.var_slope == pytest.approx(chi ** (2 * L) * rate * ((L + 1) * chi**2 - L), rel=1e-9)


@pytest.mark.parametrize("act, sw2, sb2", [("tanh", 1.2, 0.01), ("relu", 2.2, 0.0), ("hardtanh", 1.1, 0.02)])
@pytest.mark.parametrize("weights", ["orthogonal", "gaussian"])
def test_report_equals_the_spectrum(act, sw2, sb2, weights):
    L = 12
    r = mf.isometry(act, sw2, sb2, L, weights)
    spec = jacobian_spectrum(act, sw2, sb2, L, weights)
    nxt = jacobian_spectrum(act, sw2, sb2, L + 1, weights)
    assert r.chi1 == pytest.approx(float(mf.chi1(act, sw2, sb2, q=spec.q)), rel=1e-12)
    assert r.mean == pytest.approx(spec.mean(), rel=1e-10)
    assert r.var == pytest.approx(spec.var(), rel=1e-9)
    assert r.var_slope == pytest.approx(nxt.var() - spec.var(), rel=1e-8)
    assert r.lambda_max == pytest.approx(spec.support()[1], rel=1e-9)
    assert r.edge_ratio == pytest.approx(r.lambda_max / r.mean, rel=1e-12)
    assert len(r.atoms) == len(spec.atoms)
    for (loc, mass), (loc0, mass0) in zip(r.atoms, spec.atoms):
        assert loc == pytest.approx(loc0, rel=1e-10) and mass == pytest.approx(mass0, rel=1e-12)


def test_band_fraction_exact_for_relu():
    r = mf.isometry("relu", 2.0, 0.0, 8, "orthogonal", tolerance=0.3)
    spec = jacobian_spectrum("relu", 2.0, 0.0, 8, "orthogonal")
    lo, hi = 0.7**2, 1.3**2
    assert r.band == (0.7, 1.3) and r.band_fraction_method == "cdf"
    assert r.band_fraction == pytest.approx(float(spec.cdf(hi) - spec.cdf(lo)), abs=1e-12)


@pytest.mark.filterwarnings("ignore:invalid value encountered in log1p")  # freeprob edge search, see report
@pytest.mark.parametrize("act, sw2, L", [("relu", 2.0, 4), ("hardtanh", 1.05, 8), ("linear", 1.0, 3)])
@pytest.mark.parametrize("tol", [0.25, 0.5])
def test_moment_bound_is_a_lower_bound(act, sw2, L, tol):
    """The Markov bound used for smooth activations, checked where the exact fraction is cheap."""
    spec = jacobian_spectrum(act, sw2, 0.01, L, "orthogonal")
    m1 = spec.mean()
    norm = np.array([spec.moment(k) / m1**k for k in range(1, 9)])
    lo, hi = (1 - tol) ** 2, (1 + tol) ** 2
    bound = _moment_bound(norm, math.log(m1), lo, hi)
    exact = float(spec.cdf(hi) - spec.cdf(np.nextafter(lo, 0)))
    assert 0.0 <= bound <= exact + 1e-4


def test_smooth_band_fraction_is_the_moment_bound():
    r = mf.isometry("tanh", critical("tanh", 1e-5), 1e-5, 16)
    assert r.band_fraction_method == "moment bound"
    assert 0.9 < r.band_fraction <= 1.0  # Var ~ 0.044: most singular values within 25 % of 1


# ------------------------------------------------------------------------------------------------
# Monte Carlo confirmation (small widths: quick)
# ------------------------------------------------------------------------------------------------
def test_monte_carlo_confirms_tanh_orthogonal():
    sw2 = critical("tanh", 1e-5)
    r = mf.isometry("tanh", sw2, 1e-5, 8, monte_carlo_width=200, seed=0, n_networks=2)
    mc = r.monte_carlo
    assert r.isometric and mc.isometric and mc.agrees
    assert (mc.width, mc.n_networks, mc.seed) == (200, 2, 0)
    assert abs(mc.mean_rel_error) < 0.05 and abs(mc.lambda_max_rel_error) < 0.2
    assert mc.zero_fraction == 0.0 and mc.band_fraction >= r.band_fraction - 0.02
    assert "Monte Carlo (width 200, 2 networks, seed 0)" in r.verdict
    again = mf.isometry("tanh", sw2, 1e-5, 8, monte_carlo_width=200, seed=0, n_networks=2)
    assert again.monte_carlo == mc  # seeded


def test_monte_carlo_confirms_relu_not_isometric():
    r = mf.isometry("relu", 2.0, 0.0, 6, "gaussian", monte_carlo_width=200, seed=1)
    mc = r.monte_carlo
    assert not r.isometric and not mc.isometric and mc.agrees
    assert mc.zero_fraction > 0.45
    assert r.to_dict()["monte_carlo"]["width"] == 200


# ------------------------------------------------------------------------------------------------
# report object
# ------------------------------------------------------------------------------------------------
def test_report_is_frozen_and_json_ready():
    r = mf.isometry("relu", 2.0, 0.0, 4)
    assert isinstance(r, mf.IsometryReport)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.isometric = True
    d = strict_json(json.dumps(r.to_dict(), allow_nan=False))
    for key in ("activation", "sigma_w2", "sigma_b2", "depth", "weights", "q_star", "chi1", "mean", "var",
                "normalised_var", "spread", "var_rate", "var_slope", "max_isometric_depth", "lambda_max",
                "edge_ratio", "atoms", "zero_atom", "tolerance", "band", "band_fraction",
                "band_fraction_method", "criteria", "isometric", "monte_carlo", "verdict"):
        assert key in d, key
    assert d["isometric"] is False and d["monte_carlo"] is None and d["atoms"] == [[0.0, 0.5]]
    assert [c["name"] for c in d["criteria"]] == ["mean", "spread", "edge", "rank"]
    assert d["verdict"] == r.verdict == str(r)
    inf = mf.isometry("linear", 1.0, 0.0, 3).to_dict()
    assert inf["max_isometric_depth"] == "inf"


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(act="relu", sigma_w2=2, sigma_b2=0, depth=0), ParameterError),
        (dict(act="relu", sigma_w2=2, sigma_b2=0, depth=2.5), ParameterError),
        (dict(act="relu", sigma_w2=-1, sigma_b2=0, depth=2), ParameterError),
        (dict(act="relu", sigma_w2=0, sigma_b2=0, depth=2), ParameterError),
        (dict(act="relu", sigma_w2=2, sigma_b2=-0.1, depth=2), ParameterError),
        (dict(act="relu", sigma_w2=float("nan"), sigma_b2=0, depth=2), ParameterError),
        (dict(act="relu", sigma_w2=2, sigma_b2=0, depth=2, weights="ortho"), ParameterError),
        (dict(act="relu", sigma_w2=2, sigma_b2=0, depth=2, tolerance=0), ParameterError),
        (dict(act="relu", sigma_w2=2, sigma_b2=0, depth=2, tolerance=1.0), ParameterError),
        (dict(act="relu", sigma_w2=2, sigma_b2=0, depth=2, tolerance=[0.1, 0.2]), ParameterError),
        (dict(act="relu", sigma_w2=2, sigma_b2=0, depth=2, monte_carlo_width=1), ParameterError),
        (dict(act="relu", sigma_w2=2, sigma_b2=0, depth=2, spread_threshold=-1), ParameterError),
        (dict(act="relu", sigma_w2=2, sigma_b2=0, depth=2, n_networks=0), ParameterError),
        (dict(act="nosuch", sigma_w2=2, sigma_b2=0, depth=2), ActivationError),
    ],
)
def test_bad_input(kwargs, error):
    with pytest.raises(error) as info:
        mf.isometry(**kwargs)
    assert isinstance(info.value, SigpropError) and isinstance(info.value, ValueError)
