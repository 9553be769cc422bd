"""The neural tangent kernel: closed forms in mpmath, a third-party route, sampled finite networks, depth scales.

References written here, sharing no code with meanfield:

- relu and erf NTKs in both parameterizations, iterated in 30-digit mpmath from the arc-cosine (Cho & Saul
  2009) and arcsin (Williams 1997) kernels and their derivative kernels (the closed forms neural-tangents'
  ``stax.Relu`` and ``stax.Erf`` implement), to rtol 1e-10;
- GELU (no bivariate closed form: Mehler/quadrature in the package) against tests/reference_mp.py's
  30-digit inner-closed-form integrals;
- the empirical NTK of sampled width-1024 networks, by torch autograd over every parameter.
"""
import math

import mpmath as mpm
import numpy as np
import pytest

import meanfield as mf
from meanfield.errors import ParameterError
from tests import reference_mp as ref


def _relu_pair(q1, q2, q12):
    # theta = arccos(q12/sqrt(q1 q2)) as atan2: exactly 0 on the diagonal whatever mpmath's working precision
    # (arccos(1 - 1e-17) = 4.5e-9 would leak the rounding of sqrt(q1 q2) into the kernel)
    q1, q2, q12 = mpm.mpf(q1), mpm.mpf(q2), mpm.mpf(q12)
    theta = mpm.atan2(mpm.sqrt(max(q1 * q2 - q12 * q12, 0)), q12)
    post = mpm.sqrt(q1 * q2) * (mpm.sin(theta) + (mpm.pi - theta) * mpm.cos(theta)) / (2 * mpm.pi)
    return post, (mpm.pi - theta) / (2 * mpm.pi)


def _erf_pair(q1, q2, q12):
    post = 2 / mpm.pi * mpm.asin(2 * q12 / mpm.sqrt((1 + 2 * q1) * (1 + 2 * q2)))
    return post, 4 / mpm.pi / mpm.sqrt((1 + 2 * q1) * (1 + 2 * q2) - 4 * q12**2)


def _gelu_pair(q1, q2, q12):
    c = q12 / mpm.sqrt(q1 * q2)
    return ref.C("gelu", q1, q2, c), ref.Cd("gelu", q1, q2, c)


def _mp_ntk(pair, sw2, sb2, depth, X, parameterization="ntk", width=None):
    """(K^L, Theta^L) by the recursion of neural-tangents' Dense/elementwise kernel_fn, entry by entry."""
    with mpm.workdps(30):
        sw2, sb2 = mpm.mpf(sw2), mpm.mpf(sb2)
        n, n0 = X.shape
        Xm = [[mpm.mpf(float(v)) for v in row] for row in X]
        gram = [[mpm.fsum(a * b for a, b in zip(Xm[i], Xm[j])) for j in range(n)] for i in range(n)]
        K = [[sw2 * gram[i][j] / n0 + sb2 for j in range(n)] for i in range(n)]
        bias = 1 if sb2 > 0 else 0
        T = [row[:] for row in K] if parameterization == "ntk" else [[g + bias for g in row] for row in gram]
        for _ in range(depth - 1):
            post = [[None] * n for _ in range(n)]
            dot = [[None] * n for _ in range(n)]
            for i in range(n):
                for j in range(i, n):
                    post[i][j], dot[i][j] = pair(K[i][i], K[j][j], K[i][j])
                    post[j][i], dot[j][i] = post[i][j], dot[i][j]
            K = [[sw2 * post[i][j] + sb2 for j in range(n)] for i in range(n)]
            if parameterization == "ntk":
                T = [[K[i][j] + sw2 * dot[i][j] * T[i][j] for j in range(n)] for i in range(n)]
            else:
                T = [[width * post[i][j] + sw2 * dot[i][j] * T[i][j] + bias for j in range(n)] for i in range(n)]
        return (np.array([[float(v) for v in row] for row in K]), np.array([[float(v) for v in row] for row in T]))


X4 = np.random.default_rng(11).normal(size=(4, 5))


