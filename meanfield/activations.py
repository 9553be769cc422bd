"""Activation functions: built-in names, user formulas in ``x`` and Python callables.

An :class:`Activation` carries phi, phi' and phi'' as vectorized numpy functions, the points where
phi is not smooth (``kinks``: quadrature splits there), a sympy expression where one exists (for the
symbolic results) and a ``family`` tag that selects exact Gaussian integrals in
:mod:`meanfield.closed_forms`.

Built-ins: linear, relu, leaky_relu (``slope``), tanh, hardtanh (clip to [-1, 1]),
erf (unscaled, phi'(0) = 2/sqrt(pi)), sigmoid (logistic), softplus (log(1+e^x)), selu (Klambauer
et al. 2017 constants; ``scale``, ``alpha`` may be overridden), elu (``alpha``), gelu (exact
x Phi(x)), silu (alias swish, x sigmoid(x)), sin.

Derivative accuracy: exact (closed form) for built-ins and formulas (sympy differentiation).  For a
Python callable the derivatives are 4th-order 5-point differences with fixed steps h = eps^(1/5)
(phi': error about 1e-12 max(1, |phi|) for smooth phi of unit scale) and 3e-3 (phi'': about
1e-10 max(1, |phi|)); near a kink declared with ``kinks=`` the stencil is one-sided, so it never
straddles it; within 2h of an undeclared kink the derivatives are wrong.
"""
from __future__ import annotations

import difflib
import functools
import math
import numbers
from functools import lru_cache
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np
import sympy as sp
from scipy import optimize, special

from . import validation as check
from .errors import ActivationError, FormulaError, UnknownActivationError
from .formula import MAX_NODES, SELU_ALPHA, _short, SELU_SCALE, Sigmoid, Softplus, X, parse_formula, tree_size
from .numeric import ArrayFn, numpy_function

__all__ = ["Activation", "activation", "BUILTIN_NAMES", "SELU_SCALE", "SELU_ALPHA"]
_TINY = 1e-200  # one-sided limits at a kink at 0: phi'(+-1e-200) equals phi'(0+-) to the last bit


@dataclass(frozen=True, eq=False)
class Activation:
    """An activation function phi with its first two derivatives.

    Attributes
    ----------
    name : str
        Built-in name, the formula text, or the callable's name.
    phi, dphi, d2phi : callable
        Vectorized numpy functions x -> phi(x), phi'(x), phi''(x) (phi'' is 0 away from kinks for
        piecewise-linear phi; Dirac masses at kinks are never represented).
    kinks : tuple of float
        Points where phi, phi' or phi'' jump; Gaussian quadrature is split there.
    expr : sympy.Expr or None
        phi as a sympy expression in the real symbol ``x`` (None for Python callables).
    family : str or None
        Key of the exact Gaussian integrals in :mod:`meanfield.closed_forms` (None: quadrature only).
    params : mapping
        Parameters of the family (``slope`` of leaky relu, ``scale`` and ``alpha`` of selu/elu).
    derivative_error : float
        Relative accuracy of ``dphi`` (0 when it is exact).
    """

    name: str
    phi: ArrayFn
    dphi: ArrayFn
    d2phi: ArrayFn
    kinks: tuple[float, ...] = ()
    expr: sp.Expr | None = None
    family: str | None = None
    params: Mapping[str, float] = field(default_factory=dict)
    derivative_error: float = 0.0

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return f"Activation({self.name!r}{extra})"

    @property
    def phi0(self) -> float:
        """phi(0)."""
        return float(self.phi(np.array([0.0]))[0])

    @property
    def dphi0_squared(self) -> float:
        """phi'(0)^2, the average of the two one-sided values when 0 is a kink.

        This is D(q) = E[phi'(sqrt(q) z)^2] in the limit q -> 0 (half the mass on each side).
        """
        if any(k == 0.0 for k in self.kinks):
            left, right = self.dphi(np.array([-_TINY, _TINY]))
            return float((left**2 + right**2) / 2)
        return float(self.dphi(np.array([0.0]))[0] ** 2)

    @functools.cached_property
    def scale_free_derivative(self) -> bool:
        """phi'(c x) = phi'(x) for every c > 0 (linear, relu, leaky relu, abs, and their shifts): then
        D(q) = E[phi'(sqrt(q) z)^2] and the Jacobian spectrum do not depend on q.  Checked exactly on
        50 points from 1e-3 to 1e3 of both signs, scaled by 1e-3, 7 and 1e3."""
        x = np.concatenate([-np.logspace(-3, 3, 25), np.logspace(-3, 3, 25)])
        with np.errstate(all="ignore"):
            base = np.broadcast_to(np.asarray(self.dphi(x), dtype=float), x.shape)
            return bool(np.all(np.isfinite(base))) and all(
                np.array_equal(np.broadcast_to(np.asarray(self.dphi(c * x), dtype=float), x.shape), base)
                for c in (1e-3, 7.0, 1e3)
            )

    @property
    def homogeneous(self) -> bool:
        """phi(c x) = c phi(x) for c > 0 (phi' scale-free and phi(0) = 0): then V(q) = D q with the
        constant D = E[phi'(z)^2], and the variance map is linear (docs/conventions.md §2)."""
        return self.phi0 == 0.0 and self.scale_free_derivative

    @property
    def is_smooth(self) -> bool:
        """True when phi has no kinks (analytic built-ins and kink-free formulas)."""
        return not self.kinks


