"""Self-checks of the mpmath reference (tests/reference_mp.py): every value by two routes.

The package is not involved here.  Routes: closed forms vs tanh-sinh quadrature (1D); the three
forms of V'(q) (z^2 - 1 weight, Stein's E[phi'^2 + phi phi''], derivative of the closed form);
closed inner conditional expectations vs 1D quadrature; bivariate closed forms vs the 1D
inner-expectation route; the nested 2D route vs closed forms, the inner route and a Gauss-Hermite
product rule; Price's theorem; fixed points and critical points vs independent root solves on
closed forms; the anchor values of notes/meanfield.md.

Tolerances: both routes run at 30 digits (nested 2D at 20, Gauss-Hermite products at the rule's
own accuracy), so agreement is required at 1e-24 (1D), 1e-18 (2D nested) unless said otherwise.
"""
from __future__ import annotations

import ast
import pathlib

import mpmath
import pytest


from tests import reference_mp as ref  # the package "tests" (rootdir on sys.path), never tests/ itself
mp = ref.mp


def rel(a, b):
    a, b = mp.mpf(a), mp.mpf(b)
    return abs(a - b) / abs(b) if b != 0 else abs(a)


def check(a, b, rtol, atol=0, what=""):
    a, b = mp.mpf(a), mp.mpf(b)
    assert abs(a - b) <= rtol * abs(b) + atol, (
        f"{what}: {mp.nstr(a, 25)} vs {mp.nstr(b, 25)} (rel {mp.nstr(rel(a, b), 3)})")


# ---------------------------------------------------------------------------------------------
# hygiene


def test_reference_is_independent_of_the_package():
    tree = ast.parse((pathlib.Path(ref.__file__)).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert all(not a.name.split(".")[0] in ("meanfield", "exact") for a in node.names)
        if isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] not in ("meanfield", "exact")


def test_private_context():
    assert ref.mp is not mpmath.mp and ref.mp.dps == ref.DPS
    dps = mpmath.mp.dps
    ref.V("tanh", 0.3)
    assert mpmath.mp.dps == dps


# ---------------------------------------------------------------------------------------------
# 1D: closed forms vs tanh-sinh quadrature

CLOSED_1D = [("linear", {}), ("relu", {}), ("leaky_relu", {}), ("leaky_relu", {"slope": 0.2}),
             ("erf", {}), ("sin", {}), ("gelu", {}), ("hardtanh", {}), ("selu", {}), ("elu", {}),
             ("tanh", {})]


@pytest.mark.parametrize("q", [1e-6, 0.05, 2.0, 60.0])
@pytest.mark.parametrize("name,params", CLOSED_1D, ids=lambda x: x if isinstance(x, str) else "")
def test_closed_1d_vs_quadrature(name, params, q):
    a = ref.act(name, **params)
    for kind, fn in (("V", ref.V), ("D", ref.D), ("M", ref.M), ("Mp", ref.Mp)):
        try:
            closed = fn(a, q, method="closed")
        except ValueError:
            continue
        quad = fn(a, q, method="quad")
        check(quad, closed, 1e-24, 1e-28, what=f"{kind}({name}, q={q})")


@pytest.mark.parametrize("q", [0.02, 20.0])
@pytest.mark.parametrize("name", ref.NAMES)
def test_dVdq_routes(name, q):
    """V'(q): E[phi^2 (z^2-1)]/(2q) vs d/dq of the closed form vs Stein's E[phi'^2 + phi phi'']."""
    base = ref.dVdq(name, q, method="quad")
    done = 0
    for method in ("closed", "stein"):
        try:
            other = ref.dVdq(name, q, method=method)
        except ValueError:
            continue
        # the (z^2 - 1) integral cancels: its error is absolute, on the scale V(q)/q
        check(base, other, 1e-22, 1e-26 * ref.V(name, q) / q, what=f"V'({name}, q={q}), quad vs {method}")
        done += 1
    assert done >= 1


# ---------------------------------------------------------------------------------------------
# inner conditional expectations E[g(m + b Z)] vs 1D quadrature

INNER = ["linear", "relu", "leaky_relu", "erf", "gelu", "hardtanh", "selu", "elu", "sin"]


