"""Self-checks of the exact-law reference (tests/exact/reference_exact.py); the package is not involved.

Every reference route is checked against another one that shares no formula with it:

* Mellin/Fourier inversion (method B) vs Meijer-G pattern sums (method C) on the tiny nets of the
  notes and on a parameter-sharing ("linear-mode") net: densities and CDFs of f, Y_l and s_l; both at
  30 digits, required to agree to 1e-25 (relative for densities, absolute for CDFs).
* Mellin inversion vs its own window/step (a 1.6x wider window changes the trapezoid step and every
  term of the sums): 1e-26; vs tanh-sinh integration of its own density (mass 1 - atom, CDF
  increments, E[log], E[Y] and E[Y^2] of R4 on a moderately deep net): 1e-18.
* Moments R4 vs the closed forms of the notes (E[(chi^2_K)^j], the zero-bias product rho_j, the
  output kurtosis 3 prod(1 + 5/n), E[s_l] = q_l), vs a hand expansion with bias, and vs the direct
  convolution route (nested quadrature, bias > 0).
* Direct convolution vs Mellin inversion at zero bias (one nested level); with bias its total mass,
  its atom and its moments vs R4.
* Atoms: the dead masses vs the pattern weights of the Meijer-G sum (1 - sum of weights) and the
  closed form of the notes (width 2, 20 hidden layers: 1 - (3/4)^20).
"""
from __future__ import annotations

import ast
import pathlib

import mpmath
import pytest

from tests.exact import reference_exact as ref

mp = ref.mp


def check(a, b, rtol=0, atol=0, what=""):
    a, b = mp.mpf(a), mp.mpf(b)
    assert abs(a - b) <= rtol * abs(b) + atol, f"{what}: {mp.nstr(a, 25)} vs {mp.nstr(b, 25)}"


# ---------------------------------------------------------------------------------------------
# hygiene


def test_reference_is_independent_of_the_package():
    tree = ast.parse(pathlib.Path(ref.__file__).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert all(a.name.split(".")[0] not in ("meanfield", "exact") for a in node.names)
        if isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] not in ("meanfield", "exact")


def test_private_context_leaves_global_mpmath_alone():
    dps = mpmath.mp.dps
    ref.mellin_pdf(ref.net([3, 2, 1]), "f", None, 0.4)
    ref.moment_f(ref.net([3, 2, 1], 2, 0.1), 4)
    assert mpmath.mp.dps == dps and ref.mp is not mpmath.mp


# ---------------------------------------------------------------------------------------------
# moments (R4)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 20])
def test_chi2_of_binomial_moments_match_the_notes(n):
    # E[(chi^2_K)^j] = n^j E[G^j]: n/2; n(n+5)/4; n(n+4)(n+11)/8; n(n+9)(n^2+21n+62)/16
    closed = [mp.mpf(n) / 2, mp.mpf(n) * (n + 5) / 4, mp.mpf(n) * (n + 4) * (n + 11) / 8,
              mp.mpf(n) * (n + 9) * (n * n + 21 * n + 62) / 16]
    for j, value in enumerate(closed, start=1):
        check(mp.mpf(n) ** j * ref.moment_G(n, j), value, rtol=mp.mpf(10) ** -45, what=f"n={n} j={j}")
    # parameter sharing: chi^2_n moments 2^j (n/2)_j, e.g. E[(chi^2_n)^2] = n(n+2)
    check(mp.mpf(n) ** 2 * ref.moment_G(n, 2, True), n * (n + 2), rtol=mp.mpf(10) ** -45)


