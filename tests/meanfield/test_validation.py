"""Hostile numbers at the public functions: a ValueError subclass (SigpropError) that names the input and
what is allowed, never a raw OverflowError/MemoryError/TypeError, never a message that floods the screen.

Each entry was a reproducer: 2**64 or 1e308 as a depth ("cannot fit 'int' into an index-sized integer",
MemoryError), 10**400 as a width ("int too large to convert to float"), arrays where one number is meant
(TypeError), widths that would need terabytes (numpy's "array is too big").
"""
from __future__ import annotations

import numpy as np
import pytest

import meanfield as mf

HUGE = [2**64, 10**400, 1e308, np.int64(2**62)]
CALLS = {
    "spectrum depth": lambda v: mf.jacobian_spectrum("tanh", 1.5, 0.1, v),
    "isometry depth": lambda v: mf.isometry("tanh", 1.5, 0.1, v),
    "Monte Carlo width": lambda v: mf.simulate.jacobian_singular_values("relu", 2.0, 0.0, 2, v),
    "Monte Carlo depth": lambda v: mf.simulate.jacobian_singular_values("relu", 2.0, 0.0, v, 4),
    "Monte Carlo networks": lambda v: mf.simulate.jacobian_singular_values("relu", 2.0, 0.0, 2, 4, n_networks=v),
    "signal statistics width": lambda v: mf.simulate.signal_statistics("relu", 2.0, 0.0, 2, v, np.ones(3)),
    "He shape": lambda v: mf.init.he((v, 4), seed=0),
    "orthogonal shape": lambda v: mf.init.orthogonal((v, v), seed=0),
    "EOI shape": lambda v: mf.init.eoi((v, v), 0.5, seed=0),
    "assess depth": lambda v: mf.init.assess("he", "relu", depth=v, width=8),
    "assess width": lambda v: mf.init.assess("he", "relu", depth=2, width=v),
    "residual blocks": lambda v: mf.resnet.residual(8, v, "relu").mean_field(),
    "leaky slope": lambda v: mf.activation("leaky_relu", slope=v),
    "Fixup blocks": lambda v: mf.init.fixup_scale(v),
    "SELU fixed point": lambda v: mf.init.selu_constants(v, 1.0),
    "kernel depth": lambda v: mf.kernel("tanh", 1.5, 0.1, v, 1.0, 1.0, 0.5),
}


@pytest.mark.parametrize("value", HUGE, ids=["2**64", "10**400", "1e308", "int64 2**62"])
@pytest.mark.parametrize("name", sorted(CALLS))
def test_huge_numbers_are_refused_by_name(name, value):
    with pytest.raises(mf.SigpropError) as info:
        CALLS[name](value)
    message = str(info.value)
    assert len(message) < 400
    assert "4300" not in message and "index-sized" not in message


@pytest.mark.parametrize("call", [
    lambda: mf.jacobian_spectrum("tanh", [1.0, 2.0], 0.1, 3),
    lambda: mf.init.kumar("sigmoid", [0.1, 0.2]),
    lambda: mf.simulate.sample_weights(0, 3, 3, [1.0, 2.0]),
])
def test_arrays_where_one_number_is_meant(call):
    with pytest.raises(mf.ParameterError, match="single number"):
        call()


def test_memory_is_checked_before_allocating():
    """A width-10^6 Monte Carlo Jacobian needs 4 x 8 TB: refused with the amount, before numpy tries."""
    with pytest.raises(mf.ParameterError, match="GiB of memory"):
        mf.simulate.jacobian_singular_values("relu", 2.0, 0.0, 2, 10**6)
    with pytest.raises(mf.ParameterError, match="GiB of memory"):
        mf.init.gaussian((10**6, 10**6), seed=0)


def test_depth_limit_is_stated():
    with pytest.raises(mf.ParameterError, match="between 1 and 1,000,000"):
        mf.jacobian_spectrum("relu", 2.0, 0.0, 10**7)
    # a million layers is allowed: the free-probability moments do not grow with depth
    assert mf.jacobian_spectrum("relu", 2.0, 0.0, 10**6, "orthogonal").mean() == pytest.approx(1.0)


def test_gain_of_a_huge_slope():
    """torch's formula sqrt(2 / (1 + a^2)) is defined for any float slope (tiny for a huge one); an integer
    beyond the float range is refused with a short message."""
    assert mf.init.calculate_gain("leaky_relu", 1e308) == 0.0
    assert mf.init.calculate_gain("leaky_relu", 2**64) == pytest.approx(2**0.5 / 2**64)
    with pytest.raises(mf.ParameterError) as info:
        mf.init.calculate_gain("leaky_relu", 10**400)
    assert len(str(info.value)) < 200


@pytest.mark.parametrize("sw2", [1e-300, 1e308])
def test_spectra_outside_double_precision_are_refused(sw2):
    """relu with sigma_w2 = 1e-300 at depth 3 lives at 1e-900: the support used to come out as (0, 0) and
    the CLI figure crashed ("Geometric sequence cannot include zero")."""
    with pytest.raises(mf.ParameterError, match="outside double precision"):
        mf.jacobian_spectrum("relu", sw2, 0.0, 3)