@pytest.mark.parametrize("deriv", [False, True], ids=["phi", "dphi"])
@pytest.mark.parametrize("name", INNER)
def test_inner_forms_vs_quadrature(name, deriv):
    a = ref.act(name)
    inner = ref._inner(a, deriv)
    g = a.dphi if deriv else a.phi
    for m, b in [(0.3, 0.5), (-1.2, 2.0), (-0.9, 0.01), (4.0, 7.0)]:
        m, b = mp.mpf(m), mp.mpf(b)
        pts = sorted({-mp.mpf(15), mp.mpf(15), mp.zero}
                     | {(x - m) / b for x in a.breaks(m - 15 * b, m + 15 * b)})
        quad = mp.quad(lambda z: g(m + b * z) * mp.npdf(z), pts)
        check(inner(m, b), quad, 1e-24, 1e-28, what=f"E[{'dphi' if deriv else 'phi'}({m} + {b} Z)]")


# ---------------------------------------------------------------------------------------------
# bivariate: closed forms vs the inner route (outer Gauss-Legendre machinery)

BIV_POINTS = [(0.5, 0.5, 0.3), (2.0, 1.2, -0.7), (1.0, 1.0, 0.999), (1e-4, 3.0, 0.5), (40.0, 25.0, -0.95)]


@pytest.mark.parametrize("q1,q2,c", BIV_POINTS)
@pytest.mark.parametrize("name,params", [("linear", {}), ("relu", {}), ("leaky_relu", {"slope": 0.2}),
                                         ("erf", {}), ("sin", {})],
                         ids=["linear", "relu", "leaky0.2", "erf", "sin"])
def test_bivariate_closed_vs_inner(name, params, q1, q2, c):
    a = ref.act(name, **params)
    for fn in (ref.C, ref.Cd):
        check(fn(a, q1, q2, c, method="inner"), fn(a, q1, q2, c, method="closed"), 1e-24, 1e-28,
              what=f"{fn.__name__}({name}, {q1}, {q2}, {c})")


# nested 2D route (no closed forms at all) vs closed / inner / Gauss-Hermite
NESTED = [
    ("relu", 0.7, 1.5, 0.6, "closed"),
    ("hardtanh", 0.7, 1.5, -0.6, "inner"),
    ("tanh", 0.5, 0.8, 0.6, "gh"),
    ("sigmoid", 0.5, 0.8, 0.6, "gh"),
]


@pytest.mark.parametrize("name,q1,q2,c,other", NESTED)
def test_nested_route(name, q1, q2, c, other):
    """Gauss-Hermite (160 x 160) is accurate only for smooth phi at small q (poles of tanh and
    the logistic at distance pi/(2 sqrt q)): 1e-18 there.  The cases cover every branch of the
    nested route: relu (kink at 0, the "linear + even" split of phi and "constant + odd" of phi'),
    hardtanh (kinks at +-1, odd), tanh (odd, analytic), sigmoid (constant + odd, analytic)."""
    for deriv in (False, True):
        if other == "gh" and deriv:
            continue
        got = ref._bivar(ref.act(name), mp.mpf(q1), mp.mpf(q2), mp.mpf(c), deriv, "nested")
        want = ref._bivar(ref.act(name), mp.mpf(q1), mp.mpf(q2), mp.mpf(c), deriv, other)
        check(got, want, 1e-18, what=f"{name} {'Cd' if deriv else 'C'} nested vs {other}")


def test_gelu_inner_vs_gauss_hermite():
    """GELU is entire with Gaussian-tempered growth: a 64-point product rule is exact to ~1e-28."""
    for deriv in (False, True):
        args = (ref.act("gelu"), mp.mpf(0.6), mp.mpf(1.3), mp.mpf(-0.45), deriv)
        check(ref._bivar(*args, "inner"), ref._bivar_gh(*args, n=64), 1e-24)


def test_softplus_derivative_is_sigmoid():
    """softplus' = logistic: Cd(softplus) = C(sigmoid) (two different nested integrands)."""
    check(ref.Cd("softplus", 0.5, 0.8, 0.6, method="nested"),
          ref.C("sigmoid", 0.5, 0.8, 0.6, method="nested"), 1e-18)
    check(ref.D("softplus", 3.0), ref.V("sigmoid", 3.0), 1e-26)


def test_gauss_hermite_rule():
    xs, ws = ref.gauss_hermite(64)
    for k, want in ((0, 1), (2, 1), (4, 3), (8, 105), (20, 654729075)):
        check(mp.fdot([x ** k for x in xs], ws), want, 1e-25)


@pytest.mark.parametrize("name,q1,q2,c", [("gelu", 0.6, 1.7, 0.35), ("selu", 2.0, 0.4, -0.5)])
def test_price_theorem(name, q1, q2, c):
    """d/dc E[phi(u1) phi(u2)] = sqrt(q1 q2) E[phi'(u1) phi'(u2)]: the phi and phi' inner forms agree."""
    a = ref.act(name)
    d = mp.diff(lambda t: ref._bivar_route(a, mp.mpf(q1), mp.mpf(q2), t, False, "inner"), mp.mpf(c))
    check(d, mp.sqrt(mp.mpf(q1) * mp.mpf(q2)) * ref.Cd(a, q1, q2, c), 1e-20)


