"""Exceptions raised by sigprop.

Every error is a ``ValueError`` subclass whose message says what was given and what is allowed.
Warnings (results that are computed but not to be trusted) have their own categories.
"""
from __future__ import annotations

__all__ = [
    "SigpropError",
    "ActivationError",
    "FormulaError",
    "UnknownActivationError",
    "ParameterError",
    "DivergentExpectationError",
    "QuadratureError",
    "DivergentFixedPointError",
    "FiniteWidthWarning",
]


class SigpropError(ValueError):
    """Base class of every error raised on bad input or an impossible request."""


class ActivationError(SigpropError):
    """Unknown activation name, bad activation parameter or unusable callable."""


class FormulaError(ActivationError):
    """A user formula that is not a whitelisted expression in ``x``."""


class UnknownActivationError(FormulaError):
    """A name that is neither a built-in activation nor a formula in ``x`` (e.g. ``"tanhh"``).

    Attributes
    ----------
    name : str
        The name as given.
    suggestions : tuple of str
        The closest built-in names (difflib), best first; empty when none is close.
    """

    def __init__(self, message: str, name: str = "", suggestions: tuple = ()):
        super().__init__(message)
        self.name = name
        self.suggestions = tuple(suggestions)


class ParameterError(SigpropError):
    """A variance, correlation, depth or grid that is negative, NaN, infinite or of the wrong type."""


class DivergentExpectationError(SigpropError):
    """A Gaussian expectation that diverges or overflows double precision (e.g. exp(x**2) at large q)."""


class QuadratureError(SigpropError):
    """Quadrature that could not reach its stated accuracy."""


class DivergentFixedPointError(SigpropError):
    """The variance map has no finite fixed point reachable from q0 (q grows without bound)."""


class FiniteWidthWarning(UserWarning):
    """A first-order 1/n result where depth/width is of order one: the expansion breaks down."""
