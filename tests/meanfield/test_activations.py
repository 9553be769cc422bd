"""Tests of meanfield.activations: built-ins, aliases, parameters, caching and Python callables.

Built-ins carry hand-written, overflow-safe numpy functions for phi, phi', phi'' next to a sympy
expression; here the numpy functions are checked against (a) an independent numpy formula,
(b) sympy-differentiated, lambdified derivatives of ``act.expr`` (rtol 1e-12 on |x| <= 3, where the
lambdified reference itself has no cancellation), and (c) a 400-digit mpmath evaluation of the same
derivatives at |x| = 30 and 700 (rtol 1e-12), where naive formulas overflow or cancel.
"""
from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from scipy import special

from meanfield.activations import BUILTIN_NAMES, SELU_ALPHA, SELU_SCALE, Activation, activation
from meanfield.errors import ActivationError, FormulaError, UnknownActivationError
from meanfield.formula import Sigmoid, Softplus, X

CANONICAL = ["linear", "relu", "leaky_relu", "tanh", "hardtanh", "erf", "sigmoid", "softplus", "selu",
             "elu", "gelu", "silu", "mish", "sin"]
ALIASES = {"swish": "silu", "identity": "linear", "logistic": "sigmoid", "hard_tanh": "hardtanh"}


def _derivative_exprs(expr):
    """phi, phi', phi'' by sympy from the elementary form (the logistic and softplus written with exp, so that
    the package's own derivative rules for Sigmoid and Softplus are not used)."""
    expr = expr.replace(Sigmoid, lambda u: 1 / (1 + sp.exp(-u))).replace(Softplus, lambda u: sp.log(1 + sp.exp(u)))
    d1 = sp.diff(expr, X).replace(sp.DiracDelta, lambda *args: sp.Integer(0))
    d2 = sp.diff(expr, X, 2).replace(sp.DiracDelta, lambda *args: sp.Integer(0))
    return expr, d1, d2


def _away_from(x, kinks, margin):
    for k in kinks:
        x = x[np.abs(x - k) > margin]
    return x


# ----------------------------------------------------------------------------------------------
# 3. built-ins
# ----------------------------------------------------------------------------------------------
def test_builtin_names_are_the_designed_ones():
    assert set(BUILTIN_NAMES) == set(CANONICAL) | set(ALIASES)
    assert list(BUILTIN_NAMES) == sorted(BUILTIN_NAMES)


# independent numpy definitions of phi (DESIGN.md's list), written without the package
INDEPENDENT = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0.0),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.01 * x),
    "tanh": np.tanh,
    "hardtanh": lambda x: np.minimum(1.0, np.maximum(-1.0, x)),
    "erf": special.erf,
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "softplus": lambda x: np.log1p(np.exp(x)),
    "selu": lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0))),
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
    "gelu": lambda x: 0.5 * x * special.erfc(-x / np.sqrt(2.0)),
    "silu": lambda x: x / (1.0 + np.exp(-x)),
    "mish": lambda x: x * np.tanh(np.log1p(np.exp(x))),  # Misra 2019; |x| <= 8 here: no overflow
    "sin": np.sin,
}


@pytest.mark.parametrize("name", CANONICAL)
def test_builtin_phi_matches_independent_definition(name):
    act = activation(name)
    x = np.linspace(-8.0, 8.0, 161)
    # rtol 1e-13: a few ulps between different special-function routes (ndtr vs erfc(-x/sqrt 2))
    np.testing.assert_allclose(act.phi(x), INDEPENDENT[name](x), rtol=1e-13, atol=1e-300)
    assert act.name == name


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_builtin_numpy_matches_sympy_derivatives(name):
    """phi, phi', phi'' (hand-written) vs lambdify(sympy.diff(act.expr)) with DiracDelta -> 0.

    rtol 1e-12 on |x| <= 3 away from kinks; atol 1e-14 only matters at zero crossings of
    phi'' (sigmoid at 0, silu near +-2.4, sin), where a relative comparison is meaningless.
    """
    act = activation(name)
    x = _away_from(np.linspace(-2.99, 2.97, 97), act.kinks, 1e-2)
    for k, (fn, expr) in enumerate(zip((act.phi, act.dphi, act.d2phi), _derivative_exprs(act.expr))):
        ref = sp.lambdify(X, expr, modules=["scipy", "numpy"])
        expected = np.broadcast_to(np.asarray(ref(x), dtype=float), x.shape)
        got = fn(x)
        assert got.shape == x.shape
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14, err_msg=f"{name} derivative {k}")


