"""PyTorch modules in meanfield.init: Jacobians, activations read from modules, initialize_, regressions.

Skipped cleanly without torch.  Independent routes: the explicit product D^L W^L ... D^1 W^1 built in
numpy from the module's weights, central finite differences of the module's forward pass in float64
(step 1e-6: truncation ~1e-12 |phi'''|, rounding ~1e-10), and torch's own activation functions against
sigprop's phi on a grid.
"""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import meanfield as mf  # noqa: E402
from meanfield.errors import ParameterError  # noqa: E402
from meanfield.init.torch_models import module_chain  # noqa: E402


def _fd_jacobian(f, x, h=1e-6):
    """Central differences of the flattened f at the float64 tensor x: (f.numel(), x.numel())."""
    flat = x.detach().reshape(-1)
    cols = []
    for i in range(flat.numel()):
        e = torch.zeros_like(flat)
        e[i] = h
        with torch.no_grad():
            cols.append((f((flat + e).reshape(x.shape)) - f((flat - e).reshape(x.shape))).reshape(-1) / (2 * h))
    return torch.stack(cols, dim=1).numpy()


def _mlp(widths, act=nn.Tanh, last_act=False, dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    layers = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2 or last_act:
            layers.append(act())
    return nn.Sequential(*layers).to(dtype)


def test_dense_jacobian_against_the_numpy_product_and_finite_differences():
    net = _mlp([20, 30, 25, 15])
    x = torch.randn(1, 20, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    r = mf.init.assess(net, input=x)
    # numpy: J = W3 D2 W2 D1 W1 (the module's output layer has no activation)
    ws = [m.weight.detach().numpy() for m in net if isinstance(m, nn.Linear)]
    bs = [m.bias.detach().numpy() for m in net if isinstance(m, nn.Linear)]
    h, jac = x.numpy()[0], np.eye(20)
    for i, (w, b) in enumerate(zip(ws, bs)):
        pre = w @ h + b
        jac = w @ jac
        if i < 2:
            jac = (1 - np.tanh(pre) ** 2)[:, None] * jac
            h = np.tanh(pre)
    expected = np.linalg.svd(jac, compute_uv=False)
    assert r.measured.singular_values == pytest.approx(expected, rel=1e-12)
    assert r.measured.jacobian == "torch autograd, float64" and r.measured.n_singular_values == 15
    assert np.abs(_fd_jacobian(net, x) - jac).max() < 1e-8
    assert r.activation == "tanh" and r.depth == 3 and r.widths == (20, 30, 25, 15)


def test_conv_chain_jacobian_against_finite_differences_and_mean_field_only():
    torch.manual_seed(2)
    net = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.Tanh(), nn.Conv2d(4, 3, 3, padding=1), nn.Tanh()).double()
    x = torch.randn(1, 2, 5, 5, dtype=torch.float64)
    r = mf.init.assess(net, input=x)
    expected = np.linalg.svd(_fd_jacobian(net, x), compute_uv=False)
    assert r.measured.singular_values == pytest.approx(expected, rel=1e-7, abs=1e-9)
    assert r.isometry is None and r.phase in ("ordered", "critical", "chaotic")
    assert r.measured.layers[0].fan_in == 2 * 9 and "convolutional" in " ".join(r.notes)


class _Residual(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.lin1, self.bn, self.lin2 = nn.Linear(n, n), nn.BatchNorm1d(n), nn.Linear(n, n)

    def forward(self, x):
        return x + self.lin2(torch.relu(self.bn(self.lin1(x))))


def test_any_module_is_measured_without_theory_and_its_buffers_are_restored():
    torch.manual_seed(3)
    net = _Residual(6).double().train()  # BatchNorm in training mode couples the batch
    x = torch.randn(4, 6, dtype=torch.float64)
    before = net.bn.running_mean.clone()
    r = mf.init.assess(net, input=x)
    assert torch.equal(net.bn.running_mean, before)
    assert r.phase == "unknown" and not r.critical and r.isometry is None and math.isnan(r.chi1)
    assert "no theory" in " ".join(r.notes) and "_Residual" in " ".join(r.notes)
    net_fd = _fd_jacobian(net, x)  # the batch map's Jacobian (24 x 24), BatchNorm coupling included
    net.bn.running_mean.copy_(before)
    assert r.measured.singular_values == pytest.approx(np.linalg.svd(net_fd, compute_uv=False), rel=1e-6, abs=1e-8)
    assert len(r.measured.layers) == 2  # the Linear layers found, measured per layer


ACTIVATIONS = [
    (nn.ReLU(), "relu"), (nn.LeakyReLU(0.2), "leaky_relu"), (nn.Tanh(), "tanh"), (nn.Sigmoid(), "sigmoid"),
    (nn.GELU(), "gelu"), (nn.GELU(approximate="tanh"), None), (nn.SiLU(), "silu"), (nn.ELU(alpha=0.7), "elu"),
    (nn.SELU(), "selu"), (nn.Softplus(), "softplus"), (nn.Softplus(beta=2.0), None), (nn.Hardtanh(), "hardtanh"),
    (nn.Mish(), "mish"),
]


@pytest.mark.parametrize("module, name", ACTIVATIONS, ids=[repr(m) for m, _ in ACTIVATIONS])
def test_activations_read_from_modules_match_torch(module, name):
    chain = module_chain(nn.Sequential(nn.Linear(3, 3), module))
    assert chain.is_chain and chain.act is not None, chain.reasons
    if name is not None:
        assert chain.act.name == name
    grid = torch.linspace(-6, 6, 241, dtype=torch.float64)
    assert chain.act.phi(grid.numpy()) == pytest.approx(module(grid).numpy(), rel=1e-12, abs=1e-14)


def test_gelu_approximation_is_named_and_differs():
    exact = module_chain(nn.Sequential(nn.Linear(3, 3), nn.GELU()))
    approx = module_chain(nn.Sequential(nn.Linear(3, 3), nn.GELU(approximate="tanh")))
    assert "exact" in exact.act_text and "tanh" in approx.act_text
    x = np.linspace(-3, 3, 61)
    assert np.max(np.abs(exact.act.phi(x) - approx.act.phi(x))) > 1e-4


@pytest.mark.parametrize(
    "layer, fragment",
    [
        (nn.Softplus(threshold=5.0), "threshold"), (nn.Hardtanh(-2.0, 2.0), "Hardtanh"),
        (nn.LeakyReLU(2.0), "slope"), (nn.ReLU6(), "ReLU6"), (nn.BatchNorm1d(4), "BatchNorm1d"),
    ],
)
def test_unsupported_layers_are_refused_with_the_reason(layer, fragment):
    net = nn.Sequential(nn.Linear(4, 4), layer).double().eval()
    r = mf.init.assess(net, input=torch.randn(2, 4, dtype=torch.float64))
    assert r.phase == "unknown" and fragment in " ".join(r.notes)


def test_an_act_that_disagrees_with_the_module_is_refused():
    with pytest.raises(ParameterError, match="disagrees"):
        mf.init.assess(_mlp([4, 4, 4]), "relu")


def test_eight_kaiming_relu_nets_are_critical():
    """The issue's example: 4 x "ordered" and 4 x "DIVERGENT" before; the band is 3 SE (~0.3 % misses)."""
    for seed in range(8):
        g = torch.Generator().manual_seed(seed)
        weights = [nn.init.kaiming_normal_(torch.empty(256, 256), generator=g) for _ in range(10)]
        r = mf.init.assess(weights, "relu")
        assert r.phase == "critical", (seed, r.sigma_w2, r.sigma_w2_se)
        # the same weights in a module, with torch's default (small, uniform) biases
        net = nn.Sequential(*[m for _ in range(10) for m in (nn.Linear(256, 256), nn.ReLU())])
        with torch.no_grad():
            for lin, w in zip(net[::2], weights):
                lin.weight.copy_(w)
        m = mf.init.assess(net)
        assert m.phase == "critical" and m.sigma_b2 > 0 and m.sigma_w2 == pytest.approx(r.sigma_w2, rel=1e-6)


def test_tensors_with_gradients_and_errors_without_contents():
    layer = nn.Linear(8, 8)
    r = mf.init.assess([layer.weight, layer.weight], "tanh", biases=[layer.bias, None])
    assert r.measured.layers[0].dtype == "float32" and r.measured.layers[1].n_biases == 0
    bad = torch.full((300, 300), float("nan"))
    with pytest.raises(ParameterError) as info:
        mf.init.assess([torch.eye(300), bad], "tanh")
    message = str(info.value)
    assert "layer 2 weights" in message and "shape (300, 300)" in message and "torch.float32" in message
    assert "nan," not in message and len(message) < 300
    with pytest.raises(ParameterError, match="bfloat16|convert"):
        mf.init.assess([torch.eye(4, dtype=torch.bfloat16)], "tanh")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_initialize_critical_then_assess_confirms(dtype):
    net = _mlp([128] * 7, dtype=dtype, last_act=True, seed=4)
    mf.init.initialize_(net, "critical", activation="tanh", sigma_b2=0.05, seed=0)
    assert all(p.dtype == dtype for p in net.parameters())
    r = mf.init.assess(net)
    assert r.critical and r.phase == "critical"
    assert abs(r.sigma_w2 - mf.init.critical_sigma_w2("tanh", 0.05)) <= 5 * r.sigma_w2_se
    assert abs(r.sigma_b2 - 0.05) <= 5 * r.sigma_b2_se
    again = _mlp([128] * 7, dtype=dtype, last_act=True, seed=5)
    mf.init.initialize_(again, "critical", sigma_b2=0.05, seed=0)  # activation read from the module
    for a, b in zip(net.parameters(), again.parameters()):
        assert torch.equal(a, b)


def test_initialize_writes_the_numpy_recipe_weights_then_biases():
    net = _mlp([16, 24, 8], seed=6)
    mf.init.initialize_(net, "he", sigma_b2=0.1, seed=7)
    rng = np.random.default_rng(7)
    for lin in (net[0], net[2]):
        w = mf.init.he(tuple(lin.weight.shape), seed=rng)
        b = math.sqrt(0.1) * rng.standard_normal(lin.weight.shape[0])
        assert np.array_equal(lin.weight.detach().numpy(), w) and np.array_equal(lin.bias.detach().numpy(), b)


@pytest.mark.parametrize("recipe", sorted(mf.init.RECIPES))
def test_every_recipe_initializes_a_module(recipe):
    net = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 32)).double()
    mf.init.initialize_(net, recipe, activation="relu", seed=8)
    r = mf.init.assess(net)
    assert np.all(np.isfinite(r.measured.singular_values))
    if recipe == "looks_linear":  # the physical net computes an orthogonal linear map: every s = 1
        assert np.max(np.abs(r.measured.singular_values - 1)) < 1e-12


def test_initialize_refusals():
    net = _mlp([8, 8, 8])
    with pytest.raises(ParameterError, match="zero"):
        mf.init.initialize_(net, "idinit", sigma_b2=0.1)
    with pytest.raises(ParameterError, match="unknown recipe"):
        mf.init.initialize_(net, "bogus")
    with pytest.raises(ParameterError, match="needs the activation"):
        mf.init.initialize_(_Residual(4), "critical")
    with pytest.raises(ParameterError, match="even hidden widths"):
        mf.init.initialize_(nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 4)), "looks_linear")
    with pytest.raises(ParameterError, match="torch.nn.Module"):
        mf.init.initialize_([np.eye(3)], "he")


def test_a_wrong_input_shape_is_one_clear_error():
    with pytest.raises(ParameterError, match=r"input of shape \(1, 7\)"):
        mf.init.assess(_mlp([4, 4, 4]), input=torch.ones(1, 7, dtype=torch.float64))
    torch.manual_seed(9)
    conv = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Tanh())
    with pytest.raises(ParameterError, match="give input="):
        mf.init.assess(conv)
