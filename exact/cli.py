"""The ``exact`` command: exact finite-width laws of Gaussian ReLU networks vs mean field and Monte Carlo.

Subcommand (``exact relu --help`` for details)::

    exact relu --widths 10,10,10,1 --sigma-w2 2 --sigma-b2 0            # per-layer table
    exact relu --widths 4,2,2,2,2,1 --monte-carlo 20000 --seed 0 --json  # with Monte Carlo columns
    exact relu --widths 10,10,10,1 --parameter-sharing --sigma-w2 1 --out ll.png   # and a figure

For each layer l = 1..L the law of the pre-activation variance s^l = sigma_w^2 |x^{l-1}|^2/n_{l-1}
+ sigma_b^2 (Burkholz & Dubatovka 2019; docs/conventions.md §6): mean-field q^l, the exact mean (= q^l),
median and 5 %/95 % quantiles, the probability that some hidden layer below l was dead, and the
kurtosis 3 E[(s^l)^2]/E[s^l]^2 of one pre-activation h^l_i (3 in mean field); then the output
unit's atom, kurtosis, the dead-network probability and its KS distance from the mean-field
N(0, q^L).  ``--monte-carlo N`` samples N real networks (:meth:`exact.ReLUNetwork.sample`) and adds
their mean, median and quantiles of s^l and the KS distance of their outputs from the exact law.

This is the only module of ``exact`` that parses arguments and formats text/JSON; nothing in the
package imports it.  It shares the conventions (and the formatting helpers) of ``meanfield``'s
command: ``main(argv)`` returns 0 on success and 2 on bad arguments or an impossible request (every
:class:`meanfield.errors.SigpropError`), with one line ``exact: error: ...`` on stderr; JSON numbers
that are not finite are the strings "inf", "-inf", "nan".
"""
from __future__ import annotations

import argparse

import numpy as np

from meanfield import __version__
from meanfield.cli import _emit_json, _fmt, _json_number, _new_figure, _Parser, _real, _run, _table
from meanfield.errors import ParameterError

__all__ = ["main", "build_parser"]

PROG = "exact"
#: quantile levels of the table and of the figure's band
QUANTILES = (0.05, 0.5, 0.95)
#: false-alarm probability of the DKW bound printed with the Monte Carlo KS distance
KS_ALPHA = 1e-3

_JSON_NOTE = (
    "JSON output: every number is a JSON number, except non-finite values, which are the strings "
    '"inf", "-inf" and "nan" (float() of the string gives the value back).'
)


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
            f"expected comma-separated integers N0,N1,...,NL such as 10,10,10,1, got {text!r}"
        ) from None
    if len(widths) < 2 or min(widths) < 1:
        raise argparse.ArgumentTypeError(
            f"expected at least two widths N0,...,NL, each >= 1 (the input and one layer), got {text!r}"
        )
    return widths