@pytest.mark.parametrize("name, pair", [("relu", _relu_pair), ("erf", _erf_pair)])
@pytest.mark.parametrize("sw2, sb2, depth", [(2.0, 0.0, 7), (1.7, 0.1, 5), (0.8, 0.3, 3), (3.0, 0.05, 1)])
def test_closed_form_ntk_matches_mpmath(name, pair, sw2, sb2, depth):
    K_ref, T_ref = _mp_ntk(pair, sw2, sb2, depth, X4)
    K, T = mf.ntk_kernel(name, sw2, sb2, depth, X4, return_nngp=True)
    np.testing.assert_allclose(T, T_ref, rtol=1e-10)
    np.testing.assert_allclose(K, K_ref, rtol=1e-10)
    np.testing.assert_array_equal(K, mf.nngp_kernel(name, sw2, sb2, depth, X4))


@pytest.mark.parametrize("name, pair", [("relu", _relu_pair), ("erf", _erf_pair)])
@pytest.mark.parametrize("sb2", [0.0, 0.2])
def test_standard_parameterization_matches_mpmath(name, pair, sb2):
    _, T_ref = _mp_ntk(pair, 1.5, sb2, 4, X4, "standard", width=300)
    np.testing.assert_allclose(mf.ntk_kernel(name, 1.5, sb2, 4, X4, "standard", widths=300), T_ref, rtol=1e-10)
    # per-layer widths: the same recursion with n_l varying (no early stop)
    T = mf.ntk_kernel(name, 1.5, sb2, 3, X4, "standard", widths=[50, 70])
    _, T2 = _mp_ntk(pair, 1.5, sb2, 2, X4, "standard", width=50)
    K2 = mf.nngp_kernel(name, 1.5, sb2, 2, X4)
    with mpm.workdps(30):
        post = np.array([[float(pair(K2[i, i], K2[j, j], K2[i, j])[0]) for j in range(4)] for i in range(4)])
        dot = np.array([[float(pair(K2[i, i], K2[j, j], K2[i, j])[1]) for j in range(4)] for i in range(4)])
    np.testing.assert_allclose(T, 70 * post + 1.5 * dot * T2 + (sb2 > 0), rtol=1e-10)


def _tanh_pair(q1, q2, q12):
    c = min(max(q12 / mpm.sqrt(q1 * q2), -1), 1)
    method = "auto" if c == 1 else "gh"  # c = 1: the 1-D tanh-sinh route (the product rule is 3e-10 off there)
    return ref.C("tanh", q1, q2, c, method=method), ref.Cd("tanh", q1, q2, c, method=method)


def test_gelu_ntk_matches_reference_integrals():
    X = X4[:2]
    _, T_ref = _mp_ntk(_gelu_pair, 1.9, 0.1, 3, X)
    np.testing.assert_allclose(mf.ntk_kernel("gelu", 1.9, 0.1, 3, X), T_ref, rtol=1e-9)


def test_tanh_ntk_matches_reference_integrals():
    """tanh has no closed form: the package's Mehler series of phi and phi' against a 160 x 160 Gauss-Hermite
    product rule in 30-digit mpmath (tests/reference_mp.py; it agrees with the nested quadrature there to 1e-12
    at these variances) and 1-D tanh-sinh quadrature on the diagonal."""
    X = X4[:2]
    _, T_ref = _mp_ntk(_tanh_pair, 1.76, 0.05, 2, X)
    np.testing.assert_allclose(mf.ntk_kernel("tanh", 1.76, 0.05, 2, X), T_ref, rtol=1e-10)
    np.testing.assert_allclose(mf.ntk_kernel("tanh", 1.76, 0.05, 2, X, "standard", widths=64),
                               _mp_ntk(_tanh_pair, 1.76, 0.05, 2, X, "standard", width=64)[1], rtol=1e-10)


def test_relu_on_the_edge_grows_linearly():
    """sigma_w^2 D = 1 for relu at sigma_w^2 = 2: the diagonal is Theta^L_ii = L K_ii (every layer adds K_ii)."""
    X = X4
    K1 = 2.0 * X @ X.T / X.shape[1]
    T = mf.ntk_kernel("relu", 2.0, 0.0, 40, X)
    np.testing.assert_allclose(np.diag(T), 40 * np.diag(K1), rtol=1e-12)