# ----------------------------------------------------------------------------------------------
# built-ins: sympy expression (for symbolic work) + hand-written, overflow-safe numpy functions
# ----------------------------------------------------------------------------------------------
_SQRT2 = math.sqrt(2.0)
_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _zeros(x):
    return np.zeros_like(np.asarray(x, dtype=float))


def _ones(x):
    return np.ones_like(np.asarray(x, dtype=float))


def _finite_real(value, what: str) -> float:
    """``value`` as a finite Python float; anything else (bools, strings, sympy objects, inf, nan) is an
    ActivationError naming ``what``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.integer, np.floating)):
        raise ActivationError(f"{what} must be a real number, got {check.shown(value)} ({type(value).__name__})")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise ActivationError(f"{what} must be a finite number, got {check.shown(value)}")
    return number


def _exact(value: float) -> sp.Expr:
    """A parameter as a sympy number: a short rational when it is one (0.01 -> 1/100), else a Float.

    Only a finite real number is accepted: sympy's ``nsimplify`` evaluates strings, so nothing else
    may reach it.
    """
    value = _finite_real(value, "a parameter")
    rational = sp.nsimplify(value, rational=True)
    return rational if rational.q < 10**6 else sp.Float(value, 17)


def _builtin_linear(p):
    return X, (lambda x: np.asarray(x, dtype=float) * 1.0), _ones, _zeros, ()


def _builtin_relu(p):
    return (sp.Max(0, X), lambda x: np.maximum(x, 0.0), lambda x: (np.asarray(x) > 0) * 1.0, _zeros, (0.0,))


def _builtin_leaky_relu(p):
    a = p["slope"]
    expr = sp.Max(0, X) + _exact(a) * sp.Min(0, X)
    return (
        expr,
        lambda x: np.where(np.asarray(x) > 0, x, a * np.asarray(x, dtype=float)),
        lambda x: np.where(np.asarray(x) > 0, 1.0, a),
        _zeros,
        (0.0,),
    )


def _sech2(x):
    with np.errstate(over="ignore"):  # cosh overflows to inf for |x| > 710: sech^2 = 0, correctly
        return 1.0 / np.cosh(x) ** 2


def _builtin_tanh(p):
    # sech^2 rather than 1 - tanh^2, which has no correct digit left once tanh^2 rounds to 1
    return sp.tanh(X), np.tanh, _sech2, lambda x: -2.0 * np.tanh(x) * _sech2(x), ()


def _builtin_hardtanh(p):
    expr = sp.Max(-1, sp.Min(1, X))
    return (
        expr,
        lambda x: np.clip(x, -1.0, 1.0),
        lambda x: (np.abs(x) < 1) * 1.0,
        _zeros,
        (-1.0, 1.0),
    )


def _builtin_erf(p):
    c = 2.0 / math.sqrt(math.pi)

    def d(x):
        return c * np.exp(-np.square(x))

    return sp.erf(X), special.erf, d, lambda x: -2.0 * np.asarray(x) * d(x), ()


def _logistic_slope(x):
    """sigma(x) sigma(-x): sigma'(x) without the cancellation of sigma (1 - sigma)."""
    return special.expit(x) * special.expit(-np.asarray(x, dtype=float))


def _builtin_sigmoid(p):
    def d2(x):  # sigma'' = sigma' (1 - 2 sigma) = -sigma' tanh(x/2)
        return -_logistic_slope(x) * np.tanh(np.asarray(x) / 2)

    return Sigmoid(X), special.expit, _logistic_slope, d2, ()


