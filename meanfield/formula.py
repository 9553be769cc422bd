"""Safe parsing of user activation formulas in ``x``.

The text is parsed with :mod:`ast` and every node is checked against a whitelist *before* a sympy
expression is built node by node.  Nothing is passed to ``eval``, ``exec`` or ``sympify``.

Allowed: the variable ``x``; the constants ``pi`` and ``E``; int and float literals; the operators
``+ - * / **`` and unary ``+ -``; calls of the functions in :data:`FUNCTIONS` with positional
arguments, the built-in activations among them (``relu(x)``, ``softplus(x)``, ``gelu(x)``,
``silu(x)``, ``mish(x)``, ``leaky_relu(x, 0.1)``, ``elu(x, 0.5)``, ...).  Anything else (attributes,
subscripts, comparisons, lambdas, keywords, strings, other names, imports, ...) raises
:class:`~meanfield.errors.FormulaError` naming the offending part.

Work is bounded: at most 2000 characters, numeric exponents and combined powers of at most 64, numeric
constants below 1e300 in magnitude, no complex constants, and expression trees of at most
:data:`MAX_NODES` nodes (the first derivative included: see :mod:`meanfield.activations`).

Numerically delicate forms are rewritten into functions with stable evaluations: ``1/(1 + exp(-u))``
becomes :class:`Sigmoid` (scipy's expit), ``log(1 + exp(u))`` becomes :class:`Softplus`
(``logaddexp(0, u)``), and ``Phi`` is :class:`NormalCDF` (scipy's ndtr).
"""
from __future__ import annotations

import ast
import math

import numpy as np
import sympy as sp

from .errors import FormulaError

__all__ = ["X", "FUNCTIONS", "NormalCDF", "Sigmoid", "Softplus", "SELU_SCALE", "SELU_ALPHA", "MAX_NODES",
           "parse_formula", "tree_size", "branch_at"]

#: The sympy symbol every activation is written in.
X = sp.Symbol("x", real=True)

#: Klambauer et al. 2017 self-normalizing constants (lambda, alpha) to 30 digits.
SELU_SCALE = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717

#: Largest expression tree (number of nodes) a formula or its first derivative may have.
MAX_NODES = 2000


def tree_size(expr: sp.Expr) -> int:
    """Number of nodes of a sympy expression tree."""
    return sum(1 for _ in sp.preorder_traversal(expr))


class NormalCDF(sp.Function):
    """Phi(u), the standard normal cdf, evaluated in numpy by scipy.special.ndtr (accurate in the
    left tail, where (1 + erf(u/sqrt 2))/2 loses all digits)."""

    def fdiff(self, argindex=1):
        u = self.args[0]
        return sp.exp(-(u**2) / 2) / sp.sqrt(2 * sp.pi)

    def _eval_rewrite_as_erf(self, arg, **kwargs):
        return (1 + sp.erf(arg / sp.sqrt(2))) / 2

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_evalf(self, prec):
        return self.rewrite(sp.erf)._eval_evalf(prec)


class Sigmoid(sp.Function):
    """The logistic function 1/(1 + e^-u), evaluated by scipy.special.expit (no overflow)."""

    @classmethod
    def eval(cls, u):
        if u.is_zero:
            return sp.Rational(1, 2)
        return None

    def fdiff(self, argindex=1):
        u = self.args[0]
        return Sigmoid(u) * Sigmoid(-u)

    def _eval_rewrite_as_exp(self, arg, **kwargs):
        return 1 / (1 + sp.exp(-arg))

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_evalf(self, prec):
        return self.rewrite(sp.exp)._eval_evalf(prec)


class Softplus(sp.Function):
    """log(1 + e^u), evaluated as logaddexp(0, u) (no overflow, no loss for large u)."""

    @classmethod
    def eval(cls, u):
        if u.is_zero:
            return sp.log(2)
        return None

    def fdiff(self, argindex=1):
        return Sigmoid(self.args[0])

    def _eval_rewrite_as_exp(self, arg, **kwargs):
        return sp.log(1 + sp.exp(arg))

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_evalf(self, prec):
        return self.rewrite(sp.exp)._eval_evalf(prec)


def _value_at(expr: sp.Expr, x0: float) -> float:
    return float(sp.re(expr.subs(X, x0).evalf(30)))


