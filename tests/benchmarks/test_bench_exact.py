"""Speed of the exact finite-width laws (run on demand: python3 -m pytest tests/benchmarks/test_bench_exact.py).

Targets: widths [100]*50, building all laws (the constructor propagates every layer's grid) and
evaluating 1000 pdf points, <= 1 s (issue 4); a narrow layer next to a wide one with bias,
[2, 1000, 2, 1000, 1] at sigma_b^2 = 0.2, <= 2 s (issue 10: ~40 s with one grid for all layers; per-layer
grids and tabulated wide kernels).  The growth with depth and width is measured by the parametrized
cases (reported, not asserted).
"""
import numpy as np
import pytest

import exact


def _build_and_evaluate(widths, sigma_b2=0.0):
    net = exact.ReLUNetwork(widths, 2.0, sigma_b2)
    out = net.output()
    z = np.linspace(-3, 3, 1000) * np.sqrt(net.mean_field()[-1]) + 1e-9
    out.pdf(z)
    law = net.squared_norm(net.depth - 1)
    law.pdf(np.exp(np.linspace(-3, 3, 1000)) * widths[-2] * net.mean_field()[-1] / 2)
    return net


def test_widths_100_depth_50_build_and_1000_pdf_points(benchmark):
    benchmark.pedantic(_build_and_evaluate, args=([100] * 50,), rounds=5, iterations=1)


@pytest.mark.parametrize("depth", [10, 25, 50, 100, 200])
def test_cost_vs_depth_width_10(benchmark, depth):
    benchmark.pedantic(_build_and_evaluate, args=([10] * (depth + 1) + [1],), rounds=3, iterations=1)


@pytest.mark.parametrize("width", [1, 3, 10, 30, 100, 300, 1000])
def test_cost_vs_width_depth_20(benchmark, width):
    benchmark.pedantic(_build_and_evaluate, args=([width] * 21 + [1],), rounds=3, iterations=1)


@pytest.mark.parametrize("widths", [[10] * 21 + [1], [2] * 51 + [1], [50] * 21 + [1]])
def test_cost_with_bias(benchmark, widths):
    benchmark.pedantic(_build_and_evaluate, args=(widths, 0.1), rounds=2, iterations=1)


@pytest.mark.parametrize("widths", [[2, 1000, 2, 1000, 1], [1000, 1000, 1, 1, 1, 1, 1], [3, 1, 1000, 1]])
def test_bottleneck_with_bias(benchmark, widths):
    benchmark.pedantic(_build_and_evaluate, args=(widths, 0.2), rounds=3, iterations=1)
