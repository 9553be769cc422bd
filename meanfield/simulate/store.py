"""The results directory of a sweep: plain npz chunks and a JSON manifest, written atomically.

Layout (readable with numpy and json alone, no sigprop needed)::

    STORE/manifest.json                      what was asked: quantity, seed, n_networks, configurations
    STORE/c00003_n0000040-0000060.npz        networks 40..59 of configuration 3: one array per field,
                                             leading axis = network, plus "networks" (their indices)
    STORE/summary.json                       the last run's statistics, theory and errors (informative)

Every file is written to a temporary name in the same directory, flushed to disk and moved into
place with ``os.replace`` (atomic on POSIX and Windows), so a killed writer leaves either the whole
file or none (a leftover ``*.part`` file is ignored).  A sweep run again on the same store reads the
manifest, refuses it if it asked for something else, and computes only the networks that no chunk
file holds.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

import numpy as np

from ..errors import ParameterError
from ..jsonable import json_ready

__all__ = ["SweepStore"]

FORMAT = "sigprop-sweep"
VERSION = 1
_CHUNK = re.compile(r"^c(\d{5,})_n(\d{7,})-(\d{7,})\.npz$")
#: manifest entries that must agree for a store to be resumed
_IDENTITY = ("quantity", "seed", "n_networks", "configs")


class SweepStore:
    """A sweep's results directory (see the module docstring).

    Parameters
    ----------
    path : str or os.PathLike
        The directory; created (with its parents) when the first manifest is written.
    """

    def __init__(self, path):
        if not isinstance(path, (str, os.PathLike)) or not str(path):
            raise ParameterError(f"store must be a directory path, got {path!r}")
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise ParameterError(f"store {str(self.path)!r} exists and is not a directory")

    def __repr__(self) -> str:
        return f"SweepStore({str(self.path)!r})"

    # -- manifest ---------------------------------------------------------------------------------
    def manifest(self) -> dict | None:
        """The stored manifest, or None for a new store."""
        file = self.path / "manifest.json"
        if not file.exists():
            return None
        try:
            manifest = json.loads(file.read_text())
        except (OSError, ValueError) as exc:
            raise ParameterError(f"store {str(self.path)!r}: cannot read manifest.json ({exc})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise ParameterError(f"store {str(self.path)!r} is not a sigprop sweep store (manifest.json format)")
        return manifest

    def open(self, manifest: dict) -> None:
        """Write ``manifest`` to a new store, or check that an existing store asked for the same sweep.

        Raises
        ------
        ParameterError
            The store holds another sweep (quantity, seed, n_networks or configurations differ); the
            message names what differs.
        """
        stored = self.manifest()
        if stored is None:
            self.path.mkdir(parents=True, exist_ok=True)
            self.write_json("manifest.json", {"format": FORMAT, "version": VERSION, **manifest})
            return
        given = json.loads(json.dumps(manifest))  # the same JSON round trip as the stored one
        differ = [key for key in _IDENTITY if stored.get(key) != given.get(key)]
        if differ:
            detail = "; ".join(f"{key}: stored {_short(stored.get(key))}, asked {_short(given.get(key))}" for key in differ)
            raise ParameterError(
                f"store {str(self.path)!r} holds a different sweep ({detail}); use another directory to "
                "start a new sweep, or the same arguments to resume this one"
            )

    # -- chunks -----------------------------------------------------------------------------------
    @staticmethod
    def chunk_name(config: int, start: int, stop: int) -> str:
        return f"c{config:05d}_n{start:07d}-{stop:07d}.npz"

    def chunks(self) -> dict[int, list[tuple[int, int, Path]]]:
        """The stored chunks by configuration: (start, stop, path), sorted, non-overlapping.

        Should two files overlap (a store assembled by hand), the one starting first is kept.
        """
        found: dict[int, list[tuple[int, int, Path]]] = {}
        if not self.path.is_dir():
            return found
        for entry in self.path.iterdir():
            match = _CHUNK.match(entry.name)
            if match:
                i, start, stop = map(int, match.groups())
                if stop > start:
                    found.setdefault(i, []).append((start, stop, entry))
        for i, items in found.items():
            items.sort(key=lambda t: (t[0], -t[1]))
            kept, end = [], 0
            for start, stop, path in items:
                if start >= end:
                    kept.append((start, stop, path))
                    end = stop
            found[i] = kept
        return found

    def write_chunk(self, config: int, start: int, stop: int, arrays: dict[str, np.ndarray]) -> Path:
        """Write networks start..stop-1 of configuration ``config`` atomically; return the path."""
        target = self.path / self.chunk_name(config, start, stop)
        payload = dict(arrays, networks=np.arange(start, stop))
        with _AtomicFile(target) as handle:
            np.savez(handle, **payload)
        return target

    @staticmethod
    def read_chunk(path) -> dict[str, np.ndarray]:
        """The arrays of one chunk file (without ``networks``)."""
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files if key != "networks"}

    # -- files ------------------------------------------------------------------------------------
    def write_json(self, name: str, payload: dict) -> None:
        """Write a JSON file of the store atomically (NaN and infinities as the strings "nan", "inf")."""
        text = json.dumps(json_ready(payload, "string"), indent=1, sort_keys=True, allow_nan=False)
        with _AtomicFile(self.path / name) as handle:
            handle.write(text.encode())


class _AtomicFile:
    """Context manager: a temporary file next to ``target``, fsynced and renamed onto it on success,
    removed on failure."""

    def __init__(self, target: Path):
        self.target = target

    def __enter__(self):
        fd, self.tmp = tempfile.mkstemp(prefix=f".{self.target.name}.", suffix=".part", dir=self.target.parent)
        self.handle = os.fdopen(fd, "wb")
        return self.handle

    def __exit__(self, kind, value, tb):
        try:
            if kind is None:
                self.handle.flush()
                os.fsync(self.handle.fileno())
            self.handle.close()
            if kind is None:
                os.replace(self.tmp, self.target)
        finally:
            if os.path.exists(self.tmp):
                os.unlink(self.tmp)
        return False


def _short(value) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."
