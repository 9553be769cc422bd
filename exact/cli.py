"""The ``exact`` command: exact finite-width laws of Gaussian ReLU networks vs mean field and Monte Carlo.

Subcommand (``exact relu --help`` for details)::

    exact relu --widths 10,10,10,1 --sigma-w2 2 --sigma-b2 0             # per-layer table
    exact relu --widths 4,2,2,2,2,1 --mc-networks 20000 --seed 0 --json   # with Monte Carlo columns
    exact relu --widths 10,10,10,1 --csv                                  # the table as CSV
    exact relu --widths 10,10,10,1 --parameter-sharing --out ll.png      # and a figure

For each layer l = 1..L the law of the pre-activation variance s^l = sigma_w^2 |x^{l-1}|^2/n_{l-1}
+ sigma_b^2 (Burkholz & Dubatovka 2019; docs/conventions.md §6): mean-field q^l, the exact mean (= q^l),
median and 5 %/95 % quantiles, the probability that some hidden layer below l was dead, and the
excess (Fisher) kurtosis 3 Var(s^l)/E[s^l]^2 of one pre-activation h^l_i (0 for a Gaussian, i.e. in
mean field; scipy's convention); then the output unit's atom, kurtosis, the dead-network probability
and its KS distance from the mean-field N(0, q^L).  ``--mc-networks N`` samples N real networks
(:meth:`exact.ReLUNetwork.sample`, seeded: ``--seed``, default 0, printed) and adds their mean,
median and quantiles of s^l and the KS distance of their outputs from the exact law.

This is the only module of ``exact`` that parses arguments and formats text/JSON/CSV; nothing in the
package imports it.  It shares the runner of ``meanfield``'s command: ``main(argv)`` returns 0 on
success and 2 on bad arguments or an impossible request (every :class:`meanfield.errors.SigpropError`),
with one line ``exact: error: ...`` on stderr.  JSON numbers are JSON numbers; a value that is
undefined or beyond double precision is null, and the object holding it has a "reasons" entry that
says why.
"""
from __future__ import annotations

import argparse
import json
import math

import numpy as np

from meanfield import __version__
from meanfield.cli_support import (
    _MAX_DPI, _emit_csv, _fmt, _new_figure, _Parser, _quoted, _real, _resolve_alias, _run, _save_figure, _table, _UsageError,
)
from meanfield.errors import ParameterError
from meanfield.validation import shown

__all__ = ["main", "build_parser"]

PROG = "exact"
#: quantile levels of the table and of the figure's band
QUANTILES = (0.05, 0.5, 0.95)
#: false-alarm probability of the DKW bound printed with the Monte Carlo KS distance
KS_ALPHA = 1e-3
#: default seed of the Monte Carlo
DEFAULT_SEED = 0

_JSON_NOTE = (
    "JSON output: every number is a JSON number; a value that is undefined (e.g. a kurtosis 0/0) or "
    'beyond double precision is null, and its object has a "reasons" entry saying why.'
)
_REASONS = {
    "kurtosis": "undefined: s^l = 0 almost surely (0/0)",
    "median_over_q": "undefined: q^L is 0 or beyond double precision",
    "ks_mean_field": "undefined: the mean-field law N(0, q^L) is degenerate (q^L = 0 or beyond double precision)",
}


# ----------------------------------------------------------------------------------------------
# argument types
# ----------------------------------------------------------------------------------------------
def _widths(text: str) -> list[int]:
    """N0,N1,...,NL: at least two integers >= 1."""
    parts = [p.strip() for p in text.split(",")]
    try:
        widths = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers N0,N1,...,NL such as 10,10,10,1, got {_quoted(text)}"
        ) from None
    if len(widths) < 2 or min(widths) < 1:
        raise argparse.ArgumentTypeError(
            f"expected at least two widths N0,...,NL, each >= 1 (the input and one layer), got {_quoted(text)}"
        )
    return widths


