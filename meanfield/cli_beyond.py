"""The ``meanfield ntk`` and ``meanfield finite-width`` subcommands (registered by :mod:`meanfield.cli`)::

    meanfield ntk relu --sigma-w2 2 --sigma-b2 0 --depth 10 [--cosine 0 0.5 0.9] [--q0 1]
        [--parameterization standard --width 512] [--inputs X.npy] [--json]
    meanfield finite-width tanh --sigma-w2 1.76 --sigma-b2 0.05 --widths 64 64 64 64 64
        [--q0 1] [--mc-networks 20000 --seed 0] [--json]

``ntk``: the infinite-width NTK and NNGP of pairs of inputs (|x|^2/n_0 = q0 and the given cosines) or of the rows
of an array file, and the NTK's depth scale (:func:`meanfield.ntk_kernel`, :func:`meanfield.ntk_depth_scale`).
``finite-width``: per layer the 1/n corrections of :func:`meanfield.finite_width` and the log-normal law of
|J u|^2 of :func:`meanfield.jacobian_norm_law`, optionally next to sampled networks
(:func:`meanfield.simulate.sample_fluctuations`).  Exit status and errors as every subcommand (exit 2 and one
line on stderr for bad input); where the 1/n expansion breaks down a ``warning:`` line goes to stderr and the
JSON says ``"reliable": false``.
"""
from __future__ import annotations

import math
import os
import sys
import warnings

import numpy as np

from .activations import activation
from .cli_support import DEFAULT_SEED, _JSON_NOTE, _UsageError, _emit_json, _fmt, _real, _table, _variance
from .errors import FiniteWidthWarning, ParameterError, SigpropError

__all__ = ["register"]

DEFAULT_COSINES = (0.0, 0.5, 0.9)
_MAX_TEXT_INPUTS = 12  # larger Gram matrices go to --json only


def _act(args):
    return activation(args.act, **dict(args.param or []))


def _pair_inputs(q0: float, cosines) -> np.ndarray:
    """Rows x, x'_1, x'_2, ...: |x|^2/n_0 = q0 and cosine c_k between x and x'_k (n_0 = 2)."""
    rows = [[1.0, 0.0]] + [[c, math.sqrt(max(0.0, 1.0 - c * c))] for c in cosines]
    return math.sqrt(2 * q0) * np.array(rows)


def _load_inputs(path: str) -> np.ndarray:
    if not os.path.isfile(path):
        raise _UsageError(f"argument --inputs: no file {path!r}")
    try:
        X = np.load(path, allow_pickle=False) if path.endswith(".npy") else np.loadtxt(path, delimiter=",", ndmin=2)
    except (OSError, ValueError) as exc:
        raise _UsageError(f"argument --inputs: cannot read {path!r} as a .npy array or a CSV of numbers ({exc})") from None
    if getattr(X, "ndim", 0) != 2:
        raise ParameterError(f"--inputs must hold a 2-D array (one input per row), got shape {np.shape(X)}")
    return X


