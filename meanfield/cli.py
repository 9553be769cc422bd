"""The ``meanfield`` command: edge of chaos, mean-field maps, phase diagrams and Jacobian spectra.

Subcommands (``meanfield SUBCOMMAND --help`` for details)::

    meanfield critical tanh                              # critical sigma_w^2 for a list of sigma_b^2
    meanfield critical leaky_relu --param slope=0.2 --sigma-b2 0 0.1 --json
    meanfield maps tanh --sigma-w2 1.5 --sigma-b2 0.05   # q*, chi_1, depth scales, c*, phase
    meanfield phase tanh --out tanh.png                  # phase diagram figure
    meanfield spectrum relu --sigma-w2 2 --sigma-b2 0 --depth 16 --weights gaussian \
        --mc-width 500 --seed 0 --out relu.png           # Jacobian spectrum over a Monte Carlo histogram
    meanfield isometry tanh --sigma-w2 1.0395211 --sigma-b2 1e-5 --depth 64 [--json]
                                                         # dynamical-isometry verdict
    meanfield init kumar --activation sigmoid [--depth 10] [--mc-width 256] [--json]
    meanfield init eoi --activation tanh --recipe-param density=0.1 --seed 0
                                                         # an initialization recipe's verdict
    meanfield check weights.npz --activation tanh [--json]   # verdict on saved weights W1..WL, b1..bL
    meanfield sweep --activation tanh relu --sigma-w2 1.5 2 --sigma-b2 0.05 --depth 16 --width 64 128 \
        --networks 100 --seed 0 --store runs/a [--workers 2] [--json]   # Monte Carlo over a grid

With :mod:`meanfield.cli_spectra` (``spectrum``, ``isometry``) this is the only place that does argument
parsing and text/JSON/CSV formatting; nothing in the package imports it.  ``main(argv)`` returns the exit
status: 0 on success, also where the answer is that a quantity does not exist (``maps relu --sigma-w2 3``:
q grows without bound; printed as the answer), 2 on bad arguments or an impossible request (every other
:class:`meanfield.errors.SigpropError`), with one line ``meanfield: error: ...`` on stderr.  Monte Carlo is
seeded by default (``--seed``, printed with the results).  Unexpected exceptions are not caught.
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from . import __version__
from .activations import activation
from .cli_support import (
    DEFAULT_SEED,
    _ACT_HELP,
    _JSON_NOTE,
    _UsageError,
    _Parser,
    _emit_csv,
    _deprecate,
    _emit_json,
    _fmt,
    _grid,
    _new_figure,
    _param,
    _real,
    _run,
    _save_figure,
    _table,
    _variance,
)
from .cli_spectra import add_spectrum_commands
from .errors import DivergentFixedPointError, ParameterError
from .maps import CRITICAL_TOLERANCE, depth_scale_from_rate

__all__ = ["main", "build_parser"]

PROG = "meanfield"
#: width of the network that ``init`` measures when --mc-width is not given
DEFAULT_MC_WIDTH = 256
DEFAULT_SIGMA_B2 = (0.0, 0.01, 0.05, 0.1, 0.2, 0.3)
DEFAULT_SIGMA_W2_RANGE = ("0.5", "4", "71")
DEFAULT_SIGMA_B2_RANGE = ("0", "0.5", "51")
#: why a number of ``critical``, ``maps`` or ``phase`` can be undefined or infinite (JSON: null + reason)
_CRITICAL_WHY = {
    "sigma_w2": "no edge of chaos at this sigma_b2 (see the row's reason)",
    "q_star": "no edge of chaos at this sigma_b2 (see the row's reason)",
    "q_slope": "no edge of chaos at this sigma_b2 (see the row's reason)",
    "xi_q": "xi_q = -1/log(q_slope) is infinite where the q-map slope is >= 1 (undefined without an edge)",
}
_MAPS_WHY = {
    "xi_q": "xi_q = -1/log(q_slope) is infinite: the q-map slope at q* is >= 1",
    "xi_c": "xi_c = -1/log(chi_c) is infinite: chi_c >= 1 (on the edge of chaos or at c* = 1 with chi_1 >= 1)",
}
_PHASE_WHY = {
    "q_star": "infinite where q grows without bound (no finite fixed point from q^1 = 1)",
    "chi1": "undefined where q has no finite fixed point",
    "xi_q": "infinite where the q-map slope is >= 1; undefined where q has no finite fixed point",
    "xi_c": "infinite on the edge of chaos; undefined where q has no finite fixed point",
    "sigma_w2": "no edge of chaos at this sigma_b2",
}

def _make_activation(args):
    params = dict(args.param or [])
    return activation(args.act, **params)


# ----------------------------------------------------------------------------------------------
# commands
# ----------------------------------------------------------------------------------------------
def _cmd_critical(args) -> int:
    from .criticality import critical_point

    act = _make_activation(args)
    sigma_b2 = list(args.sigma_b2) if args.sigma_b2 else list(DEFAULT_SIGMA_B2)
    for b in sigma_b2:
        _variance("sigma_b2", b)
    points = critical_point(act, np.asarray(sigma_b2, dtype=float))

    if args.json:
        rows = []
        for b, p in zip(sigma_b2, points):
            rows.append({
                "sigma_b2": b, "sigma_w2": p.sigma_w2, "q_star": p.q_star, "q_slope": p.q_slope,
                "xi_q": float(depth_scale_from_rate(p.q_slope)), "stable": p.stable, "status": p.status,
                "reason": p.reason,
                "roots": [{"sigma_w2": r.sigma_w2, "q_star": r.q_star, "q_slope": r.q_slope, "stable": r.stable}
                          for r in p.roots],
            })
        _emit_json({"command": "critical", "activation": act.name, "params": dict(act.params), "rows": rows},
                   why=_CRITICAL_WHY)
        return 0
    if args.csv:
        _emit_csv(["sigma_b2", "sigma_w2", "q_star", "q_slope", "xi_q", "stable", "status"],
                  ([float(b), p.sigma_w2, p.q_star, p.q_slope, float(depth_scale_from_rate(p.q_slope)),
                    "" if p.stable is None else p.stable, p.status] for b, p in zip(sigma_b2, points)))
        return 0

    header = ["sigma_b2", "sigma_w2", "q*", "q_slope", "xi_q", "stable", "status"]
    rows, notes = [], []
    for b, p in zip(sigma_b2, points):
        stable = "-" if p.stable is None else ("yes" if p.stable else "no")
        rows.append([
            _fmt(b), _fmt(p.sigma_w2), _fmt(p.q_star), _fmt(p.q_slope, 10),
            _fmt(float(depth_scale_from_rate(p.q_slope)), 10), stable, p.status,
        ])
        if p.status != "critical" or len(p.roots) > 1:
            notes.append(f"sigma_b2 = {_fmt(b)}: {p.status}: {p.reason}")
            if len(p.roots) > 1:
                for r in p.roots:
                    notes.append(
                        f"    root: sigma_w2 = {_fmt(r.sigma_w2)}, q* = {_fmt(r.q_star)}, "
                        f"q_slope = {_fmt(r.q_slope, 10)}, stable = {'yes' if r.stable else 'no'}"
                    )
    params = "".join(f", {k}={v:g}" for k, v in act.params.items())
    print(f"# edge of chaos (chi_1 = 1) for {act.name}{params}; xi_q = -1/log(q_slope)")
    print(_table(header, rows))
    if notes:
        print()
        print("\n".join(notes))
    return 0


def _cmd_maps(args) -> int:
    from .maps import propagation

    act = _make_activation(args)
    sw2 = _variance("sigma_w2", args.sigma_w2)
    sb2 = _variance("sigma_b2", args.sigma_b2)
    q0 = args.q0
    if q0 <= 0:
        raise ParameterError(f"q0 is the first layer's variance and must be > 0, got {q0!r}")
    try:
        p = propagation(act, sw2, sb2, q0)
    except DivergentFixedPointError as exc:  # a physics answer: q grows without bound
        return _maps_divergent(args, act, sw2, sb2, q0, " ".join(str(exc).split()))
    values = {"q_star": p.q_star, "chi1": p.chi1, "q_slope": p.q_slope, "xi_q": p.xi_q, "chi_c": p.chi_c,
              "xi_c": p.xi_c, "c_star": p.c_star}
    phase = p.phase

    if args.json:
        payload = {
            "command": "maps", "activation": act.name, "params": dict(act.params),
            "sigma_w2": sw2, "sigma_b2": sb2, "q0": q0, **values, "phase": phase,
        }
        _emit_json(payload, why=_MAPS_WHY)
        return 0

    params = "".join(f", {k}={v:g}" for k, v in act.params.items())
    labels = [
        ("activation", act.name + params), ("sigma_w2", _fmt(sw2)), ("sigma_b2", _fmt(sb2)), ("q0", _fmt(q0)),
        ("q*", _fmt(p.q_star)), ("chi_1", _fmt(p.chi1)), ("q_slope", _fmt(p.q_slope)),
        ("xi_q", _fmt(p.xi_q)), ("chi_c", _fmt(p.chi_c)), ("xi_c", _fmt(p.xi_c)),
        ("c*", _fmt(p.c_star)), ("phase", phase),
    ]
    width = max(len(k) for k, _ in labels)
    for key, value in labels:
        print(f"{key.ljust(width)}  {value}")
    return 0


def _maps_divergent(args, act, sw2: float, sb2: float, q0: float, reason: str) -> int:
    """The answer of ``maps`` where q has no finite fixed point: q* = inf, the phase "divergent", and for
    positively homogeneous activations (linear, relu, leaky relu), whose D(q) does not depend on q, chi_1."""
    from .maps import chi1

    chi = float(chi1(act, sw2, sb2, q=1.0)) if act.family in ("linear", "relu") else float("nan")
    values = {"q_star": float("inf"), "chi1": chi, "q_slope": float("nan"), "xi_q": float("nan"),
              "chi_c": float("nan"), "xi_c": float("nan"), "c_star": float("nan")}
    why = dict.fromkeys(values, "q has no finite fixed point (see reason)")
    if args.json:
        _emit_json({"command": "maps", "activation": act.name, "params": dict(act.params), "sigma_w2": sw2,
                    "sigma_b2": sb2, "q0": q0, **values, "phase": "divergent", "reason": reason}, why=why)
        return 0
    params = "".join(f", {k}={v:g}" for k, v in act.params.items())
    labels = [("activation", act.name + params), ("sigma_w2", _fmt(sw2)), ("sigma_b2", _fmt(sb2)), ("q0", _fmt(q0)),
              ("q*", "inf (q grows without bound)"), ("chi_1", _fmt(chi) + (" (does not depend on q)" if chi == chi else "")),
              ("phase", "divergent"), ("reason", reason)]
    width = max(len(k) for k, _ in labels)
    for key, value in labels:
        print(f"{key.ljust(width)}  {value}")
    return 0


def _default_sigma_w2_grid(act, sb2: np.ndarray) -> np.ndarray:
    """A sigma_w^2 range that shows the edge of chaos: [0.5 min, 1.5 max] of the critical sigma_w^2 over
    the sigma_b^2 grid (0.5 .. 4 when there is none), 71 points."""
    from .criticality import critical_sigma_w2

    crit = np.atleast_1d(critical_sigma_w2(act, sb2))
    crit = crit[np.isfinite(crit) & (crit > 0)]
    if crit.size == 0:
        return _grid("--sigma-w2-range", DEFAULT_SIGMA_W2_RANGE)
    return np.linspace(0.5 * crit.min(), 1.5 * crit.max(), int(DEFAULT_SIGMA_W2_RANGE[2]))


def _cmd_phase(args) -> int:
    act = _make_activation(args)
    if not (args.out or args.json or args.csv):
        raise _UsageError("give --out FILE.png (the figure), --json or --csv (the grid), or several of them")
    sb2 = _grid("--sigma-b2-range", args.sigma_b2_range)
    if args.sigma_w2_range is None:
        sw2 = _default_sigma_w2_grid(act, sb2)
    else:
        sw2 = _grid("--sigma-w2-range", args.sigma_w2_range)
    fig = _new_figure(args.out, args.dpi) if args.out else None

    from . import phase_diagram  # provided by meanfield/phase.py

    diagram = phase_diagram(act, sw2, sb2)
    grid = f"{act.name}: {sb2.size} sigma_b2 in [{sb2[0]:g}, {sb2[-1]:g}] x {sw2.size} sigma_w2 in [{sw2[0]:.6g}, {sw2[-1]:.6g}]"
    if fig is not None:
        diagram.plot(ax=fig.add_subplot())
        fig.tight_layout()
        _save_figure(fig, args.out, args.dpi)
    if args.json or args.csv:
        names = np.array(["ordered", "critical", "chaotic"], dtype=object)
        phase = np.where(diagram.diverged, "divergent", names[np.nan_to_num(diagram.phase).astype(int) + 1])
        fields = {"q_star": diagram.q_star, "chi1": diagram.chi1, "xi_q": diagram.xi_q, "xi_c": diagram.xi_c}
    if args.json:
        _emit_json({
            "command": "phase", "activation": act.name, "params": dict(act.params),
            "sigma_w2": sw2, "sigma_b2": sb2, "layout": "grids are rows of sigma_b2 by columns of sigma_w2",
            **fields, "phase": phase,
            "edge_of_chaos": [{"sigma_b2": b, "sigma_w2": w, "stable": bool(st) if np.isfinite(w) else None}
                              for b, w, st in zip(sb2, diagram.critical_sigma_w2, diagram.critical_stable)],
            "figure": args.out,
        }, why=_PHASE_WHY)
    elif args.csv:
        W, B = np.meshgrid(sw2, sb2)
        _emit_csv(["sigma_b2", "sigma_w2", *fields, "phase"],
                  zip(B.ravel(), W.ravel(), *(v.ravel() for v in fields.values()), phase.ravel()))
    else:
        print(f"wrote {args.out} ({grid})")
    return 0


def _recipe_param(text: str) -> tuple[str, object]:
    """NAME=VALUE for a recipe: a finite number, true/false, or a word (mode=fan_out)."""
    name, sep, value = text.partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not name.isidentifier() or not value:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (e.g. density=0.1), got {text!r}")
    if value.lower() in ("true", "false"):
        return name, value.lower() == "true"
    try:
        return name, _real(value)
    except argparse.ArgumentTypeError:
        if value.isidentifier():
            return name, value
        raise argparse.ArgumentTypeError(f"recipe parameter {name}: expected a finite number, true/false or a word, got {value!r}") from None


def _cmd_init(args) -> int:
    from .init import MEASURED_RECIPES, assess

    act = activation(args.activation, **dict(args.param or []))
    recipe = args.recipe.strip().lower().replace("-", "_")
    params = dict(args.recipe_param or [])
    measured = args.monte_carlo or args.mc_width is not None or recipe in MEASURED_RECIPES
    width = args.mc_width
    if args.width is not None:
        if width is not None:
            raise _UsageError("give --mc-width only (--width is its deprecated spelling), not both")
        width = args.width
        _deprecate(args, "--width N", "--mc-width N (measure a real network of width N)")
    if args.monte_carlo:
        _deprecate(args, "--monte-carlo", f"--mc-width N (measure a real network of width N, default {DEFAULT_MC_WIDTH})")
    report = assess(
        recipe, act, depth=args.depth, sigma_b2=_variance("sigma_b2", args.sigma_b2),
        width=DEFAULT_MC_WIDTH if width is None else width, shape=args.shape,
        monte_carlo=bool(measured), seed=args.seed, **params,
    )
    if args.json:
        _emit_json({"command": "init", **report.to_dict(undefined="null")})
        return 0
    print(report)
    if measured:
        print(f"(measured network seeded with {args.seed})")
    return 0


def _cmd_check(args) -> int:
    from .init import assess, load_npz

    weights, biases = load_npz(args.file)
    act = activation(args.activation, **dict(args.param or []))
    report = assess(weights, act, biases=biases, q0=args.q0, seed=args.seed)
    if args.json:
        _emit_json({"command": "check", "file": args.file, "seed": args.seed, **report.to_dict(undefined="null")})
        return 0
    print(report)
    print(f"(measured input seeded with {args.seed})")
    return 0


def _cmd_sweep(args) -> int:
    from .simulate import grid, sweep

    axes = {"activation": args.activation, "sigma_w2": args.sigma_w2, "sigma_b2": args.sigma_b2,
            "depth": args.depth, "width": args.width, "weights": args.weights}
    if (args.config is not None) == any(v is not None for v in axes.values()):
        raise _UsageError("give either --config FILE.json or the grid flags (--activation, --sigma-w2, "
                          "--sigma-b2, --depth, --width, optionally --weights)")
    if args.config is not None:
        try:
            with open(args.config) as handle:
                configs = json.load(handle)
        except (OSError, ValueError) as exc:
            raise _UsageError(f"argument --config: cannot read {args.config!r} ({exc})") from None
        configs = configs.get("configs") if isinstance(configs, dict) else configs
    else:
        configs = grid(**{k: v for k, v in axes.items() if v is not None})
    executor = None
    if args.scheduler is not None:
        try:
            from distributed import Client  # lazy: the optional dask extra
        except ImportError:
            raise ParameterError("--scheduler needs Dask: pip install 'sigprop[dask]'") from None
        executor = Client(args.scheduler)
    try:
        result = sweep(configs, args.quantity, args.networks, args.seed, executor, args.chunk_size, args.store,
                       workers=args.workers, progress=args.progress)
    finally:
        if executor is not None:
            executor.close()
    if args.json:
        _emit_json({"command": "sweep", **result.to_dict(undefined="null")})
    elif args.csv:
        stats = result.statistics()
        _emit_csv(list(stats), zip(*stats.values()))
    else:
        print(result)
    return 1 if result.errors else 0


# ----------------------------------------------------------------------------------------------
# parser and entry point
# ----------------------------------------------------------------------------------------------
def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("act", metavar="ACT", help=_ACT_HELP)
    p.add_argument(
        "--param", metavar="NAME=VALUE", type=_param, action="append",
        help="activation parameter, repeatable (e.g. --param slope=0.2 for leaky_relu; alpha for "
        "elu/selu, scale for selu)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Mean-field signal propagation in deep random networks at initialization "
        "(infinite width): edge of chaos, q*, chi_1, depth scales, phase diagrams, Jacobian spectra "
        "and dynamical isometry.",
        epilog="Exit status: 0 on success (also when the answer is that a quantity does not exist, e.g. q "
        "diverges), 2 on bad arguments (one line on stderr). " + _JSON_NOTE,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "critical", help="critical sigma_w^2 (chi_1 = 1) for a list of sigma_b^2",
        description="Edge of chaos: for each sigma_b^2, the critical sigma_w^2, q*, the slope of the "
        "variance map at q*, xi_q = -1/log(slope) (inf when slope >= 1), the stability of q* and a "
        "status (critical, unstable, degenerate, marginal, none). Rows without a critical point print "
        "'none' and the reason.",
        epilog=_JSON_NOTE,
    )
    _common(p)
    p.add_argument(
        "--sigma-b2", metavar="V", type=_real, nargs="+", action="extend",
        help="bias variance(s) >= 0 (default: " + " ".join(f"{v:g}" for v in DEFAULT_SIGMA_B2) + ")",
    )
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON instead of a table")
    fmt.add_argument("--csv", action="store_true", help="print the table as CSV")
    p.set_defaults(func=_cmd_critical)

    p = sub.add_parser(
        "maps", help="q*, chi_1, depth scales, c* and the phase at one (sigma_w^2, sigma_b^2)",
        description="Mean-field quantities at one point: q* (reached from q^1 = q0), chi_1, the slope "
        "of the variance map at q*, xi_q, chi_c and xi_c at the stable correlation fixed point c*, and "
        f"the phase: ordered (chi_1 < 1), chaotic (chi_1 > 1) or critical (|chi_1 - 1| <= "
        f"{CRITICAL_TOLERANCE:g}). Depth scales are -1/log of their rate, inf when the rate is >= 1.",
        epilog=_JSON_NOTE,
    )
    _common(p)
    p.add_argument("--sigma-w2", metavar="A", type=_real, required=True, help="weight variance >= 0")
    p.add_argument("--sigma-b2", metavar="B", type=_real, required=True, help="bias variance >= 0")
    p.add_argument("--q0", metavar="Q", type=_real, default=1.0,
                   help="first-layer pre-activation variance q^1 > 0 (default 1)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=_cmd_maps)

    p = sub.add_parser(
        "phase", help="save the phase diagram over a (sigma_w^2, sigma_b^2) grid as an image",
        description="Phase diagram (q*, chi_1, xi_q, xi_c and the phase over a grid of sigma_w^2 and "
        "sigma_b^2, with the edge of chaos): --out saves the figure (the format follows the extension: png, "
        "pdf, svg, ...), --json or --csv print the grid.",
        epilog=_JSON_NOTE,
    )
    _common(p)
    p.add_argument("--out", metavar="FILE.png", help="save the figure to this image file")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print the grids as JSON (rows: sigma_b2, columns: sigma_w2)")
    fmt.add_argument("--csv", action="store_true", help="print the grid as CSV, one row per (sigma_b2, sigma_w2)")
    p.add_argument("--sigma-w2-range", metavar=("LO", "HI", "N"), nargs=3, default=None,
                   help="N evenly spaced sigma_w^2 from LO to HI (default: 71 points from half the smallest to "
                   "1.5 times the largest critical sigma_w^2 on the sigma_b^2 range, so that the edge of chaos "
                   "shows; " + " ".join(DEFAULT_SIGMA_W2_RANGE) + " when there is none)")
    p.add_argument("--sigma-b2-range", metavar=("LO", "HI", "N"), nargs=3, default=DEFAULT_SIGMA_B2_RANGE,
                   help="N evenly spaced sigma_b^2 from LO to HI (default: " + " ".join(DEFAULT_SIGMA_B2_RANGE) + ")")
    p.add_argument("--dpi", type=_real, default=150.0, help="resolution of raster images (default 150)")
    p.set_defaults(func=_cmd_phase)

    add_spectrum_commands(sub, _ACT_HELP)

    p = sub.add_parser(
        "init", help="verdict on an initialization recipe: critical? isometric? (theory and measurement)",
        description="Judge an initialization recipe (gaussian, uniform, he, glorot, lecun, kumar, critical, "
        "orthogonal, weightnorm, eoi, idinit, looks_linear) for an activation: the effective sigma_w^2 = "
        "fan_in Var(W_ij), q*, chi_1, the phase (critical: |chi_1 - 1| <= "
        f"{CRITICAL_TOLERANCE:g}), the Jacobian spectrum verdict of 'meanfield isometry', and with "
        "--mc-width N the same numbers measured on a real network of width N built with the recipe. eoi, idinit "
        "and looks_linear are always measured: their matrices are not iid or Haar, so the measured "
        "Jacobian singular values are the ground truth (see meanfield.init.assess).",
        epilog=_JSON_NOTE,
    )
    p.add_argument("recipe", metavar="RECIPE", help="initialization recipe name")
    p.add_argument("--activation", required=True, metavar="ACT", help=_ACT_HELP)
    p.add_argument(
        "--param", metavar="NAME=VALUE", type=_param, action="append",
        help="activation parameter, repeatable (e.g. --param slope=0.2 for leaky_relu)",
    )
    p.add_argument(
        "--recipe-param", metavar="NAME=VALUE", type=_recipe_param, action="append",
        help="recipe parameter, repeatable: density (eoi), gain (orthogonal, eoi, glorot, weightnorm), tau "
        "(idinit), sigma_w2 (gaussian, uniform, looks_linear), orthogonal=true/false (looks_linear), "
        "a, mode, nonlinearity, distribution (he)",
    )
    p.add_argument("--depth", metavar="L", type=int, help="number of weight layers (default 10; 1 with --shape)")
    p.add_argument("--mc-width", metavar="N", type=int,
                   help="also build and measure a real network of width N with the recipe (eoi, idinit and "
                   f"looks_linear are always measured, at width N or {DEFAULT_MC_WIDTH})")
    p.add_argument("--shape", metavar=("OUT", "IN"), type=int, nargs=2,
                   help="shape (fan_out, fan_in) of the first layer; later layers are OUT x OUT")
    p.add_argument("--sigma-b2", metavar="B", type=_real, default=0.0, help="bias variance >= 0 (default 0)")
    p.add_argument("--seed", metavar="S", type=int, default=DEFAULT_SEED,
                   help=f"seed of the measured network (default {DEFAULT_SEED}; printed with the results)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--width", metavar="N", type=int, help=argparse.SUPPRESS)  # deprecated: --mc-width
    p.add_argument("--monte-carlo", action="store_true", help=argparse.SUPPRESS)  # deprecated: --mc-width
    p.set_defaults(func=_cmd_init)

    p = sub.add_parser(
        "check", help="verdict on the weights of a real network saved as .npz (W1..WL, optional b1..bL)",
        description="Load W1..WL (fan_out, fan_in) and optional b1..bL from an .npz file (np.savez; no "
        "pickle), print the per-layer sigma_w2 and sigma_b2 with standard errors, the weight ensemble, "
        "the criticality verdict within the sampling band of chi_1, and the measured Jacobian spectrum "
        "(see meanfield.init.assess).",
        epilog="JSON output: numbers are JSON numbers; undefined ones (no fixed point, no edge of chaos) "
        "are null, with the reason under the key \"undefined\".",
    )
    p.add_argument("file", metavar="FILE.npz", help="archive with arrays W1..WL and optional b1..bL")
    p.add_argument("--activation", required=True, metavar="ACT", help=_ACT_HELP)
    p.add_argument("--param", metavar="NAME=VALUE", type=_param, action="append", help="activation parameter, repeatable")
    p.add_argument("--q0", metavar="Q", type=_real, help="input second moment |x|^2/n_0 (default: input prepared at q*)")
    p.add_argument("--seed", metavar="S", type=int, default=DEFAULT_SEED,
                   help=f"seed of the measured input (default {DEFAULT_SEED}; printed with the results)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser(
        "sweep", help="Monte Carlo of real networks over a grid of configurations, with the theory next to it",
        description="Sample --networks networks of every configuration (the grid of the flags, or a JSON "
        "list of configurations) on local processes or a Dask cluster, and print per configuration the "
        "mean of each measured value with its standard error and the infinite-width theory (jacobian: "
        "tr(J J^T)/N against chi_1^L; signal: q^L and c^L against the mean-field maps). Reproducible "
        "for a --seed; with --store the results are written as they come and a rerun computes only "
        "what is missing (see meanfield.simulate.sweep).",
        epilog="Exit status 1 when some configuration failed (each listed with its error). " + _JSON_NOTE,
    )
    p.add_argument("--config", metavar="FILE.json", help="configurations: a JSON list of dicts (or {\"configs\": [...]})")
    p.add_argument("--activation", metavar="ACT", nargs="+", help="activation(s) (grid axis)")
    for flag, kind, text in (("--sigma-w2", _real, "weight variance(s)"), ("--sigma-b2", _real, "bias variance(s)"),
                             ("--depth", int, "depth(s) L"), ("--width", int, "width(s) N")):
        p.add_argument(flag, metavar="V", type=kind, nargs="+", help=text + " (grid axis)")
    p.add_argument("--weights", nargs="+", choices=("orthogonal", "gaussian"), help="weight ensemble(s) (grid axis)")
    p.add_argument("--quantity", choices=("jacobian", "signal"), default="jacobian", help="what to sample (default jacobian)")
    p.add_argument("--networks", metavar="N", type=int, default=1, help="networks per configuration (default 1)")
    p.add_argument("--seed", metavar="S", type=int, help="seed (default: the store's, else fresh and printed)")
    p.add_argument("--store", metavar="DIR", help="results directory (npz chunks + manifest.json); resumed if it exists")
    p.add_argument("--workers", metavar="W", type=int, help="local worker processes (default: all cores)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run on this Dask scheduler instead (needs sigprop[dask])")
    p.add_argument("--chunk-size", metavar="C", type=int, help="networks per task (default: from a 256 MiB budget)")
    p.add_argument("--progress", action="store_true", help="progress bar over tasks on stderr")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON instead of text")
    fmt.add_argument("--csv", action="store_true", help="print the statistics table as CSV (one row per configuration)")
    p.set_defaults(func=_cmd_sweep)
    from .cli_beyond import register  # ntk, finite-width

    register(sub, _common)
    return parser


def main(argv=None) -> int:
    """Run the ``meanfield`` command with ``argv`` (default: sys.argv[1:]); return the exit status."""
    return _run(build_parser(), argv, PROG)
