"""The ``exact`` package against the independent mpmath reference (tests/exact/reference_exact.py).

Expected values come only from the reference (which shares no code with the package; its routes are
cross-checked in test_reference_exact_selfcheck.py):

* zero bias, tiny nets: Meijer-G pattern sums (30 digits);
* zero bias, non-uniform widths, width 1, depth 50 and 100, parameter sharing: Mellin/Fourier
  inversion (30 digits, ~1e-30 absolute in log space);
* bias > 0: moments by the exact recursion R4 (50 digits); laws by direct convolution (nested
  tanh-sinh quadrature at 25 digits) for nets of 2-3 weight layers of width 1-3;
* atoms and dead probabilities: closed forms 2^-n, 1 - prod(1 - 2^-n).

Tolerances (issue 4): CDFs 1e-10 absolute, densities 1e-8 relative, moments 1e-12 relative, atoms to
rounding (1e-14 relative).  The evaluation points are the package's own quantiles ppf(p) for p from
1e-7 to 1 - 1e-7 (so both tails are covered at every depth), plus fixed points; the reference CDF at
ppf(p) must then return p (a test of ppf).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import exact
from tests.exact import reference_exact as ref

mp = ref.mp

CDF_ATOL = 1e-10
PDF_RTOL = 1e-8
MOMENT_RTOL = 1e-12
ATOM_RTOL = 1e-14
PROBS = np.array([1e-7, 1e-3, 0.05, 0.3, 0.5, 0.8, 0.99, 1 - 1e-7])


def build(widths, sigma_w2=2.0, sigma_b2=0.0, input_norm2=None, sharing=False):
    package = exact.ReLUNetwork(widths, sigma_w2=sigma_w2, sigma_b2=sigma_b2, input_norm2=input_norm2,
                                parameter_sharing=sharing)
    reference = ref.net(widths, sigma_w2, sigma_b2, input_norm2, sharing)
    return package, reference


def law_of(package, kind, l):
    return {"Y": lambda: package.squared_norm(l), "s": lambda: package.preactivation_variance(l),
            "f": package.output}[kind]()


def points_for(law, kind, floor, probs=PROBS, extra=()):
    """Evaluation points: the package's quantiles ppf(p) for p beyond the atom (mass ``floor``; at 0,
    or at sigma_b^2 for s^l with bias) and away from it, plus ``extra``."""
    if kind == "f":
        p = probs[np.abs(probs - 0.5) > floor / 2 + 1e-3]
    else:
        p = probs[probs > floor + 1e-3]
    v = np.asarray(law.ppf(p), dtype=float)
    return p, np.concatenate([v, np.asarray(extra, dtype=float)])


def compare(package, reference, kind, l, route, probs=PROBS, extra=()):
    """pdf, cdf, sf and ppf of one law of the package against the reference route."""
    pdf_ref = {"meijer": ref.meijer_pdf, "mellin": ref.mellin_pdf, "conv": ref.conv_pdf}[route]
    cdf_ref = {"meijer": ref.meijer_cdf, "mellin": ref.mellin_cdf, "conv": ref.conv_cdf}[route]
    law = law_of(package, kind, l)
    loc, mass = ref.atom(reference, kind, l)
    p, v = points_for(law, kind, float(mass), probs, extra)
    pdf, cdf, sf = law.pdf(v), law.cdf(v), law.sf(v)
    for i, x in enumerate(v):
        dens = float(pdf_ref(reference, kind, l, x))
        prob = float(cdf_ref(reference, kind, l, x))
        where = f"{kind}{l or ''} of {reference.widths} at {x!r}"
        assert abs(pdf[i] - dens) <= PDF_RTOL * dens, f"pdf {where}: {pdf[i]!r} vs {dens!r}"
        assert abs(cdf[i] - prob) <= CDF_ATOL, f"cdf {where}: {cdf[i]!r} vs {prob!r}"
        assert abs(sf[i] - (1 - prob)) <= CDF_ATOL, f"sf {where}: {sf[i]!r} vs {1 - prob!r}"
        if i < len(p):  # the package's quantile is the reference's quantile
            assert abs(prob - p[i]) <= CDF_ATOL, f"ppf {where}: reference cdf {prob!r} at ppf({p[i]!r})"
    if kind != "s" or l == 1 or loc == 0:
        expected = float(mass) if float(loc) == 0 else 0.0
        assert math.isclose(law.atom, expected, rel_tol=ATOM_RTOL, abs_tol=0), (law.atom, expected)
    if law.atom > 0 and kind != "f":  # ppf(p) = the smallest x with cdf(x) >= p: 0 inside the atom
        assert float(law.ppf(law.atom / 2)) == 0.0 and float(law.ppf(law.atom)) == 0.0


# ---------------------------------------------------------------------------------------------
# zero bias, tiny nets: Meijer-G sums


MEIJER_CASES = [
    # widths, sigma_w2, input_norm2, [(kind, l)]
    ([3, 2, 3, 2, 1], 2.0, None, [("f", None), ("Y", 2), ("s", 4)]),
    ([4, 3, 1], 2.0, 2.5, [("f", None), ("Y", 1)]),
    ([2, 1, 2, 1, 1], 3.0, None, [("f", None), ("Y", 3), ("s", 2)]),
    ([5, 4, 3, 2, 1], 1.5, None, [("f", None), ("Y", 3)]),
]


@pytest.mark.parametrize("widths,sw2,r,laws", MEIJER_CASES)
def test_zero_bias_tiny_nets_vs_meijer_g(widths, sw2, r, laws):
    package, reference = build(widths, sw2, 0.0, r)
    for kind, l in laws:
        compare(package, reference, kind, l, "meijer", PROBS[1:-1] if widths[1] == 5 else PROBS)


# ---------------------------------------------------------------------------------------------
# zero bias, Mellin inversion: bottlenecks, width 1, depth 50 and 100, sharing


MELLIN_CASES = [
    ([4, 2, 8, 3, 16, 1, 5, 1], 2.0, None, False, [("f", None), ("Y", 6), ("s", 5)]),
    ([1, 1, 1, 1, 1, 1], 2.0, None, False, [("f", None), ("Y", 4)]),
    ([3, 1, 7, 1], 3.0, 0.7, False, [("f", None), ("Y", 1), ("Y", 2)]),
    ([10] * 51 + [1], 2.0, None, False, [("f", None), ("Y", 50), ("s", 25)]),
    ([6] * 101 + [1], 2.0, None, False, [("f", None), ("Y", 100)]),
    ([3, 4, 2, 5, 1], 1.0, None, True, [("f", None), ("Y", 3), ("s", 2)]),
    ([8] * 41 + [1], 1.0, 3.0, True, [("f", None), ("Y", 40)]),
]


@pytest.mark.parametrize("widths,sw2,r,sharing,laws", MELLIN_CASES,
                         ids=["bottleneck", "width1", "narrow", "depth50", "depth100", "sharing", "sharing-deep"])
def test_zero_bias_vs_mellin(widths, sw2, r, sharing, laws):
    package, reference = build(widths, sw2, 0.0, r, sharing)
    for kind, l in laws:
        compare(package, reference, kind, l, "mellin")


def test_output_fixed_points_small_and_large():
    # |f| tiny (the log singularity of the density at 0) and far out in the tails
    package, reference = build([3, 2, 5, 2, 1], 2.0, 0.0)
    compare(package, reference, "f", None, "mellin", probs=np.array([]), extra=[1e-8, -1e-4, 0.5, -3.0, 12.0])


# ---------------------------------------------------------------------------------------------
# bias > 0: direct convolution (laws) and R4 (moments)


CONV_CASES = [
    ([3, 2, 1], 2.0, 0.1, None, False, [("f", None), ("s", 2), ("Y", 1)]),
    ([2, 1, 1], 1.5, 0.5, None, False, [("f", None), ("s", 2)]),
    ([3, 2, 3, 1], 1.5, 0.3, 2.0, False, [("Y", 2), ("s", 3)]),
    ([3, 4, 1], 1.0, 0.2, None, True, [("f", None), ("Y", 1)]),
]


@pytest.mark.parametrize("widths,sw2,sb2,r,sharing,laws", CONV_CASES, ids=["L2", "width1", "L3", "sharing"])
def test_bias_laws_vs_convolution(widths, sw2, sb2, r, sharing, laws):
    package, reference = build(widths, sw2, sb2, r, sharing)
    probs = np.array([1e-4, 0.1, 0.5, 0.9, 1 - 1e-6]) if widths[1:] != [2, 3, 1] else np.array([0.02, 0.5, 0.97])
    for kind, l in laws:
        compare(package, reference, kind, l, "conv", probs)


@pytest.mark.parametrize("sb2", [0.0, 0.4])
def test_first_layer_is_a_point_mass(sb2):
    package, reference = build([3, 5, 1], 1.7, sb2, 2.2)
    law = package.preactivation_variance(1)
    s1 = float(ref.s1(reference))
    assert math.isclose(float(law.ppf(0.5)), s1, rel_tol=1e-15)
    # (s_1 in floating point may differ from the exact value by an ulp: step checked 1e-12 around it)
    assert float(law.cdf(s1 * (1 + 1e-12))) == 1.0 and float(law.cdf(s1 * (1 - 1e-12))) == 0.0
    for k in (1, 2, 5):
        assert math.isclose(law.moment(k), s1 ** k, rel_tol=MOMENT_RTOL)


@pytest.mark.parametrize("widths,sb2", [([3, 2, 1], 0.1), ([2, 1, 3, 1], 0.5)])
def test_bias_atom_of_the_preactivation_variance(widths, sb2):
    # s^l has an atom of mass 2^-n_{l-1} at sigma_b^2 (the previous layer dead): a jump of the CDF
    package = exact.ReLUNetwork(widths, sigma_w2=2.0, sigma_b2=sb2)
    for l in range(2, len(widths)):
        law = package.preactivation_variance(l)
        jump = float(law.cdf(sb2)) - float(law.cdf(sb2 * (1 - 1e-13)))
        assert math.isclose(jump, 2.0 ** -widths[l - 1], rel_tol=1e-9)
        assert law.atom == 0.0 and float(law.cdf(sb2 * (1 - 1e-13))) == 0.0


MOMENT_CASES = [
    ([3, 2, 3, 2, 1], 2.0, 0.0, None, False),
    ([4, 2, 8, 3, 16, 1, 5, 1], 2.0, 0.0, 1.3, False),
    ([10] * 51 + [1], 2.0, 0.0, None, False),
    ([2] * 31 + [1], 2.0, 0.0, None, False),     # the mean is carried by rare networks
    ([5] * 31 + [1], 1.5, 0.2, None, False),
    ([1, 1, 1, 1, 1], 3.0, 0.5, None, False),
    ([3, 7, 2, 9, 1], 2.5, 1.0, 4.0, False),
    ([4, 3, 5, 2, 1], 1.0, 0.0, None, True),
    ([4, 3, 5, 2, 1], 0.8, 0.3, None, True),
    ([100] * 51 + [1], 2.0, 0.05, None, False),
]


@pytest.mark.parametrize("widths,sw2,sb2,r,sharing", MOMENT_CASES)
def test_moments_vs_recursion(widths, sw2, sb2, r, sharing):
    package, reference = build(widths, sw2, sb2, r, sharing)
    L = len(widths) - 1
    layers = sorted({1, 2, L // 2, L - 1, L} - {0})
    for l in layers:
        law = package.preactivation_variance(l)
        for k in (1, 2, 3, 4, 6):
            expected = float(ref.moment_s(reference, l, k))
            assert math.isclose(law.moment(k), expected, rel_tol=MOMENT_RTOL), ("s", l, k)
        assert math.isclose(law.mean(), float(ref.moment_s(reference, l, 1)), rel_tol=MOMENT_RTOL)
        var = ref.moment_s(reference, l, 2) - ref.moment_s(reference, l, 1) ** 2
        assert math.isclose(law.var(), float(var), rel_tol=1e-11, abs_tol=1e-300)
        if l < L:
            law = package.squared_norm(l)
            for k in (1, 2, 5):
                assert math.isclose(law.moment(k), float(ref.moment_Y(reference, l, k)), rel_tol=MOMENT_RTOL)
    out = package.output()
    for k in (1, 2, 3, 4, 6, 8):
        expected = float(ref.moment_f(reference, k))
        assert math.isclose(out.moment(k), expected, rel_tol=MOMENT_RTOL, abs_tol=0 if expected else 1e-300)
    std = mp.sqrt(ref.moment_f(reference, 2))
    assert math.isclose(out.std(), float(std), rel_tol=MOMENT_RTOL)
    mf = ref.mean_field(reference)
    np.testing.assert_allclose(package.mean_field(), [float(q) for q in mf], rtol=1e-13)


# ---------------------------------------------------------------------------------------------
# atoms and dead probability


@pytest.mark.parametrize("widths,sb2,sharing", [
    ([3, 2, 3, 2, 1], 0.0, False), ([4, 2, 8, 3, 16, 1, 5, 1], 0.0, False), ([2] * 21 + [1], 0.0, False),
    ([2] * 21 + [1], 0.3, False), ([60] * 11 + [1], 0.0, False), ([3, 2, 3, 1], 0.0, True),
])
def test_atoms_and_dead_probability(widths, sb2, sharing):
    package, reference = build(widths, 2.0, sb2, None, sharing)
    L = len(widths) - 1
    expected = float(ref.dead_probability(reference))
    assert math.isclose(package.dead_probability(), expected, rel_tol=ATOM_RTOL, abs_tol=0)
    for l in range(1, L):
        assert math.isclose(package.squared_norm(l).atom, float(ref.atom(reference, "Y", l)[1]), rel_tol=ATOM_RTOL)
    assert math.isclose(package.output().atom, float(ref.atom(reference, "f")[1]), rel_tol=ATOM_RTOL)
    if widths == [2] * 21 + [1]:
        assert abs(package.dead_probability() - (1 - 0.75 ** 20)) < 1e-15
