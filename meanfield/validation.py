"""Checks of user-supplied numbers: every bad value raises a ParameterError that names it.

Error messages show the value given (:func:`shown`: a long or unprintable value is summarized, so that
an integer of 5000 digits or a large array never floods the message or trips Python's 4300-digit limit).
Counts (widths, depths, numbers of networks) have stated upper bounds, and :func:`memory` refuses an
allocation larger than half this machine's memory before anything is allocated.
"""
from __future__ import annotations

import numbers
import os
from typing import Union

import numpy as np

from .errors import ParameterError

__all__ = [
    "real_array", "nonnegative", "positive", "correlation", "depth", "positive_int", "widths", "RNGLike", "generator",
    "dropout", "shown", "memory", "MAX_DEPTH", "MAX_COUNT",
]

#: What the ``rng``/``seed`` arguments accept (an int or None seeds ``np.random.default_rng``).
RNGLike = Union[np.random.Generator, np.random.SeedSequence, int, None]

#: Largest depth (number of weight layers) accepted anywhere.
MAX_DEPTH = 1_000_000
#: Largest width, number of networks or other count accepted anywhere (memory is checked separately).
MAX_COUNT = 1_000_000_000


def shown(value, limit: int = 120) -> str:
    """``repr(value)`` for messages, summarized when it is long or cannot be printed."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and abs(int(value)).bit_length() > 200:
        return f"an integer of about 10^{int(abs(int(value)).bit_length() * 0.30103)}"
    if isinstance(value, np.ndarray) and value.size > 8:
        return f"an array of shape {value.shape} (dtype {value.dtype})"
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a value whose repr fails is still named by its type
        return f"a {type(value).__name__}"
    return text if len(text) <= limit else f"{text[: limit - 20]}... ({type(value).__name__})"


def real_array(name: str, value, scalar: bool = False, allow_inf: bool = False):
    """``value`` as a float array (a float with ``scalar``), refusing strings, complex numbers, None,
    NaN, infinity (unless ``allow_inf``: the points of a law's cdf) and (with ``scalar``) arrays."""
    if value is None or isinstance(value, (str, bytes)):
        raise ParameterError(f"{name} must be a real number or an array of real numbers, got {shown(value)}")
    try:
        arr = np.asarray(value)
    except Exception:  # noqa: BLE001 - ragged or exotic input
        raise ParameterError(f"{name} must be a real number or an array of them, got {shown(value)}") from None
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ParameterError(f"{name} must be real-valued, got {shown(value)} (dtype {arr.dtype})")
    arr = arr.astype(float)
    if np.isnan(arr).any() or (not allow_inf and not np.all(np.isfinite(arr))):
        raise ParameterError(f"{name} must be {'a real number, not NaN' if allow_inf else 'finite'}, got {shown(value)}")
    if scalar:
        if arr.ndim != 0:
            raise ParameterError(f"{name} must be a single number here, got an array of shape {arr.shape}")
        return float(arr)
    return arr


def nonnegative(name: str, value, scalar: bool = False):
    """A finite array (a float with ``scalar``) with every entry >= 0 (variances)."""
    arr = real_array(name, value, scalar)
    if np.any(np.asarray(arr) < 0):
        raise ParameterError(f"{name} is a variance and must be >= 0, got {shown(value)}")
    return arr


def positive(name: str, value, scalar: bool = False):
    """A finite array (a float with ``scalar``) with every entry > 0."""
    arr = real_array(name, value, scalar)
    if np.any(np.asarray(arr) <= 0):
        raise ParameterError(f"{name} must be > 0, got {shown(value)}")
    return arr


def correlation(name: str, value) -> np.ndarray:
    """A finite array with entries in [-1, 1]."""
    arr = real_array(name, value)
    if np.any(np.abs(arr) > 1):
        raise ParameterError(f"{name} is a correlation and must lie in [-1, 1], got {shown(value)}")
    return arr


def positive_int(name: str, value, minimum: int = 1, maximum: int = MAX_COUNT) -> int:
    """An integer in [minimum, maximum] (bools and non-integral floats are refused)."""
    allowed = f"an integer between {minimum} and {maximum:,}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ParameterError(f"{name} must be {allowed}, got {shown(value)}")
    if not minimum <= value <= maximum:
        raise ParameterError(f"{name} must be {allowed}, got {shown(value)}")
    return int(value)


def dropout(value) -> float:
    """A dropout (drop) probability p in [0, 1): one number (p = 1 would drop every unit)."""
    p = real_array("dropout", value, scalar=True)
    if not 0 <= p < 1:
        raise ParameterError(f"dropout is the probability of dropping a unit and must lie in [0, 1), got {shown(value)}")
    return p


def depth(value) -> int:
    """A network depth: the number of weight layers, an integer in [1, MAX_DEPTH]."""
    return positive_int("depth", value, 1, MAX_DEPTH)


def _physical_memory() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # not available on this platform
        return 16 * 2**30


def memory(what: str, n_bytes: float) -> None:
    """Refuse an allocation of more than half this machine's memory, before it is attempted."""
    limit = _physical_memory() // 2
    if n_bytes > limit:
        raise ParameterError(
            f"{what} needs {n_bytes / 2**30:.3g} GiB of memory; at most {limit / 2**30:.3g} GiB (half of this "
            "machine's memory) is allowed: use smaller widths, fewer layers or fewer networks at a time"
        )


def widths(value) -> list[int]:
    """Layer widths [n_0, n_1, ..., n_L]: at least two integers >= 1."""
    if isinstance(value, (str, bytes)):
        raise ParameterError(f"widths must be a sequence of integers [n_0, ..., n_L], got {shown(value)}")
    try:
        out = [positive_int("width", n) for n in value]
    except TypeError:
        raise ParameterError(f"widths must be a sequence of integers, got {shown(value)}") from None
    if len(out) < 2:
        raise ParameterError(f"widths must list n_0 and at least one layer width, got {shown(value)}")
    if len(out) - 1 > MAX_DEPTH:
        raise ParameterError(f"widths list {len(out) - 1} layers; at most {MAX_DEPTH:,} are allowed")
    return out


def generator(rng: RNGLike) -> np.random.Generator:
    """``rng`` as a Generator: a Generator is used as is, a seed (int, SeedSequence, None) seeds a new one."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (np.random.RandomState, float, str, bytes)) or isinstance(rng, bool):
        raise ParameterError(
            f"rng/seed must be a numpy Generator, an integer seed, a SeedSequence or None, got {shown(rng)}"
        )
    try:
        return np.random.default_rng(rng)
    except (TypeError, ValueError):
        raise ParameterError(
            f"rng/seed must be a numpy Generator, an integer seed, a SeedSequence or None, got {shown(rng)}"
        ) from None
