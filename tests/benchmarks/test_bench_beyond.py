"""Speed of the computations beyond the infinite-width forward pass (run on demand:
python -m pytest tests/benchmarks/test_bench_beyond.py).

Target (issue 14): the NTK of 1000 inputs through 100 relu layers in about the NNGP's time (the NNGP
of the same inputs is benchmarked beside it, so the ratio is read off one report).  The numbers are
reported, not asserted.
"""
import numpy as np
import pytest

import meanfield as mf


@pytest.fixture(scope="module")
def inputs():
    return np.random.default_rng(0).normal(size=(1000, 32))


@pytest.mark.parametrize("kind", ["nngp", "ntk"])
def test_relu_1000_inputs_100_layers(benchmark, inputs, kind):
    fn = mf.nngp_kernel if kind == "nngp" else mf.ntk_kernel
    benchmark.pedantic(fn, args=("relu", 1.5, 0.05, 100, inputs), rounds=3, iterations=1)
