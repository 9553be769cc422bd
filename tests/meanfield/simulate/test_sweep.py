"""Tests of meanfield.simulate.sweep: reproducibility across executors, resumable stores, failures.

Identity tests compare arrays bit for bit (np.array_equal) against an independent route: the
one-network samplers (jacobian_singular_values, signal_statistics) called with the stream
SeedSequence(seed, spawn_key=(i, k)) of network k of configuration i, and one uninterrupted
single-thread sweep.  Statistical tests compare Monte Carlo means with closed forms that hold at
every width, with the sample sizes and bounds stated in their docstrings.
"""
from __future__ import annotations

import concurrent.futures as cf
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import meanfield as mf
from meanfield import simulate as sim
from meanfield.errors import ParameterError
from meanfield.simulate.quantities import JacobianQuantity, get_quantity
from meanfield.simulate.store import SweepStore
from tests.meanfield.simulate.memory_helpers import sampled_peak

SEED = 20240607
N_NETWORKS = 5
CONFIGS = sim.grid(activation=["tanh", "relu"], sigma_w2=1.5, sigma_b2=0.05, depth=3, width=10,
                   weights=["orthogonal", "gaussian"])
FIELDS = ("lam", "log_lam", "log_scale", "active_fraction", "d2_mean")


def _jacobian_sweep(**kwargs):
    kwargs.setdefault("executor", None)
    return sim.sweep(CONFIGS, "jacobian", N_NETWORKS, SEED, **kwargs)


@pytest.fixture(scope="module")
def reference():
    """One chunk per configuration on one thread: the uninterrupted run every other run must equal."""
    with cf.ThreadPoolExecutor(1) as ex:
        return _jacobian_sweep(executor=ex, chunk_size=N_NETWORKS)


def assert_same(result, reference):
    for i in range(len(CONFIGS)):
        a, b = result.samples(i), reference.samples(i)
        for field in FIELDS:
            assert np.array_equal(getattr(a, field), getattr(b, field)), (i, field)
        assert a.bernoulli == b.bernoulli and a.q0 == b.q0 and a.q_star == b.q_star and a.n_networks == N_NETWORKS


def test_each_network_is_the_one_network_sampler_with_its_own_stream(reference):
    """Network k of configuration i = jacobian_singular_values(n_networks=1, seed=SeedSequence(seed, (i, k)))."""
    for i, config in enumerate(CONFIGS):
        samples = reference.samples(i)
        assert samples.q0 is None and samples.q_star == mf.fixed_point(config["activation"], 1.5, 0.05)
        for k in range(N_NETWORKS):
            one = sim.jacobian_singular_values(
                config["activation"], 1.5, 0.05, 3, 10, config["weights"], n_networks=1,
                seed=np.random.SeedSequence(SEED, spawn_key=(i, k)),
            )
            for field in FIELDS:
                assert np.array_equal(getattr(one, field)[0], getattr(samples, field)[k]), (i, k, field)


@pytest.mark.parametrize("make, chunk_size", [
    (lambda: cf.ThreadPoolExecutor(3), 1),
    (lambda: cf.ThreadPoolExecutor(2), 2),
    (lambda: cf.ProcessPoolExecutor(2), 4),
])
def test_identical_across_executors_workers_and_chunks(reference, make, chunk_size):
    with make() as ex:
        assert_same(_jacobian_sweep(executor=ex, chunk_size=chunk_size), reference)


def test_default_local_processes(reference):
    """executor=None: a spawned process pool, default chunks (derived from memory and workers)."""
    result = _jacobian_sweep(workers=2)
    assert_same(result, reference)
    assert result.throughput.workers == 2 and result.throughput.networks == N_NETWORKS * len(CONFIGS)


class _DiesOnce(JacobianQuantity):
    """The Jacobian, but the first task to run anywhere kills its worker process (os._exit)."""

    name = "jacobian-dies-once"

    def __init__(self, marker):
        self.marker = str(marker)

    def sample(self, config, streams):
        try:
            fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return super().sample(config, streams)
        os.close(fd)
        os._exit(3)


