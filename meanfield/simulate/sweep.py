"""Sweeps: a grid of configurations x many sampled networks, on local processes, Dask or any executor.

:func:`sweep` splits the networks of every configuration into chunks (contiguous ranges of networks),
runs one task per chunk on an executor, writes each finished chunk to a results directory, and
returns a :class:`~meanfield.simulate.results.SweepResult` with the samples of every configuration,
a tidy table, statistics with standard errors and the theory next to them.

Design
------
- **Reproducible.** Network k of configuration i draws from its own stream,
  ``SeedSequence(seed, spawn_key=(i, k))`` (the spawn tree of ``seed``: configuration i, then network
  k; :class:`~meanfield.simulate.NetworkStreams`).  A chunk stacks its networks' streams and every
  operation of the samplers acts network by network, so a network's numbers do not depend on its
  chunk, its worker or the executor: results are bit-identical whatever the executor, the number of
  workers and ``chunk_size`` (on machines running the same numpy/BLAS build; BLAS is pinned to one
  thread per task).  Network k of configuration i equals the one-network sampler with
  ``seed=SeedSequence(seed, spawn_key=(i, k))``, e.g. ``jacobian_singular_values(..., n_networks=1,
  seed=...)`` (with ``q0`` the configuration's).  ``jacobian_singular_values(..., n_networks=n, seed=s)``
  draws its whole stack from one stream instead (docs/conventions.md §8), so its networks are not a
  sweep's.
- **Lossless and resumable.** Each finished chunk is written atomically to ``store`` (npz files and a
  JSON manifest, :mod:`~meanfield.simulate.store`) as it arrives.  Run again with the same store,
  the sweep reads what is there and computes only the missing networks (any chunk size); the result
  equals an uninterrupted run.  A store that holds another sweep is refused.
- **Failures.** A task that raises a :class:`~meanfield.errors.SigpropError` (bad parameters, e.g. phi'
  not finite) fails deterministically: its configuration is reported in ``result.errors`` with the
  message, and the other configurations are computed.  Any other failure (a worker that died, lost
  connections, memory) is retried ``retries`` times; the local process pool is rebuilt when a worker
  dies.  Configurations refused by their checks are reported the same way, before anything runs.
- **Memory.** Each quantity states its peak memory per network (the Jacobian: eight N x N float64
  arrays with orthogonal weights); the default chunk holds as many networks as fit in
  ``task_memory`` (at least one), and no more than gives the sweep about four tasks per worker.
  ``result.throughput.memory_per_task`` is the largest stated peak of a task.  Without a store the
  results are kept in memory; with one, chunks are read back from disk when asked for.
- **Executors.** None: a :class:`concurrent.futures.ProcessPoolExecutor` on ``workers`` local processes
  (all cores by default; started with "spawn", safe next to threads, so a script that calls
  :func:`sweep` must do so under ``if __name__ == "__main__":``; BLAS pinned to one thread in every
  task, whatever the executor).  A
  ``dask.distributed.Client`` (local or remote): tasks go through ``client.get_executor()``; dask is
  never imported here, a client is recognised by its class.  Any other
  :class:`concurrent.futures.Executor` is used as is.  Tasks are independent and the work is the
  L N^3 products, so k machines give about k times the throughput of one once every worker has
  several tasks (the returned :class:`~meanfield.simulate.results.Throughput` reports the figures).
"""
from __future__ import annotations

import concurrent.futures as cf
import itertools
import math
import multiprocessing
import os
import sys
import time
from collections import Counter, deque
from typing import Mapping, Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from .. import validation as check
from ..errors import ParameterError, SigpropError
from ..progress import progress_bar
from .quantities import SweepQuantity, get_quantity
from .results import SweepResult, Throughput
from .store import SweepStore
from .streams import NetworkStreams, _seed_sequence

__all__ = ["sweep", "grid", "DEFAULT_TASK_MEMORY"]

#: default bound on the memory of one task, bytes
DEFAULT_TASK_MEMORY = 256 * 2**20


def grid(**axes) -> list[dict]:
    """Every combination of the given values as a list of configurations (the last keyword varies fastest).

    >>> grid(activation="tanh", sigma_w2=[1.0, 2.0], sigma_b2=0.05, depth=10, width=[64, 128])  # doctest: +SKIP
    [{'activation': 'tanh', 'sigma_w2': 1.0, 'sigma_b2': 0.05, 'depth': 10, 'width': 64}, ...]  # 4 dicts

    A value that is a list or tuple is an axis; anything else (a string, a number, a dict) is fixed.
    """
    if not axes:
        raise ParameterError("grid needs at least one keyword, e.g. grid(activation='tanh', width=[64, 128], ...)")
    values = [list(v) if isinstance(v, (list, tuple)) else [v] for v in axes.values()]
    empty = [k for k, v in zip(axes, values) if not v]
    if empty:
        raise ParameterError(f"grid axes must not be empty, got no values for {', '.join(empty)}")
    return [dict(zip(axes, combo)) for combo in itertools.product(*values)]


