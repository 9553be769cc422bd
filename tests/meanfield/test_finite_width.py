"""Finite-width corrections (mf.finite_width) and the log-normal Jacobian law (mf.jacobian_norm_law) against exact
routes: the exact package (ReLU, and linear networks through its parameter-sharing laws), closed forms of their
first-order expansions, digamma formulas of the ReLU chain, and 30-digit mpmath Gaussian integrals.
Monte Carlo checks for smooth activations are in test_fluctuations.py.
"""
import math
import warnings

import mpmath as mpm
import numpy as np
import pytest
from scipy import special, stats

import exact
import meanfield as mf
from meanfield.errors import FiniteWidthWarning, ParameterError
from meanfield.finite_width import LayerMoments
from tests import reference_mp as ref


def _first_order_relu_kurtosis(widths):
    """15 sum_{k<l} 1/n_k: the 1/n term of the exact 3 prod_{k<l} (1 + 5/n_k) - 3 (ReLU, sigma_w^2 = 2, no bias)."""
    return 15 * np.concatenate([[0.0], np.cumsum(1.0 / np.asarray(widths[1:-1], float))])


@pytest.mark.parametrize("name, sw2, per_width", [("relu", 2.0, 15.0), ("relu", 1.3, 15.0), ("linear", 1.0, 6.0), ("linear", 0.7, 6.0)])
def test_homogeneous_closed_forms(name, sw2, per_width):
    """Without bias E[phi^4]/E[phi^2]^2 is q-free (relu 6, linear 3), so Var(s^{l+1})/q^2 grows by
    (V4/V^2 - 1)/n_l = 5/n_l (relu), 2/n_l (linear): excess kurtosis c sum_{k<l} 1/n_k for any sigma_w^2."""
    widths = [7, 30, 55, 80, 41, 3]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FiniteWidthWarning)  # relu's kurtosis reaches 1.3 here
        fw = mf.finite_width(name, sw2, 0.0, widths)
    expected = per_width * np.concatenate([[0.0], np.cumsum(1.0 / np.asarray(widths[1:-1], float))])
    np.testing.assert_allclose(fw.excess_kurtosis, expected, rtol=1e-11, atol=1e-15)
    np.testing.assert_allclose(fw.kernel_shift, 0.0, atol=1e-14 * fw.q.max())  # V'' = 0: E[s^l] = q^l exactly
    assert fw.depth_to_width == pytest.approx(sum(1 / n for n in widths[1:-1]), rel=1e-15)


@pytest.mark.parametrize("sharing, sw2, sb2", [(False, 2.0, 0.0), (False, 1.6, 0.1), (True, 1.0, 0.0), (True, 1.2, 0.05)])
def test_matches_exact_laws_to_second_order(sharing, sw2, sb2):
    """Width sweep n = 100, 200, 400, depth 5: the exact excess kurtosis 3 Var(s^l)/E[s^l]^2 and variance of
    |h^l|^2/n_l (exact package; parameter sharing = a linear network) minus the first-order ones is O(1/n^2):
    n^2 (exact - first order) settles (changes by < 10 % per doubling, with a ratio of residuals near 4)."""
    name = "linear" if sharing else "relu"
    residuals = []
    for n in (100, 200, 400):
        widths = [8, n, n, n, n, n]
        net = exact.ReLUNetwork(widths, sw2, sb2, parameter_sharing=sharing)
        laws = [net.preactivation_variance(l) for l in range(1, 6)]
        kurt = np.array([3 * s.var() / s.mean() ** 2 for s in laws])
        q_var = np.array([s.var() + 2 * s.moment(2) / n for s in laws])
        fw = mf.finite_width(name, sw2, sb2, widths)
        np.testing.assert_allclose([s.mean() for s in laws], fw.kernel, rtol=1e-12)
        residuals.append(n * n * np.concatenate([kurt - fw.excess_kurtosis, q_var - fw.q_variance]))
    r = np.array(residuals)[:, [2, 3, 4, 7, 8, 9]]  # layers 3..5 of both
    assert np.all(np.abs(r[2] - r[1]) < 0.1 * np.abs(r[1]))
    assert np.all(np.abs(r[2] - r[1]) <= 0.6 * np.abs(r[1] - r[0]) + 1e-9 * np.abs(r[1]))
    assert np.all(np.abs(r[0]) > 1e-3)  # the residual is a real second-order term, resolved