def test_worker_killed_mid_sweep_local_pool(reference, tmp_path):
    """A worker of the default pool dies: the pool is rebuilt, the lost tasks rerun, nothing is lost."""
    result = sim.sweep(CONFIGS, _DiesOnce(tmp_path / "died"), N_NETWORKS, SEED, workers=2, chunk_size=2)
    assert (tmp_path / "died").exists()
    assert result.throughput.retries >= 1 and not result.errors
    assert_same(result, reference)


class _InterruptAfter(cf.ThreadPoolExecutor):
    """Raises KeyboardInterrupt (a Ctrl-C in the client) at submission number ``k + 1``."""

    def __init__(self, k):
        super().__init__(max_workers=1)
        self.k, self.submitted = k, 0

    def submit(self, *args, **kwargs):
        if self.submitted == self.k:
            raise KeyboardInterrupt
        self.submitted += 1
        return super().submit(*args, **kwargs)


def test_interrupted_then_resumed_equals_uninterrupted(reference, tmp_path):
    store = tmp_path / "store"
    with _InterruptAfter(3) as ex, pytest.raises(KeyboardInterrupt):
        _jacobian_sweep(executor=ex, chunk_size=2, store=store)
    chunks = SweepStore(store).chunks()
    stored = sum(stop - start for items in chunks.values() for start, stop, _ in items)
    assert 0 < stored < N_NETWORKS * len(CONFIGS)
    assert not list(store.glob("*.part"))
    with cf.ThreadPoolExecutor(2) as ex:  # resume with another chunk size and executor, seed from the store
        result = sim.sweep(CONFIGS, "jacobian", N_NETWORKS, None, executor=ex, chunk_size=3, store=store)
    assert result.throughput.reused == stored
    assert result.throughput.networks == N_NETWORKS * len(CONFIGS) - stored
    assert result.seed.entropy == SEED
    assert_same(result, reference)
    again = sim.sweep(CONFIGS, "jacobian", N_NETWORKS, SEED, executor=None, store=store)  # nothing left to do
    assert again.throughput.networks == 0 and again.throughput.tasks == 0
    assert_same(again, reference)


_KILLED_CLIENT = """
import concurrent.futures as cf, os, sys
sys.path[:0] = {path!r}
from meanfield import simulate as sim

class KilledAtSubmission(cf.ThreadPoolExecutor):
    submitted = 0
    def submit(self, *args, **kwargs):
        KilledAtSubmission.submitted += 1
        if KilledAtSubmission.submitted == 5:
            os._exit(9)  # the client process dies at once: no cleanup, no finally
        return super().submit(*args, **kwargs)

sim.sweep({configs!r}, "jacobian", {n}, {seed}, executor=KilledAtSubmission(1), chunk_size=2, store={store!r})
"""


def test_killed_client_then_resumed_equals_uninterrupted(reference, tmp_path):
    """The client process itself is killed (os._exit) in the middle of a sweep: the store keeps only
    whole chunks, and a new run completes it to the uninterrupted result."""
    store = tmp_path / "store"
    code = _KILLED_CLIENT.format(path=sys.path, configs=CONFIGS, n=N_NETWORKS, seed=SEED, store=str(store))
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 9
    stored = sum(stop - start for items in SweepStore(store).chunks().values() for start, stop, _ in items)
    assert 0 < stored < N_NETWORKS * len(CONFIGS)
    with cf.ThreadPoolExecutor(2) as ex:
        result = sim.sweep(CONFIGS, "jacobian", N_NETWORKS, SEED, executor=ex, store=store)
    assert result.throughput.reused == stored
    assert_same(result, reference)