@pytest.mark.parametrize("name", ["tanh", "selu", "gelu", "sin"])
def test_bivariate_limits(name):
    """c = 1, q1 = q2: C = V, Cd = D; c = 0: the product of the means."""
    check(ref.C(name, 0.9, 0.9, 1), ref.V(name, 0.9), 1e-25)
    check(ref.Cd(name, 0.9, 0.9, 1), ref.D(name, 0.9), 1e-25)
    if ref._inner(ref.act(name), False) is not None:
        check(ref.C(name, 0.9, 1.6, 0), ref.C(name, 0.9, 1.6, 0, method="inner"), 1e-24, 1e-28)
        check(ref.Cd(name, 0.9, 1.6, 0), ref.Cd(name, 0.9, 1.6, 0, method="inner"), 1e-24)


# ---------------------------------------------------------------------------------------------
# maps, fixed points, critical points: second routes and anchor values

L, A = ref.SELU_LAMBDA, ref.SELU_ALPHA


def test_anchor_tanh_edge():
    """notes: tanh, sigma_b^2 = 0.05: critical sigma_w^2 = 1.76095..., q* = 0.5700..."""
    (w, q), = ref.critical("tanh", 0.05)
    assert mp.nstr(w, 6) == "1.76095" and mp.nstr(q, 4) == "0.57"
    assert abs(q - mp.mpf("0.5700")) < 1e-4
    # second route: at (w, 0.05) the fixed point reached from q0 = 1 is q, and chi_1 = 1
    check(ref.fixed_point("tanh", w, 0.05), q, 1e-24)
    check(ref.chi1("tanh", w, 0.05), 1, 1e-24)


def test_anchor_selu():
    """SELU at sigma_w^2 = 1, sigma_b^2 = 0: q* = 1, c* = 0, chi_1 = lambda^2 (1/2 + alpha^2 e^2 Phi(-2))."""
    check(ref.fixed_point("selu", 1, 0), 1, 1e-25)
    chi = L ** 2 * (mp.mpf(1) / 2 + A ** 2 * mp.e ** 2 * mp.ncdf(-2))
    check(ref.chi1("selu", 1, 0), chi, 1e-25)
    assert mp.nstr(chi, 8) == "1.071575"
    assert ref.c_star("selu", 1, 0) == 0
    check(ref.M("selu", 1), 0, 0, 1e-28)


def test_anchor_sin_lambert():
    """sin at sigma_w^2 = 2, sigma_b^2 = 0: q* = 1 + W_0(-2 e^-2)/2 = 0.7968121..."""
    want = 1 + mp.lambertw(-2 * mp.exp(-2)).real / 2
    check(ref.fixed_point("sin", 2, 0), want, 1e-25)
    assert mp.nstr(want, 7) == "0.7968121"
    assert ref.c_star("sin", 2, 0) == 0


@pytest.mark.parametrize("name,want", [
    ("erf", mp.pi / 4), ("tanh", 1), ("sin", 1), ("hardtanh", 1), ("gelu", 4), ("silu", 4), ("elu", 1),
    ("selu", 2 / (L ** 2 * (1 + A ** 2)))])
def test_critical_limits(name, want):
    roots = ref.critical(name, 0)
    assert roots[0][1] == 0
    check(roots[0][0], want, 1e-28)
    check(ref.critical_limit(name), want, 1e-28)


def test_critical_sigmoid_and_none():
    (w, q), = ref.critical("sigmoid", 0)
    assert 45 < q < 47 and 100 < w < 106
    check(ref.chi1("sigmoid", w, 0), 1, 1e-22)
    assert ref.critical("softplus", 0.1) == [] and ref.critical("relu", 0.1) == []
    assert [(float(a), float(b)) for a, b in ref.critical("relu", 0)] == [(2.0, 0.0)]


@pytest.mark.parametrize("name,sb2", [("erf", 0.1), ("sin", 0.3), ("selu", 0.05), ("gelu", 0.3),
                                      ("hardtanh", 0.01)])
def test_critical_second_route(name, sb2):
    """Each reported root satisfies sigma_w^2 D(q) = 1 and S(q) = sigma_b^2 (closed forms)."""
    for w, q in ref.critical(name, sb2):
        a = ref.act(name)
        check(w * ref.D(a, q, method="closed"), 1, 1e-25)
        check(q - ref.V(a, q, method="closed") / ref.D(a, q, method="closed"), sb2, 1e-22)


