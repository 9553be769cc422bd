"""Results as JSON data: every number a JSON number, undefined ones null with the reason.

JSON has no NaN or infinity.  :func:`json_ready` turns nested dicts, lists, tuples, numpy arrays and
scalars into JSON-ready Python data; a non-finite float becomes

- ``undefined="null"`` (the command lines' convention): ``null``, and the object at the top gets a key
  ``"undefined"`` mapping the field's path (``"rows[2].xi_q"``, ``"layers[layer 3].kurtosis"``; a whole
  numpy array once, by its own path) to why it has no finite value;
- ``undefined="string"`` (files written by sweeps, older reports): the strings ``"nan"``, ``"inf"``,
  ``"-inf"``, which ``float()`` reads back.
"""
from __future__ import annotations

import math

import numpy as np

from .errors import ParameterError

__all__ = ["json_ready"]


def _kind(value: float) -> str:
    return "not a number" if math.isnan(value) else ("+infinity" if value > 0 else "-infinity")


def json_ready(value, undefined: str = "null", why: dict | None = None, default: str = "undefined here"):
    """``value`` as JSON data (see the module docstring).

    Parameters
    ----------
    value : dict, list, tuple, numpy array or scalar, bool, str or None
    undefined : {"null", "string"}
        How non-finite floats are written.
    why : dict or None
        Reasons by field name (the last component of a path, without indices): ``{"xi_q": "the q-map
        slope is >= 1"}``; a reason may also be given by the field's full path.
    default : str
        The reason of a field that ``why`` does not name.

    Returns
    -------
    JSON-ready data; with ``undefined="null"`` and a dict at the top, that dict carries ``"undefined"``
    ({path: "kind: reason"}, empty when every number is finite; merged with an "undefined" it had).
    """
    if undefined not in ("null", "string"):
        raise ParameterError(f"undefined must be 'null' or 'string', got {undefined!r}")
    why = why or {}
    reasons: dict[str, str] = {}

    def reason(where: str, kind: str) -> str:
        leaf = where.rsplit(".", 1)[-1].split("[")[0]
        return f"{kind}: {why.get(where, why.get(leaf, default))}"

    def number(v: float, where: str):
        if math.isfinite(v):
            return v
        if undefined == "string":
            return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
        reasons[where] = reason(where, _kind(v))
        return None

    def walk(v, where: str):
        if isinstance(v, dict):
            return {str(k): walk(x, f"{where}.{k}" if where else str(k)) for k, x in v.items()}
        if isinstance(v, np.ndarray) and v.ndim > 0 and v.dtype.kind == "f" and undefined == "null":
            data = v.astype(float)
            bad = ~np.isfinite(data)
            if bad.any():  # one reason for the whole array
                kinds = " or ".join(sorted({_kind(float(x)) for x in data[bad]}))
                reasons[where] = reason(where, kinds) + f" ({int(bad.sum())} of {data.size} entries)"
            return np.where(bad, None, data.astype(object)).tolist()
        if isinstance(v, np.ndarray):
            v = v.tolist()
        if isinstance(v, (list, tuple)):
            return [walk(x, f"{where}[layer {x['index']}]" if isinstance(x, dict) and "index" in x else f"{where}[{i}]")
                    for i, x in enumerate(v)]
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        if isinstance(v, (int, np.integer)):
            return int(v)
        if isinstance(v, (float, np.floating)):
            return number(float(v), where)
        if v is None or isinstance(v, str):
            return v
        return str(v)

    out = walk(value, "")
    if undefined == "null" and isinstance(out, dict):  # reasons already given (a converted part) are kept
        out["undefined"] = {**(out.get("undefined") or {}), **reasons}
    return out