def branch_at(expr: sp.Expr, x0: float) -> sp.Expr:
    """The analytic branch of a piecewise formula that is active at the real point x0 (not a kink):
    Max/Min replaced by their largest/smallest argument there, Abs(u) by +-u, Heaviside(u) by 0 or 1,
    sign(u) by -1 or 1.  On the interval between two kinks the formula equals this branch, which can be
    continued into the complex plane (the Jacobian-spectrum contours need phi' off the real axis)."""

    def pick(node):
        if isinstance(node, (sp.Max, sp.Min)):
            values = [_value_at(a, x0) for a in node.args]
            index = int(np.argmax(values) if isinstance(node, sp.Max) else np.argmin(values))
            return node.args[index]
        u = _value_at(node.args[0], x0)
        if isinstance(node, sp.Abs):
            return node.args[0] if u >= 0 else -node.args[0]
        if isinstance(node, sp.Heaviside):
            return sp.Integer(1) if u > 0 else sp.Integer(0)
        return sp.Integer(1) if u > 0 else sp.Integer(-1)  # sign

    return expr.replace(lambda e: isinstance(e, (sp.Max, sp.Min, sp.Abs, sp.Heaviside, sp.sign)), pick)


def _normal_cdf(u):
    return NormalCDF(u)


def _relu(u):
    return sp.Max(0, u)


def _leaky_relu(u, a=sp.Rational(1, 100)):
    return sp.Max(0, u) + a * sp.Min(0, u)


def _elu(u, alpha=sp.Integer(1)):
    return sp.Max(0, u) + alpha * (sp.exp(sp.Min(0, u)) - 1)


def _selu(u):
    return sp.Float(SELU_SCALE, 17) * _elu(u, sp.Float(SELU_ALPHA, 17))


#: Whitelisted function names -> (sympy builder, (least, most) number of arguments; most None: any).
FUNCTIONS: dict[str, tuple] = {
    "exp": (sp.exp, (1, 1)),
    "log": (sp.log, (1, 1)),
    "sqrt": (sp.sqrt, (1, 1)),
    "sin": (sp.sin, (1, 1)),
    "cos": (sp.cos, (1, 1)),
    "tan": (sp.tan, (1, 1)),
    "sinh": (sp.sinh, (1, 1)),
    "cosh": (sp.cosh, (1, 1)),
    "tanh": (sp.tanh, (1, 1)),
    "asinh": (sp.asinh, (1, 1)),
    "atan": (sp.atan, (1, 1)),
    "arctan": (sp.atan, (1, 1)),
    "erf": (sp.erf, (1, 1)),
    "erfc": (sp.erfc, (1, 1)),
    "abs": (sp.Abs, (1, 1)),
    "Abs": (sp.Abs, (1, 1)),
    "sign": (sp.sign, (1, 1)),
    "Heaviside": (lambda u: sp.Heaviside(u, sp.Rational(1, 2)), (1, 1)),
    "Max": (sp.Max, (2, None)),
    "max": (sp.Max, (2, None)),
    "Min": (sp.Min, (2, None)),
    "min": (sp.Min, (2, None)),
    "Phi": (_normal_cdf, (1, 1)),
    # the built-in activations, usable inside formulas
    "sigmoid": (Sigmoid, (1, 1)),
    "logistic": (Sigmoid, (1, 1)),
    "softplus": (Softplus, (1, 1)),
    "relu": (_relu, (1, 1)),
    "leaky_relu": (_leaky_relu, (1, 2)),
    "linear": (lambda u: u, (1, 1)),
    "identity": (lambda u: u, (1, 1)),
    "hardtanh": (lambda u: sp.Max(-1, sp.Min(1, u)), (1, 1)),
    "hard_tanh": (lambda u: sp.Max(-1, sp.Min(1, u)), (1, 1)),
    "gelu": (lambda u: u * NormalCDF(u), (1, 1)),
    "silu": (lambda u: u * Sigmoid(u), (1, 1)),
    "swish": (lambda u: u * Sigmoid(u), (1, 1)),
    "mish": (lambda u: u * sp.tanh(Softplus(u)), (1, 1)),
    "elu": (_elu, (1, 2)),
    "selu": (_selu, (1, 1)),
}

_CONSTANTS = {"pi": sp.pi, "E": sp.E}
_BINOPS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
}
_MAX_LENGTH = 2000
_MAX_EXPONENT = 64
_MAX_CALL_DEPTH = 32
_MAX_LOG10 = 300  # numeric constants stay below 1e300 in magnitude (float64 evaluates the formula)