def _mp_moments(name, f, df, q):
    """V, V', V'', V4, D, D', D'', D4, E[phi^2 phi'^2], E[phi phi' z] at q: derivatives by central differences
    (step 1e-7: truncation ~1e-14) of the 30-digit closed forms of V and D (tests/reference_mp.py), the rest by
    20-digit mpmath quadrature."""
    h = ref.mp.mpf("1e-7")

    def diff(F, order):
        return ref.mp.diff(F, ref.mp.mpf(q), order, h=h)

    with mpm.workdps(20):
        def E(g):
            r = mpm.sqrt(mpm.mpf(q))
            cuts = sorted({-3, 0, 3, -1 / r, 1 / r})  # 1/r: hardtanh's kinks at x = +-1
            return mpm.quad(lambda z: g(r * z, z) * mpm.npdf(z), [-mpm.inf, *cuts, mpm.inf])

        V, D = (lambda v: ref.V(name, v)), (lambda v: ref.D(name, v))
        return [float(x) for x in (
            V(q), diff(V, 1), diff(V, 2), E(lambda x, z: f(x) ** 4), D(q), diff(D, 1),
            diff(D, 2), E(lambda x, z: df(x) ** 4), E(lambda x, z: (f(x) * df(x)) ** 2),
            E(lambda x, z: f(x) * df(x) * z),
        )]


@pytest.mark.parametrize("name, f, df", [
    ("erf", mpm.erf, lambda x: 2 / mpm.sqrt(mpm.pi) * mpm.exp(-x * x)),
    ("gelu", lambda x: x * mpm.ncdf(x), lambda x: mpm.ncdf(x) + x * mpm.npdf(x)),
    ("hardtanh", lambda x: max(-1, min(1, x)), lambda x: 1 if abs(x) < 1 else 0),
])
def test_layer_moments_match_mpmath(name, f, df):
    K = np.array([0.3, 1.7])
    m = LayerMoments(mf.activation(name), K, jacobian=True)
    for i, q in enumerate(K):
        got = [m.V[i], m.dV[i], m.d2V[i], m.V4[i], m.D[i], m.dD[i], m.d2D[i], m.D4[i], m.VD[i], m.cross[i]]
        np.testing.assert_allclose(got, _mp_moments(name, f, df, q), rtol=1e-9, atol=1e-12)


