"""Closed forms with sympy, checked against the numerical edge of chaos and against quadrature."""
import numpy as np
import pytest
import sympy as sp

import meanfield as mf
from meanfield import symbolic
from meanfield.gaussian import derivative_moment, second_moment


def test_closed_critical_values():
    assert symbolic.critical_sigma_w2("relu") == 2
    assert symbolic.critical_sigma_w2("linear") == 1
    assert symbolic.critical_sigma_w2(mf.activation("leaky_relu", slope=0.2)) == sp.Rational(2) / (1 + sp.Rational(1, 25))
    assert symbolic.critical_sigma_w2("erf") == sp.pi / 4
    assert symbolic.critical_sigma_w2("tanh") == 1
    assert symbolic.critical_sigma_w2("Max(0, x) - 0.1*Max(0, -x)") == sp.Rational(200, 101)


def test_no_closed_form_gives_none_and_a_reason():
    for name, sb2, word in (("tanh", 0.05, "no closed form"), ("relu", 0.1, "no critical point"),
                            ("erf", 0.05, "transcendental"), ("softplus", 0.0, "no critical point")):
        result = symbolic.critical(name, sb2)
        assert result.sigma_w2 is None and word in result.reason
    assert symbolic.critical_sigma_w2(np.tanh) is None


@pytest.mark.parametrize("name", ["linear", "relu", "leaky_relu", "erf", "sin", "gelu", "hardtanh", "selu", "elu", "x + x**3/10"])
def test_symbolic_variance_functions_match_quadrature(name):
    act = mf.activation(name)
    V, D = symbolic.variance_functions(act)
    fV = sp.lambdify(symbolic.Q, V, modules=["scipy", "numpy"])
    fD = sp.lambdify(symbolic.Q, D, modules=["scipy", "numpy"])
    q = np.array([1e-3, 0.3, 1.0, 4.0])
    # the formula twin has no closed forms: quadrature, an independent route (1e-10)
    twin = mf.activation(str(act.expr))
    np.testing.assert_allclose(fV(q) * np.ones_like(q), second_moment(twin, q), rtol=1e-10)
    np.testing.assert_allclose(fD(q) * np.ones_like(q), derivative_moment(twin, q), rtol=1e-10)


@pytest.mark.parametrize("name,sb2", [("erf", 0.05), ("erf", 0.3), ("sin", 0.1), ("gelu", 0.3), ("hardtanh", 0.1)])
def test_critical_line_passes_through_the_numerical_critical_point(name, sb2):
    p = mf.critical_point(name, sb2)
    w, b = symbolic.critical_line(name)
    assert float(w.subs(symbolic.Q, p.q_star)) == pytest.approx(p.sigma_w2, rel=1e-12)
    assert float(b.subs(symbolic.Q, p.q_star)) == pytest.approx(sb2, rel=1e-9, abs=1e-13)


def test_erf_critical_line_closed_form():
    w, b = symbolic.critical_line("erf")
    q = symbolic.Q
    assert sp.simplify(w - sp.pi * sp.sqrt(1 + 4 * q) / 4) == 0
    assert sp.simplify(b - (q - sp.sqrt(1 + 4 * q) * sp.asin(2 * q / (1 + 2 * q)) / 2)) == 0
