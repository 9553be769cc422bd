"""What a sweep returns: per-configuration samples, a tidy table, statistics with theory, throughput.

:class:`SweepResult` keeps each finished chunk (in memory, or as its file in the store, read back on
demand), the per-network rows computed when the chunk arrived, and the errors of the
configurations that failed.  Tables are :class:`Table` objects: a dict of equal-length numpy
columns (``pandas.DataFrame(table)`` makes a data frame of one; pandas is not needed).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import ParameterError, SigpropError
from .quantities import SweepQuantity
from ..jsonable import json_ready
from .store import SweepStore

__all__ = ["SweepResult", "Throughput", "Table"]

#: why a sweep's number can be undefined, by field
_UNDEFINED = {
    "efficiency": "no wall time was measured",
    "networks_per_second": "no wall time was measured",
    "gflop_per_second": "no wall time was measured",
}
_UNDEFINED_DEFAULT = "no value: a standard error of fewer than two networks, no theory, or a failed configuration"

#: configuration columns of the tables
CONFIG_COLUMNS = ("activation", "sigma_w2", "sigma_b2", "depth", "width", "weights")


class Table(dict):
    """Columns by name (equal-length numpy arrays), readable by key or attribute; ``str`` prints it."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def n_rows(self) -> int:
        return len(next(iter(self.values()))) if self else 0

    def __str__(self) -> str:
        cells = [[_cell(v) for v in col] for col in self.values()]
        widths = [max([len(k)] + [len(c) for c in col]) for k, col in zip(self, cells)]
        lines = ["  ".join(k.ljust(w) for k, w in zip(self, widths)).rstrip()]
        lines += ["  ".join(col[r].ljust(w) for col, w in zip(cells, widths)).rstrip() for r in range(self.n_rows)]
        return "\n".join(lines)


def _cell(value) -> str:
    if isinstance(value, (float, np.floating)):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    return str(value)


@dataclass(frozen=True)
class Throughput:
    """What a sweep call computed and how fast.

    ``gflop`` counts the flops each quantity states per network (the Jacobian: the 2 (L-1) N^3 of the
    chain of N x N products); ``wall_seconds`` runs from opening the executor to the last result,
    so start-up and scheduling overhead are included; ``task_seconds`` sums the compute time
    measured inside the tasks.  ``memory_per_task`` is the largest stated peak of one task (bytes).
    """

    networks: int
    reused: int
    tasks: int
    retries: int
    workers: int
    wall_seconds: float
    task_seconds: float
    gflop: float
    memory_per_task: int

    @property
    def networks_per_second(self) -> float:
        return self.networks / self.wall_seconds if self.wall_seconds > 0 else float("nan")

    @property
    def gflop_per_second(self) -> float:
        return self.gflop / self.wall_seconds if self.wall_seconds > 0 else float("nan")

    @property
    def efficiency(self) -> float:
        """task_seconds / (wall_seconds x workers): the busy fraction of the workers."""
        busy = self.wall_seconds * self.workers
        return self.task_seconds / busy if busy > 0 else float("nan")

    def to_dict(self) -> dict:
        return dict(asdict(self), networks_per_second=self.networks_per_second,
                    gflop_per_second=self.gflop_per_second, efficiency=self.efficiency)

    def __str__(self) -> str:
        return (
            f"{self.networks} networks sampled in {self.tasks} tasks on {self.workers} workers "
            f"({self.reused} read from the store, {self.retries} retries): {self.wall_seconds:.3g} s, "
            f"{self.networks_per_second:.3g} networks/s, {self.gflop_per_second:.3g} GFLOP/s of products, "
            f"workers busy {100 * self.efficiency:.0f}%, at most {self.memory_per_task / 2**20:.3g} MiB per task"
        )