# ----------------------------------------------------------------------------------------------
# the computation
# ----------------------------------------------------------------------------------------------
def _monte_carlo(net, n_networks: int, seed):
    """Per-layer Monte Carlo statistics of s^l, the dead fraction and the output KS distance."""
    from . import ks_distance

    sample = net.sample(n_networks, seed=seed)
    s = sample["preactivation_variance"]
    y = sample["squared_norm"]
    quant = np.quantile(s, QUANTILES, axis=0)  # (3, L)
    dead = np.zeros(s.shape[1])
    if y.shape[1]:
        dead[1:] = np.mean(np.cumsum(y == 0.0, axis=1) > 0, axis=0)
    ks = ks_distance(sample["output"], net.output(), alpha=KS_ALPHA)
    return {
        "mean": s.mean(axis=0), "q05": quant[0], "median": quant[1], "q95": quant[2], "dead": dead,
        "output": sample["output"], "ks": ks,
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
    output = {
        "atom": out.atom,
        "dead_probability": net.dead_probability(),
        "variance": out.var(),
        "kurtosis": out.kurtosis(),
        "ks_mean_field": summary.output_ks_mean_field,
        "median_over_q": summary.median[-1] / summary.q[-1] if summary.q[-1] > 0 else float("nan"),
    }
    if mc is not None:
        output.update({
            "mc_ks": mc["ks"].statistic, "mc_ks_bound": mc["ks"].bound, "mc_ks_alpha": KS_ALPHA,
            "mc_dead_fraction": mc["dead"][-1],
        })
    return {"layers": layers, "output": output}


# ----------------------------------------------------------------------------------------------
# the figure
# ----------------------------------------------------------------------------------------------
def _plot_output(net, ax, samples=None):
    """Exact output density vs the mean-field N(0, q^L), over a histogram of sampled outputs."""
    law = net.output()
    q = float(net.mean_field()[-1])
    scale = np.sqrt(q) if q > 0 else 1.0
    z = np.linspace(-5 * scale, 5 * scale, 1000)  # even count: never exactly 0 (the density may diverge)
    if samples is not None:
        live = samples[samples != 0.0]
        bins = np.linspace(z[0], z[-1], 81)
        ax.hist(live, bins=bins, weights=np.full(live.size, 1.0 / (samples.size * (bins[1] - bins[0]))),
                color="0.8", label=f"Monte Carlo ({samples.size} networks)")
    atom = f", atom {law.atom:.3g} at 0" if law.atom > 0 else ""
    ax.plot(z, law.pdf(z), color="C0", label="exact" + atom)
    if q > 0:
        ax.plot(z, np.exp(-z * z / (2 * q)) / np.sqrt(2 * np.pi * q), "--", color="C3",
                label=rf"mean field $N(0, q^L)$, $q^L$ = {q:.3g}")
    ax.set_yscale("log")
    ax.set_ylim(bottom=1e-4 / scale)
    ax.set_xlabel(r"output $h^L_1$")
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    return ax


def _plot_layers(report, ax, mc=None):
    """Per-layer median and 5-95 % band of s^l (exact, Monte Carlo) vs the mean-field q^l."""
    rows = report["layers"]
    l = np.array([r["l"] for r in rows])
    get = lambda key: np.array([r[key] for r in rows], dtype=float)  # noqa: E731
    ax.fill_between(l, get("q05"), get("q95"), color="C0", alpha=0.2, label="exact 5-95 %")
    ax.plot(l, get("median"), "o-", color="C0", label="exact median")
    ax.plot(l, get("q"), "--", color="C3", label=r"mean field $q^l$ (= exact mean)")
    if mc is not None:
        ax.plot(l, mc["median"], "x", color="k", label="Monte Carlo median")
        ax.plot(l, mc["q05"], "1", color="0.4", label="Monte Carlo 5 %, 95 %")
        ax.plot(l, mc["q95"], "1", color="0.4")
    ax.set_yscale("log", nonpositive="mask")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("layer l")
    ax.set_ylabel(r"pre-activation variance $s^l$")
    ax.legend(fontsize=8)
    return ax


# ----------------------------------------------------------------------------------------------
# the command
# ----------------------------------------------------------------------------------------------
def _cmd_relu(args) -> int:
    from . import ReLUNetwork

    if args.monte_carlo is not None and args.monte_carlo < 2:
        raise ParameterError(f"--monte-carlo is the number of sampled networks and must be >= 2, got {args.monte_carlo}")
    if args.dpi <= 0:
        raise ParameterError(f"--dpi must be > 0, got {args.dpi!r}")
    fig = _new_figure(args.out) if args.out else None  # check the file name before any work
    net = ReLUNetwork(args.widths, sigma_w2=args.sigma_w2, sigma_b2=args.sigma_b2,
                      input_norm2=args.input_norm2, parameter_sharing=args.parameter_sharing)
    mc = _monte_carlo(net, args.monte_carlo, args.seed) if args.monte_carlo is not None else None
    report = _report(net, mc)

    if fig is not None:
        fig.set_size_inches(11, 4.5)
        ax1, ax2 = fig.subplots(1, 2)
        _plot_output(net, ax1, None if mc is None else mc["output"])
        _plot_layers(report, ax2, mc)
        fig.suptitle(repr(net), fontsize=9)
        fig.tight_layout()
        fig.savefig(args.out, dpi=args.dpi)

    if args.json:
        payload = {
            "command": "relu", "widths": net.widths, "sigma_w2": net.sigma_w2, "sigma_b2": net.sigma_b2,
            "input_norm2": net.input_norm2, "parameter_sharing": net.parameter_sharing,
            "monte_carlo": None if mc is None else {"n_networks": args.monte_carlo, "seed": args.seed},
            "layers": [{k: (v if k == "l" else _json_number(v)) for k, v in row.items()} for row in report["layers"]],
            "output": {k: _json_number(v) for k, v in report["output"].items()},
            "figure": args.out,
        }
        _emit_json(payload)
        return 0

    header = ["l", "q", "mean", "median", "q05", "q95", "P(dead)", "kurtosis"]
    keys = ["q", "mean", "median", "q05", "q95", "dead", "kurtosis"]
    if mc is not None:
        header += ["mc_mean", "mc_median", "mc_q05", "mc_q95", "mc_dead"]
        keys += ["mc_mean", "mc_median", "mc_q05", "mc_q95", "mc_dead"]
    rows = [[str(r["l"])] + [_fmt(r[k]) for k in keys] for r in report["layers"]]
    o = report["output"]
    share = " (template widths)" if net.parameter_sharing else ""
    print(f"# {repr(net)}{share}")
    print("# law of s^l = sigma_w2 |x^(l-1)|^2 / n_(l-1) + sigma_b2: mean-field q, exact mean, median and "
          "5%/95% quantiles; P(dead) = P(some hidden layer below l had no active unit); kurtosis of one "
          "pre-activation h^l_i = 3 E[s^2]/E[s]^2 (3 in mean field)")
    print(_table(header, rows))
    print()
    print(f"output h^L_1: variance {_fmt(o['variance'])} (= q^L), kurtosis {_fmt(o['kurtosis'])} (Gaussian: 3), "
          f"atom at 0 {_fmt(o['atom'])}, P(some hidden layer dead) {_fmt(o['dead_probability'])}")
    print(f"finite-width effects: the mean of s^l equals mean field, the typical signal does not: "
          f"median(s^L)/q^L = {_fmt(o['median_over_q'], 6)}; KS distance of the output law from the "
          f"mean-field N(0, q^L) = {_fmt(o['ks_mean_field'], 6)}")
    if mc is not None:
        verdict = "consistent" if mc["ks"].passed else "NOT consistent"
        print(f"Monte Carlo ({args.monte_carlo} networks, seed {args.seed}): output KS distance from the exact law "
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
        "mean (= q^l), median and 5%/95% quantiles of s^l, P(dead up to layer l-1) and the kurtosis "
        "3 E[s^2]/E[s]^2 of one pre-activation; then the output's variance, kurtosis, atom at 0 and the "
        "dead-network probability. --monte-carlo adds the same statistics from sampled networks and the "
        "KS distance of their outputs from the exact law; --out saves a figure (exact vs mean field vs "
        "Monte Carlo: the output law and the per-layer band of s^l).",
        epilog=_JSON_NOTE,
    )
    p.add_argument("--widths", metavar="N0,...,NL", type=_widths, required=True,
                   help="layer widths, comma separated, e.g. 10,10,10,1 (with --parameter-sharing: the "
                   "template's widths; physical hidden widths are doubled)")
    p.add_argument("--sigma-w2", metavar="A", type=_real, default=2.0, help="weight variance >= 0 (default 2: He)")
    p.add_argument("--sigma-b2", metavar="B", type=_real, default=0.0, help="bias variance >= 0 (default 0)")
    p.add_argument("--input-norm2", metavar="X", type=_real, help="|x^0|^2 >= 0 (default N0)")
    p.add_argument("--parameter-sharing", action="store_true",
                   help="looks-linear initialization: weights [[W0, -W0], [-W0, W0]], biases [b0, -b0]")
    p.add_argument("--monte-carlo", metavar="N", type=int, help="also sample N >= 2 real networks")
    p.add_argument("--seed", metavar="S", type=int, help="seed of the Monte Carlo (default: unseeded)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--out", metavar="FILE.png", help="save a figure; the format follows the extension")
    p.add_argument("--dpi", type=_real, default=150.0, help="resolution of raster images (default 150)")
    p.set_defaults(func=_cmd_relu)
    return parser


def main(argv=None) -> int:
    """Run the ``exact`` command with ``argv`` (default: sys.argv[1:]); return the exit status."""
    return _run(build_parser(), argv, PROG)


if __name__ == "__main__":
    raise SystemExit(main())