def sweep(
    configs: Sequence[Mapping],
    quantity: str | SweepQuantity = "jacobian",
    n_networks: int = 1,
    seed: int | np.random.SeedSequence | None = None,
    executor=None,
    chunk_size: int | None = None,
    store=None,
    *,
    workers: int | None = None,
    retries: int = 3,
    task_memory: int = DEFAULT_TASK_MEMORY,
    progress: bool = False,
) -> SweepResult:
    """Sample ``n_networks`` networks of every configuration and measure ``quantity`` on them.

    Parameters
    ----------
    configs : list of dict
        Keys ``activation`` (a built-in name or a formula; ``activation_params`` for its
        parameters), ``sigma_w2``, ``sigma_b2``, ``depth``, ``width``, ``weights`` ("gaussian" or
        "orthogonal"; default the quantity's), and the quantity's options (the Jacobian: ``q0``;
        signal statistics: ``n0``, ``q0``, ``c0``).  :func:`grid` builds such a list.
    quantity : str or SweepQuantity
        "jacobian" (:func:`jacobian_singular_values`), "signal" (:func:`signal_statistics`), a name
        registered by another package ("exact" after ``import exact``), or a quantity object.
    n_networks : int
        Networks per configuration.
    seed : int >= 0, numpy.random.SeedSequence or None
        Root of the streams (see the module docstring).  None: the seed of ``store`` if it has one,
        else fresh entropy (recorded in ``result.seed`` and the store).
    executor : None, dask.distributed.Client or concurrent.futures.Executor
        Where the tasks run (None: local processes).
    chunk_size : int or None
        Networks per task; None derives it from ``task_memory`` and the number of workers.
    store : str, os.PathLike or None
        Results directory: written as tasks finish; a second run resumes it.
    workers : int or None
        Processes of the default executor (None: all cores).  Only with ``executor=None``.
    retries : int
        Further attempts of a task that failed for another reason than its parameters.
    task_memory : int
        Bytes one task may use, for the default chunk size.
    progress : bool
        A tqdm bar over tasks.

    Returns
    -------
    SweepResult
        ``.samples(i)`` (e.g. the :class:`JacobianSamples` of configuration i, its networks in order),
        ``.rows()``, ``.statistics()``, ``.errors``, ``.throughput``.

    Raises
    ------
    ParameterError
        Bad arguments of the call (a bad configuration is reported in ``result.errors`` instead), or a
        store holding another sweep.
    """
    quantity = get_quantity(quantity)
    if isinstance(configs, (str, bytes, Mapping)) or not isinstance(configs, Sequence) or not configs:
        raise ParameterError(f"configs must be a non-empty list of dicts (see grid()), got {configs!r}")
    n_networks = check.positive_int("n_networks", n_networks)
    retries = check.positive_int("retries", retries, 0)
    task_memory = check.positive_int("task_memory", task_memory)
    if chunk_size is not None:
        chunk_size = check.positive_int("chunk_size", chunk_size)
    if not isinstance(progress, (bool, np.bool_)):
        raise ParameterError(f"progress must be True or False, got {progress!r}")
    pool = _Pool(executor, workers)
    store = None if store is None else SweepStore(store)
    root = _root_seed(seed, store)

    prepared, errors = [], {}
    for i, config in enumerate(configs):
        try:
            prepared.append(quantity.prepare(config))
        except SigpropError as exc:
            prepared.append(None)
            errors[i] = str(exc)
    manifest = {
        "quantity": quantity.name,
        "seed": {"entropy": root.entropy, "spawn_key": list(root.spawn_key), "pool_size": root.pool_size},
        "n_networks": n_networks,
        "configs": [c if c is not None else {"refused": errors[i]} for i, c in enumerate(prepared)],
        "streams": "network k of configuration i: numpy.random.SeedSequence(entropy, spawn_key=spawn_key + [i, k])",
        "chunks": "c{i:05d}_n{start:07d}-{stop:07d}.npz: networks start..stop-1 of configuration i",
    }
    if store is not None:
        store.open(manifest)
    result = SweepResult(quantity, prepared, list(configs), n_networks, root, store)
    for i, message in errors.items():
        result._fail(i, message)

    good = [i for i, c in enumerate(prepared) if c is not None]
    stored = store.chunks() if store is not None else {}
    reused = 0
    tasks = []
    for i in good:
        for start, stop, path in stored.get(i, []):
            if stop <= n_networks:
                result._add(i, start, stop, SweepStore.read_chunk(path), path)
                reused += stop - start
        size = chunk_size or _default_chunk(quantity.memory(prepared[i]), n_networks, len(good), pool.workers, task_memory)
        for start, stop in _gaps([(s, e) for s, e, _ in stored.get(i, []) if e <= n_networks], n_networks):
            tasks += [(i, a, min(a + size, stop)) for a in range(start, stop, size)]
    memory = max([quantity.memory(prepared[i]) * (stop - start) for i, start, stop in tasks], default=0)

    scheduler = _Scheduler(pool, quantity, prepared, root, tasks, retries)
    counts = scheduler.counts
    started = time.perf_counter()
    outcomes = scheduler.outcomes()
    finished = False
    try:
        for (i, start, stop), outcome in progress_bar(outcomes, len(tasks), bool(progress), f"sweep {quantity.name}"):
            if "error" in outcome:
                result._fail(i, outcome["error"])
                continue
            counts["networks"] += stop - start
            counts["flops"] += quantity.flops(prepared[i]) * (stop - start)
            path = store.write_chunk(i, start, stop, outcome["arrays"]) if store is not None else None
            result._add(i, start, stop, outcome["arrays"], path)
        finished = True
    finally:
        outcomes.close()  # cancels what is still in flight
        pool.close(wait=finished)
    result.throughput = Throughput(
        networks=counts["networks"], reused=reused, tasks=counts["tasks"], retries=counts["retries"],
        workers=pool.workers, wall_seconds=time.perf_counter() - started, task_seconds=counts["seconds"],
        gflop=counts["flops"] / 1e9, memory_per_task=memory,
    )
    if store is not None:
        store.write_json("summary.json", result.to_dict())
    return result


