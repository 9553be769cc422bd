"""No user-supplied string other than a formula reaches sympy, and formulas only through the ast whitelist.

sympy's ``nsimplify``/``sympify`` evaluate strings: a string ``sigma_b2`` once ran shell commands through
``mf.symbolic.critical``.  Every payload here tries to create a marker file; the file must never exist.
"""
from __future__ import annotations

import numpy as np
import pytest

import meanfield as mf
from meanfield.activations import Activation


def _payload(marker) -> str:
    return f"__import__('pathlib').Path({str(marker)!r}).write_text('pwned')"


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "marker"
    yield path
    assert not path.exists(), "a payload string was evaluated"


@pytest.mark.parametrize(
    "call",
    [
        lambda p: mf.symbolic.critical_sigma_w2("tanh", p),
        lambda p: mf.symbolic.critical("tanh", p),
        lambda p: mf.symbolic.critical("relu", p),
        lambda p: mf.critical_sigma_w2("tanh", p),
        lambda p: mf.critical_point("erf", p),
        lambda p: mf.fixed_point("tanh", p, 0.1),
        lambda p: mf.fixed_point("tanh", 1.5, p),
        lambda p: mf.chi1("tanh", 1.5, p),
        lambda p: mf.variance_map("tanh", 1.5, 0.1, p),
        lambda p: mf.correlation_map("tanh", 1.5, 0.1, p),
        lambda p: mf.depth_scales("tanh", p, 0.1),
        lambda p: mf.kernel("tanh", 1.5, 0.1, 3, p, 1.0, 0.5),
        lambda p: mf.activation("leaky_relu", slope=p),
        lambda p: mf.activation("selu", alpha=p),
    ],
)
def test_string_numbers_are_refused_not_evaluated(call, marker):
    with pytest.raises(mf.SigpropError):
        call(_payload(marker))


def test_formula_payload_is_refused(marker):
    with pytest.raises(mf.FormulaError):
        mf.activation(_payload(marker))
    with pytest.raises(mf.FormulaError):
        mf.symbolic.variance_functions(f"x + ({_payload(marker)})")


def test_hand_built_activation_parameters_never_reach_nsimplify(marker):
    """An Activation built by hand with a string parameter is refused where the symbolic code reads it."""
    relu = mf.activation("relu")
    forged = Activation("forged", relu.phi, relu.dphi, relu.d2phi, relu.kinks, relu.expr, "relu",
                        {"slope": _payload(marker)})
    with pytest.raises(mf.SigpropError):
        mf.symbolic.variance_functions(forged)


def test_symbolic_results_still_exact():
    """The validated route keeps the closed forms: relu 2, erf's degenerate pi/4, exact rationals."""
    import sympy as sp

    assert mf.symbolic.critical_sigma_w2("relu", 0) == 2
    assert mf.symbolic.critical_sigma_w2("erf", 0.0) == sp.pi / 4
    assert mf.symbolic.critical_sigma_w2("leaky_relu", np.float64(0.0)) == sp.Rational(2, 1 + sp.Rational(1, 10000))
    with pytest.raises(mf.ParameterError):
        mf.symbolic.critical("tanh", [0.1, 0.2])
