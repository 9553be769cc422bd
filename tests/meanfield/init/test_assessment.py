"""Verdicts of meanfield.init.assess on the issue's examples, against independent routes.

Reference values: notes/init_recipes.md (Kumar chi_1 ~ 0.35, SELU chi_1 = lambda^2 (1/2 + alpha^2 e^2
Phi(-2)) ~ 1.0716, relu chi_1 = sigma_w^2 / 2, IDInit singular values tau sqrt(h_j)) recomputed here by
scipy quadrature or closed forms, never taken from the code's output.

Monte Carlo tolerances: the measured chi_1 is (mean lambda)^(1/L) of ONE network.  Over 20 seeds at
width 128, depth 5 its standard deviation was 0.012 (kumar/sigmoid), 0.029 (lecun/selu), 0.043
(he/relu); it shrinks like width^-1/2.  The tolerances below are >= 5 of those standard deviations at
the width used, so a failure means a real error, not a bad draw (the seeds are fixed anyway).
"""
import json
import math

import numpy as np
import pytest
from scipy import integrate
from scipy.special import expit, ndtr

import meanfield as mf
from meanfield.errors import ParameterError


def _gauss(f, q, kink=None):
    """E[f(sqrt(q) z)] by adaptive quadrature, split at a kink (notes 0: quadrature pitfall)."""
    dens = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    pieces = ((-np.inf, 0.0), (0.0, np.inf)) if kink is not None else ((-np.inf, np.inf),)
    return sum(integrate.quad(lambda z: f(math.sqrt(q) * z) * dens(z), a, b, epsabs=1e-14, epsrel=1e-13)[0]
               for a, b in pieces)


def test_kumar_sigmoid_is_ordered_not_critical():
    r = mf.init.assess("kumar", "sigmoid", depth=5, width=256, seed=0)
    # independent: iterate the q-map with quadrature, then chi_1 = 12.8 E[sigmoid'(u)^2]
    q = 1.0
    for _ in range(200):
        q = 12.8 * _gauss(lambda u: expit(u) ** 2, q)
    chi = 12.8 * _gauss(lambda u: (expit(u) * expit(-u)) ** 2, q)
    assert chi == pytest.approx(0.35, abs=0.01)  # notes 1: chi_1 ~ 0.35, q* ~ 4.5
    assert r.sigma_w2 == pytest.approx(12.8, rel=1e-12)
    assert r.q_star == pytest.approx(q, rel=1e-8)
    assert r.chi1 == pytest.approx(chi, rel=1e-8)
    assert r.phase == "ordered" and not r.critical
    assert r.isometric is False and r.theory_exact
    assert abs(r.measured.chi1 - chi) < 0.05  # sd ~0.009 at width 256 (module docstring)
    assert "ORDERED" in str(r)


def test_he_relu_is_critical_but_not_isometric():
    r = mf.init.assess("he", "relu", depth=5, width=256, seed=1)
    assert r.sigma_w2 == 2.0  # gain^2 = 2 exactly
    assert r.chi1 == pytest.approx(1.0, abs=1e-12)  # relu: chi_1 = sigma_w^2 / 2 for every q
    assert r.critical and r.phase == "critical"
    assert r.isometric is False
    assert r.isometry.zero_atom == pytest.approx(0.5, abs=1e-12)  # half the units are off
    # Gaussian weights: Var/E^2 = L (mu2/mu1^2 - 1 - s_1) = L (2 - 1 + 1) = 2 L
    assert r.isometry.normalised_var == pytest.approx(10.0, rel=1e-10)
    assert not r.measured.isometric
    assert abs(r.measured.chi1 - 1.0) < 0.1  # sd ~0.03 at width 256
    assert 0.45 < r.measured.zero_fraction < 0.7  # rank J = min over layers of the active count


def test_looks_linear_orthogonal_is_exactly_isometric_at_depth_50():
    r = mf.init.assess("looks_linear", "relu", depth=50, width=64, seed=2)
    s = r.measured.singular_values
    assert s.shape == (64,) and np.max(np.abs(s - 1)) < 1e-12  # every singular value, not only the extremes
    assert (r.measured.min_singular_value, r.measured.max_singular_value) == (s.min(), s.max())
    assert r.measured.n_singular_values == 64
    assert r.isometric and r.measured.isometric and r.isometry.isometric
    assert r.ensemble == "linear-orthogonal"
    g = mf.init.assess("looks_linear", "relu", depth=5, width=128, seed=2, orthogonal=False)
    assert g.isometric is False  # Gaussian template: a critical linear Gaussian net, Var/E^2 = L


def test_eoi_keeps_exact_orthogonality_when_sparse():
    r = mf.init.assess("eoi", "linear", depth=4, width=200, seed=3, density=0.05)
    m = r.measured
    assert m.orthogonality_error < 1e-12
    assert abs(m.density - 0.05) <= 2 / 200
    assert np.max(np.abs(m.singular_values - 1)) < 1e-12
    assert r.isometric and not r.theory_exact
    assert "ground truth" in str(r)


