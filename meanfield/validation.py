"""Checks of user-supplied numbers: every bad value raises a ParameterError that names it."""
from __future__ import annotations

import math
import numbers
from typing import Union

import numpy as np

from .errors import ParameterError

__all__ = [
    "shown", "real_array", "nonnegative", "positive", "correlation", "depth", "positive_int", "widths", "RNGLike", "generator",
]

#: What the ``rng``/``seed`` arguments accept (an int or None seeds ``np.random.default_rng``).
RNGLike = Union[np.random.Generator, np.random.SeedSequence, int, None]


def shown(value, limit: int = 120) -> str:
    """repr(value) for an error message, kept short: an integer beyond 64 bits by its number of digits
    (Python refuses to print integers of more than 4300 digits), other long texts cut at ``limit``."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and int(value).bit_length() > 64:
        return f"an integer of {math.floor(int(value).bit_length() * math.log10(2)) + 1} digits"
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a repr that fails still gets named
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def real_array(name: str, value, allow_inf: bool = False) -> np.ndarray:
    """``value`` as a float array, refusing strings, complex numbers, None, NaN and (unless
    ``allow_inf``) infinity."""
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
    return arr


def nonnegative(name: str, value) -> np.ndarray:
    """A finite array with every entry >= 0 (variances)."""
    arr = real_array(name, value)
    if np.any(arr < 0):
        raise ParameterError(f"{name} is a variance and must be >= 0, got {shown(value)}")
    return arr


def positive(name: str, value) -> np.ndarray:
    """A finite array with every entry > 0."""
    arr = real_array(name, value)
    if np.any(arr <= 0):
        raise ParameterError(f"{name} must be > 0, got {shown(value)}")
    return arr


def correlation(name: str, value) -> np.ndarray:
    """A finite array with entries in [-1, 1]."""
    arr = real_array(name, value)
    if np.any(np.abs(arr) > 1):
        raise ParameterError(f"{name} is a correlation and must lie in [-1, 1], got {shown(value)}")
    return arr


def positive_int(name: str, value, minimum: int = 1, maximum: int | None = None) -> int:
    """An integer >= ``minimum`` (and <= ``maximum`` if given); bools and non-integral floats are refused."""
    allowed = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ParameterError(f"{name} must be an integer {allowed}, got {shown(value)}")
    if value < minimum or (maximum is not None and value > maximum):
        raise ParameterError(f"{name} must be an integer {allowed}, got {shown(value)}")
    return int(value)


def depth(value) -> int:
    """A network depth: the number of weight layers, an integer >= 1."""
    return positive_int("depth", value, 1)


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
    return out


def generator(rng: RNGLike) -> np.random.Generator:
    """``rng`` as a Generator: a Generator is used as is, a seed (int, SeedSequence, None) seeds a new one."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (np.random.RandomState, float, str, bytes)) or isinstance(rng, bool):
        raise ParameterError(
            f"rng/seed must be a numpy Generator, an integer seed, a SeedSequence or None, got {rng!r}"
        )
    try:
        return np.random.default_rng(rng)
    except (TypeError, ValueError):
        raise ParameterError(
            f"rng/seed must be a numpy Generator, an integer seed, a SeedSequence or None, got {rng!r}"
        ) from None
