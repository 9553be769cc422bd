"""Dropout in mean field (Schoenholz et al. 2017): the maps, q*, chi_1, c*, xi_c, critical points and phase diagrams.

Independent routes: the 30-digit reference of tests/reference_mp.py (closed-form and inner-closed-form Gaussian
integrals, mpmath root finding written here on the dropout maps q = sigma_w^2 V(q)/(1 - p) + sigma_b^2 and
c = (sigma_w^2 C(q, q, c) + sigma_b^2)/q); real sampled networks with independent dropout masks per input
(meanfield.simulate.sample_fluctuations, method="weights"); closed forms of the degenerate limits.
"""
import math

import numpy as np
import pytest

import meanfield as mf
from meanfield.errors import ParameterError
from tests import reference_mp as ref


def _mp_dropout(name, sw2, sb2, p, q_guess):
    """(q*, chi_1, c*, chi_c) of the dropout maps in 30-digit mpmath (keep = 1 - p); c* by Anderson's bracketing
    method on [0, 0.999], where c-map(c) - c goes from >= 0 to < 0 (the c-map is convex, c-map(1) < 1)."""
    mp = ref.mp
    sw2, sb2, keep = mp.mpf(sw2), mp.mpf(sb2), 1 - mp.mpf(p)
    q = mp.findroot(lambda x: sw2 * ref.V(name, x) / keep + sb2 - x, mp.mpf(q_guess))
    c = mp.findroot(lambda x: (sw2 * ref.C(name, q, q, x) + sb2) / q - x, (mp.mpf(0), mp.mpf("0.999")), solver="anderson")
    return q, sw2 * ref.D(name, q) / keep, c, sw2 * ref.Cd(name, q, q, c)


@pytest.mark.parametrize("name, sw2, sb2, p", [("erf", 1.2, 0.05, 0.2), ("relu", 1.5, 0.1, 0.15), ("erf", 2.5, 0.0, 0.05)])
def test_dropout_maps_match_mpmath(name, sw2, sb2, p):
    q_ref, chi_ref, c_ref, chic_ref = _mp_dropout(name, sw2, sb2, p, mf.fixed_point(name, sw2, sb2, dropout=p))
    prop = mf.propagation(name, sw2, sb2, dropout=p)
    assert mf.fixed_point(name, sw2, sb2, dropout=p) == pytest.approx(float(q_ref), rel=1e-11)
    assert mf.chi1(name, sw2, sb2, dropout=p) == pytest.approx(float(chi_ref), rel=1e-11)
    assert mf.correlation_fixed_point(name, sw2, sb2, dropout=p) == pytest.approx(float(c_ref), rel=1e-10, abs=1e-14)
    assert prop.chi_c == pytest.approx(float(chic_ref), rel=1e-10)
    assert prop.xi_c == pytest.approx(float(-1 / ref.mp.log(chic_ref)), rel=1e-9)
    # one layer of each map, away from the fixed point
    q = 0.7
    keep = 1 - p
    expected_c = (sw2 * ref.C(name, q, q, 0.3) + sb2) / (sw2 * ref.V(name, q) / keep + sb2)
    assert mf.correlation_map(name, sw2, sb2, 0.3, q=q, dropout=p) == pytest.approx(float(expected_c), rel=1e-11)
    assert mf.variance_map(name, sw2, sb2, q, dropout=p) == pytest.approx(float(sw2 * ref.V(name, q) / keep + sb2), rel=1e-12)


def test_zero_dropout_is_the_map_without_dropout():
    args = ("tanh", 1.76, 0.05)
    assert mf.fixed_point(*args, dropout=0.0) == mf.fixed_point(*args)
    assert mf.chi1(*args, dropout=0.0) == mf.chi1(*args)
    assert mf.correlation_map(*args, 0.4, dropout=0.0) == mf.correlation_map(*args, 0.4)
    assert mf.critical_point("tanh", 0.05, dropout=0.0) == mf.critical_point("tanh", 0.05)
    d0, d = mf.phase_diagram("erf", [1.0, 2.0], [0.0, 0.1], dropout=0.0), mf.phase_diagram("erf", [1.0, 2.0], [0.0, 0.1])
    for key in ("q_star", "chi1", "c_star", "xi_c"):
        np.testing.assert_array_equal(getattr(d0, key), getattr(d, key))


@pytest.mark.parametrize("name, sb2", [("tanh", 0.05), ("erf", 0.1), ("relu", 0.0), ("gelu", 0.3), ("tanh", 0.0)])
@pytest.mark.parametrize("p", [0.05, 0.3])
def test_no_edge_of_chaos_with_dropout(name, sb2, p):
    """chi_1 = 1 moves to (1 - p) times the edge of chaos, with the same q*; c* < 1 and xi_c is finite there,
    below the convexity bound -1/log(1 - p (1 - sigma_b^2/q*))."""
    plain, point = mf.critical_point(name, sb2), mf.critical_point(name, sb2, dropout=p)
    assert plain.c_star == 1 and plain.xi_c == math.inf
    assert point.sigma_w2 == pytest.approx((1 - p) * plain.sigma_w2, rel=1e-15)
    assert point.q_star == plain.q_star and point.status == plain.status
    if point.q_star > 0:
        assert mf.chi1(name, point.sigma_w2, sb2, q=point.q_star, dropout=p) == pytest.approx(1.0, abs=1e-9)
    assert 0 <= point.c_star < 1 and 0 < point.xi_c < math.inf
    prop = mf.propagation(name, point.sigma_w2, sb2, q0=point.q_star if point.q_star > 0 else 1.0, dropout=p)
    assert point.xi_c == pytest.approx(prop.xi_c, rel=1e-9)
    assert point.xi_c <= prop.xi_c_bound * (1 + 1e-12)
    assert "no edge of chaos" in point.reason