# ----------------------------------------------------------------------------------------------
# seeds, chunks
# ----------------------------------------------------------------------------------------------
def _root_seed(seed, store: SweepStore | None) -> np.random.SeedSequence:
    if seed is None:
        manifest = store.manifest() if store is not None else None
        if manifest is not None:
            s = manifest["seed"]
            return np.random.SeedSequence(s["entropy"], spawn_key=tuple(s["spawn_key"]), pool_size=s["pool_size"])
        return np.random.SeedSequence()
    return _seed_sequence(seed)


def _default_chunk(per_network: int, n_networks: int, n_configs: int, workers: int, task_memory: int) -> int:
    """Networks per task: as many as fit in ``task_memory``, at most n / ceil(4 workers / n_configs)
    (about four tasks per worker over the sweep, for balance), at least one."""
    by_memory = max(1, task_memory // max(1, per_network))
    tasks_per_config = math.ceil(4 * workers / max(1, n_configs))
    return max(1, min(by_memory, math.ceil(n_networks / tasks_per_config)))


def _gaps(covered: list[tuple[int, int]], n: int) -> list[tuple[int, int]]:
    """The ranges of 0..n-1 not covered by the sorted, non-overlapping ``covered``."""
    out, end = [], 0
    for start, stop in covered:
        if start > end:
            out.append((end, start))
        end = max(end, stop)
    if end < n:
        out.append((end, n))
    return out


# ----------------------------------------------------------------------------------------------
# the task and the executors
# ----------------------------------------------------------------------------------------------
def _run_task(quantity: SweepQuantity, config: dict, root: np.random.SeedSequence, i: int, start: int, stop: int):
    """One chunk, in a worker: networks start..stop-1 of configuration i, BLAS on one thread.

    Returns {"arrays": ..., "seconds": ...}, or {"error": message} for a SigpropError (a deterministic
    failure, not retried).  Any other exception propagates and is retried by the client.
    """
    t0 = time.perf_counter()
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            arrays = quantity.sample(config, NetworkStreams.spawn(root, (i,), start, stop))
    except SigpropError as exc:
        return {"error": str(exc)}
    return {"arrays": arrays, "seconds": time.perf_counter() - t0}


def _is_dask_client(executor) -> bool:
    distributed = sys.modules.get("distributed")
    return distributed is not None and isinstance(executor, distributed.Client)


class _Pool:
    """The executor of a sweep: its submit, its number of workers, and how to recover and close it."""

    def __init__(self, executor, workers):
        self.own = executor is None
        self.executor = None
        self.from_client = False  # client.get_executor(): ours to shut down, the client is not
        if self.own:
            self.workers = (os.cpu_count() or 1) if workers is None else check.positive_int("workers", workers)
            return
        if workers is not None:
            raise ParameterError("workers sets the size of the default local pool; with an executor, size the executor")
        if _is_dask_client(executor):
            self.executor = executor.get_executor(pure=False)
            self.from_client = True
            info = executor.scheduler_info()
            self.workers = max(1, sum(w.get("nthreads", 1) for w in info.get("workers", {}).values()))
        elif isinstance(executor, cf.Executor):
            self.executor = executor
            self.workers = getattr(executor, "_max_workers", None) or os.cpu_count() or 1
        else:
            raise ParameterError(
                "executor must be None (local processes), a dask.distributed.Client or a "
                f"concurrent.futures.Executor, got {executor!r}"
            )

    def submit(self, *args) -> cf.Future:
        if self.executor is None:
            self.executor = cf.ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("spawn")
            )
        return self.executor.submit(*args)

    def renew(self) -> bool:
        """After a worker died: a fresh pool if it is ours (True), else False (a user's executor)."""
        if not self.own:
            return False
        self.close(wait=False)
        return True

    def close(self, wait: bool) -> None:
        """Shut down what the sweep started: our pool (joined when ``wait``, e.g. after a normal end;
        else pending tasks are cancelled and the call returns at once), or the client's executor."""
        if self.own and self.executor is not None:
            self.executor.shutdown(wait=wait, cancel_futures=True)
            self.executor = None
        elif self.from_client:
            self.executor.shutdown(wait=False)


