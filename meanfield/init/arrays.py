"""User arrays as checked float64 numpy arrays: numpy, PyTorch tensors, JAX arrays, ``.npz`` files.

Anything with ``__array__`` (numpy, PyTorch, JAX, CuPy via ``.get()``-less protocols) or DLPack
(``__dlpack__``) is accepted without importing its library: a tensor that needs it is first detached
from the autograd graph and moved to the CPU (``.detach()``, ``.cpu()`` when it has them).  Layers are
numbered from 1 as in docs/conventions.md §1 ("layer 1" is the first weight matrix, W^1), and error
messages name an array by its type, shape and dtype only, never by its entries.
"""
from __future__ import annotations

import os
import re

import numpy as np

from ..errors import ParameterError

__all__ = ["as_array", "weight_list", "bias_list", "input_batch", "load_npz"]


def _describe(value) -> str:
    """'torch.Tensor of shape (3, 4), dtype torch.float32': type, shape and dtype only, never the entries."""
    kind = type(value)
    module = kind.__module__.split(".")[0]
    text = kind.__name__ if module == "builtins" else f"{module}.{kind.__name__}"
    shape = getattr(value, "shape", None)
    if shape is not None:
        try:
            text += f" of shape {tuple(int(n) for n in shape)}"
        except (TypeError, ValueError):
            pass
    dtype = getattr(value, "dtype", None)
    return text + (f", dtype {dtype}" if dtype is not None else "")


def _numpy(value) -> np.ndarray:
    """``value`` as a numpy array through ``__array__``, else DLPack; torch tensors detached, on the CPU."""
    if isinstance(value, np.ndarray):
        return value
    for method in ("detach", "cpu"):  # torch: leave the autograd graph and the GPU (no-op elsewhere)
        fn = getattr(value, method, None)
        if callable(fn) and type(value).__module__.split(".")[0] == "torch":
            value = fn()
    if hasattr(value, "__dlpack__") and not hasattr(value, "__array__"):
        return np.from_dlpack(value)
    try:
        return np.asarray(value)
    except Exception:  # noqa: BLE001 - a protocol that refuses (bfloat16, a device numpy cannot see)
        if hasattr(value, "__dlpack__"):
            return np.from_dlpack(value)
        raise


def as_array(name: str, value) -> tuple[np.ndarray, np.dtype]:
    """(``value`` as a float64 array, its original floating dtype).

    Integer arrays count as float64 (their "dtype" for rounding tolerances).  Raises ParameterError
    naming ``name``, the type, shape and dtype (never the entries) for strings, None, ragged lists,
    complex or boolean arrays, unsupported dtypes (e.g. bfloat16) and non-finite entries.
    """
    if value is None or isinstance(value, (str, bytes)):
        raise ParameterError(f"{name} must be an array of real numbers, got {_describe(value)}")
    try:
        arr = _numpy(value)
    except Exception as exc:  # noqa: BLE001 - report what was given, not the library's traceback
        raise ParameterError(
            f"{name}: {_describe(value)} cannot be read as a numpy array ({type(exc).__name__}); convert it to "
            "float32 or float64 first (e.g. tensor.float())"
        ) from None
    if arr.dtype == object:
        raise ParameterError(f"{name} must be a rectangular array of real numbers, got {_describe(value)}")
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ParameterError(f"{name} must be real-valued (float or integer), got {_describe(value)}")
    original = arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.dtype(float)
    out = np.asarray(arr, dtype=float)
    if not np.all(np.isfinite(out)):
        bad = int(np.size(out) - np.count_nonzero(np.isfinite(out)))
        raise ParameterError(f"{name} must be finite: {_describe(value)} has {bad} NaN or infinite entries")
    return out, original