def _mpmath_heaviside(u, h0=0.5):
    return mpmath.mpf(1) if u > 0 else mpmath.mpf(0) if u < 0 else mpmath.mpf(h0)


@pytest.mark.parametrize("name", CANONICAL)
def test_builtin_derivatives_accurate_at_large_arguments(name):
    """At x = +-30, +-700 phi, phi', phi'' are finite and agree with a 400-digit evaluation of the
    sympy derivatives to rtol 1e-12 (0 exactly where the true value underflows double precision)."""
    act = activation(name)
    points = np.array([-700.0, -30.0, 30.0, 700.0])
    with mpmath.workdps(400):
        for k, (fn, expr) in enumerate(zip((act.phi, act.dphi, act.d2phi), _derivative_exprs(act.expr))):
            ref = sp.lambdify(X, expr, modules=[{"Heaviside": _mpmath_heaviside}, "mpmath"])
            with np.errstate(over="raise", invalid="raise", divide="raise"):
                got = fn(points)
            assert np.all(np.isfinite(got)), (name, k, got)
            for xk, gk in zip(points, got):
                exact = float(ref(mpmath.mpf(float(xk))))
                if exact == 0.0:
                    assert gk == 0.0, (name, k, xk, gk)
                else:
                    assert gk == pytest.approx(exact, rel=1e-12), (name, k, xk, gk, exact)


def test_tails_named_in_the_brief():
    tanh, sigmoid, softplus = activation("tanh"), activation("sigmoid"), activation("softplus")
    # tanh'(30) = sech^2(30) = 4 e^-60 / (1 + e^-60)^2; 1 - tanh^2 would give 0
    assert tanh.dphi(np.array([30.0]))[0] == pytest.approx(4 * math.exp(-60), rel=1e-12)
    assert tanh.dphi(np.array([-30.0]))[0] == pytest.approx(4 * math.exp(-60), rel=1e-12)
    assert tanh.d2phi(np.array([30.0]))[0] == pytest.approx(-8 * math.exp(-60), rel=1e-12)
    # sigma'(-700) = e^-700 (1 + e^-700)^-2 > 0; sigma (1 - sigma) would give 0 at +700
    for x in (-700.0, 700.0):
        value = sigmoid.dphi(np.array([x]))[0]
        assert value > 0 and value == pytest.approx(math.exp(-700), rel=1e-12)
    assert softplus.phi(np.array([-700.0]))[0] == pytest.approx(math.exp(-700), rel=1e-12)
    assert softplus.phi(np.array([800.0]))[0] == 800.0


@pytest.mark.parametrize("alias, target", sorted(ALIASES.items()))
def test_aliases(alias, target):
    assert alias in BUILTIN_NAMES
    act = activation(alias)
    assert act is activation(target)
    assert act.name == target


def test_cached_identical_instances():
    assert activation("tanh") is activation("tanh")
    assert activation(" tanh ") is activation("tanh")
    assert activation("leaky_relu") is activation("leaky_relu", slope=0.01)
    assert activation("leaky_relu", slope=0.2) is activation("leaky_relu", slope=0.2)
    assert activation("leaky_relu", slope=0.2) is not activation("leaky_relu", slope=0.3)
    act = activation("gelu")
    assert activation(act) is act
    with pytest.raises(ActivationError):
        activation(act, slope=0.1)


def test_leaky_relu_slope_parameter():
    default, custom = activation("leaky_relu"), activation("leaky_relu", slope=0.2)
    x = np.array([-2.0, -0.5, 0.5, 2.0])
    np.testing.assert_allclose(default.phi(x), [-0.02, -0.005, 0.5, 2.0], rtol=1e-15)
    np.testing.assert_allclose(custom.phi(x), [-0.4, -0.1, 0.5, 2.0], rtol=1e-15)
    np.testing.assert_allclose(custom.dphi(x), [0.2, 0.2, 1.0, 1.0], rtol=1e-15)
    assert custom.params["slope"] == 0.2 and "slope=0.2" in repr(custom)
    assert custom.dphi0_squared == pytest.approx((0.04 + 1) / 2, rel=1e-15)
    assert activation("leaky_relu", slope=0).phi(np.array([-1.0]))[0] == 0.0
    assert activation("leaky_relu", slope=1).phi(np.array([-1.0]))[0] == -1.0