@pytest.mark.parametrize("name,sw2,sb2", [("erf", 2.0, 0.2), ("erf", 0.6, 0.1), ("sin", 2.0, 0.3),
                                          ("gelu", 1.5, 0.1), ("selu", 1.5, 0.2)])
def test_fixed_point_second_route(name, sw2, sb2):
    """mp.findroot on the closed-form q-map, started from the reference value's neighbourhood,
    and the reference's q* is attracting."""
    a = ref.act(name)
    q = ref.fixed_point(a, sw2, sb2)
    sw2, sb2 = mp.mpf(sw2), mp.mpf(sb2)
    other = mp.findroot(lambda t: sw2 * ref.V(a, t, method="closed") + sb2 - t, q * (1 + mp.mpf(10) ** -6))
    check(q, other, 1e-25)
    assert ref.slope_q_at(a, sw2, q) < 1


def test_fixed_points_exact():
    check(ref.fixed_point("relu", 1.5, 0.1), mp.mpf(0.1) / (1 - mp.mpf(1.5) / 2), 1e-28)
    check(ref.fixed_point("linear", 0.5, 0.1), mp.mpf(0.1) / (1 - mp.mpf(0.5)), 1e-28)
    assert ref.fixed_point("tanh", 0.5, 0) == 0 and ref.fixed_point("relu", 1.0, 0) == 0
    check(ref.xi_q("tanh", 0.5, 0), -1 / mp.log(mp.mpf(0.5)), 1e-28)
    check(ref.xi_c("tanh", 0.5, 0), ref.xi_q("tanh", 0.5, 0), 1e-28)


@pytest.mark.parametrize("name,sw2,sb2", [("erf", 2.0, 0.2), ("sin", 2.0, 0.3), ("hardtanh", 2.0, 0.1)])
def test_c_star(name, sw2, sb2):
    """c* is a fixed point of the c-map (at q*), stable (chi_c < 1), and for erf equal to an
    independent findroot on the arcsine kernel."""
    q = ref.fixed_point(name, sw2, sb2)
    c = ref.c_star(name, sw2, sb2)
    assert 0 < c < 1
    check(ref.cmap(name, sw2, sb2, c, q), c, 1e-24)
    assert ref.chi_c(name, sw2, sb2) < 1 < ref.chi1(name, sw2, sb2)
    if name == "erf":
        sw2, sb2 = mp.mpf(sw2), mp.mpf(sb2)
        other = mp.findroot(lambda t: (sw2 * 2 / mp.pi * mp.asin(2 * t * q / (1 + 2 * q)) + sb2) / q - t,
                            c + mp.mpf(10) ** -6)
        check(c, other, 1e-25)


def test_relu_correlation_map_identity():
    """notes: relu, sigma_b^2 = 0: c -> (sqrt(1-c^2) + (pi - arccos c) c)/pi for any sigma_w^2, q."""
    for c in (0, 0.3, -0.8, 0.99):
        c = mp.mpf(c)
        want = (mp.sqrt(1 - c * c) + (mp.pi - mp.acos(c)) * c) / mp.pi
        check(ref.cmap("relu", 1.3, 0, c, 2.7), want, 1e-27)
    check(ref.cmap("relu", 1.3, 0, 0, 2.7), 1 / mp.pi, 1e-27)


def test_kernel_conventions():
    """DESIGN: K^1 = sigma_w^2 K^0 + sigma_b^2, then depth - 1 times (activation, dense)."""
    q1, q2, c = ref.kernel("relu", 1.8, 0.1, 1, 0.7, 1.9, 0.3)
    check(q1, mp.mpf(1.8) * mp.mpf(0.7) + mp.mpf(0.1), 1e-28)
    # relu, sigma_b^2 = 0: q scales by sigma_w^2/2 per layer; c follows the identity above
    q1, q2, c = ref.kernel("relu", 2.0, 0, 5, 0.7, 1.9, 0.3)
    check(q1, 2 * mp.mpf(0.7), 1e-27)
    check(q2, 2 * mp.mpf(1.9), 1e-27)
    cc = mp.mpf(0.3)
    for _ in range(4):
        cc = (mp.sqrt(1 - cc * cc) + (mp.pi - mp.acos(cc)) * cc) / mp.pi
    check(c, cc, 1e-27)
    # the h^1 form: inputs given as the statistics of h^1
    h1 = ref.kernel("erf", 1.5, 0.1, 1, 0.7, 1.9, 0.3)
    check(ref.kernel("erf", 1.5, 0.1, 4, 0.7, 1.9, 0.3)[2],
          ref.kernel("erf", 1.5, 0.1, 4, *h1, inputs="h1")[2], 1e-27)