def test_warns_where_the_expansion_breaks_down():
    with pytest.warns(FiniteWidthWarning, match=r"sum_l 1/n_l = 0\.5"):
        fw = mf.finite_width("tanh", 1.5, 0.05, [10] + [20] * 11)
    assert not fw.reliable and "unreliable" in str(fw)
    with pytest.warns(FiniteWidthWarning, match="excess kurtosis reaches"):
        mf.finite_width("relu", 2.0, 0.0, [10] + [60] * 6)  # sum 1/n = 0.083 but kurtosis 1.25
    with pytest.warns(FiniteWidthWarning, match="jacobian_norm_law"):
        mf.jacobian_norm_law("relu", 2.0, 0.0, [10] + [20] * 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert mf.finite_width("tanh", 1.5, 0.05, [100] * 5).reliable


def test_bad_input():
    with pytest.raises(ParameterError, match="widths"):
        mf.finite_width("tanh", 1.5, 0.05, [10])
    with pytest.raises(ParameterError, match="sigma_w2"):
        mf.finite_width("tanh", 0.0, 0.05, [10, 10])
    with pytest.raises(ParameterError, match="q0"):
        mf.jacobian_norm_law("tanh", 1.5, 0.05, [10, 10], q0=-1)


# ----------------------------------------------------------------------------------------------
# the log-normal law of |J u|^2
# ----------------------------------------------------------------------------------------------
def _relu_chain_log_moments(widths, sw2):
    """Exact mean and variance of log prod_l (sigma_w^2/n_{l-1}) chi^2_{K_l}, K_l ~ Binomial(n_l, 1/2) given K_l > 0:
    E log chi^2_k = psi(k/2) + log 2, Var = psi'(k/2)."""
    mean = var = 0.0
    for n_in, n in zip(widths[:-1], widths[1:]):
        k = np.arange(1, n + 1)
        w = stats.binom.pmf(k, n, 0.5)
        w /= w.sum()
        psi = special.digamma(k / 2)
        mean += math.log(2 * sw2 / n_in) + w @ psi
        var += w @ special.polygamma(1, k / 2) + w @ psi**2 - (w @ psi) ** 2
    return mean, var


@pytest.mark.parametrize("sw2", [2.0, 1.5])
def test_relu_jacobian_law_vs_exact(sw2):
    """ReLU: |J_L u|^2/|u|^2 has the law of the chain prod_l (sigma_w^2/n_{l-1}) chi^2_{K_l} for any sigma_b^2 (a
    row's sign flip (W_i, b_i) -> -(W_i, b_i) leaves the network's law unchanged), i.e. of |x^L|^2/|x^0|^2 of the
    bias-free net: the exact package's squared_norm(L) and the digamma formulas.  The first-order law is
    5 sum 1/n_l, sum_l [log(sigma_w^2 n_l/(2 n_{l-1})) - 5/(2 n_l)]: the residual is O(1/n^2) on a width sweep."""
    L, residuals = 4, []
    for n in (100, 200, 400):
        widths = [n] * (L + 1)
        law = exact.ReLUNetwork(widths + [1], sw2, 0.0, input_norm2=1.0).squared_norm(L)
        m1 = law.expect(np.log, lb=1e-300, conditional=True)
        m2 = law.expect(lambda x: np.log(x) ** 2, lb=1e-300, conditional=True)
        mean, var = _relu_chain_log_moments(widths, sw2)
        assert m1 == pytest.approx(mean, rel=1e-9) and m2 - m1**2 == pytest.approx(var, rel=1e-8)
        for sb2 in (0.0, 0.3):
            jl = mf.jacobian_norm_law("relu", sw2, sb2, widths)
            assert jl.var[-1] == pytest.approx(5 * L / n, rel=1e-12)
            assert jl.mean[-1] == pytest.approx(L * (math.log(sw2 / 2) - 2.5 / n), rel=1e-12, abs=1e-14)
        residuals.append(n * n * np.array([mean - jl.mean[-1], var - jl.var[-1]]))
    r = np.array(residuals)
    assert np.all(np.abs(r[2] - r[1]) < 0.05 * np.abs(r[1])) and np.all(np.abs(r[1]) > 1)


def test_linear_jacobian_law_closed_form():
    """Linear: log |J u|^2/|u|^2 = sum_l log((sigma_w^2/n_{l-1}) chi^2_{n_l}) exactly, mean sum [log(2 sigma_w^2/n_{l-1})
    + psi(n_l/2)], variance sum psi'(n_l/2); the first-order law is its expansion psi(x) ~ log x - 1/(2x)."""
    widths = [40, 300, 500, 200]
    jl = mf.jacobian_norm_law("linear", 1.3, 0.2, widths)
    n_in, n = np.array(widths[:-1], float), np.array(widths[1:], float)
    np.testing.assert_allclose(jl.mean, np.cumsum(np.log(1.3 * n / n_in) - 1 / n), rtol=1e-12)
    np.testing.assert_allclose(jl.var, np.cumsum(2 / n), rtol=1e-12)
    exact_mean = np.cumsum(np.log(2 * 1.3 / n_in) + special.digamma(n / 2))
    exact_var = np.cumsum(special.polygamma(1, n / 2))
    assert np.all(np.abs(exact_mean - jl.mean) < 2 * np.cumsum(1 / n**2))
    assert np.all(np.abs(exact_var - jl.var) < 3 * np.cumsum(1 / n**2))
    assert jl.law().mean() == jl.mean[-1] and jl.law(1).std() == pytest.approx(math.sqrt(2 / 300))
