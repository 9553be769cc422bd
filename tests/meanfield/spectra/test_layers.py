"""Spectra of networks whose layers differ: the trajectory from the input's q0, per-layer variances and
ensembles, rectangular widths (meanfield/spectra/layers.py).

Independent routes:
- the one-law solver (tested against closed forms elsewhere) for layers that are identical in law;
- the moment m_2/m_1^2 = 1 + sum_l n_L/n_{l-1} of products of rectangular Gaussian matrices (the
  Marchenko-Pastur second moment 1 + n_1/n_0 composed freely; for one layer a direct count:
  E tr (W W^T)^2 / n_1 = 1 + n_1/n_0);
- real networks sampled here layer by layer from the package's building blocks (sample_weights,
  sample_biases) with the raw input of second moment q0 fed to layer 1, the Jacobian accumulated
  explicitly: Kolmogorov-Smirnov distances above 1e-8 lambda_max with the DKW bound at alpha = 1e-3 for
  the pooled eigenvalues (conservative: eigenvalues repel) plus 5/N for the finite-width bias, the
  mass below the floor and the atom at 0 (rank) within the same bound.
"""
from __future__ import annotations

import numpy as np
import pytest

import meanfield as mf
from meanfield.simulate import ks_bound, ks_distance


def _sampled_eigenvalues(act, sw2, sb2, kinds, widths, q0, n_networks, seed):
    """Eigenvalues of J J^T (n_L of them per network) of real networks fed |x^0|^2 / n_0 = q0."""
    act = mf.activation(act)
    rng = np.random.default_rng(seed)
    L = len(widths) - 1
    out = []
    for _ in range(n_networks):
        x = rng.standard_normal(widths[0])
        x *= np.sqrt(q0 * widths[0]) / np.linalg.norm(x)
        jac, log_scale = np.eye(widths[0]), 0.0
        for l in range(L):
            w = mf.simulate.sample_weights(rng, widths[l + 1], widths[l], sw2[l], kinds[l])
            h = w @ x + mf.simulate.sample_biases(rng, widths[l + 1], sb2[l])
            jac = act.dphi(h)[:, None] * (w @ jac)
            norm = np.linalg.norm(jac)
            jac /= norm
            log_scale += np.log(norm)
            x = act.phi(h)
        s = np.linalg.svd(jac, compute_uv=False)
        lam = np.zeros(widths[-1])
        lam[: s.size] = s**2 * np.exp(2 * log_scale)
        out.append(lam)
    return np.concatenate(out)


def _compare(spec, lam, n, networks):
    floor = 1e-8 * spec.support()[1]
    result = ks_distance(lam, spec, floor=floor)
    bound = ks_bound(n * networks) + 5.0 / n
    assert result.statistic < bound, (result, bound)
    return result


def test_layered_solver_reproduces_the_one_law_solver():
    """tanh on the edge at sigma_b2 = 0.05 started 3e-9 above q*: the trajectory stays within that of q*, so
    its L distinct layer laws are the same law to 3e-9; the layered solver (K = L laws, joint Newton) must
    give the one-law solver's density, edge and moments to about that."""
    point = mf.critical_point("tanh", 0.05)
    q0 = (point.q_star - 0.05) / point.sigma_w2 * (1 + 1e-9)  # q^1 = q* (1 + 3e-9): L distinct laws
    for weights in ("orthogonal", "gaussian"):
        fixed = mf.jacobian_spectrum("tanh", point.sigma_w2, 0.05, 6, weights)
        layered = mf.jacobian_spectrum("tanh", [point.sigma_w2] * 6, 0.05, 6, weights, q0=q0)
        assert layered.kind == "trajectory" and not layered._uniform
        x = np.geomspace(1e-6, 0.95, 9) * fixed.support()[1]
        np.testing.assert_allclose(layered.pdf(x), fixed.pdf(x), rtol=1e-7)
        assert layered.support()[1] == pytest.approx(fixed.support()[1], rel=1e-8)
        np.testing.assert_allclose([layered.moment(k) for k in (1, 2, 3)], [fixed.moment(k) for k in (1, 2, 3)],
                                   rtol=1e-8)


@pytest.mark.parametrize("widths", [[100, 300], [300, 100, 200], [100, 200, 400, 50]])
def test_rectangular_gaussian_products_second_moment(widths):
    """Linear Gaussian layers: m_1 = 1 and m_2 = 1 + sum_l n_L / n_{l-1} (module docstring)."""
    L = len(widths) - 1
    spec = mf.jacobian_spectrum("linear", 1.0, 0.0, L, "gaussian", q0=1.0, widths=widths)
    expected = 1 + sum(widths[-1] / widths[l] for l in range(L))
    assert spec.moment(1) == pytest.approx(1.0, rel=1e-12)
    assert spec.moment(2) == pytest.approx(expected, rel=1e-12)
    assert dict(spec.atoms).get(0.0, 0.0) == pytest.approx(max(0.0, 1 - min(widths) / widths[-1]))


