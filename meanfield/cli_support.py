"""What the command lines share: argument types, number formats, tables, JSON, figures, the runner.

Used by :mod:`meanfield.cli` and :mod:`exact.cli` (the two commands); nothing in the packages imports
it.  Bad arguments and every :class:`meanfield.errors.SigpropError` give exit status 2 and one line
``PROG: error: ...`` on stderr.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import sys

import numpy as np

from .activations import BUILTIN_NAMES
from .errors import DivergentExpectationError, DivergentFixedPointError, ParameterError, SigpropError
from .jsonable import json_ready

#: seed of the Monte Carlo when --seed is not given (printed with the results)
DEFAULT_SEED = 0
_JSON_NOTE = (
    "JSON output (on stdout): every number is a JSON number; a value that is undefined or infinite (no "
    "critical point, an infinite depth scale, q without a finite fixed point) is null, and the key "
    '"undefined" maps its field to the reason.'
)
_ACT_HELP = (
    "activation: a built-in name (" + ", ".join(BUILTIN_NAMES) + ") or a formula in x such as "
    "'x*erf(x)' or 'log(1+exp(x))' (quote it; a formula starting with '-' needs ' -x' or '--' first)"
)


class _UsageError(Exception):
    """Raised instead of argparse's print-usage-and-exit, so main() can print one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # noqa: D401 - argparse hook
        raise _UsageError(f"{message} (see '{self.prog} --help')")


# ----------------------------------------------------------------------------------------------
# argument types
# ----------------------------------------------------------------------------------------------
def _quoted(text: str) -> str:
    """An argument as echoed in an error message (long ones shortened)."""
    return repr(text) if len(text) <= 60 else repr(f"{text[:40]}...{text[-10:]}") + f" ({len(text)} characters)"


def _real(text: str) -> float:
    """A finite real number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a real number, got {_quoted(text)}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {_quoted(text)}")
    return value


def _param(text: str) -> tuple[str, float]:
    """NAME=VALUE with a finite real VALUE."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (e.g. slope=0.2), got {text!r}")
    try:
        return name, _real(value.strip())
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"parameter {name}: {exc}") from None


def _variance(name: str, value: float) -> float:
    if value < 0:
        raise ParameterError(f"{name} is a variance and must be >= 0, got {value!r}")
    return value


_MAX_GRID = 2000  # points per axis of a phase diagram (a 2000 x 2000 grid takes about a minute)


def _grid(name: str, spec) -> np.ndarray:
    """LO HI N -> N evenly spaced variances from LO to HI."""
    lo_text, hi_text, n_text = spec
    try:
        lo, hi = _real(lo_text), _real(hi_text)
    except argparse.ArgumentTypeError as exc:
        raise ParameterError(f"{name}: {exc}") from None
    try:
        n = int(n_text) if len(n_text) <= 12 else -1
    except ValueError:
        n = -1
    if not 2 <= n <= _MAX_GRID:
        raise ParameterError(f"{name}: N must be an integer between 2 and {_MAX_GRID}, got {_quoted(n_text)}")
    _variance(f"{name} LO", lo)
    if not hi > lo:
        raise ParameterError(f"{name}: HI must be larger than LO, got LO={lo!r}, HI={hi!r}")
    return np.linspace(lo, hi, n)


# ----------------------------------------------------------------------------------------------
# formatting helpers
# ----------------------------------------------------------------------------------------------
def _fmt(value, digits: int = 12) -> str:
    """A number with ``digits`` significant digits; inf as "inf", NaN as "none"."""
    value = float(value)
    if math.isnan(value):
        return "none"
    return f"{value:.{digits}g}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [header, *rows]]
    return "\n".join(lines)


def _emit_json(payload: dict, why: dict | None = None) -> None:
    """Print ``payload`` as JSON: numbers as numbers, non-finite ones null with the reason (``why``: reasons
    by field name) under "undefined"."""
    print(json.dumps(json_ready(payload, "null", why), indent=2, allow_nan=False))


