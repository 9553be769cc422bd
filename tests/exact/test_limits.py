"""Sizes are checked before anything is allocated, and every refusal says what was given and what is
allowed (no MemoryError, no Python-internal message); the critical default sigma_w2."""
from __future__ import annotations

import numpy as np
import pytest

import exact
import exact.relu as relu_module
from meanfield.errors import ParameterError
from meanfield.laws import MAX_MOMENT_ORDER, MAX_SAMPLES


@pytest.mark.parametrize("make, fragment", [
    (lambda: exact.ReLUNetwork([3, 10**8 + 1, 1]), "between 1 and 100,000,000, got 100000001"),
    (lambda: exact.ReLUNetwork([3, 10**5000, 1]), "an integer of about 10^5000"),
    (lambda: exact.ReLUNetwork([2] * (relu_module.MAX_DEPTH + 2)), f"at most {relu_module.MAX_DEPTH}"),
    (lambda: exact.ReLUNetwork([1, 1, 10**7, 1]), "nodes per layer"),
    (lambda: exact.ReLUNetwork([3, 4, 1], sigma_w2=1e308, input_norm2=1e308), "overflows"),
    (lambda: exact.ReLUNetwork([3, 4, 1]).output().moment(10_000), f"0..{MAX_MOMENT_ORDER}"),
    (lambda: exact.ReLUNetwork([3, 4, 1]).output().rvs(MAX_SAMPLES + 1), "at most"),
    (lambda: exact.ReLUNetwork([3, 4, 10**6]).outputs().rvs(100), "numbers per call"),
    (lambda: exact.ReLUNetwork([10**5, 10**5, 1]).sample(2), "GiB of memory"),
    (lambda: exact.ReLUNetwork([3, 4, 1]).sample(10**9), "GiB of memory"),
    (lambda: exact.ReLUNetwork([3, 4, 1]).squared_norm(2**70), "l must be a layer number 1..1"),
    (lambda: exact.ReLUNetwork([5, 5, 5, 1], 1e300, 1e300).sample(10), "overflows double precision"),
])
def test_refusals_name_the_input_and_the_limit(make, fragment):
    with pytest.raises(ParameterError) as info:
        make()
    text = str(info.value)
    assert fragment in text and len(text) < 600
    for leak in ("4300", "index-sized", "RecursionError"):
        assert leak not in text


def test_moment_cost_limit_with_bias(monkeypatch):
    """With bias E[s^j] costs L j^2; beyond MAX_MOMENT_WORK the refusal states the largest order."""
    monkeypatch.setattr(relu_module, "MAX_MOMENT_WORK", 1e5)
    law = exact.ReLUNetwork([2] * 11 + [1], 2.0, 0.1).output()
    assert 0 < law.moment(140) <= np.inf  # j = 70: 11 x 4900 operations, allowed
    with pytest.raises(ParameterError, match=r"j <= 95 here"):  # floor(sqrt(1e5 / 11))
        law.moment(400)


def test_the_default_sigma_w2_is_critical():
    """None: 2 (He) without sharing, 1 (the template's critical variance) with sharing, so that
    q^l = q^1 at every layer in both cases (mean field is exact for E[s^l])."""
    plain = exact.ReLUNetwork([5, 4, 6, 1])
    shared = exact.ReLUNetwork([5, 4, 6, 1], parameter_sharing=True)
    assert plain.sigma_w2 == 2.0 and shared.sigma_w2 == 1.0
    np.testing.assert_allclose(plain.mean_field(), 1.0 * 2.0, rtol=1e-15)
    np.testing.assert_allclose(shared.mean_field(), 1.0, rtol=1e-15)
    assert shared.output().var() == pytest.approx(1.0, rel=1e-13)
