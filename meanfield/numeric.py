"""Sympy expressions of activations as overflow-safe, vectorized numpy functions.

A formula is evaluated as written, so ``x/(1 + exp(-x))`` overflows to ``inf/inf`` in its derivative at
x = -800 although the value there is about -800 e^-800.  :func:`numpy_function` therefore evaluates in
three stages, each only where the one before returned a non-finite number at a finite x:

1. float64 numpy (the fast path, every point);
2. the same code on ``numpy.longdouble`` (exponent range 1e+-4932 on x86-64: exp(775) is finite there);
3. mpmath, point by point (arbitrary exponent range); a complex result means x is outside phi's domain.

What is still infinite after stage 3 is infinite (|value| > 1.8e308), and NaN means "undefined": the
Gaussian expectations then decide whether that is a divergence.  The printer writes Heaviside, Max, Min
and the special functions of :mod:`meanfield.formula` directly as numpy calls (sympy's default printer
rewrites unknown functions as Piecewise and simplifies them, which can take minutes).

``complex_safe=True`` gives a version that accepts complex arrays (the Jacobian-spectrum contours
evaluate phi' off the real axis): the logistic and softplus are then written with ``exp``.
"""
from __future__ import annotations

import functools
import math
from typing import Callable

import mpmath
import numpy as np
import scipy
import scipy.special
import sympy as sp
from scipy import special
from sympy.printing.numpy import SciPyPrinter
from sympy.printing.pycode import MpmathPrinter

from .formula import X

__all__ = ["numpy_function", "ArrayFn"]

ArrayFn = Callable[[np.ndarray], np.ndarray]


def _h0(expr) -> float:
    return float(expr.args[1]) if len(expr.args) > 1 else 0.5


class _NumpyPrinter(SciPyPrinter):
    """numpy code without Piecewise rewrites: Heaviside, Max, Min and sigprop's special functions."""

    def _print_Heaviside(self, expr):
        return f"numpy.heaviside({self._print(expr.args[0])}, {_h0(expr)!r})"

    def _print_NormalCDF(self, expr):
        return f"_ndtr({self._print(expr.args[0])})"

    def _print_Sigmoid(self, expr):
        return f"_sigmoid({self._print(expr.args[0])})"

    def _print_Softplus(self, expr):
        return f"_softplus({self._print(expr.args[0])})"

    def _print_sech(self, expr):
        return f"_sech({self._print(expr.args[0])})"


class _MpmathPrinter(MpmathPrinter):
    def _print_Heaviside(self, expr):
        return f"_heaviside({self._print(expr.args[0])}, {_h0(expr)!r})"

    def _print_NormalCDF(self, expr):
        return f"mpmath.ncdf({self._print(expr.args[0])})"

    def _print_Sigmoid(self, expr):
        return f"_sigmoid({self._print(expr.args[0])})"

    def _print_Softplus(self, expr):
        return f"_softplus({self._print(expr.args[0])})"

    def _print_sech(self, expr):
        return f"mpmath.sech({self._print(expr.args[0])})"

    def _print_Max(self, expr):
        return "max(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def _print_Min(self, expr):
        return "min(" + ", ".join(self._print(a) for a in expr.args) + ")"


def _sech(u):
    with np.errstate(over="ignore"):
        return 1.0 / np.cosh(u)


def _real_softplus(u):
    return np.logaddexp(0.0, u)


def _complex_sigmoid(u):
    with np.errstate(over="ignore", invalid="ignore"):
        return 1.0 / (1.0 + np.exp(-u))


def _complex_softplus(u):
    with np.errstate(over="ignore", invalid="ignore"):
        return np.log1p(np.exp(u))


def _complex_ndtr(u):
    return 0.5 * (1.0 + special.erf(u / math.sqrt(2.0)))


def _longdouble_ndtr(u):
    return special.ndtr(np.asarray(u, dtype=float))


_REAL = {"numpy": np, "scipy": scipy, "functools": functools, "_ndtr": special.ndtr, "_sigmoid": special.expit,
         "_softplus": _real_softplus, "_sech": _sech}
_COMPLEX = {"numpy": np, "scipy": scipy, "functools": functools, "_ndtr": _complex_ndtr, "_sigmoid": _complex_sigmoid,
            "_softplus": _complex_softplus, "_sech": _sech}
# scipy's ufuncs have no long-double loops: the extended-range stage uses exp-based forms
_LONG = {"numpy": np, "scipy": scipy, "functools": functools, "_ndtr": _longdouble_ndtr, "_sigmoid": _complex_sigmoid,
         "_softplus": _real_softplus, "_sech": _sech}
_MP = {"mpmath": mpmath, "_heaviside": lambda u, h0: mpmath.mpf(h0) if u == 0 else (1 if u > 0 else 0),
       "_sigmoid": lambda u: 1 / (1 + mpmath.exp(-u)), "_softplus": lambda u: mpmath.log1p(mpmath.exp(u))}


def _compile(expr: sp.Expr, namespace: dict, printer) -> Callable:
    return sp.lambdify(X, expr, modules=[dict(namespace), "numpy", "scipy"], printer=printer)


def _mp_value(fn, x: float) -> float:
    with mpmath.workdps(30):
        try:
            value = fn(mpmath.mpf(x))
        except (ZeroDivisionError, ValueError, OverflowError, TypeError):
            return math.nan
        if isinstance(value, mpmath.mpc):
            if value.imag != 0:
                return math.nan  # outside phi's (real) domain
            value = value.real
        try:
            return float(value)
        except OverflowError:
            return math.copysign(math.inf, float(mpmath.sign(value)))


def numpy_function(expr: sp.Expr, complex_safe: bool = False) -> ArrayFn:
    """A vectorized function x -> expr(x) (same shape as x), overflow-safe as in the module docstring.

    Parameters
    ----------
    expr : sympy.Expr
        An expression in :data:`meanfield.formula.X`.
    complex_safe : bool
        Accept complex arrays (no fallback stages: off the real axis a non-finite value is returned as is).
    """
    if complex_safe:
        fn = _compile(expr, _COMPLEX, _NumpyPrinter)

        def complex_version(x):
            x = np.asarray(x)
            with np.errstate(all="ignore"):
                return np.broadcast_to(np.asarray(fn(x)), x.shape).copy()

        return complex_version

    fast = _compile(expr, _REAL, _NumpyPrinter)
    slow: list = []  # compiled on first need

    def extended(x: np.ndarray) -> np.ndarray:
        if not slow:
            slow.append(_compile(expr, _LONG, _NumpyPrinter))
            slow.append(sp.lambdify(X, expr, modules=[dict(_MP), "mpmath"], printer=_MpmathPrinter))
        long_fn, mp_fn = slow
        with np.errstate(all="ignore"):
            try:
                out = np.asarray(long_fn(x.astype(np.longdouble)), dtype=np.longdouble)
                out = np.broadcast_to(out, x.shape).astype(float)
            except (TypeError, ValueError):
                out = np.full(x.shape, np.nan)
        still = ~np.isfinite(out)
        if np.any(still):
            out[still] = [_mp_value(mp_fn, float(v)) for v in x[still]]
        return out

    def vectorized(x):
        x = np.asarray(x, dtype=float)
        with np.errstate(all="ignore"):
            out = np.broadcast_to(np.asarray(fast(x), dtype=float), x.shape).copy()
        bad = ~np.isfinite(out) & np.isfinite(x)
        if np.any(bad):
            out[bad] = extended(x[bad])
        return out

    return vectorized
