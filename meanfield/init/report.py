"""The text and JSON forms of :class:`meanfield.init.InitAssessment`.

Text: the verdict line, a theory-vs-measured table, the criticality band, the per-layer table (layers
numbered from 1) and the notes.  JSON: every number a JSON number; non-finite ones either as the
strings "inf", "-inf", "nan" (``undefined="string"``, the convention of ``meanfield ... --json``) or as
null with the reason under the key "undefined" (``undefined="null"``, ``meanfield check --json``).
"""
from __future__ import annotations

import math

import numpy as np

from ..jsonable import json_ready
from ..spectra.isometry import _g as _g_isometry

__all__ = ["format_assessment", "jsonable"]

#: Why a field can be undefined (null in JSON), by field name.
_REASONS = {
    "q_star": "q has no finite fixed point (it grows without bound with depth), or no theory applies",
    "chi1": "chi_1 is taken at q*, which does not exist here (or no theory / no layer with an activation)",
    "critical_sigma_w2": "there is no edge of chaos (chi_1 = 1 at a fixed point) at this sigma_b2",
    "sigma_w2": "no theory applies to this network: no effective sigma_w2",
    "chi1_se": "no theory applies to this network",
    "critical_band": "no theory applies to this network",
    "orthogonality_error": "the layer's weights are all zero",
    "kurtosis": "the layer's weights are all zero",
    "gram_deviation": "the layer's weights are all zero",
    "q_last": "a torch module's pre-activations are not recorded",
    "normalised_var": "the Jacobian is zero",
    "edge_ratio": "the Jacobian is zero",
    "value": "the criterion's number is undefined here (e.g. a zero Jacobian)",
}


def _g(x, digits=5) -> str:
    """isometry's number format (n/a, inf), with 5 significant digits by default."""
    return _g_isometry(x, digits)


def _pm(value, se, digits=6) -> str:
    return _g(value, digits) + (f" +- {_g(se, 2)}" if se and math.isfinite(se) and se > 0 else "")


def jsonable(value, undefined: str = "string"):
    """``value`` (dicts, lists, tuples, numpy arrays and scalars) as JSON-ready data, the reasons of
    undefined fields from the table above (:func:`meanfield.jsonable.json_ready`)."""
    return json_ready(value, undefined, why=_REASONS, default="not defined for this network (see the notes)")


def _layer_table(layers) -> list[str]:
    header = ["layer", "name", "shape", "dtype", "sigma_w2 (SE)", "sigma_b2 (SE)", "ensemble", "orth.defect", "density"]
    rows = [[
        str(s.index), s.name[:18], "x".join(map(str, s.shape)), s.dtype, _pm(s.sigma_w2, s.sigma_w2_se, 5),
        _pm(s.sigma_b2, s.sigma_b2_se, 4) if s.n_biases else "no biases", s.ensemble, _g(s.orthogonality_error, 2),
        _g(s.density, 3),
    ] for s in layers]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in [header, *rows]]


def format_assessment(r) -> str:
    """The text report of an InitAssessment ``r``."""
    params = "".join(f", {k}={v}" for k, v in r.params.items())
    iso = "n/a" if r.isometric is None else ("ISOMETRIC" if r.isometric else "NOT ISOMETRIC")
    widths = f"{r.widths[0]}->{r.widths[-1]}" if r.widths else "n/a"
    lines = [
        f"{r.recipe}{params} with {r.activation}: {r.phase.upper()}"
        f"{'' if r.theory_exact or r.phase == 'unknown' else ' (mean field of the effective sigma_w2)'}, {iso} "
        f"(depth {r.depth}, widths {widths}, sigma_b2 = {_pm(r.sigma_b2, r.sigma_b2_se, 5)}"
        f"{'' if r.q0 is None else ', q0 = ' + _g(r.q0, 5)})",
        f"  {'quantity':<26}{'theory':>22}{'measured':>16}",
    ]
    m = r.measured

    def row(label, theory, measured):
        lines.append(f"  {label:<26}{theory:>22}{measured:>16}")

    hidden = (m.sigma_w2[1:] or m.sigma_w2) if m else ()
    row("sigma_w2 (fan_in Var W)", _pm(r.sigma_w2, r.sigma_w2_se, 8), _g(np.mean(hidden), 8) if m and hidden else "-")
    row("q* (last-layer q)", _g(r.q_star, 6), _g(m.q_last, 6) if m else "-")
    row("chi_1", _pm(r.chi1, r.chi1_se, 8), _g(m.chi1, 8) if m else "-")
    if r.isometry is not None or m is not None:
        it = r.isometry
        row("E[lambda]", _g(it.mean, 6) if it else "-", _g(m.mean, 6) if m else "-")
        row("Var[lambda]/E[lambda]^2", _g(it.normalised_var, 6) if it else "-", _g(m.normalised_var, 6) if m else "-")
        row("lambda_max/E[lambda]", _g(it.edge_ratio, 6) if it else "-", _g(m.edge_ratio, 6) if m else "-")
        row("rank loss (atom at 0)", _g(it.zero_atom, 4) if it else "-", _g(m.zero_fraction, 4) if m else "-")
        row("isometric", str(it.isometric) if it else "-", str(m.isometric) if m else "-")
    if r.phase != "unknown":
        lines.append(
            f"  critical iff |chi_1 - 1| <= {_g(r.critical_band, 3)}"
            + (f" ({_g(r.band_se, 3)} SE of chi_1)" if r.chi1_se and r.chi1_se > 0 else " (exact sigma_w2, sigma_b2)")
        )
    if m is not None:
        if m.layers:
            lines.append("  per layer (layer 1 = the first weight matrix):")
            lines.extend(_layer_table(m.layers))
        lines.append(
            f"  measured ({m.jacobian}, {m.n_inputs} input(s), |x|^2/n_0 = {_g(m.q0, 5)}): singular values in "
            f"[{_g(m.min_singular_value, 8)}, {_g(m.max_singular_value, 8)}] ({m.n_singular_values}); "
            f"{_g(100 * m.band_fraction, 4)} % within 1 +- tolerance; orthogonality defect "
            f"{_g(m.orthogonality_error, 3)}; density {_g(m.density, 4)}"
        )
        lines.append(
            "  measured rank loss: n_L - n_0 structural zeros and singular values <= n eps s_max (a deep ordered "
            "net loses its smallest ones to rounding)"
        )
    lines.append(
        f"  theory ensemble: {r.ensemble} ({'exact for these matrices' if r.theory_exact else 'measured values are the ground truth'});"
        f" edge of chaos at sigma_w2 = {_g(r.critical_sigma_w2, 8)}"
    )
    lines.extend(f"  note: {n}" for n in r.notes)
    return "\n".join(lines)
