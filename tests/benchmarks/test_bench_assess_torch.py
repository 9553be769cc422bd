"""Speed of mf.init.assess on a PyTorch MLP (run on demand: python -m pytest tests/benchmarks/test_bench_assess_torch.py -s).

Target (issue 11): ``assess`` of a 50-layer width-512 torch MLP (Linear + Tanh, float32, initialized on the
edge of chaos by ``mf.init.initialize_``) in <= 5 s: 50 per-layer statistics (a 512 x 512 Gram matrix each),
the mean-field verdict with its band, the spectrum theory, and the 512 x 512 Jacobian by torch.func.jacrev
with its SVD.  Torch and BLAS run single-threaded inside ``assess``.  The first call in a process also pays
for torch.func's set-up (about 1.5 s here); the figure reported is the best of 3 warm rounds.
"""
import time

import pytest

torch = pytest.importorskip("torch")

import meanfield as mf  # noqa: E402

DEPTH, WIDTH = 50, 512


@pytest.fixture(scope="module")
def mlp():
    layers = []
    for _ in range(DEPTH):
        layers += [torch.nn.Linear(WIDTH, WIDTH), torch.nn.Tanh()]
    net = torch.nn.Sequential(*layers)
    mf.init.initialize_(net, "critical", activation="tanh", sigma_b2=0.05, seed=0)
    mf.init.assess(net, seed=0)  # warm-up: torch.func set-up, quadrature tables
    return net


@pytest.mark.benchmark(group="assess torch MLP 50 x 512")
def test_assess_torch_mlp(benchmark, mlp):
    r = benchmark.pedantic(mf.init.assess, args=(mlp,), kwargs={"seed": 0}, rounds=3, iterations=1)
    assert r.critical and r.measured.n_singular_values == WIDTH


def test_assess_torch_mlp_target(mlp):
    """Best of 3 (reported with -s; asserted <= 5 s, the issue's target)."""
    times = []
    for _ in range(3):
        t = time.perf_counter()
        mf.init.assess(mlp, seed=0)
        times.append(time.perf_counter() - t)
    print(f"\nassess(50 x 512 torch MLP): best {min(times):.2f} s of {[round(t, 2) for t in times]}")
    assert min(times) <= 5.0