_PARAMETRISED = ("leaky_relu", "elu")


def _short(text: str) -> str:
    """A formula as quoted in an error message: long ones shortened in the middle."""
    return text if len(text) <= 80 else f"{text[:60]}...{text[-15:]}"


def _log10_abs(value: sp.Expr) -> float:
    """log10 |value| of a numeric sympy expression (-inf for 0, inf if it cannot be evaluated)."""
    try:
        v = complex(value.evalf(15))
    except (TypeError, ValueError, OverflowError):
        return math.inf
    return math.log10(abs(v)) if v != 0 else -math.inf


def _is_one_plus_exp(e: sp.Expr) -> bool:
    return isinstance(e, sp.Add) and len(e.args) == 2 and sp.Integer(1) in e.args and any(
        isinstance(a, sp.exp) for a in e.args
    )


def _exp_argument(e: sp.Add) -> sp.Expr:
    return next(a for a in e.args if isinstance(a, sp.exp)).args[0]


def _merge_exp_sigmoid(e: sp.Mul) -> sp.Expr:
    """exp(u) Sigmoid(-u) -> Sigmoid(u) inside a product (e^u / (1 + e^u) without overflow)."""
    factors = list(e.args)
    for i, a in enumerate(factors):
        if isinstance(a, sp.exp):
            for j, b in enumerate(factors):
                if isinstance(b, Sigmoid) and sp.expand(b.args[0] + a.args[0]) == 0:
                    rest = [f for k, f in enumerate(factors) if k not in (i, j)]
                    return sp.Mul(Sigmoid(a.args[0]), *rest)
    return e


def stabilize(expr: sp.Expr) -> sp.Expr:
    """Rewrite log(1 + exp(u)) as Softplus(u), 1/(1 + exp(u)) as Sigmoid(-u) and exp(u)/(1 + exp(u)) as
    Sigmoid(u): the same functions, evaluated without overflow or cancellation."""
    expr = expr.replace(
        lambda e: isinstance(e, sp.log) and _is_one_plus_exp(e.args[0]),
        lambda e: Softplus(_exp_argument(e.args[0])),
    )
    expr = expr.replace(
        lambda e: isinstance(e, sp.Pow) and e.exp == -1 and _is_one_plus_exp(e.base),
        lambda e: Sigmoid(-_exp_argument(e.base)),
    )
    return expr.replace(lambda e: isinstance(e, sp.Mul) and e.has(Sigmoid) and e.has(sp.exp), _merge_exp_sigmoid)


def _check_bounds(expr: sp.Expr, text: str) -> None:
    """Combined powers of x at most 64, constants real and below 1e300, a bounded tree."""
    size = tree_size(expr)
    if size > MAX_NODES:
        raise FormulaError(
            f"formula {_short(text)!r} has an expression tree of {size} nodes; at most {MAX_NODES} are allowed"
        )
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Pow) and node.exp.is_number and X in node.base.free_symbols:
            if abs(complex(node.exp.evalf(5))) > _MAX_EXPONENT:
                raise FormulaError(
                    f"formula {_short(text)!r} raises to the power {node.exp} (nested powers multiply their "
                    f"exponents); powers must be at most {_MAX_EXPONENT}"
                )
        if node.is_number and not node.free_symbols:
            if node.is_extended_real is False or node.has(sp.I):
                raise FormulaError(
                    f"formula {_short(text)!r} is complex-valued (its constant {node} is not real); activations are real"
                )
            if isinstance(node, sp.Number) and _log10_abs(node) > _MAX_LOG10:
                raise FormulaError(
                    f"formula {_short(text)!r} has a constant above 1e{_MAX_LOG10} in magnitude; the formula is "
                    "evaluated in double precision"
                )


def _number(value) -> sp.Expr:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FormulaError(f"literal {value!r} is not allowed: only int and float numbers may appear")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise FormulaError(f"literal {value!r} is not a finite number")
        # the decimal the user wrote, exactly (0.1 -> 1/10): symbolic results stay exact
        return sp.Rational(repr(value))
    return sp.Integer(value)


