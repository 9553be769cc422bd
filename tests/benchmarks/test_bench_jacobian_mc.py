"""Speed of the Monte Carlo Jacobian sampler (run on demand: python -m pytest tests/benchmarks/test_bench_jacobian_mc.py -s).

Target (issue 3, section 6): jacobian_singular_values for N = 1000, L = 64, one orthogonal tanh network
at its critical point (sigma_b2 = 0.05) within 1.3 x the BLAS limit, the bare chain of L N x N matrix
products plus the Haar sampling (QR of a Gaussian matrix with the sign fix) at the same sizes,
measured in the same run.  The numbers are reported, not asserted.  BLAS threads: tests/conftest.py
sets OPENBLAS_NUM_THREADS=1 unless the caller set it, so an unset variable gives the single-threaded
figure; for the multi-threaded one set it explicitly (e.g. OPENBLAS_NUM_THREADS=$(nproc)).
"""
import os
import time

import numpy as np
import pytest

import meanfield as mf
from meanfield import simulate as sim

N, L, SIGMA_B2 = 1000, 64, 0.05


@pytest.fixture(scope="module")
def sigma_w2():
    return float(mf.critical_sigma_w2("tanh", SIGMA_B2))


def bare_chain(n: int, depth: int, seed: int = 0) -> np.ndarray:
    """The BLAS limit: depth Haar matrices (QR + signs) and the chain of their products, nothing else."""
    rng = np.random.default_rng(seed)
    product = None
    for _ in range(depth):
        q, r = np.linalg.qr(rng.standard_normal((n, n)))
        q *= np.where(np.diagonal(r) < 0, -1.0, 1.0)
        product = q if product is None else q @ product
    return product


def run_mc(sigma_w2: float, seed: int = 0):
    return sim.jacobian_singular_values("tanh", sigma_w2, SIGMA_B2, L, N, "orthogonal", n_networks=1, seed=seed)


@pytest.mark.benchmark(group="jacobian-mc N=1000 L=64")
def test_jacobian_singular_values(benchmark, sigma_w2):
    result = benchmark.pedantic(run_mc, args=(sigma_w2,), rounds=3, iterations=1)
    assert np.all(np.isfinite(result.log_lam))


@pytest.mark.benchmark(group="jacobian-mc N=1000 L=64")
def test_bare_chain_baseline(benchmark):
    benchmark.pedantic(bare_chain, args=(N, L), rounds=3, iterations=1)


def test_ratio_same_run(sigma_w2):
    """Interleaved timings, best of 3 each, and their ratio (target <= 1.3)."""
    mc, chain = [], []
    for seed in range(3):
        t = time.perf_counter()
        bare_chain(N, L, seed)
        chain.append(time.perf_counter() - t)
        t = time.perf_counter()
        run_mc(sigma_w2, seed)
        mc.append(time.perf_counter() - t)
    ratio = min(mc) / min(chain)
    print(
        f"\nOPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}: "
        f"jacobian_singular_values {min(mc):.2f} s, bare chain + Haar {min(chain):.2f} s, ratio {ratio:.2f} "
        f"(target <= 1.3)"
    )
