"""The package against the independent mpmath reference (tests/reference_mp.py).

The reference shares no code with ``meanfield``: closed forms and tanh-sinh / Gauss-Legendre
quadrature at 30 digits (20 for the nested 2D route of tanh, sigmoid, softplus, silu), its own
fixed-point, c* and edge-of-chaos solvers.  Its own correctness (two routes per value, anchor
values of the notes) is checked in test_reference_selfcheck.py.

Tolerance policy (notes, section 5): rtol = max(floor, 100 x the agreement of two reference
routes).  The reference routes agree to 1e-20 or better everywhere used here, so the floors
decide; they are set by what a float64 implementation with adaptive quadrature can deliver, and
each group below says why its floor is what it is.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import meanfield as mf


from tests import reference_mp as ref  # the package "tests" (rootdir on sys.path), never tests/ itself

# (name, params): every built-in, plus leaky_relu with a non-default slope
SPECS = [(n, {}) for n in ref.NAMES] + [("leaky_relu", {"slope": 0.2})]


def _id(spec):
    name, params = spec
    return name + "".join(f"({k}={v})" for k, v in params.items())


def pkg(spec):
    name, params = spec
    return mf.activation(name, **params)


def rf(spec):
    name, params = spec
    return ref.act(name, **params)


def kinked(spec):
    return spec[0] in ref.KINKED


def assert_close(got, want, rtol, atol=0.0, what=""):
    got, want = float(got), float(want)
    err = abs(got - want)
    assert err <= rtol * abs(want) + atol, (
        f"{what}: package {got!r}, reference {want!r}, "
        f"rel. error {err / abs(want) if want else err:.3g} > rtol {rtol:g} (atol {atol:g})")


def xi_rtol(rate):
    """Tolerance of xi = -1/log(rate): a relative error e in the rate becomes e/|log rate| in xi,
    so the 1e-9 of chi_1-type quantities becomes 1e-9/|log rate|; never below 1e-7."""
    return max(1e-7, 1e-9 / abs(math.log(float(rate))))


# ---------------------------------------------------------------------------------------------
# 1. Variance map and chi_1 at given q, over nine decades of q.
# Tolerance: one 1D Gaussian integral (closed form or adaptive quadrature in double precision).
# Smooth phi: closed forms and quadrature reach ~1e-14, so 1e-10 leaves four orders of margin
# for the quadrature error estimate.  Kinked phi (relu, leaky_relu, hardtanh, selu, elu): the
# quadrature has to resolve a derivative jump at z = kink/sqrt(q) (a needle for q = 1e-6 or
# 1e3), 1e-8 as agreed for the package.  sigma_b^2 = 0 so that V itself is compared, not V + b.

Q_GRID = [float(q) for q in np.logspace(-6, 3, 7)]
SW2 = 1.3


def tol_1d(spec):
    return 1e-8 if kinked(spec) else 1e-10


@pytest.mark.parametrize("q", Q_GRID, ids=lambda q: f"q={q:.3g}")
@pytest.mark.parametrize("spec", SPECS, ids=_id)
def test_variance_map(spec, q):
    want = SW2 * ref.V(rf(spec), q)
    got = mf.variance_map(pkg(spec), SW2, 0.0, q)
    assert_close(got, want, tol_1d(spec), what=f"sw2 V(q), {_id(spec)}, q={q}")


@pytest.mark.parametrize("q", Q_GRID, ids=lambda q: f"q={q:.3g}")
@pytest.mark.parametrize("spec", SPECS, ids=_id)
def test_chi1_at_q(spec, q):
    want = SW2 * ref.D(rf(spec), q)
    got = mf.chi1(pkg(spec), SW2, 0.3, q=q)
    assert_close(got, want, tol_1d(spec), what=f"sw2 D(q), {_id(spec)}, q={q}")


# Large q, where the relu-like activations differ from relu only in a layer of width 1/sqrt(q)
# around 0 (the edge-of-chaos scan of S(q) reaches q = 1e6); same tolerances.
LARGE_Q_SPECS = [s for s in SPECS if s[0] in ("softplus", "gelu", "silu", "elu", "selu", "sigmoid", "tanh")]


@pytest.mark.parametrize("q", [1e4, 1e5, 1e6], ids=lambda q: f"q={q:.0e}")
@pytest.mark.parametrize("spec", LARGE_Q_SPECS, ids=_id)
def test_moments_large_q(spec, q):
    assert_close(mf.variance_map(pkg(spec), SW2, 0.0, q), SW2 * ref.V(rf(spec), q), tol_1d(spec),
                 what=f"sw2 V(q), {_id(spec)}, q={q:g}")
    assert_close(mf.chi1(pkg(spec), SW2, 0.0, q=q), SW2 * ref.D(rf(spec), q), tol_1d(spec),
                 what=f"sw2 D(q), {_id(spec)}, q={q:g}")


@pytest.mark.parametrize("spec", SPECS, ids=_id)
def test_variance_map_bias_and_broadcasting(spec):
    """Array q in, array out, the bias added; same tolerances."""
    qs = np.array(Q_GRID)
    got = np.asarray(mf.variance_map(pkg(spec), SW2, 0.07, qs))
    assert got.shape == qs.shape
    for g, q in zip(got, Q_GRID):
        assert_close(g, SW2 * ref.V(rf(spec), q) + ref.mp.mpf(0.07), tol_1d(spec),
                     what=f"{_id(spec)}, q={q}")
    chi = np.asarray(mf.chi1(pkg(spec), SW2, 0.07, q=qs))
    assert chi.shape == qs.shape
    for g, q in zip(chi, Q_GRID):
        assert_close(g, SW2 * ref.D(rf(spec), q), tol_1d(spec), what=f"{_id(spec)}, q={q}")


# ---------------------------------------------------------------------------------------------
# 2. Correlation map at given (q, c): (sw2 E[phi(u1)phi(u2)] + sb2) / (sw2 V(q) + sb2), the
# normalisation by the next layer's variance (notes, section 1; equal to q at q = q*).
# Tolerance 1e-9: a bivariate integral in double precision (closed form, or 1D over an inner
# closed form, or 2D adaptive quadrature) is good to ~1e-12..1e-11 (notes: ~5e-14 between two
# careful methods); 1e-9 leaves room for 2D quadrature error control while any formula slip or
# kink mis-resolution (>= 1e-7 in practice) still fails.  atol 1e-13 for values near c = 0.

CMAP_SW2, CMAP_SB2 = 1.7, 0.2
CMAP_FAST = [(0.25, -0.9), (1.0, 0.4), (4.0, 0.99), (30.0, 0.7)]
CMAP_CASES = [(s, q, c) for s in SPECS if s[0] not in ref.NESTED_ONLY for q, c in CMAP_FAST]
# tanh, sigmoid, softplus, silu: only the nested 2D reference (about 1-3 s per value)
CMAP_CASES += [(("tanh", {}), 1.0, 0.4), (("tanh", {}), 4.0, -0.7), (("sigmoid", {}), 2.0, 0.6),
               (("softplus", {}), 1.0, 0.5), (("silu", {}), 1.5, 0.8)]


@pytest.mark.parametrize("spec,q,c", CMAP_CASES, ids=[f"{_id(s)}-q={q}-c={c}" for s, q, c in CMAP_CASES])
def test_correlation_map(spec, q, c):
    want = ref.cmap(rf(spec), CMAP_SW2, CMAP_SB2, c, q)
    got = mf.correlation_map(pkg(spec), CMAP_SW2, CMAP_SB2, c, q=q)
    assert_close(got, want, 1e-9, 1e-13, what=f"c-map, {_id(spec)}, q={q}, c={c}")


# ---------------------------------------------------------------------------------------------
# 3. Fixed point q*, chi_1 at q*, depth scales, in both phases (and the collapse q* = 0).
# Tolerance 1e-9 for q* and chi_1: a root of a map that is itself good to ~1e-12 (1e-10 for
# kinked phi), divided by 1 - s_q >= 0.05 here.  xi = -1/log(rate) amplifies the relative error of
# the rate by 1/|log rate| (hundreds near the edge): rtol = max(1e-7, 1e-9/|log rate|).
# Columns: spec, sigma_w2, sigma_b2, how to check xi_c ("yes"; "slow": nested c* search, several
# 2D integrals of ~1 s each; "no": nested and at q* ~ 70, too slow for the suite).

T, H, E, SG, SP, SE, EL, G, SI, SN = (
    ("tanh", {}), ("hardtanh", {}), ("erf", {}), ("sigmoid", {}), ("softplus", {}),
    ("selu", {}), ("elu", {}), ("gelu", {}), ("silu", {}), ("sin", {}))
FP_CASES = [
    (("linear", {}), 0.5, 0.1, "yes"), (("linear", {}), 0.9, 0.0, "yes"),          # q* = 0
    (("relu", {}), 1.5, 0.1, "yes"), (("relu", {}), 1.0, 0.0, "yes"),              # q* = 0
    (("leaky_relu", {}), 1.5, 0.1, "yes"), (("leaky_relu", {"slope": 0.2}), 1.2, 0.2, "yes"),
    (T, 0.8, 0.05, "yes"), (T, 1.5, 0.05, "yes"), (T, 0.5, 0.0, "yes"),            # ordered, q* = 0
    (T, 2.5, 0.0, "yes"),                                                           # chaotic, c* = 0
    (T, 2.5, 0.1, "slow"),                                                          # chaotic
    (H, 0.9, 0.05, "yes"), (H, 2.0, 0.1, "yes"), (H, 2.0, 0.0, "yes"),
    (E, 0.6, 0.1, "yes"), (E, 2.0, 0.2, "yes"), (E, 2.0, 0.0, "yes"),
    (SG, 1.0, 0.0, "yes"), (SG, 20.0, 0.1, "yes"), (SG, 150.0, 0.1, "no"),        # chaotic, q* ~ 70
    (SP, 1.0, 0.1, "yes"), (SP, 1.9, 0.3, "yes"),
    (SE, 1.0, 0.0, "yes"),           # self-normalising: q* = 1, c* = 0, chi_1 = 1.0715750
    (SE, 0.5625, 0.0, "yes"),        # torch's gain 3/4: just chaotic, small q*, xi_c ~ 560
    (SE, 1.5, 0.2, "yes"), (SE, 0.4, 0.1, "yes"),
    (EL, 1.0, 0.1, "yes"), (EL, 1.8, 0.1, "yes"), (EL, 1.5, 0.0, "yes"),
    (G, 1.5, 0.1, "yes"), (G, 1.99, 0.3, "yes"),                                   # q* ~ 50, xi_c ~ 110
    (G, 1.9, 1.0, "yes"),
    (SI, 1.5, 0.1, "yes"), (SI, 1.99, 0.5, "yes"),                                 # ordered, s_q ~ 0.97
    (SN, 0.5, 0.1, "yes"), (SN, 2.0, 0.0, "yes"), (SN, 2.0, 0.3, "yes"),
]
FP_IDS = [f"{_id(s)}-sw2={w}-sb2={b}" for s, w, b, _ in FP_CASES]


@pytest.mark.parametrize("spec,sw2,sb2,xic", FP_CASES, ids=FP_IDS)
def test_fixed_point_and_chi1(spec, sw2, sb2, xic):
    q = ref.fixed_point(rf(spec), sw2, sb2)
    assert_close(mf.fixed_point(pkg(spec), sw2, sb2), q, 1e-9, 1e-12, what="q*")
    assert_close(mf.chi1(pkg(spec), sw2, sb2), ref.chi1(rf(spec), sw2, sb2), 1e-9, what="chi_1 at q*")


def _depth_scale_params():
    out = []
    for (spec, w, b, xic), i in zip(FP_CASES, FP_IDS):
        marks = [pytest.mark.slow] if xic == "slow" else []
        out.append(pytest.param(spec, w, b, xic, id=i, marks=marks))
    return out


@pytest.mark.parametrize("spec,sw2,sb2,xic", _depth_scale_params())
def test_depth_scales(spec, sw2, sb2, xic):
    got = mf.depth_scales(pkg(spec), sw2, sb2)
    s_q = ref.slope_q(rf(spec), sw2, sb2)
    assert_close(got.xi_q, ref.xi_q(rf(spec), sw2, sb2), xi_rtol(s_q), what=f"xi_q (s_q = {float(s_q):.6g})")
    assert_close(got[0], got.xi_q, 0.0, what="named tuple order (xi_q, xi_c)")
    if xic == "no":
        return
    chi_c = ref.chi_c(rf(spec), sw2, sb2)
    assert_close(got.xi_c, ref.xi_c(rf(spec), sw2, sb2), xi_rtol(chi_c),
                 what=f"xi_c (chi_c = {float(chi_c):.6g}, c* = {float(ref.c_star(rf(spec), sw2, sb2)):.12g})")


@pytest.mark.parametrize("spec,sw2,sb2,xic", _depth_scale_params())
def test_correlation_fixed_point(spec, sw2, sb2, xic):
    """c* (not in DESIGN's list, but public in the package): same root-of-a-map tolerance."""
    if not hasattr(mf, "correlation_fixed_point"):
        pytest.skip("meanfield.correlation_fixed_point not provided")
    if xic == "no":
        pytest.skip("nested 2D reference too slow at this q*")
    want = ref.c_star(rf(spec), sw2, sb2)
    assert_close(mf.correlation_fixed_point(pkg(spec), sw2, sb2), want, 1e-9, 1e-12, what="c*")


# ---------------------------------------------------------------------------------------------
# 4. Edge of chaos.  Tolerance 1e-9 for sigma_w^2 and q*: roots of S(q) = q - V/D = sigma_b^2
# (S' is O(1) here), with V, D good to ~1e-12 in double precision (1e-10 kinked).  For
# several roots the package reports one (and may list all in .roots): every reported root must
# be one of the reference's.  The stability flag is compared where |s_q - 1| > 1e-6.

CRIT_NAMES = ["tanh", "erf", "hardtanh", "sin", "selu", "elu", "sigmoid", "gelu", "silu"]
CRIT_SB2 = [0.01, 0.05, 0.1, 0.3]


def _match(roots, sw2):
    """The reference root (sigma_w2, q) nearest to the package's sigma_w2."""
    return min(roots, key=lambda r: abs(float(r[0]) - sw2))


@pytest.mark.parametrize("sb2", CRIT_SB2)
@pytest.mark.parametrize("name", CRIT_NAMES)
def test_critical_sigma_w2(name, sb2):
    roots = ref.critical(name, sb2)
    assert roots, "the reference has a critical point here"
    got = float(mf.critical_sigma_w2(mf.activation(name), sb2))
    w, _ = _match(roots, got)
    assert_close(got, w, 1e-9, what=f"critical sigma_w2 ({len(roots)} reference root(s))")


@pytest.mark.parametrize("sb2", CRIT_SB2)
@pytest.mark.parametrize("name", CRIT_NAMES)
def test_critical_point(name, sb2):
    roots = ref.critical(name, sb2)
    p = mf.critical_point(mf.activation(name), sb2)
    w, q = _match(roots, float(p.sigma_w2))
    assert_close(p.sigma_w2, w, 1e-9, what="sigma_w2")
    assert_close(p.q_star, q, 1e-9, what="q*")
    s_q = ref.slope_q_at(name, w, q)
    if abs(s_q - 1) > 1e-6:
        assert bool(p.stable) == bool(s_q < 1), f"stable={p.stable}, reference q-map slope {float(s_q)}"
    assert isinstance(p.status, str) and p.status
    pkg_roots = getattr(p, "roots", None)
    if pkg_roots:
        assert len(pkg_roots) == len(roots), f"package roots {pkg_roots}, reference {roots}"
        for r in pkg_roots:
            w_, q_ = _match(roots, float(r.sigma_w2))
            assert_close(r.sigma_w2, w_, 1e-9, what="a listed root's sigma_w2")
            assert_close(r.q_star, q_, 1e-9, what="a listed root's q*")


LAMBDA, ALPHA = float(ref.SELU_LAMBDA), float(ref.SELU_ALPHA)
LIMITS = {"tanh": 1.0, "erf": math.pi / 4, "sin": 1.0, "hardtanh": 1.0,
          "selu": 2 / (LAMBDA ** 2 * (1 + ALPHA ** 2)), "gelu": 4.0, "silu": 4.0, "elu": 1.0}


@pytest.mark.parametrize("name", sorted(LIMITS))
def test_critical_limit_at_zero_bias(name):
    """sigma_b^2 = 0, phi(0) = 0, S > 0 at small q: the q* -> 0 limit 1/phi'(0)^2 (notes, sec. 1)."""
    roots = ref.critical(name, 0.0)
    assert float(roots[0][0]) == pytest.approx(LIMITS[name], rel=1e-15) and roots[0][1] == 0
    assert_close(mf.critical_sigma_w2(mf.activation(name), 0.0), LIMITS[name], 1e-9, what="limit")
    p = mf.critical_point(mf.activation(name), 0.0)
    assert_close(p.sigma_w2, LIMITS[name], 1e-9, what="limit")
    assert_close(p.q_star, 0.0, 0.0, 1e-12, what="q* of the limit")


def test_critical_sigmoid_zero_bias():
    """phi(0) = 1/2: no q -> 0 limit but a genuine root at q* ~ 45.6, sigma_w^2 ~ 103."""
    (w, q), = ref.critical("sigmoid", 0.0)
    assert_close(mf.critical_sigma_w2(mf.activation("sigmoid"), 0.0), w, 1e-9, what="sigma_w2")
    assert_close(mf.critical_point(mf.activation("sigmoid"), 0.0).q_star, q, 1e-9, what="q*")


@pytest.mark.parametrize("spec,w", [(("relu", {}), 2.0), (("linear", {}), 1.0),
                                    (("leaky_relu", {"slope": 0.2}), 2 / 1.04)],
                         ids=["relu", "linear", "leaky_relu(slope=0.2)"])
def test_critical_homogeneous(spec, w):
    """relu, linear, leaky: S == 0, critical only at sigma_b^2 = 0, for every q."""
    (rw, _), = ref.critical(rf(spec), 0.0)
    assert float(rw) == pytest.approx(w, rel=1e-15)
    assert_close(mf.critical_sigma_w2(pkg(spec), 0.0), w, 1e-9, what="homogeneous")


NONE_CASES = [("softplus", b) for b in (0.0, 0.01, 0.1, 0.3)] + [
    (n, b) for n in ("relu", "leaky_relu", "linear") for b in (0.01, 0.3)]


@pytest.mark.parametrize("name,sb2", NONE_CASES)
def test_critical_none(name, sb2):
    """No critical point: NaN, and status 'none'."""
    assert ref.critical(name, sb2) == []
    assert math.isnan(float(mf.critical_sigma_w2(mf.activation(name), sb2)))
    p = mf.critical_point(mf.activation(name), sb2)
    assert math.isnan(float(p.sigma_w2)) and p.status == "none"


def test_critical_sigma_w2_vectorised():
    got = np.asarray(mf.critical_sigma_w2(mf.activation("erf"), np.array(CRIT_SB2)))
    assert got.shape == (len(CRIT_SB2),)
    for g, b in zip(got, CRIT_SB2):
        assert_close(g, _match(ref.critical("erf", b), float(g))[0], 1e-9, what=f"sb2={b}")


# ---------------------------------------------------------------------------------------------
# 5. Two inputs through depth = 10 weight layers.  DESIGN.md: (q1, q2, c) are the statistics of
# the two network inputs (|x|^2/n_0 and their cosine), K^1 = sigma_w^2 K^0 + sigma_b^2, then 9 times
# "activation, then dense" (neural-tangents' serial(Dense, (act, Dense) x 9)).
# Tolerance 1e-9: nine compositions of maps good to ~1e-12 each; the maps are contractions or
# mild expansions here, so errors do not grow beyond ~10x (notes: ~1e-13 after 100 layers
# between two careful methods).

KERNEL_CASES = [
    pytest.param(("relu", {}), 1.8, 0.1, 0.7, 1.9, 0.3, id="relu"),
    pytest.param(("erf", {}), 2.0, 0.05, 0.5, 3.0, -0.4, id="erf-chaotic"),
    pytest.param(("erf", {}), 0.7, 0.2, 2.0, 0.3, 0.9, id="erf-ordered"),
    pytest.param(("tanh", {}), 1.5, 0.05, 0.6, 0.9, 0.6, id="tanh", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("spec,sw2,sb2,q1,q2,c", KERNEL_CASES)
def test_kernel(spec, sw2, sb2, q1, q2, c):
    want = ref.kernel(rf(spec), sw2, sb2, 10, q1, q2, c)
    got = mf.kernel(pkg(spec), sw2, sb2, 10, q1, q2, c)
    for g, w, what in zip(got, want, ("q1", "q2", "c")):
        assert_close(g, w, 1e-9, 1e-13, what=f"{what} after depth 10")


def test_kernel_depth_counting():
    """depth = 1 is the first dense layer alone: K^1 = sigma_w^2 K^0 + sigma_b^2."""
    sw2, sb2, q1, q2, c = 1.8, 0.1, 0.7, 1.9, 0.3
    got = mf.kernel(mf.activation("relu"), sw2, sb2, 1, q1, q2, c)
    n1, n2 = sw2 * q1 + sb2, sw2 * q2 + sb2
    want = (n1, n2, (sw2 * c * math.sqrt(q1 * q2) + sb2) / math.sqrt(n1 * n2))
    for g, w in zip(got, want):
        assert_close(g, w, 1e-14, what="depth 1")
    for depth in (2, 3):
        want = ref.kernel("relu", sw2, sb2, depth, q1, q2, c)
        got = mf.kernel(mf.activation("relu"), sw2, sb2, depth, q1, q2, c)
        for g, w in zip(got, want):
            assert_close(g, w, 1e-12, what=f"depth {depth}")
