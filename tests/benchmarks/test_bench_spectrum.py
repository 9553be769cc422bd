"""Speed of the free-probability spectra (run on demand: python -m pytest tests/benchmarks).

Targets (issue 3): density at 400 points for depth 64 <= 0.1 s (relu, hard-tanh, linear) and
<= 0.5 s (tanh, erf); depth 1000 works (time reported); cdf on 1000 points <= 1 s.
"""
import numpy as np
import pytest

import meanfield as mf


def _spectrum(name, depth, weights):
    sb2 = 0.0 if name in ("relu", "linear") else 0.05
    sw2 = {"relu": 2.0, "linear": 1.0}.get(name) or mf.critical_sigma_w2(name, sb2)
    return mf.jacobian_spectrum(name, sw2, sb2, depth, weights)


@pytest.mark.parametrize("name", ["relu", "hardtanh", "linear", "tanh", "erf"])
@pytest.mark.parametrize("depth", [64, 1000])
def test_density_400_points(benchmark, name, depth):
    s = _spectrum(name, depth, "gaussian")
    hi = s.support()[1]
    x = np.linspace(1e-3 * hi, hi, 400)
    benchmark.pedantic(s.pdf, args=(x,), rounds=3, iterations=1)


@pytest.mark.parametrize("name", ["relu", "tanh"])
def test_cdf_1000_points(benchmark, name):
    def run():
        s = _spectrum(name, 64, "orthogonal")  # fresh: the cdf table is built inside the timing
        hi = s.support()[1]
        return s.cdf(np.geomspace(1e-12 * hi, hi, 1000))

    benchmark.pedantic(run, rounds=3, iterations=1)


@pytest.mark.parametrize("name", ["tanh", "erf"])
def test_trajectory_density_400_points(benchmark, name):
    """Issue 11: a 20-layer network along its trajectory from q0 = 1 (20 distinct laws of D^2), density
    at 400 points (target <= 0.5 s); the spectrum is built fresh inside the timing, the edge outside."""
    sw2 = mf.critical_sigma_w2(name, 0.05)
    hi = mf.jacobian_spectrum(name, sw2, 0.05, 20, q0=1.0).support()[1]
    x = np.linspace(1e-3 * hi, hi, 400)

    def run():
        return mf.jacobian_spectrum(name, sw2, 0.05, 20, q0=1.0).pdf(x)

    benchmark.pedantic(run, rounds=3, iterations=1)
