"""A narrow layer next to a wide one, with bias (issue: [2, 1000, 2, 1000, 1] took ~40 s): per-layer grids
and tabulated wide kernels must keep the accuracy of the direct method.

Independent checks: the tabulated kernel against its direct log-sum-exp (1e-12 relative within e^-30
of the peak, the rounding level of the terms); the whole net at grid steps h and h/2 (CDFs 1e-12
absolute, densities 1e-10 relative: the quadrature error is geometric in 1/h); the grid's moments of
the last hidden layer against the closed-form recursion (1e-12); and, for a small bottleneck whose
wide layer is tabulated, the direct-convolution mpmath reference (tests/exact/reference_exact.py;
CDF 1e-10 absolute, pdf 1e-8 relative, the tolerances of test_vs_reference.py).
"""
from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from scipy.special import logsumexp

import exact
import exact.relu as relu_module
from exact.grid import LogGammaMixture, grid_step
from tests.exact import reference_exact as ref
from tests.exact.test_relu import _conditional_points


@pytest.mark.parametrize("n", [24, 100, 1000, 10**6])
def test_tabulated_kernel_equals_the_direct_sum(n):
    kernel = LogGammaMixture(n, False)
    assert kernel._table is not None
    t = np.random.default_rng(n).uniform(kernel.t_lo, kernel.t_hi, 4000)
    direct = logsumexp(kernel._logterms(t), axis=1)
    near = direct > direct.max() - 30
    # the rounding level of the terms: ~1e-14 |log g| (and t itself is known to eps |t|, which the
    # density, of width ~ n^-1/2, feels as ~eps sqrt(n))
    tol = 1e-13 * np.maximum(1.0, np.abs(direct[near])) * max(1.0, np.sqrt(n / 1e3))
    assert np.all(np.abs(np.log(kernel.pdf(t))[near] - direct[near]) <= tol)


def test_bottleneck_with_bias_halved_step_and_moments():
    widths, sw2, sb2 = [2, 1000, 2, 1000, 1], 2.0, 0.2
    a = exact.ReLUNetwork(widths, sw2, sb2)
    with mock.patch.object(relu_module, "grid_step", lambda w, s: 0.5 * grid_step(w, s)):
        b = exact.ReLUNetwork(widths, sw2, sb2)
    pairs = [(a.squared_norm(l), b.squared_norm(l)) for l in (1, 2, 3)]
    pairs += [(a.preactivation_variance(4), b.preactivation_variance(4)), (a.output(), b.output())]
    for la, lb in pairs:
        x = _conditional_points(la)
        np.testing.assert_allclose(la.cdf(x), lb.cdf(x), rtol=0, atol=1e-12)
        np.testing.assert_allclose(la.sf(x), lb.sf(x), rtol=0, atol=1e-12)
        np.testing.assert_allclose(la.pdf(x), lb.pdf(x), rtol=1e-10)
    layer = a._layers[-1]
    for j in (1, 2, 3):
        grid = np.sum(layer.h * layer.p * np.exp(j * layer.nodes))  # E[M_3^j], the atom adds 0
        assert grid == pytest.approx(a.squared_norm(3).moment(j) / 1000.0**j, rel=1e-12)
    assert abs(a.output().cdf(1e300) - 1) < 1e-12


def test_small_bottleneck_against_the_convolution_reference():
    """[3, 1, 30, 1] with bias: the width-30 kernel is tabulated; |x^2|^2 and s^3 by direct convolution."""
    widths, sw2, sb2 = [3, 1, 30, 1], 1.5, 0.3
    net = exact.ReLUNetwork(widths, sw2, sb2)
    assert net._kernels[30]._table is not None
    nt = ref.net(widths, sw2, sb2)
    for kind, law, probs in (("Y", net.squared_norm(2), (1e-4,)), ("s", net.preactivation_variance(3), (0.7,))):
        l = 2 if kind == "Y" else 3
        for p in probs:
            v = float(law.ppf(p))
            assert abs(float(ref.conv_cdf(nt, kind, l, v)) - p) < 1e-10
            dens = float(ref.conv_pdf(nt, kind, l, v))
            assert abs(float(law.pdf(v)) - dens) <= 1e-8 * dens