def _builtin_softplus(p):
    return Softplus(X), lambda x: np.logaddexp(0.0, x), special.expit, _logistic_slope, ()


def _builtin_mish(p):
    """mish(x) = x tanh(softplus(x)) (Misra 2019), with t = tanh(s), s = softplus(x), sigma = expit(x):
    phi' = t + x sech^2(s) sigma,  phi'' = sech^2(s) sigma (2 + x (1 - sigma - 2 t sigma))."""

    def parts(x):
        x = np.asarray(x, dtype=float)
        s = np.logaddexp(0.0, x)
        return x, np.tanh(s), _sech2(s), special.expit(x)

    def phi(x):
        x, t, _, _ = parts(x)
        return x * t

    def dphi(x):
        x, t, sech2, sig = parts(x)
        return t + x * sech2 * sig

    def d2phi(x):
        x, t, sech2, sig = parts(x)
        return sech2 * sig * (2.0 + x * (special.expit(-x) - 2.0 * t * sig))

    return X * sp.tanh(Softplus(X)), phi, dphi, d2phi, ()


def _elu_like(scale: float, alpha: float):
    expr = _exact(scale) * (sp.Max(0, X) + _exact(alpha) * (sp.exp(sp.Min(0, X)) - 1))

    def phi(x):
        x = np.asarray(x, dtype=float)
        return scale * np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))

    def dphi(x):
        x = np.asarray(x, dtype=float)
        return scale * np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0)))

    def d2phi(x):
        x = np.asarray(x, dtype=float)
        return scale * np.where(x > 0, 0.0, alpha * np.exp(np.minimum(x, 0.0)))

    return expr, phi, dphi, d2phi, (0.0,)


def _builtin_selu(p):
    return _elu_like(p["scale"], p["alpha"])


def _builtin_elu(p):
    return _elu_like(1.0, p["alpha"])


def _builtin_gelu(p):
    def cdf(x):
        return special.ndtr(x)

    def pdf(x):
        return _INV_SQRT2PI * np.exp(-0.5 * np.square(x))

    return (
        X * (1 + sp.erf(X / sp.sqrt(2))) / 2,
        lambda x: np.asarray(x) * cdf(x),
        lambda x: cdf(x) + np.asarray(x) * pdf(x),
        lambda x: pdf(x) * (2.0 - np.square(x)),
        (),
    )


def _builtin_silu(p):
    def dphi(x):  # s + x s (1 - s), with 1 - s = sigma(-x)
        x = np.asarray(x, dtype=float)
        return special.expit(x) + x * _logistic_slope(x)

    def d2phi(x):  # s (1 - s) (2 + x (1 - 2 s)) = sigma' (2 - x tanh(x/2))
        x = np.asarray(x, dtype=float)
        return _logistic_slope(x) * (2.0 - x * np.tanh(x / 2))

    return X * Sigmoid(X), lambda x: np.asarray(x) * special.expit(x), dphi, d2phi, ()


def _builtin_sin(p):
    return sp.sin(X), np.sin, np.cos, lambda x: -np.sin(x), ()


# name -> (builder, default parameters, closed-form family)
_BUILTINS: dict[str, tuple] = {
    "linear": (_builtin_linear, {}, "linear"),
    "relu": (_builtin_relu, {}, "relu"),
    "leaky_relu": (_builtin_leaky_relu, {"slope": 0.01}, "relu"),
    "tanh": (_builtin_tanh, {}, None),
    "hardtanh": (_builtin_hardtanh, {}, "hardtanh"),
    "erf": (_builtin_erf, {}, "erf"),
    "sigmoid": (_builtin_sigmoid, {}, None),
    "softplus": (_builtin_softplus, {}, None),
    "selu": (_builtin_selu, {"scale": SELU_SCALE, "alpha": SELU_ALPHA}, "selu"),
    "elu": (_builtin_elu, {"alpha": 1.0}, "selu"),
    "gelu": (_builtin_gelu, {}, "gelu"),
    "silu": (_builtin_silu, {}, None),
    "mish": (_builtin_mish, {}, None),
    "sin": (_builtin_sin, {}, "sin"),
}
_ALIASES = {"swish": "silu", "identity": "linear", "logistic": "sigmoid", "hard_tanh": "hardtanh"}