@pytest.mark.parametrize("widths", [[3, 10, 5, 1, 7, 2], [4] + [10] * 20 + [1], [1, 1, 1, 1]])
def test_zero_bias_moments_factorise_and_kurtosis(widths):
    nt = ref.net(widths, 2.0, 0)
    q = ref.mean_field(nt)
    hidden = widths[1:-1]
    for l in range(1, nt.L + 1):
        check(ref.moment_s(nt, l, 1), q[l - 1], rtol=mp.mpf(10) ** -45, what="E[s_l] = q_l")
        if l < nt.L:  # M_l -> q_l/2 in mean field; here exactly in the mean, and Y_l = n_l M_l
            check(ref.moment_M(nt, l, 1), q[l - 1] / 2, rtol=mp.mpf(10) ** -45)
            check(ref.moment_Y(nt, l, 3), widths[l] ** 3 * ref.moment_M(nt, l, 3), rtol=mp.mpf(10) ** -45)
    rho = {2: lambda n: 1 + mp.mpf(5) / n, 3: lambda n: mp.mpf(n + 4) * (n + 11) / n ** 2,
           4: lambda n: mp.mpf(n + 9) * (n * n + 21 * n + 62) / n ** 3}
    for j, r in rho.items():
        expected = mp.fprod(r(n) for n in hidden)
        check(ref.moment_s(nt, nt.L, j) / q[-1] ** j, expected, rtol=mp.mpf(10) ** -40, what=f"rho_{j}")
    kurt = ref.moment_f(nt, 4) / ref.moment_f(nt, 2) ** 2
    check(kurt, 3 * mp.fprod(1 + mp.mpf(5) / n for n in hidden), rtol=mp.mpf(10) ** -40)
    assert ref.moment_f(nt, 3) == 0


def test_width10_20_hidden_layers_kurtosis_of_the_notes():
    nt = ref.net([10] * 22, 2.0, 0)
    kurt = ref.moment_f(nt, 4) / ref.moment_f(nt, 2) ** 2
    check(kurt, 3 * mp.mpf(1.5) ** 20, rtol=mp.mpf(10) ** -40)
    assert abs(kurt - mp.mpf("9.975e3")) < 1


def test_sharing_moments_relative_variance_2_over_n():
    nt = ref.net([5, 4, 6, 3, 1], 1.0, 0, parameter_sharing=True)
    for l in range(1, nt.L):
        ratio = ref.moment_Y(nt, l, 2) / ref.moment_Y(nt, l, 1) ** 2
        check(ratio, mp.fprod(1 + mp.mpf(2) / n for n in nt.widths[1:l + 1]), rtol=mp.mpf(10) ** -40)
    check(ref.moment_s(nt, nt.L, 1), ref.s1(nt), rtol=mp.mpf(10) ** -45)  # linear net, sigma_w2 = 1


def test_bias_moments_by_hand_expansion():
    # widths [n0, 1, 1]: s_2 = b + a s_1 chi^2_K, K in {0, 1} with probability 1/2 each:
    # E[s_2] = b + a s_1/2, E[s_2^2] = b^2 + a b s_1 + (3/2) a^2 s_1^2, E[f^4] = 3 E[s_2^2]
    a, b, r = mp.mpf("1.5"), mp.mpf("0.3"), mp.mpf("2.5")
    nt = ref.net([4, 1, 1], "1.5", "0.3", "2.5")
    s1 = a * r / 4 + b
    check(ref.moment_s(nt, 2, 1), b + a * s1 / 2, rtol=mp.mpf(10) ** -45)
    check(ref.moment_s(nt, 2, 2), b * b + a * b * s1 + mp.mpf(3) / 2 * a * a * s1 * s1, rtol=mp.mpf(10) ** -45)
    check(ref.moment_f(nt, 4), 3 * (b * b + a * b * s1 + mp.mpf(3) / 2 * a * a * s1 * s1), rtol=mp.mpf(10) ** -45)
    check(ref.moment_f(nt, 6), 15 * ref.moment_s(nt, 2, 3), rtol=mp.mpf(10) ** -45)


@pytest.mark.parametrize("sharing", [False, True])
def test_bias_moments_vs_convolution(sharing):
    # one nested quadrature level (s_2), tanh-sinh at 25 digits
    nt = ref.net([3, 2, 3, 1], "1.5", "0.3", parameter_sharing=sharing)
    with mp.workdps(ref.CONV_DPS):
        for j in (1, 2, 3):
            check(ref.conv_expect(nt, 2, lambda s: s ** j), ref.moment_s(nt, 2, j), rtol=mp.mpf(10) ** -22)


# ---------------------------------------------------------------------------------------------
# atoms