class SweepResult:
    """The result of :func:`meanfield.simulate.sweep`.

    Attributes
    ----------
    quantity : SweepQuantity
    configs : list of dict or None
        The checked configurations (None where the configuration itself was refused).
    given : list
        The configurations as passed.
    n_networks : int
    seed : numpy.random.SeedSequence
        The root of the streams: network k of configuration i draws from
        ``SeedSequence(seed.entropy, spawn_key=seed.spawn_key + (i, k))``.
    errors : dict of int to str
        The configurations that failed and why (bad parameters, a task failing every retry).
    store : pathlib.Path or None
    throughput : Throughput
    """

    def __init__(self, quantity: SweepQuantity, configs, given, n_networks: int, seed, store: SweepStore | None):
        self.quantity = quantity
        self.configs = configs
        self.given = given
        self.n_networks = n_networks
        self.seed = seed
        self.store = None if store is None else store.path
        self.errors: dict[int, str] = {}
        self.throughput: Throughput | None = None
        self._chunks: dict[int, dict[int, tuple[int, object]]] = {}
        self._rows: dict[int, dict[int, dict[str, np.ndarray]]] = {}
        self._theory: dict[int, dict[str, float]] = {}

    def __repr__(self) -> str:
        done = sum(self.complete(i) for i in range(len(self.configs)))
        return (f"<SweepResult {self.quantity.name!r}: {done}/{len(self.configs)} configurations x "
                f"{self.n_networks} networks, {len(self.errors)} failed>")

    # -- filled by the sweep ----------------------------------------------------------------------
    def _add(self, i: int, start: int, stop: int, arrays: dict, path: Path | None = None) -> None:
        """Record networks start..stop-1 of configuration i (kept in memory unless stored at ``path``)."""
        self._rows.setdefault(i, {})[start] = self.quantity.rows(self.configs[i], arrays)
        self._chunks.setdefault(i, {})[start] = (stop, arrays if path is None else path)

    def _fail(self, i: int, message: str) -> None:
        self.errors.setdefault(i, message)

    # -- per configuration ------------------------------------------------------------------------
    def _index(self, i) -> int:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < len(self.configs):
            raise ParameterError(f"configuration index must be an integer in [0, {len(self.configs)}), got {i!r}")
        return int(i)

    def complete(self, i: int) -> bool:
        """True when every network of configuration i is there and it did not fail."""
        i = self._index(i)
        if i in self.errors:
            return False
        chunks = self._chunks.get(i, {})
        end = 0
        for start in sorted(chunks):
            if start != end:
                return False
            end = chunks[start][0]
        return end == self.n_networks

    def _check(self, i) -> int:
        i = self._index(i)
        if i in self.errors:
            raise ParameterError(f"configuration {i} failed: {self.errors[i]}")
        if not self.complete(i):
            raise ParameterError(f"configuration {i} is incomplete: run the sweep again with the same store")
        return i

    def arrays(self, i: int) -> dict[str, np.ndarray]:
        """The per-network arrays of configuration i, networks 0..n_networks-1 in order."""
        i = self._check(i)
        parts = []
        for start in sorted(self._chunks[i]):
            source = self._chunks[i][start][1]
            parts.append(SweepStore.read_chunk(source) if isinstance(source, Path) else source)
        return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}

    def samples(self, i: int):
        """Configuration i as the single-process sampler returns it (e.g. :class:`JacobianSamples`), all
        its networks in network order; ``seed`` is SeedSequence(entropy, spawn_key=(..., i)), the parent
        of its networks' streams."""
        i = self._check(i)
        seed = np.random.SeedSequence(self.seed.entropy, spawn_key=self.seed.spawn_key + (i,), pool_size=self.seed.pool_size)
        return self.quantity.samples(self.configs[i], self.arrays(i), seed)

    def theory(self, i: int) -> dict[str, float]:
        """The infinite-width values of the row means of configuration i ({} where unavailable)."""
        i = self._index(i)
        if i not in self._theory:
            try:
                failed = self.configs[i] is None or i in self.errors
                self._theory[i] = {} if failed else dict(self.quantity.theory(self.configs[i]))
            except SigpropError:
                self._theory[i] = {}
        return self._theory[i]

    # -- tables -----------------------------------------------------------------------------------
    def _config_columns(self, indices) -> dict[str, np.ndarray]:
        out = {}
        for key in CONFIG_COLUMNS:
            values = [_given(self.configs[i], self.given[i], key) for i in indices]
            if key in ("activation", "weights"):
                out[key] = np.array([str(v) if v is not None else "" for v in values], dtype=str)
            elif key in ("depth", "width"):
                out[key] = np.array([-1 if v is None else v for v in values], dtype=int)
            else:
                out[key] = np.array([np.nan if v is None else v for v in values], dtype=float)
        return out

    def rows(self) -> Table:
        """One row per network and complete configuration: ``config``, ``network``, the configuration's
        columns and the quantity's per-network values (e.g. ``mean_lambda`` = tr(J J^T)/N)."""
        done = [i for i in range(len(self.configs)) if self.complete(i)]
        n = self.n_networks
        table = Table(config=np.repeat(np.array(done, dtype=int), n), network=np.tile(np.arange(n), len(done)))
        table.update({k: np.repeat(v, n) for k, v in self._config_columns(done).items()})
        keys = _union(self._rows[i][start] for i in done for start in self._rows[i])
        for key in keys:
            table[key] = np.concatenate(
                [np.concatenate([self._rows[i][s].get(key, np.full(self._chunks[i][s][0] - s, np.nan))
                                 for s in sorted(self._rows[i])]) for i in done]
            ) if done else np.empty(0)
        return table

    def statistics(self) -> Table:
        """One row per configuration: ``status`` ("ok" or the error), the number of networks, and for
        each per-network value its mean over networks, the standard error std(ddof=1)/sqrt(n) of that
        mean (``_se``) and the infinite-width theory (``_theory``); NaN where there is none."""
        m = len(self.configs)
        table = Table(config=np.arange(m))
        table.update(self._config_columns(range(m)))
        table["status"] = np.array([
            "ok" if self.complete(i) else self.errors.get(i, "incomplete") for i in range(m)
        ], dtype=object)
        table["networks"] = np.array([self.n_networks if self.complete(i) else 0 for i in range(m)])
        keys = _union(list(self._rows[i][s] for i in self._rows for s in self._rows[i]) + [self.theory(i) for i in range(m)])
        for key in keys:
            mean, se, theory = np.full(m, np.nan), np.full(m, np.nan), np.full(m, np.nan)
            for i in range(m):
                theory[i] = self.theory(i).get(key, np.nan)
                if self.complete(i):
                    values = np.concatenate([self._rows[i][s].get(key, np.full(self._chunks[i][s][0] - s, np.nan))
                                             for s in sorted(self._rows[i])])
                    mean[i] = values.mean()
                    if values.size > 1:
                        se[i] = values.std(ddof=1) / np.sqrt(values.size)
            table[key], table[key + "_se"], table[key + "_theory"] = mean, se, theory
        return table

    def to_dict(self, undefined: str = "string") -> dict:
        """A JSON-able summary: the run, the statistics table as a list of rows, errors, throughput.

        ``undefined``: non-finite numbers (a standard error of one network, a configuration that failed)
        as the strings "nan", "inf" ("string") or as null with the reasons under "undefined" ("null");
        see :func:`meanfield.jsonable.json_ready`."""
        stats = self.statistics()
        return json_ready({
            "quantity": self.quantity.name,
            "seed": {"entropy": self.seed.entropy, "spawn_key": list(self.seed.spawn_key)},
            "n_networks": self.n_networks,
            "store": None if self.store is None else str(self.store),
            "configs": [c if c is not None else repr(g) for c, g in zip(self.configs, self.given)],
            "statistics": [{k: stats[k][r] for k in stats} for r in range(stats.n_rows)],
            "errors": {str(i): msg for i, msg in sorted(self.errors.items())},
            "throughput": None if self.throughput is None else self.throughput.to_dict(),
        }, undefined, why=_UNDEFINED, default=_UNDEFINED_DEFAULT)

    def __str__(self) -> str:
        stats = self.statistics()
        with_theory = [k[: -len("_theory")] for k in stats if k.endswith("_theory") and np.isfinite(stats[k]).any()]
        shown = Table((k, stats[k]) for k in ("config", *CONFIG_COLUMNS, "networks"))
        for key in with_theory:
            shown[key] = np.array([f"{m:.6g} +- {s:.2g}" if not math.isnan(m) else "-" for m, s in
                                   zip(stats[key], stats[key + "_se"])], dtype=object)
            shown[key + " (theory)"] = stats[key + "_theory"]
        lines = [f"sweep of {self.quantity.name!r}, seed {self.seed.entropy}, {self.n_networks} networks per configuration",
                 str(shown)]
        lines += [f"configuration {i} failed: {msg}" for i, msg in sorted(self.errors.items())]
        if self.throughput is not None:
            lines.append(str(self.throughput))
        return "\n".join(lines)


def _given(config, given, key):
    """A configuration's value for a table: the checked one, else the given one if it is a plain value."""
    if config is not None:
        params = config.get("activation_params") if key == "activation" else None
        if params:
            return f"{config[key]}(" + ", ".join(f"{k}={v:g}" for k, v in params.items()) + ")"
        return config.get(key)
    value = given.get(key) if isinstance(given, dict) else None
    if key in ("activation", "weights"):
        return value if isinstance(value, str) else None
    number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    return value if number and (key not in ("depth", "width") or float(value).is_integer()) else None


def _union(dicts) -> list[str]:
    keys: list[str] = []
    for d in dicts:
        keys += [k for k in d if k not in keys]
    return keys