class _Scheduler:
    """Runs the tasks on a :class:`_Pool`, at most 2 x workers in flight, and yields (task, outcome)
    as they finish (:meth:`outcomes`).

    A task whose future raises is resubmitted until it has failed ``retries + 1`` times, then yielded
    with {"error": ...}.  When the pool breaks (a worker died) every task in flight is resubmitted on
    a fresh pool; a user's executor cannot be rebuilt, so its remaining tasks are yielded as errors
    that say so.  Closing the generator (an exception, Ctrl-C) cancels what is still in flight.
    ``counts`` collects "tasks", "seconds" (inside the tasks) and "retries".
    """

    def __init__(self, pool: _Pool, quantity, configs, root, tasks, retries: int):
        self.pool, self.quantity, self.configs, self.root, self.retries = pool, quantity, configs, root, retries
        self.pending = deque(tasks)
        self.in_flight: dict[cf.Future, tuple] = {}
        self.failures: Counter = Counter()
        self.counts: Counter = Counter()

    def _failed(self, task, exc) -> dict | None:
        """Count a failure of ``task``: requeue it (None), or its final error once retries are spent."""
        self.failures[task] += 1
        if self.failures[task] > self.retries:
            return {"error": f"the task of networks {task[1]}..{task[2] - 1} failed {self.failures[task]} times, "
                             f"last with {type(exc).__name__}: {exc}"}
        self.counts["retries"] += 1
        self.pending.append(task)
        return None

    def _submit(self) -> BaseException | None:
        """Fill the window; the BrokenExecutor if the pool turned out broken."""
        while self.pending and len(self.in_flight) < 2 * self.pool.workers:
            task = self.pending.popleft()
            try:
                future = self.pool.submit(_run_task, self.quantity, self.configs[task[0]], self.root, *task)
            except cf.BrokenExecutor as exc:
                self.pending.appendleft(task)
                return exc
            self.in_flight[future] = task
        return None

    def outcomes(self):
        try:
            while self.pending or self.in_flight:
                broken = self._submit()
                if broken is None:
                    done, _ = cf.wait(self.in_flight, return_when=cf.FIRST_COMPLETED)
                    for future in done:
                        task = self.in_flight.pop(future)
                        try:
                            outcome = future.result()
                        except cf.BrokenExecutor as exc:
                            broken, outcome = exc, self._failed(task, exc)
                        except Exception as exc:  # noqa: BLE001 - any infrastructure failure is retried
                            outcome = self._failed(task, exc)
                        else:
                            self.counts["tasks"] += "error" not in outcome
                            self.counts["seconds"] += outcome.get("seconds", 0.0)
                        if outcome is not None:
                            yield task, outcome
                if broken is not None:
                    yield from self._recover(broken)
        finally:
            for future in self.in_flight:
                future.cancel()

    def _recover(self, broken: BaseException):
        """Every future of a broken pool fails: requeue what was in flight on a fresh pool."""
        for future, task in list(self.in_flight.items()):
            outcome = self._failed(task, broken)
            if outcome is not None:
                yield task, outcome
        self.in_flight.clear()
        if not self.pool.renew():
            message = (f"the executor broke ({type(broken).__name__}: {broken}); run the sweep again "
                       "(with a store, only the missing networks are computed)")
            while self.pending:
                yield self.pending.popleft(), {"error": message}