def test_dead_masses():
    nt = ref.net([3] * 22, 2.0, 0)
    check(ref.dead_probability(ref.net([2] * 22)), 1 - mp.mpf(0.75) ** 20, rtol=mp.mpf(10) ** -45)
    assert mp.mpf("0.9968") < ref.dead_probability(ref.net([2] * 22)) < mp.mpf("0.9969")
    check(ref.atom(nt, "f")[1], 1 - (mp.mpf(7) / 8) ** 20, rtol=mp.mpf(10) ** -45)
    # with bias: Y_l dead with 2^-n_l, s_l's atom sits at sigma_b^2, the output has no atom
    nb = ref.net([3, 2, 5, 1], 2.0, "0.1")
    assert ref.atom(nb, "Y", 2) == (0, mp.mpf(2) ** -5)
    assert ref.atom(nb, "s", 3) == (mp.mpf("0.1"), mp.mpf(2) ** -5)
    assert ref.atom(nb, "f")[1] == 0
    # parameter sharing: no atoms
    assert ref.atom(ref.net([3, 2, 5, 1], parameter_sharing=True), "f")[1] == 0


@pytest.mark.parametrize("widths", [[3, 2, 3, 2, 1], [5, 4, 3, 2, 1]])
def test_pattern_weights_sum_to_the_alive_mass(widths):
    nt = ref.net(widths)
    for kind, l in (("f", None), ("Y", 2), ("s", 3)):
        groups, _ = ref._patterns(nt, kind, l)
        check(mp.fsum(groups.values()), 1 - ref.atom(nt, kind, l)[1], rtol=mp.mpf(10) ** -45)


# ---------------------------------------------------------------------------------------------
# Mellin vs Meijer-G


TINY = [
    ([3, 2, 3, 2, 1], 2.0, None, False),
    ([4, 3, 1], 2.0, None, False),
    ([2, 1, 2, 1, 1], 3.0, None, False),
    ([5, 4, 3, 2, 1], 1.5, 2.0, False),  # (f and the last hidden layer only: 120 patterns)
    ([2, 3, 2, 1], 1.0, None, True),  # linear-mode net (parameter sharing)
]


@pytest.mark.parametrize("widths,sw2,r,sharing", TINY)
def test_mellin_vs_meijer(widths, sw2, r, sharing):
    nt = ref.net(widths, sw2, 0, r, sharing)
    cases = [("f", None, v) for v in (-2.3, -0.04, 0.3, 4.0)]
    for l in range(1, nt.L) if widths[1] < 5 else [nt.L - 1]:
        q = ref.mean_field(nt)[l - 1] * widths[l] / (1 if sharing else 2)
        cases += [("Y", l, q * t) for t in (0.01, 2.0)]
    cases += [("s", nt.L, ref.mean_field(nt)[-1] * t) for t in (0.05, 3.0)]
    tol = mp.mpf(10) ** -25
    for kind, l, v in cases:
        check(ref.mellin_pdf(nt, kind, l, v), ref.meijer_pdf(nt, kind, l, v), rtol=tol, what=f"pdf {kind}{l} {v}")
        check(ref.mellin_cdf(nt, kind, l, v), ref.meijer_cdf(nt, kind, l, v), atol=tol, what=f"cdf {kind}{l} {v}")


# ---------------------------------------------------------------------------------------------
# Mellin: window, step, and integrals of its own density


def test_mellin_window_change():
    nt = ref.net([4, 6, 2, 9, 3, 1], 2.0, 0)
    law = ref.mellin(nt, "f")
    xs = [mp.mpf(x) for x in (-30, -1, 3)]
    before = [(law.pdf_x(x), law.cdf_x(x)) for x in xs]
    wide = ref.MellinLaw(law.logc, law.factors)
    span = wide.hi - wide.lo
    wide._build(wide.lo - span / 2, wide.hi + span / 10)
    assert wide.eta < law.eta / 1.5
    for x, (p, c) in zip(xs, before):
        check(wide.pdf_x(x), p, rtol=mp.mpf(10) ** -26)
        check(wide.cdf_x(x), c, atol=mp.mpf(10) ** -26)


def gauss_legendre(breaks, order=20):
    """Nodes and weights of a composite Gauss-Legendre rule with the given breakpoints (20 digits)."""
    with mp.workdps(20):
        x0, w0 = mp.gauss_quadrature(order, "legendre")
        nodes, weights = [], []
        for a, b in zip(breaks[:-1], breaks[1:]):
            a, b = mp.mpf(a), mp.mpf(b)
            nodes += [(a + b) / 2 + (b - a) / 2 * t for t in x0]
            weights += [(b - a) / 2 * w for w in w0]
        return nodes, weights