def _count(text: str) -> int:
    """An integer (range checked by the command)."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {_quoted(text)}") from None


# ----------------------------------------------------------------------------------------------
# the computation
# ----------------------------------------------------------------------------------------------
def _monte_carlo(net, n_networks: int, seed, progress: bool):
    """Per-layer Monte Carlo statistics of s^l, the dead fraction and the output KS distance."""
    from . import ks_distance

    sample = net.sample(n_networks, seed=seed, progress=progress)
    s = sample["preactivation_variance"]
    y = sample["squared_norm"]
    quant = np.quantile(s, QUANTILES, axis=0)  # (3, L)
    dead = np.zeros(s.shape[1])
    if y.shape[1]:
        dead[1:] = np.mean(np.cumsum(y == 0.0, axis=1) > 0, axis=0)
    ks = ks_distance(sample["output"], net.output(), alpha=KS_ALPHA)
    return {
        "mean": s.mean(axis=0), "q05": quant[0], "median": quant[1], "q95": quant[2], "dead": dead,
        "sample": sample, "ks": ks,
    }


def _report(net, mc) -> dict:
    """The numbers of the table, as plain Python values."""
    summary = net.summary()
    out = net.output()
    layers = []
    for i, l in enumerate(summary.layers):
        row = {
            "l": int(l), "q": summary.q[i], "mean": summary.mean[i], "median": summary.median[i],
            "q05": summary.q05[i], "q95": summary.q95[i], "dead": summary.dead[i], "kurtosis": summary.kurtosis[i],
        }
        if mc is not None:
            row.update({f"mc_{key}": mc[key][i] for key in ("mean", "median", "q05", "q95", "dead")})
        layers.append(row)
    q_last = summary.q[-1]
    output = {
        "atom": out.atom,
        "continuous_mass": out.continuous_mass,
        "dead_probability": net.dead_probability(),
        "variance": out.var(),
        "kurtosis": out.kurtosis(),
        "ks_mean_field": summary.output_ks_mean_field,
        "median_over_q": summary.median[-1] / q_last if 0 < q_last < math.inf else float("nan"),
    }
    if mc is not None:
        output.update({
            "mc_ks": mc["ks"].statistic, "mc_ks_bound": mc["ks"].bound, "mc_ks_alpha": KS_ALPHA,
            "mc_dead_fraction": mc["dead"][-1],
        })
    return {"layers": layers, "output": output}


def _json_object(values: dict) -> dict:
    """JSON numbers; non-finite values become null with a "reasons" entry."""
    out, reasons = {}, {}
    for key, value in values.items():
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            out[key] = int(value)
            continue
        value = float(value)
        if math.isfinite(value):
            out[key] = value
            continue
        out[key] = None
        if math.isnan(value):
            reasons[key] = _REASONS.get(key.removeprefix("mc_"), "undefined")
        else:
            reasons[key] = f"{'+' if value > 0 else '-'}infinite: beyond double precision"
    if reasons:
        out["reasons"] = reasons
    return out


# ----------------------------------------------------------------------------------------------
# the command
# ----------------------------------------------------------------------------------------------
def _figure(fig, net, mc, args):
    fig.set_size_inches(12, 5.2)
    ax1, ax2 = fig.subplots(1, 2)
    samples = None if mc is None else mc["sample"]
    net.plot("output", ax=ax1, samples=samples, title="one output unit $h^L_1$")
    net.plot("layers", ax=ax2, samples=samples, title="pre-activation variance $s^l$ per layer")
    from .propagation import widths_text

    share = ", looks-linear (template $\\sigma_w^2$)" if net.parameter_sharing else ""
    mc_text = "" if mc is None else f"; Monte Carlo: {args.mc_networks} networks, seed {args.seed}"
    fig.suptitle(f"Exact finite-width laws: widths {widths_text(net.widths)}, $\\sigma_w^2$ = {net.sigma_w2:g}, "
                 f"$\\sigma_b^2$ = {net.sigma_b2:g}{share}{mc_text}", fontsize=10)
    fig.tight_layout()
    _save_figure(fig, args.out, args.dpi)


def _cmd_relu(args) -> int:
    from . import ReLUNetwork

    flag = _resolve_alias(args, "monte_carlo", "mc_networks")
    if args.mc_networks is not None and args.mc_networks < 2:
        raise ParameterError(f"{flag} is the number of sampled networks and must be >= 2, got {shown(args.mc_networks)}")
    if args.out is None and not 0 < args.dpi <= _MAX_DPI:  # with --out, _new_figure checks it
        raise _UsageError(f"argument --dpi: must lie in (0, {_MAX_DPI}], got {args.dpi!r}")
    fig = _new_figure(args.out, args.dpi) if args.out else None  # check the file name before any work
    net = ReLUNetwork(args.widths, sigma_w2=args.sigma_w2, sigma_b2=args.sigma_b2,
                      input_norm2=args.input_norm2, parameter_sharing=args.parameter_sharing)
    mc = _monte_carlo(net, args.mc_networks, args.seed, args.progress) if args.mc_networks is not None else None
    report = _report(net, mc)
    if fig is not None:
        _figure(fig, net, mc, args)

    if args.json:
        payload = {
            "command": "relu", "widths": net.widths, "sigma_w2": net.sigma_w2, "sigma_b2": net.sigma_b2,
            "input_norm2": net.input_norm2, "parameter_sharing": net.parameter_sharing,
            "monte_carlo": None if mc is None else {"n_networks": args.mc_networks, "seed": args.seed},
            "kurtosis_convention": "Fisher (excess): 0 for a Gaussian",
            "layers": [_json_object(row) for row in report["layers"]],
            "output": _json_object(report["output"]),
            "figure": args.out,
        }
        print(json.dumps(payload, indent=2, allow_nan=False))
        return 0

    keys = ["q", "mean", "median", "q05", "q95", "dead", "kurtosis"]
    header = ["l", "q", "mean", "median", "q05", "q95", "P(dead)", "kurtosis"]
    if mc is not None:
        header += ["mc_mean", "mc_median", "mc_q05", "mc_q95", "mc_dead"]
        keys += ["mc_mean", "mc_median", "mc_q05", "mc_q95", "mc_dead"]
    if args.csv:
        _emit_csv(header, ([r["l"]] + [float(r[k]) for k in keys] for r in report["layers"]))
        return 0

    rows = [[str(r["l"])] + [_fmt(r[k]) for k in keys] for r in report["layers"]]
    o = report["output"]
    share = " (template widths and template sigma_w2)" if net.parameter_sharing else ""
    print(f"# {repr(net)}{share}")
    print("# law of s^l = sigma_w2 |x^(l-1)|^2 / n_(l-1) + sigma_b2: mean-field q, exact mean, median and "
          "5%/95% quantiles; P(dead) = P(some hidden layer below l had no active unit); kurtosis = excess "
          "(Fisher) kurtosis of one pre-activation h^l_i, 3 Var(s^l)/E[s^l]^2 (0 for a Gaussian, i.e. in mean field)")
    print(_table(header, rows))
    print()
    print(f"output h^L_1: variance {_fmt(o['variance'])} (= q^L), excess kurtosis {_fmt(o['kurtosis'])} "
          f"(Gaussian: 0), atom at 0 {_fmt(o['atom'])} (continuous mass {_fmt(o['continuous_mass'])}), "
          f"P(some hidden layer dead) {_fmt(o['dead_probability'])}")
    print(f"finite-width effects: the mean of s^l equals mean field, the typical signal does not: "
          f"median(s^L)/q^L = {_fmt(o['median_over_q'], 6)}; KS distance of the output law from the "
          f"mean-field N(0, q^L) = {_fmt(o['ks_mean_field'], 6)}")
    if mc is not None:
        verdict = "consistent" if mc["ks"].passed else "NOT consistent"
        print(f"Monte Carlo ({args.mc_networks} networks, seed {args.seed}): output KS distance from the exact law "
              f"{_fmt(o['mc_ks'], 6)} (DKW bound {_fmt(o['mc_ks_bound'], 6)} at alpha = {KS_ALPHA:g}: {verdict}); "
              f"dead fraction {_fmt(o['mc_dead_fraction'], 6)}")
    if args.out:
        print(f"wrote {args.out}")
    return 0


# ----------------------------------------------------------------------------------------------
# parser and entry point
# ----------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Exact finite-width laws of Gaussian ReLU networks at initialization (Burkholz & "
        "Dubatovka 2019): the layer-by-layer law of the signal and of the outputs, compared with mean "
        "field and with Monte Carlo of real sampled networks.",
        epilog="Exit status: 0 on success, 2 on bad arguments (one line on stderr). " + _JSON_NOTE,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "relu", help="per-layer exact laws of s^l vs mean field (and Monte Carlo); optional figure",
        description="Network: widths N0,...,NL; hidden ReLU layers 1..L-1; the output is one "
        "pre-activation of layer L; W_ij ~ N(0, sigma_w2/fan_in), b_i ~ N(0, sigma_b2); the input has "
        "|x^0|^2 = --input-norm2 (default N0). For each layer l = 1..L: the mean-field q^l, the exact "
        "mean (= q^l), median and 5%/95% quantiles of s^l, P(dead up to layer l-1) and the excess "
        "(Fisher) kurtosis 3 Var(s^l)/E[s^l]^2 of one pre-activation (0 for a Gaussian); then the "
        "output's variance, excess kurtosis, atom at 0 and the dead-network probability. --mc-networks "
        "adds the same statistics from sampled networks and the KS distance of their outputs from the "
        "exact law; --out saves a figure (exact vs mean field vs Monte Carlo: the output law and the "
        "per-layer band of s^l).",
        epilog=_JSON_NOTE,
    )
    p.add_argument("--widths", metavar="N0,...,NL", type=_widths, required=True,
                   help="layer widths, comma separated, e.g. 10,10,10,1 (with --parameter-sharing: the "
                   "template's widths; physical hidden widths are doubled)")
    p.add_argument("--sigma-w2", metavar="A", type=_real, default=None,
                   help="weight variance >= 0 (default: critical, 2 (He); with --parameter-sharing the "
                   "template's variance, default 1)")
    p.add_argument("--sigma-b2", metavar="B", type=_real, default=0.0, help="bias variance >= 0 (default 0)")
    p.add_argument("--input-norm2", metavar="X", type=_real, help="|x^0|^2 >= 0 (default N0)")
    p.add_argument("--parameter-sharing", action="store_true",
                   help="looks-linear initialization: weights [[W0, -W0], [-W0, W0]], biases [b0, -b0]")
    p.add_argument("--mc-networks", metavar="N", type=_count, help="also sample N >= 2 real networks")
    p.add_argument("--monte-carlo", metavar="N", type=_count, help=argparse.SUPPRESS)  # deprecated spelling
    p.add_argument("--seed", metavar="S", type=_count, default=DEFAULT_SEED,
                   help=f"seed of the Monte Carlo (default {DEFAULT_SEED}; printed with the results)")
    p.add_argument("--progress", action="store_true", help="show a progress bar while sampling networks")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON instead of a table")
    fmt.add_argument("--csv", action="store_true", help="print the per-layer table as CSV")
    p.add_argument("--out", metavar="FILE.png", help="save a figure; the format follows the extension")
    p.add_argument("--dpi", type=_real, default=150.0,
                   help=f"resolution of raster images, in (0, {_MAX_DPI}] (default 150)")
    p.set_defaults(func=_cmd_relu)
    return parser


def main(argv=None) -> int:
    """Run the ``exact`` command with ``argv`` (default: sys.argv[1:]); return the exit status."""
    return _run(build_parser(), argv, PROG)


if __name__ == "__main__":
    raise SystemExit(main())