def _cmd_ntk(args) -> int:
    from .ntk import ntk_depth_scale, ntk_kernel

    act = _act(args)
    sw2, sb2 = _variance("sigma_w2", args.sigma_w2), _variance("sigma_b2", args.sigma_b2)
    if args.inputs is not None and args.cosine:
        raise _UsageError("give either --inputs FILE or --cosine values, not both")
    if args.inputs is not None:
        X = _load_inputs(args.inputs)
    else:
        if args.q0 <= 0:
            raise ParameterError(f"--q0 is |x|^2/n_0 and must be > 0, got {args.q0!r}")
        cosines = list(args.cosine or DEFAULT_COSINES)
        for c in cosines:
            if not -1 <= c <= 1:
                raise ParameterError(f"--cosine values are correlations in [-1, 1], got {c!r}")
        X = _pair_inputs(args.q0, cosines)
    if args.parameterization == "standard" and args.width is None and args.depth > 1:
        raise _UsageError("--parameterization standard needs the hidden width --width N (its NTK grows with it)")
    K, T = ntk_kernel(act, sw2, sb2, args.depth, X, args.parameterization, widths=args.width, return_nngp=True)
    q1 = sw2 * float(np.mean(np.sum(X * X, axis=1))) / X.shape[1] + sb2
    try:  # the deep limit, from the inputs' mean q^1
        scale = ntk_depth_scale(act, sw2, sb2, q0=q1) if q1 > 0 else None
    except SigpropError as exc:  # e.g. no finite fixed point: the kernel above is still valid at this depth
        scale, no_scale = None, str(exc)
    else:
        no_scale = "sigma_w2 = sigma_b2 = 0: the signal vanishes" if scale is None else None
    head = {"command": "ntk", "activation": act.name, "params": dict(act.params), "sigma_w2": sw2, "sigma_b2": sb2,
            "depth": args.depth, "parameterization": args.parameterization}
    if args.json:
        payload = dict(head, nngp=K, ntk=T)
        if args.inputs is None:
            payload.update(q0=args.q0, cosines=[float(c) for c in cosines])
        payload["depth_scale"] = {"reason": no_scale} if scale is None else {
            "phase": scale.phase, "xi": scale.xi, "limit": scale.limit,
            "theta_star": scale.theta_star, "reason": scale.reason}
        _emit_json(payload, None if scale is None else {"xi": scale.reason, "theta_star": scale.reason})
        return 0
    print(f"# NTK ({args.parameterization} parameterization) and NNGP of h^{args.depth}, {act.name}, "
          f"sigma_w2 = {_fmt(sw2)}, sigma_b2 = {_fmt(sb2)}")
    if args.inputs is None:
        header = ["cosine", "K_11", "K_12", "Theta_11", "Theta_12", "Theta_12/Theta_11"]
        rows = [[_fmt(c, 6), _fmt(K[0, 0]), _fmt(K[0, k + 1]), _fmt(T[0, 0]), _fmt(T[0, k + 1]),
                 _fmt(T[0, k + 1] / T[0, 0], 8)] for k, c in enumerate(cosines)]
        print(_table(header, rows))
    elif X.shape[0] <= _MAX_TEXT_INPUTS:
        print("NTK Theta:")
        print(_table([""] + [str(j) for j in range(X.shape[0])], [[str(i)] + [_fmt(v, 8) for v in row] for i, row in enumerate(T)]))
    else:
        print(f"{X.shape[0]} inputs: Theta has trace {_fmt(np.trace(T))} and mean entry {_fmt(T.mean())} (--json for the matrices)")
    print()
    if scale is None:
        print(f"depth: no deep limit ({no_scale})")
    else:
        print(f"depth: {scale.phase}, depth scale xi = {_fmt(scale.xi, 6)} layers; {scale.reason}")
    return 0


def _widths(args) -> list[int]:
    if args.widths is not None and (args.depth is not None or args.width is not None):
        raise _UsageError("give either --widths n_0 ... n_L or --depth L --width N, not both")
    if args.widths is not None:
        return list(args.widths)
    if args.depth is None or args.width is None:
        raise _UsageError("give the widths: --widths n_0 n_1 ... n_L, or --depth L --width N (all layers N wide)")
    if args.depth < 1:
        raise ParameterError(f"--depth is the number of weight layers and must be >= 1, got {args.depth}")
    return [args.width] * (args.depth + 1)


def _cmd_finite_width(args) -> int:
    from .finite_width import finite_width
    from .jacobian_norm import jacobian_norm_law

    act = _act(args)
    sw2, sb2 = _variance("sigma_w2", args.sigma_w2), _variance("sigma_b2", args.sigma_b2)
    widths = _widths(args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FiniteWidthWarning)
        fw = finite_width(act, sw2, sb2, widths, q0=args.q0)
        jl = jacobian_norm_law(act, sw2, sb2, widths, q0=args.q0)
    notes = [str(w.message) for w in caught if issubclass(w.category, FiniteWidthWarning)]
    mc = None
    if args.mc_networks is not None:
        if args.mc_networks < 2:
            raise ParameterError(f"--mc-networks must be >= 2 (variances across networks), got {args.mc_networks}")
        from .simulate import sample_fluctuations

        mc = sample_fluctuations(act, sw2, sb2, widths, args.mc_networks, seed=args.seed, q0=args.q0)
    layers = np.arange(1, fw.depth + 1)
    columns = {
        "width": np.asarray(widths[1:], dtype=float), "q": fw.q, "kernel_shift": fw.kernel_shift,
        "excess_kurtosis": fw.excess_kurtosis, "q_variance": fw.q_variance,
        "log_jacobian_mean": jl.mean, "log_jacobian_var": jl.var,
    }
    if mc is not None:
        columns.update({
            "mc_kernel_shift": mc.s.mean(axis=0) - fw.q, "mc_excess_kurtosis": mc.excess_kurtosis,
            "mc_q_variance": mc.q.var(axis=0, ddof=1), "mc_log_jacobian_mean": mc.log_jacobian.mean(axis=0),
            "mc_log_jacobian_var": mc.log_jacobian.var(axis=0, ddof=1),
        })
    for note in notes:
        print(f"warning: {note}", file=sys.stderr)
    if args.json:
        payload = {"command": "finite-width", "activation": act.name, "params": dict(act.params), "sigma_w2": sw2,
                   "sigma_b2": sb2, "q0": args.q0, "widths": widths, "depth_to_width": fw.depth_to_width,
                   "reliable": not notes, "warnings": notes,
                   "layers": [dict({"layer": int(l)}, **{k: float(v[i]) for k, v in columns.items()})
                              for i, l in enumerate(layers)]}
        if mc is not None:
            payload.update(mc_networks=args.mc_networks, seed=args.seed)
        _emit_json(payload)
        return 0
    print(f"# first-order 1/n corrections, {act.name}, sigma_w2 = {_fmt(sw2)}, sigma_b2 = {_fmt(sb2)}, q0 = "
          f"{_fmt(args.q0)}; sum_l 1/n_l = {_fmt(fw.depth_to_width, 6)} (the L/n ratio of the expansion)")
    if mc is not None:
        print(f"# mc_*: {args.mc_networks} sampled networks, seed {args.seed}")
    header = ["layer"] + list(columns)
    rows = [[str(l)] + [_fmt(v[i], 6) for v in columns.values()] for i, l in enumerate(layers)]
    print(_table(header, rows))
    return 0


