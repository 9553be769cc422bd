"""The ``meanfield spectrum`` and ``meanfield isometry`` commands: Jacobian spectra and their verdict.

Both take the network (activation, ``--sigma-w2``, ``--sigma-b2``, ``--depth``, ``--weights``), where the
Jacobian is taken (``--q0``: the raw input's second moment |x^0|^2/n_0, the layers along its trajectory;
default: every layer at q*, docs/conventions.md §4) and an optional Monte Carlo of real networks
(``--mc-width N``, ``--mc-networks K``, ``--seed S``: seeded by default, the seed printed; ``--progress``).
``--monte-carlo`` and ``--networks`` are the deprecated spellings of ``--mc-width`` and ``--mc-networks``.
Used by :mod:`meanfield.cli` only.
"""
from __future__ import annotations

import argparse

import numpy as np

from .activations import activation
from .cli_support import (
    DEFAULT_SEED,
    _JSON_NOTE,
    _emit_csv,
    _emit_json,
    _fmt,
    _new_figure,
    _param,
    _real,
    _resolve_alias,
    _save_figure,
    _variance,
)
from .errors import ParameterError

__all__ = ["add_spectrum_commands"]

#: quantile levels reported by ``spectrum --json``
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def _checked(args):
    """(activation, sigma_w2, sigma_b2, depth, weights, q0) of the two commands, checked; the deprecated
    Monte Carlo spellings resolved."""
    width_flag = _resolve_alias(args, "monte_carlo", "mc_width")
    networks_flag = _resolve_alias(args, "networks", "mc_networks")
    args.mc_networks = 1 if args.mc_networks is None else args.mc_networks
    act = activation(args.act, **dict(args.param or []))
    sw2 = _variance("sigma_w2", args.sigma_w2)
    if sw2 <= 0:
        raise ParameterError(f"sigma_w2 must be > 0 for a Jacobian spectrum, got {sw2!r}")
    sb2 = _variance("sigma_b2", args.sigma_b2)
    if args.depth < 1:
        raise ParameterError(f"--depth is the number of weight layers and must be >= 1, got {args.depth}")
    if args.mc_width is not None and args.mc_width < 2:
        raise ParameterError(f"{width_flag} is the width of the sampled networks and must be >= 2, got {args.mc_width}")
    if args.mc_networks < 1:
        raise ParameterError(f"{networks_flag} is the number of sampled networks and must be >= 1, got {args.mc_networks}")
    if args.q0 is not None:
        _variance("q0", args.q0)
    return act, sw2, sb2, args.depth, args.weights, args.q0


def _where(spec) -> str:
    """Where the Jacobian is taken, in a few words."""
    if spec.kind == "trajectory":
        return f"q0 = {_fmt(spec.q0, 6)} (q^L = {_fmt(spec.q, 6)})"
    return f"q* = {_fmt(spec.q, 6)}"


def _cmd_spectrum(args) -> int:
    from .plotting import spectrum_grid
    from .simulate import jacobian_singular_values, ks_distance
    from .spectra import jacobian_spectrum

    act, sw2, sb2, depth, weights, q0 = _checked(args)
    fig = _new_figure(args.out, args.dpi) if args.out else None  # the file name is checked before any work
    spec = jacobian_spectrum(act, sw2, sb2, depth, weights, q0=q0)
    samples = None
    if args.mc_width is not None:
        samples = jacobian_singular_values(act, sw2, sb2, depth, args.mc_width, weights, n_networks=args.mc_networks,
                                           seed=args.seed, q0=q0, progress=args.progress)
    with np.errstate(invalid="ignore"):  # the edge search may take log1p(m < -1) between two atoms
        top = spec.support()[1]
        if fig is not None:
            spec.plot(ax=fig.add_subplot(), samples=samples)
            _save_figure(fig, args.out, args.dpi)
    mc = ""
    if samples is not None:
        mc = f"; Monte Carlo: {args.mc_networks} x width {args.mc_width}, seed {args.seed}"
    if args.csv:
        x = spectrum_grid(spec)
        _emit_csv(["lambda", "pdf", "cdf", "sf"], zip(x, spec.pdf(x), spec.cdf(x), spec.sf(x)))
        return 0
    if args.json:
        payload = {
            "command": "spectrum", "activation": act.name, "params": dict(act.params), "sigma_w2": sw2,
            "sigma_b2": sb2, "depth": depth, "weights": weights, "kind": spec.kind, "q0": q0,
            "q_star": spec.q if spec.kind == "fixed point" else None, "q_last": spec.q,
            "mean": spec.mean(), "var": spec.var(), "lambda_max": top,
            "atoms": [list(a) for a in spec.atoms], "continuous_mass": spec.continuous_mass,
            "quantiles": {f"{p:g}": float(spec.ppf(p)) for p in QUANTILES},
            "monte_carlo": None, "figure": args.out,
        }
        # null fields that are not numbers gone wrong, with their reasons (merged by _emit_json)
        payload["undefined"] = {k: v for k, v in {
            "q0": "not given: every layer at the fixed point q*" if q0 is None else None,
            "q_star": None if spec.kind == "fixed point" else f"not used: the layers follow the {spec.kind}",
            "monte_carlo": "not requested (--mc-width)" if samples is None else None,
            "figure": "not requested (--out)" if args.out is None else None,
        }.items() if v is not None}
        if samples is not None:
            ks = ks_distance(samples, spec, floor=1e-8 * top)
            payload["monte_carlo"] = {"width": args.mc_width, "n_networks": args.mc_networks, "seed": args.seed,
                                      "mean": float(np.mean(samples.lam)), "ks": ks.statistic, "ks_floor": 1e-8 * top}
        _emit_json(payload)
        return 0
    head = f"wrote {args.out}" if args.out else "Jacobian spectrum"
    print(f"{head} ({act.name}, {weights}, L = {depth}: {_where(spec)}, E[lambda] = {_fmt(spec.mean(), 6)}, "
          f"Var[lambda] = {_fmt(spec.var(), 6)}, lambda_max = {_fmt(top, 6)}{mc})")
    return 0