@pytest.mark.slow
@pytest.mark.parametrize("name, sb2, widths, weights", [
    ("linear", 0.0, [400, 200, 300, 600], "gaussian"),      # rank 200 of 600: an atom of 2/3 at 0
    ("tanh", 0.05, [300, 600, 450, 300], "orthogonal"),     # expanding then contracting orthogonal layers
    ("relu", 0.0, [500, 250, 500], "gaussian"),
    ("erf", 0.1, [300, 200, 400, 300], ["orthogonal", "gaussian", "orthogonal"]),
])
def test_rectangular_networks_match_sampled_networks(name, sb2, widths, weights):
    L = len(widths) - 1
    sw2 = 2.0 if name == "relu" else (1.0 if name == "linear" else mf.critical_sigma_w2(name, sb2))
    kinds = [weights] * L if isinstance(weights, str) else weights
    spec = mf.jacobian_spectrum(name, sw2, sb2, L, weights, q0=1.0, widths=widths)
    networks = 4
    lam = _sampled_eigenvalues(name, [sw2] * L, [sb2] * L, kinds, widths, 1.0, networks, seed=1)
    result = _compare(spec, lam, min(widths), networks)
    assert abs(result.mass_below_floor_empirical - result.mass_below_floor_theory) < ks_bound(lam.size) + 5.0 / min(widths)


@pytest.mark.slow
def test_trajectory_from_unit_inputs_matches_real_networks():
    """The issue's example: tanh at sigma_w2 = 1, sigma_b2 = 0 has q* = 0 (every singular value 1 in the deep
    limit), but a network fed raw inputs of unit second moment has q^l ~ 3/(2l) and E[lambda] = prod chi_1^l:
    at depth 100, 0.0071 with a relative variance 1.38 (measured 0.0073 and 1.36 at N = 300, 3 networks).
    The trajectory spectrum predicts what real networks do, the fixed-point spectrum does not.  The full
    law is compared by KS at depth 30 (the depth-100 cdf costs about a minute)."""
    L, n, networks = 100, 300, 3
    spec = mf.jacobian_spectrum("tanh", 1.0, 0.0, L, "orthogonal", q0=1.0)
    fixed = mf.jacobian_spectrum("tanh", 1.0, 0.0, L, "orthogonal")
    assert fixed.mean() == pytest.approx(1.0) and fixed.var() == pytest.approx(0.0, abs=1e-12)
    traj = mf.trajectory("tanh", 1.0, 0.0, L, 1.0)
    assert spec.mean() == pytest.approx(traj.mean, rel=1e-10)
    lam = _sampled_eigenvalues("tanh", [1.0] * L, [0.0] * L, ["orthogonal"] * L, [n] * (L + 1), 1.0, networks, seed=2)
    # sampling error of the pooled mean over 3 networks ~ 3 %, of the relative variance ~ 8 %
    assert np.mean(lam) == pytest.approx(spec.mean(), rel=0.12)
    assert np.var(lam) / np.mean(lam) ** 2 == pytest.approx(spec.var() / spec.mean() ** 2, rel=0.25)
    L = 30
    spec = mf.jacobian_spectrum("tanh", 1.0, 0.0, L, "orthogonal", q0=1.0)
    lam = _sampled_eigenvalues("tanh", [1.0] * L, [0.0] * L, ["orthogonal"] * L, [n] * (L + 1), 1.0, networks, seed=4)
    _compare(spec, lam, n, networks)


@pytest.mark.slow
def test_per_layer_variances_match_real_networks():
    sw2 = [1.2, 2.5, 0.8, 1.9, 1.4]
    sb2 = [0.0, 0.1, 0.3, 0.05, 0.2]
    n, networks = 400, 3
    spec = mf.jacobian_spectrum("erf", sw2, sb2, 5, "gaussian", q0=2.0)
    lam = _sampled_eigenvalues("erf", sw2, sb2, ["gaussian"] * 5, [n] * 6, 2.0, networks, seed=3)
    _compare(spec, lam, n, networks)


def test_layer_dependent_parameters_need_the_trajectory():
    with pytest.raises(mf.ParameterError, match="q0"):
        mf.jacobian_spectrum("tanh", [1.0, 2.0], 0.1, 2)
    with pytest.raises(mf.ParameterError, match="widths must list"):
        mf.jacobian_spectrum("tanh", 1.0, 0.1, 2, q0=1.0, widths=[10, 20])
    spec = mf.jacobian_spectrum("tanh", 1.5, 0.1, 3, q0=0.2)
    assert "trajectory from q0 = 0.2" in spec.description
    assert "fixed point" in mf.jacobian_spectrum("tanh", 1.5, 0.1, 3).description