def test_elu_and_selu_parameters():
    elu2 = activation("elu", alpha=2.0)
    assert elu2.phi(np.array([-1.0]))[0] == pytest.approx(2 * math.expm1(-1), rel=1e-15)
    selu = activation("selu")
    assert dict(selu.params) == {"scale": SELU_SCALE, "alpha": SELU_ALPHA}


@pytest.mark.parametrize(
    "name, params, fragment",
    [
        ("leaky_relu", {"slop": 0.1}, "slop"),  # unknown parameter name
        ("tanh", {"slope": 0.1}, "slope"),
        ("leaky_relu", {"slope": -0.1}, "[0, 1]"),
        ("leaky_relu", {"slope": 1.5}, "[0, 1]"),
        ("leaky_relu", {"slope": "0.1"}, "real number"),
        ("leaky_relu", {"slope": True}, "real number"),
        ("leaky_relu", {"slope": float("nan")}, "finite"),
        ("leaky_relu", {"slope": np.inf}, "finite"),
        ("selu", {"alpha": -1.0}, "alpha"),
        ("selu", {"scale": 0.0}, "scale"),
        ("x*erf(x)", {"slope": 0.1}, "formula"),
    ],
)
def test_bad_parameters(name, params, fragment):
    with pytest.raises(ActivationError) as info:
        activation(name, **params)
    assert isinstance(info.value, ValueError)
    assert fragment in str(info.value)


@pytest.mark.parametrize("name", ["foo", "tanhh", "ReLU6", "y"])
def test_unknown_name_mentions_builtin_names(name):
    with pytest.raises(UnknownActivationError) as info:
        activation(name)
    assert isinstance(info.value, FormulaError) and isinstance(info.value, ValueError)
    message = str(info.value)
    assert repr(name) in message and info.value.name == name
    for builtin in BUILTIN_NAMES:
        assert builtin in message


@pytest.mark.parametrize("spelling, name", [
    ("ReLU", "relu"), ("Tanh", "tanh"), ("GELU", "gelu"), ("SiLU", "silu"), ("Swish", "silu"),
    ("LeakyReLU", "leaky_relu"), ("leaky-relu", "leaky_relu"), ("HardTanh", "hardtanh"), ("Hard_Tanh", "hardtanh"),
    ("SELU", "selu"), (" Sigmoid ", "sigmoid"), ("ReLU(x)", "relu"),
])
def test_names_ignore_case_underscores_and_hyphens(spelling, name):
    """torch's and the papers' spellings name the same built-in object (closed forms included)."""
    assert activation(spelling) is activation(name)


def test_names_with_parameters_ignore_case():
    assert activation("LeakyReLU", slope=0.2) is activation("leaky_relu", slope=0.2)


@pytest.mark.parametrize("typo, suggestion", [("tanhh", "tanh"), ("rleu", "relu"), ("sigmod", "sigmoid"),
                                              ("Gelu2", "gelu"), ("sofplus", "softplus"), ("leaky_rel", "leaky_relu")])
def test_near_misses_suggest_the_builtin(typo, suggestion):
    with pytest.raises(UnknownActivationError) as info:
        activation(typo)
    assert info.value.suggestions[0] == suggestion
    assert f"did you mean {suggestion!r}" in str(info.value)


def test_far_names_suggest_nothing_and_formulas_still_parse():
    with pytest.raises(UnknownActivationError) as info:
        activation("banana")
    assert info.value.suggestions == () and "did you mean" not in str(info.value)
    assert activation("x*erf(x)").name == "x*erf(x)"
    with pytest.raises(FormulaError, match="only variable is x"):  # the variable is lower-case x, not X
        activation("X")


@pytest.mark.parametrize("spec", [None, 3, 2.5, ["tanh"]])
def test_non_string_non_callable_spec(spec):
    with pytest.raises(ActivationError, match=type(spec).__name__):
        activation(spec)


def test_dphi0_squared():
    assert activation("relu").dphi0_squared == 0.5
    assert activation("selu").dphi0_squared == pytest.approx(SELU_SCALE**2 * (1 + SELU_ALPHA**2) / 2, rel=1e-15)
    assert activation("erf").dphi0_squared == pytest.approx(4 / math.pi, rel=1e-15)
    assert activation("gelu").dphi0_squared == pytest.approx(0.25, rel=1e-15)
    assert activation("tanh").dphi0_squared == 1.0
    assert activation("hardtanh").dphi0_squared == 1.0
    assert activation("sigmoid").dphi0_squared == pytest.approx(1 / 16, rel=1e-15)
    assert activation("elu").dphi0_squared == 1.0