def _build(node: ast.AST, text: str, depth: int = 0) -> sp.Expr:
    part = ast.get_source_segment(text, node) or type(node).__name__
    if isinstance(node, ast.Constant):
        return _number(node.value)
    if isinstance(node, ast.Name):
        if node.id == "x":
            return X
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        raise FormulaError(
            f"name {node.id!r} in {_short(text)!r} is not allowed: the only variable is x "
            f"(constants pi, E; functions {', '.join(sorted(FUNCTIONS))})"
        )
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _build(node.left, text, depth), _build(node.right, text, depth)
        if isinstance(node.op, ast.Pow) and right.is_number:
            exponent = abs(complex(right.evalf(5)))
            if exponent > _MAX_EXPONENT:
                # sympy would evaluate 9**9**9 exactly while building the expression (a hang)
                raise FormulaError(
                    f"exponent in {part!r} is too large: numeric exponents must be at most {_MAX_EXPONENT}"
                )
            if left.is_number and exponent * _log10_abs(left) > _MAX_LOG10:
                raise FormulaError(
                    f"the constant {part!r} is too large: numeric constants must stay below 1e{_MAX_LOG10} "
                    "(the formula is evaluated in double precision)"
                )
        return _BINOPS[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _build(node.operand, text, depth)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.Call):
        if depth >= _MAX_CALL_DEPTH:
            raise FormulaError(
                f"{_short(text)!r} nests function calls more than {_MAX_CALL_DEPTH} deep; at most {_MAX_CALL_DEPTH} are "
                "allowed (the derivatives of deeper compositions grow quadratically)"
            )
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            name = ast.get_source_segment(text, node.func) or "?"
            raise FormulaError(
                f"function {name!r} in {_short(text)!r} is not allowed; allowed functions: "
                f"{', '.join(sorted(FUNCTIONS))}"
            )
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise FormulaError(f"{part!r}: only positional arguments are allowed in function calls")
        builder, (least, most) = FUNCTIONS[node.func.id]
        if len(node.args) < least or (most is not None and len(node.args) > most):
            expected = (f"at least {least}" if most is None else str(least) if least == most
                        else f"{least} to {most}")
            raise FormulaError(f"{part!r}: {node.func.id} takes {expected} argument(s), got {len(node.args)}")
        args = [_build(a, text, depth + 1) for a in node.args]
        if len(args) > 1 and node.func.id in _PARAMETRISED and not all(a.is_number for a in args[1:]):
            raise FormulaError(f"{part!r}: the parameter of {node.func.id} must be a number")
        return builder(*args)
    raise FormulaError(
        f"{part!r} in {_short(text)!r} is not allowed: formulas may use x, numbers, + - * / **, and calls of "
        f"{', '.join(sorted(FUNCTIONS))}"
    )


def parse_formula(text: str) -> sp.Expr:
    """Parse an activation formula such as ``"x*erf(x)"`` into a sympy expression in :data:`X`.

    Parameters
    ----------
    text : str
        A Python-syntax expression in the single variable ``x``.

    Returns
    -------
    sympy.Expr
        The expression, built node by node from the checked syntax tree.

    Raises
    ------
    FormulaError
        If the text is not valid syntax, uses anything outside the whitelist, nests too deeply, has a
        numeric exponent or combined power above 64, a constant above 1e300, more than
        :data:`MAX_NODES` nodes, is complex-valued, or does not depend on x.
    """
    if not isinstance(text, str):
        raise FormulaError(f"a formula must be a string, got {type(text).__name__}")
    if len(text) > _MAX_LENGTH:
        raise FormulaError(f"formula is {len(text)} characters long; at most {_MAX_LENGTH} are allowed")
    stripped = text.strip()
    if not stripped:
        raise FormulaError("empty formula: write an expression in x such as 'x*erf(x)'")
    try:
        tree = ast.parse(stripped, mode="eval")
        expr = _build(tree.body, stripped)
    except SyntaxError as exc:
        raise FormulaError(f"formula {_short(text)!r} is not a valid expression in x: {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise FormulaError(f"formula of {len(text)} characters nests too deeply to be parsed") from None
    if expr.has(sp.I):
        raise FormulaError(f"formula {_short(text)!r} is complex-valued (it contains {sp.I} = sqrt(-1)); activations are real")
    if expr.has(sp.zoo, sp.oo, -sp.oo, sp.nan):
        raise FormulaError(f"formula {_short(text)!r} contains an infinite or undefined constant")
    _check_bounds(expr, text)
    if X not in expr.free_symbols:
        raise FormulaError(f"formula {_short(text)!r} does not depend on x: an activation must be a function of x")
    return stabilize(expr)
