"""Speed targets of the mean-field engine (run on demand: pytest tests/benchmarks --benchmark-enable).

Targets (issue 2): critical_sigma_w2 for one (activation, sigma_b2) <= 20 ms warm; a 200 x 200 tanh
phase diagram <= 1 s on any range (issue 10); nngp_kernel for 1000 inputs through 100 layers <= 1 s for relu/erf and
<= 30 s for tanh at 1e-8 accuracy.  The numbers are reported, not asserted: timings belong here,
not in unit tests.
"""
import numpy as np
import pytest

import meanfield as mf


@pytest.mark.parametrize("name", ["tanh", "erf", "sigmoid", "selu", "gelu", "hardtanh"])
def test_critical_sigma_w2_warm(benchmark, name):
    mf.critical_sigma_w2(name, 0.05)  # warm: builds the per-activation scan table once
    values = iter(np.linspace(0.01, 0.3, 100000))
    benchmark(lambda: mf.critical_sigma_w2(name, next(values)))


@pytest.mark.parametrize("w_range, b_range", [((1, 4), (0, 0.3)), ((0.5, 4), (0, 0.5))])
@pytest.mark.parametrize("name", ["tanh", "relu", "x*erf(x)", "sigmoid"])
def test_phase_diagram_200x200(benchmark, name, w_range, b_range):
    """Target (issue 10): 200 x 200 on any range <= 1 s (q*, chi_1; c* and xi_c are computed on access)."""
    w, b = np.linspace(*w_range, 200), np.linspace(*b_range, 200)
    mf.phase_diagram(name, w[:2], b[:2])  # warm: tables of V, D
    benchmark.pedantic(mf.phase_diagram, args=(name, w, b), rounds=3, iterations=1)


def test_phase_diagram_tanh_200x200_xi_c(benchmark):
    """The correlation depth scale too (bivariate integrals at every chaotic point)."""
    w, b = np.linspace(1, 4, 200), np.linspace(0, 0.3, 200)
    benchmark.pedantic(lambda: mf.phase_diagram("tanh", w, b).xi_c, rounds=1, iterations=1)


@pytest.fixture(scope="module")
def inputs():
    return np.random.default_rng(0).normal(size=(1000, 32))


@pytest.mark.parametrize("name", ["relu", "erf"])
def test_nngp_1000_inputs_100_layers_closed_form(benchmark, inputs, name):
    benchmark.pedantic(mf.nngp_kernel, args=(name, 1.5, 0.05, 100, inputs), rounds=3, iterations=1)


def test_nngp_1000_inputs_100_layers_tanh(benchmark, inputs):
    benchmark.pedantic(
        mf.nngp_kernel, args=("tanh", 1.5, 0.05, 100, inputs), kwargs={"rtol": 1e-8}, rounds=1, iterations=1
    )