#: All built-in names (aliases included).
BUILTIN_NAMES: tuple[str, ...] = tuple(sorted(set(_BUILTINS) | set(_ALIASES)))


def _check_params(name: str, defaults: Mapping[str, float], given: Mapping[str, object]) -> dict:
    unknown = set(given) - set(defaults)
    if unknown:
        allowed = ", ".join(sorted(defaults)) or "none"
        raise ActivationError(
            f"activation {name!r} has no parameter(s) {', '.join(sorted(unknown))}; allowed: {allowed}"
        )
    params = dict(defaults)
    for key, value in given.items():
        params[key] = _finite_real(value, f"parameter {key} of {name!r}")
    if name == "leaky_relu" and not 0.0 <= params["slope"] <= 1.0:
        raise ActivationError(f"leaky_relu slope must lie in [0, 1], got {params['slope']}")
    if name in ("selu", "elu") and (params["alpha"] < 0 or params.get("scale", 1.0) <= 0):
        raise ActivationError(f"{name} needs alpha >= 0 and scale > 0, got {params}")
    return params


def _builtin(name: str, given: Mapping[str, object]) -> Activation:
    params = _check_params(name, _BUILTINS[name][1], given)
    return _cached_builtin(name, tuple(sorted(params.items())))


@lru_cache(maxsize=256)
def _cached_builtin(name: str, items: tuple) -> Activation:
    """One instance per (name, parameters), so per-activation caches (tables, closed forms) hit."""
    builder, _, family = _BUILTINS[name]
    params = dict(items)
    expr, phi, dphi, d2phi, kinks = builder(params)
    return Activation(name, phi, dphi, d2phi, kinks, expr, family, params)


# ----------------------------------------------------------------------------------------------
# user formulas
# ----------------------------------------------------------------------------------------------
_KINK_FUNCTIONS = (sp.Abs, sp.Heaviside, sp.sign)
_W = sp.Wild("w")
# kink search: exact grid points (multiples of 1/20 up to 100, 0, a geometric grid to 1e6)
_LINEAR = np.arange(-2000, 2001) / 20.0
_GEOMETRIC = np.geomspace(1e-6, 1e6, 1201)
_KINK_GRID = np.unique(np.concatenate([_LINEAR, _GEOMETRIC, -_GEOMETRIC]))
_MAX_KINKS = 100


def _real_roots(eq: sp.Expr) -> list[float]:
    """Real roots of eq(x) = 0: numpy.roots for polynomials, else sign changes on a grid refined by
    brentq (roots beyond |x| = 1e6, or closer together than the grid, are not break points anyone needs)."""
    if eq.is_polynomial(X):
        coeffs = [float(c) for c in sp.Poly(eq, X).all_coeffs()]
        roots = np.roots(coeffs) if len(coeffs) > 1 else np.array([])
        real = roots[np.abs(roots.imag) <= 1e-9 * (1.0 + np.abs(roots.real))].real
        values = lambda t: np.polyval(coeffs, t)  # noqa: E731
        candidates = sorted(float(r) + 0.0 for r in real)
    else:
        values = numpy_function(eq)
        candidates = []
    g = values(_KINK_GRID)
    exact = _KINK_GRID[g == 0]
    change = np.nonzero((np.sign(g[:-1]) * np.sign(g[1:])) < 0)[0]
    found = [float(v) + 0.0 for v in exact]
    for i in change:
        lo, hi = _KINK_GRID[i], _KINK_GRID[i + 1]
        near = [r for r in candidates if lo <= r <= hi]
        found += near or [optimize.brentq(lambda t: float(values(np.array([t]))[0]), lo, hi, xtol=1e-300)]
    return found + [r for r in candidates if abs(r) > 1e6]


def _formula_kinks(expr: sp.Expr) -> tuple[float, ...]:
    """Real points where a Max/Min/Abs/Heaviside/sign inside ``expr`` switches branch (the closest
    :data:`_MAX_KINKS` to 0)."""
    equations = []
    for node in sp.preorder_traversal(expr):
        if isinstance(node, _KINK_FUNCTIONS):
            equations.append(node.args[0])
        elif isinstance(node, (sp.Max, sp.Min)):
            args = node.args
            equations += [a - b for i, a in enumerate(args) for b in args[i + 1 :]]
    points: set[float] = set()
    for eq in equations:
        if X in eq.free_symbols:
            with np.errstate(all="ignore"):
                points.update(r for r in _real_roots(eq) if math.isfinite(r))
    return tuple(sorted(sorted(points, key=abs)[:_MAX_KINKS]))