def register(sub, common) -> None:
    """Add the ``ntk`` and ``finite-width`` subparsers to ``sub``; ``common`` adds ACT and --param."""
    p = sub.add_parser(
        "ntk", help="infinite-width NTK and NNGP of inputs after L layers, and the NTK's depth scale",
        description="The neural tangent kernel Theta and the NNGP K of h^L (depth counts weight layers, as "
        "neural-tangents' serial(Dense, (act, Dense) x (L-1))), in neural-tangents' NTK parameterization "
        "(default) or the standard one (which needs the hidden --width). Inputs: pairs (x, x') with |x|^2/n_0 "
        "= q0 and the given cosines, or the rows of --inputs FILE (.npy, or CSV). Also the NTK's behaviour with "
        "depth (Xiao, Pennington & Schoenholz 2020): ordered, chaotic or critical, and its depth scale.",
        epilog=_JSON_NOTE,
    )
    common(p)
    p.add_argument("--sigma-w2", metavar="A", type=_real, required=True, help="weight variance >= 0")
    p.add_argument("--sigma-b2", metavar="B", type=_real, required=True, help="bias variance >= 0")
    p.add_argument("--depth", metavar="L", type=int, required=True, help="number of weight layers >= 1")
    p.add_argument("--cosine", metavar="C", type=_real, nargs="+",
                   help="cosines of the input pairs (default: " + " ".join(f"{c:g}" for c in DEFAULT_COSINES) + ")")
    p.add_argument("--q0", metavar="Q", type=_real, default=1.0, help="|x|^2/n_0 of the input pairs (default 1)")
    p.add_argument("--inputs", metavar="FILE", help="inputs as rows of a .npy array or a CSV file, instead of pairs")
    p.add_argument("--parameterization", choices=("ntk", "standard"), default="ntk",
                   help="neural-tangents' parameterization (default ntk)")
    p.add_argument("--width", metavar="N", type=int, help="hidden width (the standard parameterization's NTK grows with it)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=_cmd_ntk)

    p = sub.add_parser(
        "finite-width", help="1/n corrections per layer (kurtosis, kernel shift, log-normal |J u|^2), optional Monte Carlo",
        description="Leading 1/n corrections of one input's statistics at every layer (Roberts, Yaida & Hanin): "
        "the kernel shift E[(h^l)^2] - q^l, the excess (Fisher) kurtosis of h^l, the variance of the empirical q^l "
        "= |h^l|^2/n_l, and the mean and variance of log(|J_l u|^2/|u|^2) (Hanin & Nica), with --mc-networks next "
        "to sampled networks. A warning on stderr where depth/width is too large for the expansion.",
        epilog=_JSON_NOTE,
    )
    common(p)
    p.add_argument("--sigma-w2", metavar="A", type=_real, required=True, help="weight variance > 0")
    p.add_argument("--sigma-b2", metavar="B", type=_real, required=True, help="bias variance >= 0")
    p.add_argument("--widths", metavar="N", type=int, nargs="+", help="widths n_0 n_1 ... n_L")
    p.add_argument("--depth", metavar="L", type=int, help="number of weight layers (with --width)")
    p.add_argument("--width", metavar="N", type=int, help="every width n_0 .. n_L (with --depth)")
    p.add_argument("--q0", metavar="Q", type=_real, default=1.0, help="|x^0|^2/n_0 of the input (default 1)")
    p.add_argument("--mc-networks", metavar="N", type=int, help="also sample N networks (exact Gaussian chain)")
    p.add_argument("--seed", metavar="S", type=int, default=DEFAULT_SEED,
                   help=f"seed of the Monte Carlo (default {DEFAULT_SEED}; printed with the results)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_cmd_finite_width)