def test_store_readable_with_numpy_and_json(reference, tmp_path):
    with cf.ThreadPoolExecutor(2) as ex:
        _jacobian_sweep(executor=ex, chunk_size=2, store=tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["n_networks"] == N_NETWORKS and manifest["seed"]["entropy"] == SEED
    assert manifest["quantity"] == "jacobian" and len(manifest["configs"]) == len(CONFIGS)
    for i, config in enumerate(CONFIGS):
        assert manifest["configs"][i]["activation"] == config["activation"]
        assert manifest["configs"][i]["weights"] == config["weights"]
        parts = [np.load(path) for path in sorted(tmp_path.glob(f"c{i:05d}_*.npz"))]
        networks = np.concatenate([p["networks"] for p in parts])
        assert np.array_equal(networks, np.arange(N_NETWORKS))
        log_lam = np.concatenate([p["log_lam"] for p in parts])
        assert np.array_equal(log_lam, reference.samples(i).log_lam)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["errors"] == {} and len(summary["statistics"]) == len(CONFIGS)


def test_mismatching_store_is_refused(tmp_path):
    small = CONFIGS[:1]
    with cf.ThreadPoolExecutor(1) as ex:
        sim.sweep(small, "jacobian", 2, 1, executor=ex, store=tmp_path)
        with pytest.raises(ParameterError, match="seed"):
            sim.sweep(small, "jacobian", 2, 2, executor=ex, store=tmp_path)
        with pytest.raises(ParameterError, match="n_networks"):
            sim.sweep(small, "jacobian", 3, 1, executor=ex, store=tmp_path)
        with pytest.raises(ParameterError, match="quantity"):
            sim.sweep(small, "signal", 2, 1, executor=ex, store=tmp_path)
        with pytest.raises(ParameterError, match="configs"):
            sim.sweep(CONFIGS[1:2], "jacobian", 2, 1, executor=ex, store=tmp_path)


def test_writes_are_atomic(tmp_path, monkeypatch):
    """A writer that fails half way leaves neither the chunk nor a temporary file."""
    store = SweepStore(tmp_path)

    def broken_savez(handle, **arrays):
        handle.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        store.write_chunk(0, 0, 2, {"x": np.zeros(2)})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.filterwarnings("ignore:overflow encountered in exp:RuntimeWarning")  # exp(x) at q0 = 1e6, the point
def test_bad_configurations_are_reported_good_ones_computed():
    good = dict(activation="tanh", sigma_w2=1.5, sigma_b2=0.05, depth=2, width=6)
    configs = [
        good,
        dict(good, sigma_b2=-1.0),
        dict(good, activation="nope"),
        dict(good, sigma_w=1.0),
        dict(good, activation=mf.activation(np.tanh)),
        dict(good, activation="exp(x)", sigma_w2=1.0, sigma_b2=0.0, q0=1e6),  # fails inside the task
        dict(good, weights="haar"),
        dict(good, activation="leaky_relu", activation_params={"slope": [0.1, 0.2]}),
    ]
    with cf.ThreadPoolExecutor(2) as ex:
        result = sim.sweep(configs, "jacobian", 3, 0, executor=ex)
    assert set(result.errors) == {1, 2, 3, 4, 5, 6, 7}
    for i, fragment in [(1, "sigma_b2"), (2, "nope"), (3, "sigma_w"), (4, "callable"), (5, "not finite"),
                        (6, "haar"), (7, "slope")]:
        assert fragment in result.errors[i], result.errors[i]
        with pytest.raises(ParameterError, match=f"configuration {i} failed"):
            result.samples(i)
    assert result.complete(0) and result.samples(0).n_networks == 3
    stats = result.statistics()
    assert list(stats.status) == ["ok"] + [result.errors[i] for i in range(1, 8)]
    assert np.isfinite(stats.mean_lambda[0]) and np.all(np.isnan(stats.mean_lambda[1:]))
    assert set(result.rows().config) == {0}
    assert "configuration 5 failed" in str(result)


def test_tables_and_theory(reference):
    rows = reference.rows()
    assert rows.n_rows == N_NETWORKS * len(CONFIGS)
    assert np.array_equal(rows.config, np.repeat(np.arange(len(CONFIGS)), N_NETWORKS))
    assert np.array_equal(rows.network, np.tile(np.arange(N_NETWORKS), len(CONFIGS)))
    for i in range(len(CONFIGS)):
        samples = reference.samples(i)
        assert np.array_equal(rows.mean_lambda[rows.config == i], samples.network_means)
    stats = reference.statistics()
    chi = [mf.chi1(c["activation"], 1.5, 0.05) for c in CONFIGS]
    np.testing.assert_allclose(stats.mean_lambda_theory, np.array(chi) ** 3, rtol=1e-10)
    assert np.all(stats.mean_lambda_se > 0) and list(stats.weights) == [c["weights"] for c in CONFIGS]
    assert json.loads(json.dumps(reference.to_dict()))["n_networks"] == N_NETWORKS


def test_mean_lambda_of_linear_gaussian_networks_is_sigma_w2_to_the_depth():
    """E[tr(J J^T)/N] = sigma_w^2^L exactly at every width for Gaussian linear networks (independent
    layers, E[W^T A W] = sigma_w^2 tr(A)/N I).  400 networks of width 8, depth 3 per configuration;
    bound 5 standard errors of the mean (a normal tail of 6e-7 at 400 samples; seeded)."""
    configs = sim.grid(activation="linear", sigma_w2=[0.8, 1.3], sigma_b2=0.2, depth=3, width=8, weights="gaussian")
    with cf.ThreadPoolExecutor(2) as ex:
        stats = sim.sweep(configs, "jacobian", 400, 11, executor=ex).statistics()
    exact = np.array([0.8, 1.3]) ** 3
    np.testing.assert_allclose(stats.mean_lambda_theory, exact, rtol=1e-12)
    assert np.all(np.abs(stats.mean_lambda - exact) < 5 * stats.mean_lambda_se)


def test_signal_quantity_matches_signal_statistics_and_first_layer_theory():
    """Network k = signal_statistics(n_networks=1, seed=SeedSequence(seed, (i, k))) on the inputs the
    quantity builds (|x|^2/n0 = q0, cosine c0).  E[q^1] = sigma_w^2 q0 + sigma_b^2 and E[q12^1] =
    sigma_w^2 q0 c0 + sigma_b^2 exactly (Gaussian weights); 300 networks, bound 5 standard errors."""
    config = dict(activation="erf", sigma_w2=1.7, sigma_b2=0.1, depth=1, width=12, n0=7, q0=0.6, c0=0.3)
    with cf.ThreadPoolExecutor(2) as ex:
        result = sim.sweep([config], "signal", 300, 5, executor=ex, chunk_size=70)
    x1, x2 = sim.SignalQuantity.inputs(result.configs[0])
    assert np.dot(x1, x1) / 7 == pytest.approx(0.6, rel=1e-14) and np.dot(x2, x2) / 7 == pytest.approx(0.6, rel=1e-14)
    assert np.dot(x1, x2) / np.sqrt(np.dot(x1, x1) * np.dot(x2, x2)) == pytest.approx(0.3, rel=1e-14)
    stats = result.samples(0)
    for k in (0, 123, 299):
        one = sim.signal_statistics("erf", 1.7, 0.1, 1, 12, x1, x2, "gaussian", 1, np.random.SeedSequence(5, spawn_key=(0, k)))
        assert np.array_equal(one.q_networks[0], stats.q_networks[k]) and np.array_equal(one.c_networks[0], stats.c_networks[k])
    table = result.statistics()
    assert table.q_theory[0] == pytest.approx(1.7 * 0.6 + 0.1, rel=1e-14)
    assert abs(table.q[0] - (1.7 * 0.6 + 0.1)) < 5 * table.q_se[0]
    assert abs(stats.q12[0] - (1.7 * 0.6 * 0.3 + 0.1)) < 5 * stats.q12_se[0]


def test_streams_make_stacks_independent_of_their_split():
    streams = sim.NetworkStreams.spawn(7, (2,), 0, 6)
    whole = sim.sample_weights(streams, 5, 4, 1.0, "orthogonal")
    parts = [sim.sample_weights(sim.NetworkStreams.spawn(7, (2,), a, b), 5, 4, 1.0, "orthogonal") for a, b in [(0, 2), (2, 6)]]
    assert np.array_equal(whole, np.concatenate(parts))
    single = sim.sample_weights(np.random.default_rng(np.random.SeedSequence(7, spawn_key=(2, 3))), 5, 4, 1.0, "orthogonal")
    assert np.array_equal(whole[3], single)
    assert len(streams[1:4]) == 3
    with pytest.raises(ParameterError, match="n_networks=2"):
        sim.sample_biases(streams, 3, 0.1, n_networks=2)
    for bad in ([], [1, 2], None):
        with pytest.raises(ParameterError):
            sim.NetworkStreams(bad)
    with pytest.raises(ParameterError):
        sim.NetworkStreams.spawn(-1)


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(configs=[]), "non-empty list"),
    (dict(configs=CONFIGS[0]), "non-empty list"),
    (dict(quantity="spectrum"), "quantity must be"),
    (dict(n_networks=0), "n_networks"),
    (dict(seed=np.random.default_rng(0)), "seed must be"),
    (dict(seed=-3), "seed must be"),
    (dict(executor="dask"), "executor must be"),
    (dict(executor=cf.ThreadPoolExecutor(1), workers=2), "workers"),
    (dict(chunk_size=0), "chunk_size"),
    (dict(retries=-1), "retries"),
    (dict(progress="yes"), "progress"),
])
def test_bad_arguments_raise(kwargs, fragment):
    args = dict(configs=CONFIGS[:1], quantity="jacobian", n_networks=1, seed=0)
    args.update(kwargs)
    with pytest.raises(ParameterError, match=fragment):
        sim.sweep(**args)