def _derivative(expr: sp.Expr, text: str, order: int) -> sp.Expr:
    """d expr / dx with Dirac masses at kinks dropped (measure zero) and 1 - tanh(u)^2 written sech(u)^2;
    refused beyond MAX_NODES * 10^(order-1) nodes."""
    d = sp.diff(expr, X)
    limit = MAX_NODES * 10 ** (order - 1)
    size = tree_size(d)
    if size > limit:
        raise FormulaError(
            f"the {'first' if order == 1 else 'second'} derivative of {_short(text)!r} has {size} nodes (at most "
            f"{limit}): simplify the formula, or pass phi as a vectorized Python callable"
        )
    d = d.replace(sp.DiracDelta, lambda *args: sp.Integer(0))
    return d.replace(1 - sp.tanh(_W) ** 2, sp.sech(_W) ** 2)  # no cancellation where tanh -> +-1


class _LazyDerivative:
    """phi'' of a formula, differentiated and compiled on first use (the mean-field maps never need it)."""

    def __init__(self, d1: sp.Expr, text: str):
        self._d1, self._text, self._fn = d1, text, None

    def __call__(self, x):
        if self._fn is None:
            self._fn = numpy_function(_derivative(self._d1, self._text, 2))
        return self._fn(x)


@lru_cache(maxsize=256)
def _from_formula(text: str) -> Activation:
    expr = parse_formula(text)
    d1 = _derivative(expr, text, 1)
    kinks = _formula_kinks(expr)
    return Activation(text, numpy_function(expr), numpy_function(d1), _LazyDerivative(d1, text), kinks, expr, None, {})


# ----------------------------------------------------------------------------------------------
# Python callables
# ----------------------------------------------------------------------------------------------
_EPS = np.finfo(float).eps


# 4th-order 5-point stencils: central, and one-sided (forward; backward = forward with -h)
_CENTRAL = {1: (np.array([1, -8, 0, 8, -1]) / 12, np.arange(-2, 3)), 2: (np.array([-1, 16, -30, 16, -1]) / 12, np.arange(-2, 3))}
_FORWARD = {1: (np.array([-25, 48, -36, 16, -3]) / 12, np.arange(5)), 2: (np.array([35, -104, 114, -56, 11]) / 12, np.arange(5))}
_STEP = {1: _EPS ** (1 / 5), 2: 3e-3}  # ~ the error-balancing steps eps^(1/5), eps^(1/6) (tuned on tanh)


def _finite_difference(f: ArrayFn, order: int, kinks: tuple[float, ...]) -> ArrayFn:
    """Derivative of order 1 or 2 by 5-point differences with a fixed step (see module docstring).

    Within two steps of a declared kink the stencil is one-sided, on the side of the point, so it
    never straddles the kink (at the kink itself: the right-hand derivative).
    """
    h = _STEP[order]

    def apply(x, weights, offsets, step):
        values = sum(w * f(x + o * step) for w, o in zip(weights, offsets) if w != 0)
        return values / step**order

    def derivative(x):
        x = np.asarray(x, dtype=float)
        result = apply(x, *_CENTRAL[order], h)
        for k in kinks:
            near = np.abs(x - k) < 2 * h
            if np.any(near):
                xs = x[near]
                step = np.where(xs >= k, h, -h)
                one_sided = apply(xs, *_FORWARD[order], step)
                result = np.array(result, dtype=float)
                result[near] = one_sided
        return result

    return derivative


def _from_callable(fn: Callable, kinks, name: str | None) -> Activation:
    probe = np.linspace(-2.0, 2.0, 7)
    try:
        out = np.asarray(fn(probe), dtype=float)
    except Exception as exc:  # noqa: BLE001 - report any failure of the user's function clearly
        raise ActivationError(f"callable activation failed on a numpy array: {exc!r}") from None
    if out.shape != probe.shape:
        raise ActivationError(
            "a callable activation must be vectorized: f(array) must return an array of the same shape "
            f"(got shape {out.shape} for input shape {probe.shape}); use numpy functions such as np.tanh"
        )

    def phi(x):
        return np.asarray(fn(np.asarray(x, dtype=float)), dtype=float)

    try:
        kinks = tuple(sorted(float(k) for k in kinks))
    except (TypeError, ValueError):
        raise ActivationError(f"kinks must be a sequence of numbers, got {kinks!r}") from None
    if not all(math.isfinite(k) for k in kinks):
        raise ActivationError(f"kinks must be finite numbers, got {kinks!r}")
    label = name or getattr(fn, "__name__", "callable")
    return Activation(
        label, phi, _finite_difference(phi, 1, kinks), _finite_difference(phi, 2, kinks), kinks, None, None, {},
        derivative_error=1e-10,
    )