# ----------------------------------------------------------------------------------------------
# sampled finite networks
# ----------------------------------------------------------------------------------------------
def _empirical_ntk(torch, fn, sw2, sb2, depth, X, width, seed, parameterization):
    """Theta(x_a, x_b) = sum over every parameter of df(x_a)/dtheta df(x_b)/dtheta for the first output unit of
    one sampled network (torch autograd), neural-tangents' two parameterizations written out here."""
    g = torch.Generator().manual_seed(seed)
    sizes = [X.shape[1]] + [width] * (depth - 1) + [1]
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        W = torch.randn(fan_out, fan_in, generator=g, dtype=torch.float64)
        b = torch.randn(fan_out, generator=g, dtype=torch.float64)
        if parameterization == "standard":
            W, b = W * math.sqrt(sw2 / fan_in), b * math.sqrt(sb2)
        params += [W.requires_grad_(), b.requires_grad_()]
    h = torch.tensor(X)
    for layer, fan_in in enumerate(sizes[:-1]):
        W, b = params[2 * layer], params[2 * layer + 1]
        if parameterization == "ntk":
            h = math.sqrt(sw2 / fan_in) * h @ W.T + math.sqrt(sb2) * b
        else:
            h = h @ W.T + b
        if layer < depth - 1:
            h = fn(h)
    rows = []
    for a in range(X.shape[0]):
        grads = torch.autograd.grad(h[a, 0], params, retain_graph=True)
        rows.append(torch.cat([t.reshape(-1) for t in grads]))
    G = torch.stack(rows)
    return (G @ G.T).numpy()


@pytest.mark.parametrize("name, parameterization", [("relu", "ntk"), ("tanh", "ntk"), ("erf", "standard")])
def test_empirical_ntk_of_sampled_networks(name, parameterization):
    """20 networks of width 1024, depth 3, three inputs, seeded.  The mean empirical NTK differs from the
    infinite-width one by its sampling error (one network's NTK fluctuates by O(sqrt(L/n)), a few per cent)
    plus a finite-width bias O(L/n) (0.3 %): the tolerance is 4.5 standard errors of the mean (estimated from
    the 20 samples; P(|t_19| > 4.5) < 3e-4 per entry) plus 2 L/n of the entry.  Seeded: deterministic."""
    torch = pytest.importorskip("torch")
    fn = {"relu": torch.relu, "tanh": torch.tanh, "erf": torch.erf}[name]
    X = np.random.default_rng(5).normal(size=(3, 8))
    sw2, sb2, depth, width, m = 1.7, 0.1, 3, 1024, 20
    samples = np.array([_empirical_ntk(torch, fn, sw2, sb2, depth, X, width, s, parameterization) for s in range(m)])
    theory = mf.ntk_kernel(name, sw2, sb2, depth, X, parameterization, widths=width)
    mean, se = samples.mean(axis=0), samples.std(axis=0, ddof=1) / np.sqrt(m)
    assert np.all(np.abs(mean - theory) <= 4.5 * se + 2 * depth / width * np.abs(theory))
    # the comparison has power: a wrong parameterization (the other one's kernel) is far outside it
    other = mf.ntk_kernel(name, sw2, sb2, depth, X, "standard" if parameterization == "ntk" else "ntk", widths=width)
    assert np.any(np.abs(mean - other) > 10 * se)


# ----------------------------------------------------------------------------------------------
# depth: the degenerate limits and their depth scales (Xiao, Pennington & Schoenholz 2020)
# ----------------------------------------------------------------------------------------------
TWO = np.array([[1.0, 0.0], [0.6, 0.8]]) * np.sqrt(2.0)  # |x|^2 / n_0 = 1, cosine 0.6


def _two_input_ntk(name, sw2, sb2, depth):
    T = mf.ntk_kernel(name, sw2, sb2, depth, TWO)
    return T[0, 0], T[0, 1]