@pytest.mark.parametrize("quantity", ["jacobian", "signal"])
@pytest.mark.parametrize("weights", ["orthogonal", "gaussian"])
def test_stated_memory_bounds_the_measured_peak(quantity, weights):
    """The memory a quantity states per network bounds the peak that tracemalloc measures (numpy
    reports its allocations to tracemalloc) for a chunk of three networks."""
    q = get_quantity(quantity)
    config = q.prepare(dict(activation="tanh", sigma_w2=1.5, sigma_b2=0.05, depth=3, width=80, weights=weights))
    peak = sampled_peak(q, config)
    assert 0.5 * 3 * q.memory(config) < peak <= 3 * q.memory(config)


def test_progress_bar_over_tasks(capsys):
    with cf.ThreadPoolExecutor(1) as ex:
        sim.sweep(CONFIGS[:2], "jacobian", 2, 0, executor=ex, chunk_size=1, progress=True)
    assert "sweep jacobian" in capsys.readouterr().err


def test_grid():
    g = sim.grid(activation="tanh", sigma_w2=[1.0, 2.0], width=(8, 16, 32))
    assert len(g) == 6 and g[0] == dict(activation="tanh", sigma_w2=1.0, width=8) and g[-1]["width"] == 32
    with pytest.raises(ParameterError):
        sim.grid()
    with pytest.raises(ParameterError, match="width"):
        sim.grid(width=[])


# ----------------------------------------------------------------------------------------------
# Dask (optional extra; installed in CI through the test extra)
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=logging.CRITICAL) as cluster, distributed.Client(cluster) as client:
        yield client


def test_dask_cluster_gives_identical_results(reference, dask_client):
    result = _jacobian_sweep(executor=dask_client, chunk_size=3)
    assert result.throughput.workers == 2
    assert_same(result, reference)


def test_dask_worker_killed_mid_sweep(reference, dask_client, tmp_path):
    """A Dask worker process dies inside a task: the nanny restarts it, the task reruns, nothing is lost."""
    result = sim.sweep(CONFIGS, _DiesOnce(tmp_path / "died"), N_NETWORKS, SEED, executor=dask_client,
                       chunk_size=2, store=tmp_path / "store")
    assert (tmp_path / "died").exists() and not result.errors
    assert_same(result, reference)
    assert len(list(Path(tmp_path / "store").glob("*.npz"))) == len(CONFIGS) * 3