def test_idinit_expanding_layer_is_not_isometric_square_is():
    r = mf.init.assess("idinit", "linear", shape=(10, 4), seed=4)
    s = np.sort(r.measured.singular_values)
    assert s == pytest.approx([math.sqrt(2)] * 2 + [math.sqrt(3)] * 2, rel=1e-13)  # tau sqrt(h_j), h = 3, 3, 2, 2
    # lambda: the 4 squared singular values and 10 - 4 structural zeros of J J^T (10 x 10)
    assert r.measured.zero_fraction == pytest.approx(0.6, abs=1e-15)
    assert r.isometric is False
    sq = mf.init.assess("idinit", "linear", depth=6, width=32, seed=4)
    assert sq.isometric is True
    assert sq.measured.singular_values == pytest.approx(np.ones(32), abs=1e-14)


def test_selu_at_variance_one_over_n_is_slightly_chaotic():
    r = mf.init.assess("lecun", "selu", depth=5, width=256, seed=5)
    lam, alpha = 1.0507009873554804934193349852946, 1.6732632423543772848170429916717
    closed = lam**2 * (0.5 + alpha**2 * math.e**2 * ndtr(-2.0))  # notes 3
    selu = lambda x: lam * x if x > 0 else lam * alpha * math.expm1(x)  # noqa: E731
    assert _gauss(lambda u: selu(u) ** 2, 1.0, kink=0) == pytest.approx(1.0, abs=1e-10)  # q* = 1
    assert closed == pytest.approx(1.0716, abs=1e-4)
    assert r.q_star == pytest.approx(1.0, rel=1e-8)
    assert r.chi1 == pytest.approx(closed, rel=1e-8)
    assert r.phase == "chaotic" and not r.critical
    assert abs(r.measured.chi1 - closed) < 0.15  # sd ~0.02 at width 256


def test_critical_tanh_and_orthogonal_report():
    r = mf.init.assess("critical", "tanh", sigma_b2=0.05, depth=3, width=64, seed=6)
    assert r.critical and abs(r.chi1 - 1) <= 1e-9
    o = mf.init.assess("orthogonal", "linear", depth=8, width=64, seed=6)
    assert o.isometric and o.measured.orthogonality_error < 1e-12


def test_given_matrices_are_measured():
    rng = np.random.default_rng(7)
    ws = [mf.init.orthogonal((48, 48), seed=rng) for _ in range(3)]
    r = mf.init.assess(ws, "linear")
    assert r.recipe == "weights" and r.ensemble == "orthogonal" and r.depth == 3
    assert r.sigma_w2 == pytest.approx(1.0, rel=1e-12)
    assert r.isometric
    g = mf.init.assess([mf.init.he((48, 48), seed=8)], "relu")
    assert g.ensemble == "gaussian" and g.sigma_w2 == pytest.approx(2.0, rel=0.1)  # 2304 entries: sd 3 %


def test_to_dict_is_strict_json():
    r = mf.init.assess("he", "relu", depth=2, width=16, seed=0, sigma_b2=0.1)  # q diverges: inf, nan
    text = json.dumps(r.to_dict(), allow_nan=False)
    d = json.loads(text)
    assert d["q_star"] == "inf" and d["chi1"] == "nan" and d["phase"] == "divergent"


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        (("bogus", "relu"), {}, "unknown recipe"),
        (("eoi", "relu"), {"density": 2.0}, "not achievable"),
        (("he", "relu"), {"density": 0.5}, "takes the parameters"),
        (("he", "relu"), {"monte_carlo": "yes"}, "monte_carlo"),
        (("he", "relu"), {"shape": (3, 4, 5)}, "shape"),
        (("he", "relu"), {"depth": 0}, "depth"),
        (("he", "relu"), {"width": -3}, "width"),
        (("he", "relu"), {"sigma_b2": -1.0}, "sigma_b2"),
        (("he", "nonsense_act"), {}, "nonsense_act"),
        (([np.eye(3), np.eye(4)], "relu"), {}, "does not take"),
        (([np.eye(3)], "relu"), {"depth": 2}, "depth"),
    ],
)
def test_assess_bad_input(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        mf.init.assess(*args, **kwargs)


def test_assess_without_measurement_of_a_structured_recipe_has_no_verdict():
    r = mf.init.assess("idinit", "linear", monte_carlo=False)
    assert r.isometric is None and r.measured is None
    with pytest.raises(ParameterError, match="monte_carlo"):
        mf.init.assess([np.eye(3)], "linear", monte_carlo=False)


def test_weightnorm_relu_is_critical_like_he():
    # Arpit et al.'s gain 2 gives sigma_w2 = 2 exactly (not sqrt(2)**2 = 2 + 4e-16, which would put
    # the relu q-map just above the edge and report a diverging q)
    r = mf.init.assess("weightnorm", "relu", depth=4, width=64, seed=0)
    assert r.sigma_w2 == 2.0
    assert r.q_star == 1.0 and r.chi1 == pytest.approx(1.0, abs=1e-12)


def test_assess_runs_with_single_threaded_blas(monkeypatch):
    """Every measured path pins BLAS to one thread (looks-linear at depth 50 took 16-96 s with the default
    threads on a loaded 2-core machine, 2-4.5 s pinned): the recipe's QR factorisations included."""
    from threadpoolctl import threadpool_info

    import meanfield.init.isometric as isometric

    seen = []
    original = isometric.haar_orthogonal

    def spy(*args, **kwargs):
        seen.append([lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"])
        return original(*args, **kwargs)

    monkeypatch.setattr(isometric, "haar_orthogonal", spy)
    mf.init.assess("orthogonal", "tanh", depth=2, width=16, seed=0)
    assert seen and all(threads and threads == [1] * len(threads) for threads in seen)