def weight_list(weights, allow_kernels: bool = False) -> tuple[list[np.ndarray], list[np.dtype]]:
    """Weight matrices W^1, ..., W^L (fan_out, fan_in) as float64, checked to chain, and their dtypes.

    A single 2-D array counts as one layer.  ``allow_kernels``: conv kernels (C_out, C_in, k...) are
    accepted too (their shapes are not chained).
    """
    if isinstance(weights, np.ndarray) or (hasattr(weights, "shape") and not isinstance(weights, (list, tuple))):
        weights = [weights]
    if isinstance(weights, (str, bytes)) or not hasattr(weights, "__iter__"):
        raise ParameterError(f"weights must be a list of weight matrices, got {_describe(weights)}")
    out, dtypes = [], []
    for index, w in enumerate(weights, start=1):
        w, dtype = as_array(f"layer {index} weights", w)
        if not (w.ndim == 2 or (allow_kernels and w.ndim >= 3)) or w.size == 0:
            what = "a non-empty matrix (fan_out, fan_in)" + (" or a conv kernel (C_out, C_in, k...)" if allow_kernels else "")
            hint = "; for convolutions pass the torch module" if w.ndim >= 3 else ""
            raise ParameterError(f"layer {index} weights must be {what}, got shape {w.shape}{hint}")
        if w.ndim == 2 and out and out[-1].ndim == 2 and w.shape[1] != out[-1].shape[0]:
            raise ParameterError(
                f"layer {index} (weights of shape {w.shape}) does not take the {out[-1].shape[0]} outputs of "
                f"layer {index - 1} (shape {out[-1].shape})"
            )
        out.append(w)
        dtypes.append(dtype)
    if not out:
        raise ParameterError("weights must hold at least one matrix")
    return out, dtypes


def bias_list(biases, weights: list[np.ndarray]) -> list[np.ndarray | None]:
    """Bias vectors b^1, ..., b^L (None where a layer has none), checked against the weights' fan_out."""
    if biases is None:
        return [None] * len(weights)
    if isinstance(biases, np.ndarray) or isinstance(biases, (str, bytes)) or not hasattr(biases, "__len__"):
        raise ParameterError(
            f"biases must be a list with one vector (or None) per layer, got {_describe(biases)}"
        )
    if len(biases) != len(weights):
        raise ParameterError(f"{len(biases)} bias vectors were given for {len(weights)} weight layers")
    out = []
    for index, (b, w) in enumerate(zip(biases, weights), start=1):
        if b is None:
            out.append(None)
            continue
        b, _ = as_array(f"layer {index} biases", b)
        if b.ndim != 1 or b.size != w.shape[0]:
            raise ParameterError(
                f"layer {index} biases must be a vector of its {w.shape[0]} output units, got shape {b.shape}"
            )
        out.append(b)
    return out


def input_batch(value, n0: int) -> np.ndarray:
    """An input x^0 of shape (n_0,) or a batch (B, n_0), as a float64 (B, n_0) array."""
    x, _ = as_array("input", value)
    if x.ndim not in (1, 2) or x.shape[-1] != n0 or x.size == 0:
        raise ParameterError(f"input must have shape ({n0},) or (batch, {n0}) for layer 1's fan_in {n0}, got shape {x.shape}")
    if not np.any(x):
        raise ParameterError(f"input of shape {x.shape} is zero: its second moment |x|^2/n_0 must be > 0")
    return x.reshape(-1, n0)


_KEY = re.compile(r"^([Wb])([1-9][0-9]*)$")


def load_npz(path) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """Weights W1..WL and optional biases b1..bL from an ``.npz`` archive (``np.load``, no pickle).

    Every array must be named W<l> or b<l> (l = 1..L, no gaps in the W's); a missing b<l> means layer l has
    no bias.  Raises ParameterError for a missing or unreadable file, a plain ``.npy`` array, pickled
    (object) arrays, other names, and biases without their layer.
    """
    path = os.fspath(path)
    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ParameterError(f"no such file: {path!r}") from None
    except (OSError, ValueError, EOFError) as exc:
        raise ParameterError(f"{path!r} is not a readable .npz archive of numeric arrays: {exc}") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ParameterError(f"{path!r} holds a single array; expected an .npz archive with arrays W1..WL (np.savez)")
    with data:
        found: dict[str, dict[int, np.ndarray]] = {"W": {}, "b": {}}
        for key in data.files:
            match = _KEY.match(key)
            if not match:
                raise ParameterError(
                    f"{path!r}: unexpected array name {key[:40]!r}; allowed names are W1..WL (weights) and b1..bL (biases)"
                )
            try:
                found[match.group(1)][int(match.group(2))] = data[key]
            except ValueError as exc:  # object arrays need pickle
                raise ParameterError(f"{path!r}: array {key!r} cannot be loaded without pickle ({exc})") from None
    depth = len(found["W"])
    if depth == 0 or sorted(found["W"]) != list(range(1, depth + 1)):
        raise ParameterError(f"{path!r} must hold weights W1..WL without gaps, found {sorted('W%d' % k for k in found['W'])}")
    extra = sorted(set(found["b"]) - set(found["W"]))
    if extra:
        raise ParameterError(f"{path!r}: biases b{extra[0]} given for a layer without weights (W1..W{depth})")
    weights = [found["W"][l] for l in range(1, depth + 1)]
    return weights, [found["b"].get(l) for l in range(1, depth + 1)]