def _emit_csv(header: list[str], rows) -> None:
    """Print a table as CSV: floats at full precision (repr), non-finite ones as empty cells."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([
            (repr(float(v)) if math.isfinite(v) else "") if isinstance(v, (float, np.floating)) else v for v in row
        ])
    sys.stdout.write(buffer.getvalue())


def _resolve_alias(args, old: str, new: str) -> str:
    """A deprecated spelling (``--old``, dest ``old``) of an option (``--new``, dest ``new``): its value moves
    to ``new`` and a deprecation message waits in ``args.deprecated`` (printed on stderr after the command
    succeeded); both at once is a usage error.  Returns the flag as the user spelled it, for messages."""
    old_flag, new_flag = "--" + old.replace("_", "-"), "--" + new.replace("_", "-")
    value = getattr(args, old)
    if value is None or value is False:
        return new_flag
    if getattr(args, new) is not None:
        raise _UsageError(f"give {new_flag} only ({old_flag} is its deprecated spelling), not both")
    setattr(args, new, value)
    _deprecate(args, old_flag, new_flag)
    return old_flag


def _deprecate(args, old_flag: str, new_flag: str) -> None:
    """Queue the message that ``old_flag`` is deprecated in favour of ``new_flag``."""
    args.deprecated = [*getattr(args, "deprecated", []),
                       f"{old_flag} is deprecated and will be removed in the next release; use {new_flag}"]


_MAX_DPI = 2400  # a 6.4 x 4.8 inch figure stays below matplotlib's 2^16 pixels per side


def _new_figure(out: str, dpi: float | None = None):
    """A matplotlib Figure on the Agg canvas (no pyplot, no global backend state), after checking that
    ``out`` has an image extension matplotlib can write, is not a folder, and that its folder exists and
    is writable, and (if given) that ``dpi`` is in (0, 2400]."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # lazy: only the drawing commands
    from matplotlib.figure import Figure

    if dpi is not None and not 0 < dpi <= _MAX_DPI:
        raise _UsageError(f"argument --dpi: must lie in (0, {_MAX_DPI}], got {dpi!r}")
    fig = Figure(figsize=(6.4, 4.8))
    canvas = FigureCanvasAgg(fig)
    if os.path.isdir(out):
        raise _UsageError(f"argument --out: {out!r} is a folder; give a file name such as {os.path.join(out, 'figure.png')!r}")
    ext = os.path.splitext(out)[1].lstrip(".").lower()
    supported = canvas.get_supported_filetypes()
    if ext not in supported:
        raise _UsageError(
            f"argument --out: cannot tell the image format of {out!r}; use one of the extensions "
            + ", ".join("." + e for e in sorted(supported))
        )
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise _UsageError(f"argument --out: folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK) or (os.path.exists(out) and not os.access(out, os.W_OK)):
        raise _UsageError(f"argument --out: {out!r} cannot be written (no permission)")
    return fig


def _save_figure(fig, out: str, dpi: float) -> None:
    """fig.savefig with the file system's refusals as one-line usage errors."""
    try:
        fig.savefig(out, dpi=dpi)
    except OSError as exc:
        raise _UsageError(f"argument --out: cannot write {out!r}: {exc.strerror or exc}") from None


def _run(parser: argparse.ArgumentParser, argv, prog: str) -> int:
    """Parse ``argv`` and run the chosen subcommand; bad arguments and every SigpropError give exit
    status 2 and one line ``PROG: error: ...`` on stderr (shared with the ``exact`` command)."""

    def fail(message) -> int:
        print(f"{prog}: error: " + " ".join(str(message).split()), file=sys.stderr)
        return 2

    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        return fail(exc)
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else 0
    try:
        code = args.func(args)
        for message in getattr(args, "deprecated", []):
            print(f"{prog}: warning: {message}", file=sys.stderr)
        return code
    except (DivergentFixedPointError, DivergentExpectationError) as exc:
        return _no_finite_answer(args, prog, exc)
    except (_UsageError, SigpropError) as exc:
        return fail(exc)


def _no_finite_answer(args, prog: str, exc: Exception) -> int:
    """A physics answer, not a usage error: the quantity asked for does not exist (q grows without bound,
    a Gaussian expectation diverges).  Printed (as JSON with --json) with exit status 0."""
    reason = " ".join(str(exc).split())
    if getattr(args, "json", False):
        _emit_json({"command": args.command, "result": float("inf"), "reason": reason},
                   why={"result": "no finite answer (see reason)"})
    else:
        print(f"{prog} {args.command}: no finite answer: {reason}")
    return 0