# ----------------------------------------------------------------------------------------------
def activation(spec: "str | Activation | Callable", **params) -> Activation:
    """Build an :class:`Activation` from a built-in name, a formula in ``x`` or a callable.

    Parameters
    ----------
    spec : str, Activation or callable
        A built-in name (``"tanh"``, ``"leaky_relu"``, ... see :data:`BUILTIN_NAMES`; case, ``_`` and
        ``-`` are ignored, so ``"ReLU"``, ``"GELU"`` and ``"LeakyReLU"`` work too), a formula
        such as ``"x*erf(x)"`` or ``"Max(0, x) - 0.1*Max(0, -x)"`` (parsed without eval, see
        :mod:`meanfield.formula`), an existing Activation (returned unchanged), or a vectorized
        Python callable (numeric derivatives; keyword ``kinks=`` lists its non-smooth points and
        ``name=`` labels it).
    **params
        Parameters of the built-in: ``slope`` (leaky_relu, default 0.01), ``alpha`` (elu, default
        1; selu), ``scale`` (selu).

    Returns
    -------
    Activation

    Raises
    ------
    UnknownActivationError
        A word that names no built-in (its message and ``suggestions`` hold the closest names).
    ActivationError, FormulaError
        Bad parameters, unsafe or invalid formulas, non-vectorized callables.
    """
    if isinstance(spec, Activation):
        if params:
            raise ActivationError("parameters cannot be passed together with an Activation instance")
        return spec
    if callable(spec):
        kinks = params.pop("kinks", ())
        name = params.pop("name", None)
        if params:
            raise ActivationError(f"unknown keyword(s) for a callable activation: {', '.join(params)}")
        return _from_callable(spec, kinks, name)
    if not isinstance(spec, str):
        raise ActivationError(
            f"an activation is a built-in name, a formula in x or a callable; got {type(spec).__name__}"
        )
    key = spec.strip()
    name = _builtin_name(key)
    if name is not None:
        return _builtin(name, params)
    if params:
        raise ActivationError(f"parameters {sorted(params)} given for formula {spec!r}; formulas take none")
    call = key.replace(" ", "")
    if call.endswith("(x)") and _builtin_name(call[:-3]) is not None:
        return _builtin(_builtin_name(call[:-3]), {})  # "relu(x)" is the built-in, closed forms included
    if _looks_like_a_name(key):
        suggestions = tuple(difflib.get_close_matches(_normalized(key), _NORMALIZED, n=3, cutoff=0.6))
        suggestions = tuple(dict.fromkeys(_NORMALIZED[s] for s in suggestions))
        quoted = [repr(s) for s in suggestions]
        hint = f"did you mean {' or '.join([', '.join(quoted[:-1]), quoted[-1]] if len(quoted) > 1 else quoted)}? " if quoted else ""
        raise UnknownActivationError(
            f"unknown activation {spec!r}: {hint}built-in names (any case; '-' or '_' optional) are "
            f"{', '.join(BUILTIN_NAMES)}; or write a formula in x such as 'x*erf(x)'",
            name=spec, suggestions=suggestions,
        )
    return _from_formula(spec)


def _normalized(name: str) -> str:
    """A name as looked up: lower case, without '_' and '-' ("LeakyReLU", "leaky-relu" -> "leakyrelu")."""
    return name.lower().replace("_", "").replace("-", "")


#: normalized name -> built-in name (aliases resolved)
_NORMALIZED = {_normalized(n): _ALIASES.get(n, n) for n in BUILTIN_NAMES}


def _builtin_name(text: str) -> str | None:
    """The built-in that ``text`` names, ignoring case, '_' and '-' (None if none; never the formula "x")."""
    return _NORMALIZED.get(_normalized(text)) if _looks_like_a_name(text) else None


def _looks_like_a_name(text: str) -> bool:
    """A word such as "ReLU" or "leaky-relu" (not the variable x, not a formula)."""
    word = text.replace("-", "_")
    return word.isidentifier() and text.lower() != "x" and not word.startswith("_")
