"""Closed-form results with sympy: critical sigma_w^2 and the critical line where they exist.

- ``variance_functions(act)``: V(q) = E[phi(sqrt(q) z)^2] and D(q) = E[phi'(sqrt(q) z)^2] as sympy
  expressions in the positive symbol ``q`` (linear, relu, leaky relu, erf, sin, gelu, hard-tanh,
  selu/elu, and polynomial formulas by Gaussian moments), or None.
- ``critical_line(act)``: the edge of chaos parametrised by q*,
  sigma_w^2 = 1/D(q*), sigma_b^2 = q* - V(q*)/D(q*) (docs/conventions.md §2); e.g. for erf
  sigma_w^2 = (pi/4) sqrt(1 + 4q), sigma_b^2 = q - sqrt(1 + 4q) asin(2q/(1 + 2q))/2.
- ``critical(act, sigma_b2)``: the critical sigma_w^2 (and q*) as an expression where one exists:
  positively homogeneous phi at sigma_b^2 = 0 (relu 2, leaky relu 2/(1 + a^2), linear 1); the
  degenerate q* -> 0 limit at sigma_b^2 = 0 for phi(0) = 0 (1/phi'(0)^2: erf pi/4, tanh 1, sin 1,
  selu 2/(lambda^2 (1 + alpha^2)), gelu 4).  Otherwise the expression is None and ``reason`` says why.
- ``critical_sigma_w2(act, sigma_b2=0)``: just the expression (or None).
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from . import validation as check
from .activations import Activation, _exact, activation
from .criticality import critical_point
from .formula import X, NormalCDF

__all__ = ["Q", "variance_functions", "critical_line", "critical", "critical_sigma_w2", "SymbolicCritical"]

#: The variance symbol of every expression returned here.
Q = sp.Symbol("q", positive=True)


def _phi(u):
    return NormalCDF(u).rewrite(sp.erf)


def _gaussian_moment(poly_expr) -> sp.Expr:
    """E[p(sqrt(q) z)] for a polynomial p in x, from E[z^k] = (k-1)!! for even k, 0 for odd k."""
    poly = sp.Poly(sp.expand(poly_expr), X)
    total = sp.Integer(0)
    for (k,), coeff in poly.terms():
        if k % 2 == 0:
            total += coeff * Q ** sp.Rational(k, 2) * sp.factorial2(k - 1)
    return sp.simplify(total)


def variance_functions(act) -> tuple[sp.Expr, sp.Expr] | None:
    """(V(q), D(q)) as sympy expressions in :data:`Q`, or None when no closed form is known."""
    act = activation(act)
    fam, p = act.family, act.params
    q = Q
    if fam == "linear":
        return q, sp.Integer(1)
    if fam == "relu":
        a = _exact(p.get("slope", 0.0))
        return (1 + a**2) * q / 2, (1 + a**2) / 2
    if fam == "erf":
        return 2 / sp.pi * sp.asin(2 * q / (1 + 2 * q)), 4 / (sp.pi * sp.sqrt(1 + 4 * q))
    if fam == "sin":
        return (1 - sp.exp(-2 * q)) / 2, (1 + sp.exp(-2 * q)) / 2
    if fam == "gelu":
        V = q / 4 + q * sp.asin(q / (1 + q)) / (2 * sp.pi) + q**2 / (sp.pi * (1 + q) * sp.sqrt(1 + 2 * q))
        D = (
            sp.Rational(1, 4)
            + sp.asin(q / (1 + q)) / (2 * sp.pi)
            + q / (sp.pi * (1 + q) * sp.sqrt(1 + 2 * q))
            + q / (2 * sp.pi * (1 + 2 * q) ** sp.Rational(3, 2))
        )
        return V, D
    if fam == "hardtanh":
        a = 1 / sp.sqrt(q)
        pdf = sp.exp(-(a**2) / 2) / sp.sqrt(2 * sp.pi)
        return q * (sp.erf(a / sp.sqrt(2)) - 2 * a * pdf) + 2 * (1 - _phi(a)), sp.erf(1 / sp.sqrt(2 * q))
    if fam == "selu":
        lam, alpha = _exact(p.get("scale", 1.0)), _exact(p["alpha"])
        r = sp.sqrt(q)
        neg = sp.exp(2 * q) * _phi(-2 * r) - 2 * sp.exp(q / 2) * _phi(-r) + sp.Rational(1, 2)
        return lam**2 * (q / 2 + alpha**2 * neg), lam**2 * (sp.Rational(1, 2) + alpha**2 * sp.exp(2 * q) * _phi(-2 * r))
    if act.expr is not None and act.expr.is_polynomial(X):
        return _gaussian_moment(act.expr**2), _gaussian_moment(sp.diff(act.expr, X) ** 2)
    return None


def critical_line(act) -> tuple[sp.Expr, sp.Expr] | None:
    """(sigma_w^2(q*), sigma_b^2(q*)) of the edge of chaos, parametrised by q* = :data:`Q`, or None."""
    funcs = variance_functions(act)
    if funcs is None:
        return None
    V, D = funcs
    return sp.simplify(1 / D), sp.simplify(Q - V / D)


@dataclass(frozen=True)
class SymbolicCritical:
    """A critical point in closed form (``sigma_w2``, ``q_star``: sympy or None) and why."""

    sigma_w2: sp.Expr | None
    q_star: sp.Expr | None
    reason: str


_T = sp.Symbol("t", positive=True)


def _one_sided_dphi0_squared(act: Activation) -> sp.Expr:
    """(phi'(0+)^2 + phi'(0-)^2)/2: x -> +t and -t with t > 0 resolves Max, Min, Abs and Heaviside
    branches (sympy's limit cannot), then t -> 0."""
    d = sp.diff(act.expr, X)
    right = d.subs(X, _T).subs(_T, 0)
    left = d.subs(X, -_T).subs(_T, 0)
    return sp.simplify((left**2 + right**2) / 2)


def critical(act, sigma_b2=0) -> SymbolicCritical:
    """The critical point chi_1 = 1 in closed form where one exists, else None with the reason.

    ``sigma_b2`` must be one real number >= 0 (a string is refused before anything reaches sympy).
    """
    act = activation(act)
    value = check.nonnegative("sigma_b2", sigma_b2, scalar=True)
    sb2 = _exact(value)
    if act.expr is None:
        return SymbolicCritical(None, None, "a Python callable has no symbolic form")
    numeric = critical_point(act, float(value))
    if numeric.status == "marginal":
        D = variance_functions(act)
        d0 = D[1] if D is not None else _one_sided_dphi0_squared(act)
        return SymbolicCritical(
            sp.simplify(1 / d0), None,
            "phi is positively homogeneous: sigma_w2 = 1/D for every q (every q is a fixed point)",
        )
    if numeric.status == "degenerate":
        return SymbolicCritical(
            sp.simplify(1 / _one_sided_dphi0_squared(act)), sp.Integer(0),
            "sigma_b2 = 0, phi(0) = 0: the limit q* -> 0, sigma_w2 = 1/phi'(0)^2"
            + ("" if numeric.stable else " (marginal: q > 0 grows away from it)"),
        )
    if numeric.status == "none":
        return SymbolicCritical(None, None, f"no critical point exists: {numeric.reason}")
    line = critical_line(act)
    if line is None:
        return SymbolicCritical(
            None, None,
            f"no closed form for V(q) and D(q) of {act.name}: the critical point is only numeric "
            f"(sigma_w2 = {numeric.sigma_w2:.15g}, q* = {numeric.q_star:.15g})",
        )
    return SymbolicCritical(
        None, None,
        f"q* solves the transcendental equation {sp.sstr(line[1])} = {sb2} (q = q*), which has no "
        f"closed-form root; sigma_w2 = {sp.sstr(line[0])} at that q* (numerically "
        f"{numeric.sigma_w2:.15g}, q* = {numeric.q_star:.15g}); see critical_line()",
    )


def critical_sigma_w2(act, sigma_b2=0) -> sp.Expr | None:
    """The critical sigma_w^2 as a sympy expression, or None (the reason is in :func:`critical`)."""
    return critical(act, sigma_b2).sigma_w2
