"""Progress bars for long computations: a plain ``progress=`` argument backed by tqdm."""
from __future__ import annotations

from typing import Iterable

import numpy as np

from .errors import ParameterError

__all__ = ["progress_bar"]


def progress_bar(iterable: Iterable, total: int, enabled: bool, desc: str) -> Iterable:
    """``iterable`` wrapped in a tqdm bar (on standard error) when ``enabled``, else unchanged.

    Raises
    ------
    ParameterError
        If ``enabled`` is not a bool.
    """
    if not isinstance(enabled, (bool, np.bool_)):
        raise ParameterError(f"progress must be True or False, got {enabled!r}")
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, leave=False)