def test_bound_is_attained_when_the_signal_vanishes():
    """sigma_b^2 = 0, ordered (q* = 0): the c-map tends to c -> (1 - p) c (smooth phi), so c* = 0 and
    xi_c = -1/log(1 - p), the bound; relu's limit map (1 - p) arc-cosine(c) has c* > 0 and a smaller xi_c."""
    p = 0.2
    smooth = mf.propagation("tanh", 0.5, 0.0, dropout=p)
    assert smooth.q_star == 0 and smooth.c_star == 0
    assert smooth.xi_c == pytest.approx(-1 / math.log(1 - p), rel=1e-14) == smooth.xi_c_bound
    relu = mf.propagation("relu", 1.0, 0.0, dropout=p)
    c = relu.c_star  # root of (1 - p)(sqrt(1 - c^2) + (pi - arccos c) c)/pi = c
    assert (1 - p) * (math.sqrt(1 - c * c) + (math.pi - math.acos(c)) * c) / math.pi == pytest.approx(c, abs=1e-13)
    assert relu.chi_c == pytest.approx((1 - p) * (math.pi - math.acos(c)) / math.pi, rel=1e-12)
    assert relu.xi_c < relu.xi_c_bound


def test_phase_diagram_with_dropout():
    w, b, p = np.linspace(0.8, 3.0, 12), np.array([0.0, 0.05, 0.2]), 0.1
    d = mf.phase_diagram("tanh", w, b, dropout=p)
    assert np.all(d.c_star < 1) and np.all(np.isfinite(d.xi_c))
    assert np.all(d.xi_c <= d.xi_c_bound * (1 + 1e-9))
    np.testing.assert_allclose(d.critical_sigma_w2, (1 - p) * mf.critical_sigma_w2("tanh", b), rtol=1e-15)
    point = mf.propagation("tanh", w[5], b[1], dropout=p)
    assert d.q_star[1, 5] == pytest.approx(point.q_star, rel=1e-10)
    assert d.chi1[1, 5] == pytest.approx(point.chi1, rel=1e-10)
    assert d.xi_c[1, 5] == pytest.approx(point.xi_c, rel=1e-8)
    assert np.nanmax(mf.phase_diagram("tanh", w, b).xi_c) > 10 * np.max(d.xi_c)  # xi_c diverges without dropout


def test_bad_dropout():
    for bad in (-0.1, 1.0, 1.5, float("nan"), "0.1", [0.1, 0.2]):
        with pytest.raises(ParameterError, match="dropout"):
            mf.fixed_point("tanh", 1.5, 0.05, dropout=bad)
    with pytest.raises(mf.DivergentFixedPointError, match="dropout"):
        mf.fixed_point("relu", 1.9, 0.0, dropout=0.1)


@pytest.mark.parametrize("name, sw2, sb2, p", [("tanh", 1.76, 0.05, 0.1), ("relu", 1.6, 0.0, 0.2)])
def test_monte_carlo_with_dropout_masks(name, sw2, sb2, p):
    """24 real networks of width 500, depth 6, two inputs (cosine 0.6) with independent inverted-dropout masks.

    Per layer the network means of |h^l|^2/n and of the cosine of h^l(x), h^l(x') are compared with the dropout
    maps iterated from the input; the mean per-layer gradient factor |v^l|^2/|v^{l-1}|^2 (v = J u) with
    chi_1(q^l) = sigma_w^2 D(q^l)/(1 - p).  Tolerance: 5 standard errors over the 24 networks (the layer's SE,
    pooled as a running maximum over layers) plus 3/width for the O(1/n) finite-width bias.  The maps without
    dropout are far outside it (power)."""
    L, n, m = 6, 500, 24
    mc = mf.simulate.sample_fluctuations(name, sw2, sb2, [n] * (L + 1), m, seed=7, c0=0.6, dropout=p, method="weights")
    q, c = [sw2 + sb2], [(sw2 * 0.6 + sb2) / (sw2 + sb2)]
    for _ in range(L - 1):
        c.append(mf.correlation_map(name, sw2, sb2, c[-1], q=q[-1], dropout=p))
        q.append(mf.variance_map(name, sw2, sb2, q[-1], dropout=p))
    q, c = np.array(q), np.array(c)
    chi = np.array([mf.chi1(name, sw2, sb2, q=v, dropout=p) for v in q])
    rho = np.exp(np.diff(mc.log_jacobian, axis=1, prepend=0.0))

    def check(samples, theory, scale):
        se = np.maximum.accumulate(samples.std(axis=0, ddof=1) / np.sqrt(m) / scale) * scale
        assert np.all(np.abs(samples.mean(axis=0) - theory) <= 5 * se + 3 * scale / n)
        return se

    check(mc.q, q, q)
    se = check(mc.c, c, 1.0)
    check(rho, chi, chi)
    c_plain = [c[0]]
    for v in q[:-1]:
        c_plain.append(mf.correlation_map(name, sw2, sb2, c_plain[-1], q=v))
    assert np.abs(mc.c.mean(axis=0) - c_plain)[-1] > 10 * se[-1]