def test_selu_constants_are_self_normalizing():
    """alpha, lambda solve E[selu(z)] = 0, E[selu(z)^2] = 1 for z ~ N(0, 1) (Klambauer et al. 2017):
    E[z; z>0] = 1/sqrt(2 pi), E[e^z - 1; z<0] = sqrt(e) Phi(-1) - 1/2,
    E[(e^z - 1)^2; z<0] = e^2 Phi(-2) - 2 sqrt(e) Phi(-1) + 1/2."""
    with mpmath.workdps(40):
        ncdf = mpmath.ncdf
        alpha = (1 / mpmath.sqrt(2 * mpmath.pi)) / (mpmath.mpf(1) / 2 - mpmath.sqrt(mpmath.e) * ncdf(-1))
        second = mpmath.e**2 * ncdf(-2) - 2 * mpmath.sqrt(mpmath.e) * ncdf(-1) + mpmath.mpf(1) / 2
        scale = 1 / mpmath.sqrt(mpmath.mpf(1) / 2 + alpha**2 * second)
        assert SELU_ALPHA == pytest.approx(float(alpha), rel=1e-15)
        assert SELU_SCALE == pytest.approx(float(scale), rel=1e-15)


def test_builtin_kinks_and_families():
    assert activation("relu").kinks == (0.0,)
    assert activation("hardtanh").kinks == (-1.0, 1.0)
    for name in ("tanh", "erf", "sigmoid", "softplus", "gelu", "silu", "sin", "linear"):
        act = activation(name)
        assert act.kinks == () and act.is_smooth
    assert activation("relu").d2phi(np.array([-1.0, 1.0])).tolist() == [0.0, 0.0]  # no Dirac mass


# ----------------------------------------------------------------------------------------------
# 4. Python callables
# ----------------------------------------------------------------------------------------------
def test_callable_tanh_within_documented_accuracy():
    """Module docstring: 5-point differences, ~1e-12 for phi' and ~1e-10 for phi'' (unit scale)."""
    act = activation(np.tanh)
    assert isinstance(act, Activation)
    assert act.name == "tanh" and act.expr is None and act.family is None and act.kinks == ()
    assert 0 < act.derivative_error <= 1e-10
    x = np.linspace(-5.0, 5.0, 1001)
    np.testing.assert_array_equal(act.phi(x), np.tanh(x))
    sech2 = 1.0 / np.cosh(x) ** 2
    assert np.max(np.abs(act.dphi(x) - sech2)) <= 1e-12
    assert np.max(np.abs(act.d2phi(x) - (-2.0 * np.tanh(x) * sech2))) <= 1e-10
    assert act.dphi0_squared == pytest.approx(1.0, abs=1e-12)
    assert act.phi(np.ones((2, 3))).shape == (2, 3)


@pytest.mark.parametrize(
    "fn",
    [math.tanh, lambda x: x if x > 0 else 0.0, lambda x: 1.0, lambda x: np.sum(x), lambda x: [1.0, 2.0]],
    ids=["math.tanh", "lambda-if", "constant", "reduction", "wrong-shape"],
)
def test_non_vectorized_callable_is_rejected(fn):
    with pytest.raises(ActivationError) as info:
        activation(fn)
    assert isinstance(info.value, ValueError)


def test_callable_kinks_and_name_pass_through():
    act = activation(lambda x: np.abs(x - 2.0), kinks=[2, -1], name="shifted_abs")
    assert act.kinks == (-1.0, 2.0)
    assert act.name == "shifted_abs" and "shifted_abs" in repr(act)
    assert not act.is_smooth
    assert activation(lambda x: np.abs(x)).name == "<lambda>"
    np.testing.assert_allclose(act.dphi(np.array([-3.0, 5.0])), [-1.0, 1.0], atol=1e-12)


@pytest.mark.parametrize("kwargs", [{"slope": 0.1}, {"kinks": "ab"}, {"kinks": 3}])
def test_callable_bad_keywords(kwargs):
    with pytest.raises(ActivationError):
        activation(np.tanh, **kwargs)


def test_callable_declared_kink_gives_one_sided_derivatives():
    act = activation(lambda x: np.maximum(x, 0.0), kinks=[0.0], name="relu_callable")
    np.testing.assert_allclose(act.dphi(np.array([-1e-4, 1e-4])), [0.0, 1.0], atol=1e-10)
    assert act.dphi0_squared == pytest.approx(0.5, abs=1e-10)  # the built-in relu gives 0.5
