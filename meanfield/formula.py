"""Safe parsing of user activation formulas in ``x``.

The text is parsed with :mod:`ast` and every node is checked against a whitelist *before* a sympy
expression is built node by node.  Nothing is passed to ``eval``, ``exec`` or ``sympify``.

Allowed: the variable ``x``; the constants ``pi`` and ``E``; int and float literals; the operators
``+ - * / **`` and unary ``+ -``; calls of the functions in :data:`FUNCTIONS` with positional
arguments.  Anything else (attributes, subscripts, comparisons, lambdas, keywords, strings, other
names, imports, ...) raises :class:`~meanfield.errors.FormulaError` naming the offending part.
"""
from __future__ import annotations

import ast
import math

import sympy as sp

from .errors import FormulaError

__all__ = ["X", "FUNCTIONS", "NormalCDF", "parse_formula"]

#: The sympy symbol every activation is written in.
X = sp.Symbol("x", real=True)


def _sigmoid(u):
    return 1 / (1 + sp.exp(-u))


class NormalCDF(sp.Function):
    """Phi(u), the standard normal cdf, evaluated in numpy by scipy.special.ndtr (accurate in the
    left tail, where (1 + erf(u/sqrt 2))/2 loses all digits)."""

    def fdiff(self, argindex=1):
        u = self.args[0]
        return sp.exp(-(u**2) / 2) / sp.sqrt(2 * sp.pi)

    def _eval_rewrite_as_erf(self, arg, **kwargs):
        return (1 + sp.erf(arg / sp.sqrt(2))) / 2


def _normal_cdf(u):
    return NormalCDF(u)


#: Whitelisted function names -> (sympy builder, allowed numbers of arguments or None for >= 2).
FUNCTIONS: dict[str, tuple] = {
    "exp": (sp.exp, 1),
    "log": (sp.log, 1),
    "sqrt": (sp.sqrt, 1),
    "sin": (sp.sin, 1),
    "cos": (sp.cos, 1),
    "tan": (sp.tan, 1),
    "sinh": (sp.sinh, 1),
    "cosh": (sp.cosh, 1),
    "tanh": (sp.tanh, 1),
    "asinh": (sp.asinh, 1),
    "atan": (sp.atan, 1),
    "arctan": (sp.atan, 1),
    "erf": (sp.erf, 1),
    "erfc": (sp.erfc, 1),
    "abs": (sp.Abs, 1),
    "Abs": (sp.Abs, 1),
    "sign": (sp.sign, 1),
    "Heaviside": (lambda u: sp.Heaviside(u, sp.Rational(1, 2)), 1),
    "Max": (sp.Max, None),
    "max": (sp.Max, None),
    "Min": (sp.Min, None),
    "min": (sp.Min, None),
    "sigmoid": (_sigmoid, 1),
    "Phi": (_normal_cdf, 1),
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


def _number(value) -> sp.Expr:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FormulaError(f"literal {value!r} is not allowed: only int and float numbers may appear")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise FormulaError(f"literal {value!r} is not a finite number")
        # the decimal the user wrote, exactly (0.1 -> 1/10): symbolic results stay exact
        return sp.Rational(repr(value))
    return sp.Integer(value)


def _build(node: ast.AST, text: str) -> sp.Expr:
    part = ast.get_source_segment(text, node) or type(node).__name__
    if isinstance(node, ast.Constant):
        return _number(node.value)
    if isinstance(node, ast.Name):
        if node.id == "x":
            return X
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        raise FormulaError(
            f"name {node.id!r} in {text!r} is not allowed: the only variable is x "
            f"(constants pi, E; functions {', '.join(sorted(FUNCTIONS))})"
        )
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _build(node.left, text), _build(node.right, text)
        if isinstance(node.op, ast.Pow) and right.is_number and abs(complex(right.evalf(5))) > _MAX_EXPONENT:
            # sympy would evaluate 9**9**9 exactly while building the expression (a hang)
            raise FormulaError(f"exponent in {part!r} is too large: numeric exponents must be at most {_MAX_EXPONENT}")
        return _BINOPS[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _build(node.operand, text)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            name = ast.get_source_segment(text, node.func) or "?"
            raise FormulaError(
                f"function {name!r} in {text!r} is not allowed; allowed functions: "
                f"{', '.join(sorted(FUNCTIONS))}"
            )
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise FormulaError(f"{part!r}: only positional arguments are allowed in function calls")
        builder, nargs = FUNCTIONS[node.func.id]
        if (nargs is None and len(node.args) < 2) or (nargs is not None and len(node.args) != nargs):
            expected = "at least 2" if nargs is None else str(nargs)
            raise FormulaError(f"{part!r}: {node.func.id} takes {expected} argument(s), got {len(node.args)}")
        return builder(*[_build(a, text) for a in node.args])
    raise FormulaError(
        f"{part!r} in {text!r} is not allowed: formulas may use x, numbers, + - * / **, and calls of "
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
        numeric exponent above 64, is complex-valued, or does not depend on x.
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
        raise FormulaError(f"formula {text!r} is not a valid expression in x: {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise FormulaError(f"formula of {len(text)} characters nests too deeply to be parsed") from None
    if expr.has(sp.I):
        raise FormulaError(f"formula {text!r} is complex-valued (it contains {sp.I} = sqrt(-1)); activations are real")
    if X not in expr.free_symbols:
        raise FormulaError(f"formula {text!r} does not depend on x: an activation must be a function of x")
    if expr.has(sp.zoo, sp.oo, -sp.oo, sp.nan):
        raise FormulaError(f"formula {text!r} contains an infinite or undefined constant")
    return expr
