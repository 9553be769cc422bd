"""Throughput of meanfield.simulate.sweep (run on demand: python -m pytest tests/benchmarks/test_bench_sweep.py -s).

Targets (issue 13, "Measure"): the Jacobian sweep at N = 1000, L = 64 (orthogonal tanh at its critical
point, sigma_b2 = 0.05) on one worker within 5 % of the single-process sampler
(jacobian_singular_values, one network per call) over the same networks, which itself runs at
~1.0-1.15 x the bare chain (L Haar QRs and N x N products, tests/benchmarks/test_bench_jacobian_mc.py);
and 2 local workers >= 1.8 x one worker on a 2-core machine.  All BLAS single-threaded (tests/conftest.py
and the sweep's workers).  The numbers are printed, not asserted: they depend on the machine's load
(printed too, from os.getloadavg).

The sweep figures use warm process pools (a ProcessPoolExecutor whose workers have imported sigprop),
i.e. the steady state of a long sweep; the default executor's fixed start-up (spawning the workers
and importing sigprop, paid once per sweep call) is measured separately.  A control measures what
the machine itself gives: the bare chains of the same networks on the same two pools, without any
sweep machinery; the sweep's scaling is to be read against it (on a shared or hyperthreaded machine
two processes may not get two cores' worth of work done).  On a loaded machine the speed of one
network varies by +-10 % from run to run, more than the machinery costs; the time the sweep spends
outside its tasks (wall time minus Throughput.task_seconds on one worker) isolates that cost.
"""
import concurrent.futures as cf
import multiprocessing
import os
import time

import numpy as np
import pytest

import meanfield as mf
from meanfield import simulate as sim

from test_bench_jacobian_mc import bare_chain  # tests/benchmarks is on sys.path (no __init__.py)

N, L, SIGMA_B2, NETWORKS = 1000, 64, 0.05, 4


@pytest.fixture(scope="module")
def config():
    return dict(activation="tanh", sigma_w2=float(mf.critical_sigma_w2("tanh", SIGMA_B2)), sigma_b2=SIGMA_B2,
                depth=L, width=N, weights="orthogonal")


def timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t, out


def sampler_networks(config, seed):
    """The single-process sampler on the same networks as the sweep (one call per network)."""
    for k in range(NETWORKS):
        sim.jacobian_singular_values(
            "tanh", config["sigma_w2"], SIGMA_B2, L, N, "orthogonal", n_networks=1,
            seed=np.random.SeedSequence(seed, spawn_key=(0, k)),
        )


def chain_networks(seed):
    for k in range(NETWORKS):
        bare_chain(N, L, seed + k)


def test_sweep_overhead_and_scaling(config):
    spawn = multiprocessing.get_context("spawn")
    small = dict(config, depth=2, width=8)
    with cf.ProcessPoolExecutor(1, mp_context=spawn) as one, cf.ProcessPoolExecutor(2, mp_context=spawn) as two:
        for pool in (one, two):  # warm: the workers import sigprop
            sim.sweep([small], "jacobian", 4, 0, executor=pool, chunk_size=1)
        times = {"chain": [], "sampler": [], "sweep 1 worker": [], "sweep 2 workers": [], "chains 1 process": [],
                 "chains 2 processes": []}
        outside = []  # 1 worker: the sweep's wall time beyond the time spent inside its tasks
        for seed in range(2):
            for key, pool in (("chains 1 process", one), ("chains 2 processes", two)):
                times[key].append(timed(lambda: [f.result() for f in [pool.submit(bare_chain, N, L, seed + k)
                                                                     for k in range(NETWORKS)]])[0])
            times["chain"].append(timed(chain_networks, seed)[0])
            times["sampler"].append(timed(sampler_networks, config, seed)[0])
            t1, r1 = timed(sim.sweep, [config], "jacobian", NETWORKS, seed, executor=one, chunk_size=1)
            t2, r2 = timed(sim.sweep, [config], "jacobian", NETWORKS, seed, executor=two, chunk_size=1)
            times["sweep 1 worker"].append(t1)
            times["sweep 2 workers"].append(t2)
            outside.append(t1 / r1.throughput.task_seconds - 1)
            assert np.array_equal(r1.samples(0).log_lam, r2.samples(0).log_lam)
    startup, _ = timed(sim.sweep, [small], "jacobian", 2, 0, workers=2)
    best = {k: min(v) for k, v in times.items()}
    gflop = r1.throughput.gflop
    print(f"\nload average {os.getloadavg()}, {os.cpu_count()} cores; N = {N}, L = {L}, {NETWORKS} networks, best of 2")
    for key, value in best.items():
        print(f"  {key:16s} {value:7.2f} s  {NETWORKS / value:6.3f} networks/s  {gflop / value:6.2f} GFLOP/s of products")
    print(f"  sweep / sampler (1 worker)   {best['sweep 1 worker'] / best['sampler']:.3f}  (target <= 1.05)")
    print(f"  sweep / bare chain           {best['sweep 1 worker'] / best['chain']:.3f}")
    print(f"  machinery (1 worker): wall / time inside the tasks - 1 = {100 * min(outside):.2f} % "
          "(the tasks run the sampler's own code on the same draws)")
    print(f"  2 workers vs 1               {best['sweep 1 worker'] / best['sweep 2 workers']:.2f} x  (target >= 1.8)")
    print(f"  the machine: bare chains in 2 processes vs 1  {best['chains 1 process'] / best['chains 2 processes']:.2f} x")
    print(f"  default executor start-up (2 workers, a tiny sweep) {startup:.2f} s")