def test_mellin_density_integrates_to_its_cdf_and_moments():
    # the log-space density is analytic: a composite 20-node Gauss-Legendre rule over the Chernoff
    # window (pieces of 3 log-units in the bulk, wider in the slowly varying left tail) integrates it
    # to ~1e-20; the CDF and the moments come from other formulas (Gil-Pelaez sum, R4)
    nt = ref.net([3, 5, 2, 6, 4, 1], 2.0, 0)
    l = 4
    law = ref.mellin(nt, "Y", l)
    d = ref.atom(nt, "Y", l)[1]
    breaks = [law.lo, law.lo / 2, -40, -20] + list(range(-10, int(law.hi) + 1, 3)) + [law.hi]
    nodes, weights = gauss_legendre(breaks)
    dens = [law.pdf_x(x) for x in nodes]
    with mp.workdps(20):
        check(mp.fdot(weights, dens), 1, atol=mp.mpf(10) ** -18, what="mass")
        check(mp.fdot(weights, [x * p for x, p in zip(nodes, dens)]), law.mean, rtol=mp.mpf(10) ** -18, what="E log")
        for j in (1, 2):
            m = (1 - d) * mp.fdot(weights, [mp.exp(j * x) * p for x, p in zip(nodes, dens)])
            check(m, ref.moment_Y(nt, l, j), rtol=mp.mpf(10) ** -18, what=f"E[Y^{j}]")
        nodes, weights = gauss_legendre([-3, -1, 1])
        check(law.cdf_x(1) - law.cdf_x(-3), mp.fdot(weights, [law.pdf_x(x) for x in nodes]), atol=mp.mpf(10) ** -18)


def test_mellin_deep_net_is_a_probability_law():
    nt = ref.net([10] * 61 + [1], 2.0, 0)
    law = ref.mellin(nt, "f")
    assert law.cdf_x(law.lo) < mp.mpf(10) ** -25 and 1 - law.cdf_x(law.hi) < mp.mpf(10) ** -25
    xs = [law.mean + t for t in (-20, -5, 0, 3)]
    cdfs = [law.cdf_x(x) for x in xs]
    assert all(b > a for a, b in zip(cdfs, cdfs[1:]))
    with mp.workdps(20):
        check(cdfs[2] - cdfs[1], mp.quad(law.pdf_x, [xs[1], xs[1] / 2 + xs[2] / 2, xs[2]]), atol=mp.mpf(10) ** -18)


# ---------------------------------------------------------------------------------------------
# direct convolution


def test_convolution_vs_mellin_zero_bias():
    nt2 = ref.net([3, 2, 1], 2.0, 0)
    nt3 = ref.net([2, 3, 2, 1], 1.7, 0)
    for v in (0.02, 3.0):
        check(ref.conv_pdf(nt2, "f", None, v), ref.mellin_pdf(nt2, "f", None, v), rtol=mp.mpf(10) ** -20)
        check(ref.conv_cdf(nt2, "f", None, -v), ref.mellin_cdf(nt2, "f", None, -v), atol=mp.mpf(10) ** -20)
        check(ref.conv_pdf(nt3, "Y", 2, v), ref.mellin_pdf(nt3, "Y", 2, v), rtol=mp.mpf(10) ** -20)
        check(ref.conv_cdf(nt3, "s", 3, v), ref.mellin_cdf(nt3, "s", 3, v), atol=mp.mpf(10) ** -20)


def test_convolution_with_bias_is_a_probability_law():
    nt = ref.net([3, 2, 3, 1], "1.5", "0.3")
    b = nt.sigma_b2
    # s_3's atom at b: the CDF jumps by 2^-3 there
    check(ref.conv_cdf(nt, "s", 3, b) - ref.conv_cdf(nt, "s", 3, b * (1 - mp.mpf(10) ** -12)), mp.mpf(1) / 8,
          atol=mp.mpf(10) ** -10)
    # CDF increment = integral of the density (output of a one-hidden-layer net: analytic, as every
    # variance is >= sigma_b^2; a 3 x 12-node Gauss-Legendre rule is good to ~1e-18 here)
    n2 = ref.net([3, 2, 1], "1.5", "0.3")
    inc = ref.conv_cdf(n2, "f", None, 2) - ref.conv_cdf(n2, "f", None, -1)
    nodes, weights = gauss_legendre([-1, 0, 1, 2], order=12)
    check(inc, mp.fdot(weights, [ref.conv_pdf(n2, "f", None, z) for z in nodes]), atol=mp.mpf(10) ** -16)
