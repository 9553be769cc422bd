"""Exact Gaussian integrals of the built-in activations (numpy, vectorized).

Notation (docs/conventions.md §2): z ~ N(0, 1), u1 = sqrt(q1) z1, u2 = sqrt(q2) (c z1 + sqrt(1 - c^2) z2),
q12 = c sqrt(q1 q2), theta = arccos(c).

- ``V(q) = E[phi(sqrt(q) z)^2]``, ``D(q) = E[phi'(sqrt(q) z)^2]``, ``dV(q) = dV/dq``
- ``C(q1, q2, c) = E[phi(u1) phi(u2)]``, ``Cd(q1, q2, c) = E[phi'(u1) phi'(u2)]``
- ``inner(a, b) = E_Z[phi(a + b Z)]`` and ``dinner(a, b) = E_Z[phi'(a + b Z)]``: the conditional
  expectations that reduce a bivariate integral to one outer integral over z1.

Sources: Cho & Saul 2009 (arc-cosine kernel; ABReLU form as in neural-tangents), Williams 1997 (erf),
Tsuchida et al. 2020 (GELU), and direct integration of the Gaussian density (hard-tanh, SELU, derived here and checked against quadrature).  Every
entry is tested against mpmath quadrature in ``tests/meanfield``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import special

__all__ = ["ClosedForms", "closed_forms"]

_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class ClosedForms:
    """Whichever exact integrals a family has; missing ones are ``None`` (quadrature is used)."""

    V: Callable | None = None
    D: Callable | None = None
    dV: Callable | None = None
    C: Callable | None = None
    Cd: Callable | None = None
    inner: Callable | None = None
    dinner: Callable | None = None


def _pdf(t):
    return _INV_SQRT2PI * np.exp(-0.5 * np.square(t))


def _linear(p) -> ClosedForms:
    return ClosedForms(
        V=lambda q: q * 1.0,
        D=lambda q: np.ones_like(q * 1.0),
        dV=lambda q: np.ones_like(q * 1.0),
        C=lambda q1, q2, c: c * np.sqrt(q1 * q2),
        Cd=lambda q1, q2, c: np.ones_like(q1 * q2 * c * 1.0),
        inner=lambda a, b: a + 0.0 * b,
        dinner=lambda a, b: np.ones_like(a + 0.0 * b),
    )


def _abrelu(p) -> ClosedForms:
    """phi = max(x, 0) + a min(x, 0) (relu: a = 0; leaky relu: a = slope)."""
    a = p.get("slope", 0.0)
    even = (1.0 + a * a) / 2.0
    odd = (1.0 - a) ** 2

    def Cd(q1, q2, c):
        theta = np.arccos(np.clip(c, -1.0, 1.0))
        return even - odd * theta / (2 * np.pi) + 0.0 * q1 * q2

    def C(q1, q2, c):
        c = np.clip(c, -1.0, 1.0)
        angular = odd * (np.sqrt(1.0 - c * c) - np.arccos(c) * c) / (2 * np.pi) + even * c
        return np.sqrt(q1 * q2) * angular

    def inner(m, s):
        r = m / s
        return m * (special.ndtr(r) + a * special.ndtr(-r)) + (1.0 - a) * s * _pdf(r)

    return ClosedForms(
        V=lambda q: even * q,
        D=lambda q: np.full_like(q * 1.0, even),
        dV=lambda q: np.full_like(q * 1.0, even),
        C=C,
        Cd=Cd,
        inner=inner,
        dinner=lambda m, s: special.ndtr(m / s) + a * special.ndtr(-m / s),
    )


def _erf(p) -> ClosedForms:
    def C(q1, q2, c):
        q12 = c * np.sqrt(q1 * q2)
        return (2 / np.pi) * np.arcsin(np.clip(2 * q12 / np.sqrt((1 + 2 * q1) * (1 + 2 * q2)), -1, 1))

    def Cd(q1, q2, c):
        q12sq = c * c * q1 * q2
        return (4 / np.pi) / np.sqrt((1 + 2 * q1) * (1 + 2 * q2) - 4 * q12sq)

    def inner(m, s):
        return special.erf(m / np.sqrt(1 + 2 * s * s))

    def dinner(m, s):
        w = 1 + 2 * s * s
        return (2 / math.sqrt(math.pi)) * np.exp(-m * m / w) / np.sqrt(w)

    return ClosedForms(
        V=lambda q: (2 / np.pi) * np.arcsin(2 * q / (1 + 2 * q)),
        D=lambda q: (4 / np.pi) / np.sqrt(1 + 4 * q),
        dV=lambda q: 4 / (np.pi * (1 + 2 * q) * np.sqrt(1 + 4 * q)),
        C=C,
        Cd=Cd,
        inner=inner,
        dinner=dinner,
    )


def _sin(p) -> ClosedForms:
    def parts(q1, q2, c):
        q12 = c * np.sqrt(q1 * q2)
        mean = -(q1 + q2) / 2
        return np.exp(mean + q12) / 2, np.exp(mean - q12) / 2

    def C(q1, q2, c):
        plus, minus = parts(q1, q2, c)
        return plus - minus

    def Cd(q1, q2, c):
        plus, minus = parts(q1, q2, c)
        return plus + minus

    return ClosedForms(
        V=lambda q: -np.expm1(-2 * q) / 2,
        D=lambda q: (1 + np.exp(-2 * q)) / 2,
        dV=lambda q: np.exp(-2 * q),
        C=C,
        Cd=Cd,
        inner=lambda m, s: np.sin(m) * np.exp(-s * s / 2),
        dinner=lambda m, s: np.cos(m) * np.exp(-s * s / 2),
    )


def _gelu(p) -> ClosedForms:
    """Exact GELU x Phi(x); V and D from Tsuchida et al. 2020, inner forms from the notes."""

    def V(q):
        return (
            q / 4
            + q * np.arcsin(q / (1 + q)) / (2 * np.pi)
            + q * q / (np.pi * (1 + q) * np.sqrt(1 + 2 * q))
        )

    def D(q):
        return (
            0.25
            + np.arcsin(q / (1 + q)) / (2 * np.pi)
            + q / (np.pi * (1 + q) * np.sqrt(1 + 2 * q))
            + q / (2 * np.pi * (1 + 2 * q) ** 1.5)
        )

    def inner(m, s):
        root = np.sqrt(1 + s * s)
        return m * special.ndtr(m / root) + s * s * _pdf(m / root) / root

    def dinner(m, s):
        root = np.sqrt(1 + s * s)
        return special.ndtr(m / root) + m * _pdf(m / root) / root**3

    return ClosedForms(V=V, D=D, inner=inner, dinner=dinner)


def _hardtanh(p) -> ClosedForms:
    def V(q):
        a = 1 / np.sqrt(q)
        return q * (special.erf(a / math.sqrt(2)) - 2 * a * _pdf(a)) + 2 * special.ndtr(-a)

    def inner(m, s):
        t1, t2 = (-1 - m) / s, (1 - m) / s
        middle = special.ndtr(t2) - special.ndtr(t1)
        return -special.ndtr(t1) + special.ndtr(-t2) + m * middle + s * (_pdf(t1) - _pdf(t2))

    def dinner(m, s):
        return special.ndtr((1 - m) / s) - special.ndtr((-1 - m) / s)

    return ClosedForms(
        V=V, D=lambda q: special.erf(1 / np.sqrt(2 * q)), inner=inner, dinner=dinner
    )


# E[(e^x - 1)^2 1{x < 0}], x ~ N(0, q), = sum_n _SELU_SERIES[n] q^(n/2), from
# erfcx(y) = sum_n (-y)^n / Gamma(1 + n/2); the n = 0, 1 terms vanish.  For q < 0.5 the terms fall
# like (2q)^(n/2)/Gamma(1 + n/2): 40 terms reach double precision.
_SELU_SERIES = np.array(
    [(-1) ** n * (2 ** (n / 2) / 2 - 2 ** (-n / 2)) / math.gamma(1 + n / 2) for n in range(40)]
)


def _selu(p) -> ClosedForms:
    """scale * (max(x,0) + alpha (exp(min(x,0)) - 1)); elu is scale = 1.

    V(q) = scale^2 [q/2 + alpha^2 (e^{2q} Phi(-2 sqrt q) - 2 e^{q/2} Phi(-sqrt q) + 1/2)],
    D(q) = scale^2 [1/2 + alpha^2 e^{2q} Phi(-2 sqrt q)] (checked against 30-digit quadrature in the tests).

    e^{2q} Phi(-2 sqrt q) = erfcx(sqrt(2q))/2 and e^{a + b^2/2} Phi(-r - b) is formed in log space,
    so nothing overflows at large q or large a.
    """
    lam, alpha = p.get("scale", 1.0), p["alpha"]

    def V(q):
        q = np.asarray(q, dtype=float)
        with np.errstate(invalid="ignore"):
            neg = special.erfcx(np.sqrt(2 * q)) / 2 - special.erfcx(np.sqrt(q / 2)) + 0.5
        small = q < 0.5  # the three terms cancel to O(q): sum the series instead
        qs = np.where(small, q, 0.0)
        series = sum(_SELU_SERIES[n] * qs ** (n / 2) for n in range(2, _SELU_SERIES.size))
        return lam**2 * (q / 2 + alpha**2 * np.where(small, series, neg))

    def D(q):
        return lam**2 * (0.5 + alpha**2 * special.erfcx(np.sqrt(2 * q)) / 2)

    def _tilted(m, s):  # e^{m + s^2/2} Phi(-m/s - s)
        return np.exp(m + s * s / 2 + special.log_ndtr(-m / s - s))

    def inner(m, s):
        r = m / s
        return lam * (m * special.ndtr(r) + s * _pdf(r) + alpha * (_tilted(m, s) - special.ndtr(-r)))

    def dinner(m, s):
        return lam * (special.ndtr(m / s) + alpha * _tilted(m, s))

    return ClosedForms(V=V, D=D, inner=inner, dinner=dinner)


_FAMILIES = {
    "linear": _linear,
    "relu": _abrelu,
    "erf": _erf,
    "sin": _sin,
    "gelu": _gelu,
    "hardtanh": _hardtanh,
    "selu": _selu,
}


def closed_forms(act) -> ClosedForms:
    """The exact integrals available for ``act`` (an empty :class:`ClosedForms` if none)."""
    builder = _FAMILIES.get(act.family)
    return builder(act.params) if builder else ClosedForms()