def _cmd_isometry(args) -> int:
    from .spectra import isometry

    act, sw2, sb2, depth, weights, q0 = _checked(args)
    report = isometry(act, sw2, sb2, depth, weights, tolerance=args.tolerance, monte_carlo_width=args.mc_width,
                      seed=args.seed, q0=q0, n_networks=args.mc_networks, progress=args.progress)
    if args.json:
        _emit_json({"command": "isometry", **report.to_dict(undefined="null")})
        return 0
    print(report.verdict)
    return 0


def _common(p: argparse.ArgumentParser, act_help: str) -> None:
    p.add_argument("act", metavar="ACT", help=act_help)
    p.add_argument("--param", metavar="NAME=VALUE", type=_param, action="append",
                   help="activation parameter, repeatable (e.g. --param slope=0.2 for leaky_relu)")
    p.add_argument("--sigma-w2", metavar="A", type=_real, required=True, help="weight variance > 0")
    p.add_argument("--sigma-b2", metavar="B", type=_real, required=True, help="bias variance >= 0")
    p.add_argument("--depth", metavar="L", type=int, required=True, help="number of weight layers >= 1")
    p.add_argument("--weights", choices=("orthogonal", "gaussian"), default="orthogonal",
                   help="weight ensemble: Haar orthogonal (W = sigma_w O) or Gaussian N(0, sigma_w^2/N) "
                   "(default orthogonal)")
    p.add_argument("--q0", metavar="Q", type=_real,
                   help="the raw input's second moment |x^0|^2/n_0 >= 0: layer l at q^l of its trajectory, q^1 = "
                   "sigma_w2 q0 + sigma_b2 (default: every layer at q*, the deep limit)")
    p.add_argument("--mc-width", metavar="N", type=int,
                   help="also sample real networks of width N >= 2 (cost ~ L N^3 per network)")
    p.add_argument("--mc-networks", metavar="K", type=int, help="number of sampled networks (default 1)")
    p.add_argument("--seed", metavar="S", type=int, default=DEFAULT_SEED,
                   help=f"seed of the Monte Carlo (default {DEFAULT_SEED}; printed with the results)")
    p.add_argument("--progress", action="store_true", help="progress bar over layers while sampling")
    p.add_argument("--monte-carlo", metavar="N", type=int, help=argparse.SUPPRESS)  # deprecated: --mc-width
    p.add_argument("--networks", metavar="K", type=int, help=argparse.SUPPRESS)  # deprecated: --mc-networks


def add_spectrum_commands(sub, act_help: str) -> None:
    """The ``spectrum`` and ``isometry`` subparsers of the ``meanfield`` command."""
    p = sub.add_parser(
        "spectrum", help="the Jacobian spectrum (free probability, optional Monte Carlo): numbers, figure, table",
        description="The law of the eigenvalues lambda of J J^T (squared singular values of the input-output "
        "Jacobian J = D^L W^L ... D^1 W^1) by free probability: prints where the layers sit, E[lambda], "
        "Var[lambda] and lambda_max; --out saves the density of log10 lambda with its atoms (over a histogram of "
        "sampled networks with --mc-width) as an image whose format follows the extension; --json the numbers "
        "(with quantiles and atoms); --csv the density and cdf on the plotted grid.  Smooth activations (tanh, "
        "erf, formulas) take longer than relu, hardtanh, linear.",
        epilog=_JSON_NOTE,
    )
    _common(p, act_help)
    p.add_argument("--out", metavar="FILE.png", help="save the figure to this image file")
    p.add_argument("--dpi", type=_real, default=150.0, help="resolution of raster images (default 150)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON instead of text")
    fmt.add_argument("--csv", action="store_true", help="print lambda, pdf, cdf and sf on the figure's grid as CSV")
    p.set_defaults(func=_cmd_spectrum)

    p = sub.add_parser(
        "isometry", help="dynamical-isometry verdict with the numbers behind it",
        description="Is the network dynamically isometric (every singular value of J near 1)? "
        "Isometric iff |log E[lambda]| <= 0.1, Var[lambda]/E[lambda]^2 <= 0.25, lambda_max/E[lambda] "
        "<= 4 and the atom at lambda = 0 has mass <= 1e-3 (Pennington, Schoenholz & Ganguli 2017, "
        "2018; see meanfield.isometry). Closed-form moments and the support edge, no density; the "
        "fraction of singular values in [1 - T, 1 + T] is exact for relu/hardtanh/linear and a lower "
        "bound from the moments for smooth activations (also sampled with --mc-width).",
        epilog=_JSON_NOTE,
    )
    _common(p, act_help)
    p.add_argument("--tolerance", metavar="T", type=_real, default=0.25,
                   help="half-width of the band [1 - T, 1 + T] of singular values (default 0.25)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=_cmd_isometry)