def test_ordered_phase_tends_to_a_constant_kernel_at_rate_chi1():
    """Ordered: every entry -> q*/(1 - chi_1) with deviations (a + b l) chi_1^l, so the ratio of successive
    off-diagonal deviations times l/(l + 1) tends to chi_1 (error O(1/l^2) at l = 120)."""
    sw2, sb2 = 1.0, 0.05
    d = mf.ntk_depth_scale("erf", sw2, sb2)
    assert d.phase == "ordered" and d.limit == "constant"
    chi = float(mf.chi1("erf", sw2, sb2))
    assert d.theta_star == pytest.approx(float(mf.fixed_point("erf", sw2, sb2)) / (1 - chi), rel=1e-12)
    assert d.xi == pytest.approx(-1 / math.log(chi), rel=1e-12)
    l = 120
    dev = [abs(_two_input_ntk("erf", sw2, sb2, k)[1] - d.theta_star) for k in (l, l + 1)]
    diag = abs(_two_input_ntk("erf", sw2, sb2, l)[0] - d.theta_star)
    assert dev[1] / dev[0] * l / (l + 1) == pytest.approx(chi, rel=2e-3)
    assert diag < 1e-4 * d.theta_star


@pytest.mark.parametrize("sb2", [0.05, 0.0])
def test_chaotic_phase_tends_to_a_diagonal_kernel(sb2):
    """Chaotic: Theta_ii ~ chi_1^l, Theta_ij -> q* c*/(1 - chi_c*); the ratio Theta_ij / Theta_ii decays by
    exp(-1/xi) per layer (1/chi_1; chi_c*/chi_1 times (l+1)/l when c* = 0: erf without bias).  Transients decay like
    l chi_c*^l (chi_c* = 0.877 here): below 1e-9 after 200 layers."""
    sw2 = 2.5
    d = mf.ntk_depth_scale("erf", sw2, sb2)
    assert d.phase == "chaotic" and d.limit == "diagonal"
    ratios = []
    for k in (200, 201):
        tii, tij = _two_input_ntk("erf", sw2, sb2, k)
        ratios.append(tij / tii)
    if sb2 > 0:
        assert ratios[1] / ratios[0] == pytest.approx(math.exp(-1 / d.xi), rel=1e-6)
    else:  # c^l ~ chi_c*^l feeds Theta_ij: it vanishes like l chi_c*^l (prefactor l, error O(1/l^2))
        assert ratios[1] / ratios[0] * 200 / 201 == pytest.approx(math.exp(-1 / d.xi), rel=1e-4)
    tij = _two_input_ntk("erf", sw2, sb2, 300)[1]
    assert tij == pytest.approx(d.theta_star, rel=1e-9, abs=1e-10)
    if sb2 == 0:
        assert d.c_star == pytest.approx(0, abs=1e-12) and d.theta_star == pytest.approx(0, abs=1e-12)


def test_critical_point_has_no_depth_scale():
    d = mf.ntk_depth_scale("relu", 2.0, 0.0)
    assert d.phase == "critical" and d.xi == math.inf and d.limit == "none"
    tii, tij = _two_input_ntk("relu", 2.0, 0.0, 2000)
    assert 0.2 < tij / tii < 0.3  # Theta_ij / Theta_ii -> 1/4, polynomially (not degenerate)


def test_bad_input():
    with pytest.raises(ParameterError, match="parameterization"):
        mf.ntk_kernel("relu", 2, 0, 3, X4, "mup")
    with pytest.raises(ParameterError, match="hidden widths"):
        mf.ntk_kernel("relu", 2, 0, 3, X4, "standard")
    with pytest.raises(ParameterError, match="2 hidden widths"):
        mf.ntk_kernel("relu", 2, 0, 3, X4, "standard", widths=[4, 5, 6])
    with pytest.raises(ParameterError):
        mf.ntk_kernel("relu", -1, 0, 3, X4)
    with pytest.raises(ParameterError):
        mf.ntk_kernel("relu", 2, 0, 3, np.ones(3))
