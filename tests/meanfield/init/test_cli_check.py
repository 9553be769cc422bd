"""The ``meanfield check FILE.npz`` subcommand: per-layer table, verdict, JSON with null + reason, errors."""
import math

import numpy as np
import pytest

import meanfield as mf
from tests.meanfield.cli_helpers import assert_one_line_error, run, strict_json


@pytest.fixture
def critical_tanh(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {f"W{l}": mf.init.critical((96, 96), "tanh", 0.05, seed=rng) for l in range(1, 5)}
    arrays.update({f"b{l}": math.sqrt(0.05) * rng.standard_normal(96) for l in range(1, 5)})
    path = tmp_path / "tanh.npz"
    np.savez(path, **arrays)
    return str(path), arrays


def test_check_prints_the_per_layer_table_and_verdict(capsys, critical_tanh):
    path, arrays = critical_tanh
    code, out, err = run(capsys, "check", path, "--activation", "tanh", "--seed", "0")
    assert code == 0 and err == ""
    assert out.startswith("weights with tanh: CRITICAL")
    lines = out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.split()[:2] == ["layer", "name"])
    for l in range(1, 5):
        cells = lines[head + l].split()
        assert cells[:3] == [str(l), f"W{l}", "96x96"]
        sw2 = 96 * np.mean(arrays[f"W{l}"] ** 2)  # fan_in mean(W^2), recomputed here
        assert float(cells[4]) == pytest.approx(sw2, rel=1e-4)
    assert "critical iff |chi_1 - 1| <=" in out and out.rstrip().endswith("(measured input seeded with 0)")


def test_check_json_numbers_and_nulls_with_reasons(capsys, tmp_path, critical_tanh):
    path, arrays = critical_tanh
    code, out, _ = run(capsys, "check", path, "--activation", "tanh", "--json", "--seed", "0")
    d = strict_json(out)
    assert code == 0 and d["command"] == "check" and d["phase"] == "critical" and d["critical"] is True
    assert isinstance(d["chi1"], float) and isinstance(d["critical_band"], float)
    assert len(d["measured"]["singular_values"]) == 96 and d["undefined"] == {}
    assert [layer["index"] for layer in d["measured"]["layers"]] == [1, 2, 3, 4]
    # a relu net far above the edge: q has no fixed point -> null with the reason
    relu = tmp_path / "relu.npz"
    np.savez(relu, W1=mf.init.gaussian((64, 64), sigma_w2=3.0, seed=1), W2=mf.init.gaussian((64, 64), sigma_w2=3.0, seed=2))
    code, out, _ = run(capsys, "check", str(relu), "--activation", "relu", "--json")
    d = strict_json(out)
    assert code == 0 and d["phase"] == "divergent" and d["q_star"] is None and d["chi1"] is None
    assert "no finite fixed point" in d["undefined"]["q_star"] and "q_star" in d["undefined"]


def test_check_missing_biases_are_said(capsys, tmp_path):
    path = tmp_path / "w.npz"
    np.savez(path, W1=np.eye(8), W2=np.eye(8), b2=np.zeros(8))
    code, out, _ = run(capsys, "check", str(path), "--activation", "linear")
    assert code == 0 and "no biases" in out  # layer 1's row


@pytest.mark.parametrize(
    "arrays, fragment",
    [
        ({"W1": np.eye(3), "extra": np.eye(3)}, "unexpected array name 'extra'"),
        ({"W2": np.eye(3)}, "W1..WL"),
        ({"W1": np.eye(3), "b2": np.ones(3)}, "b2"),
        ({"W1": np.eye(3), "W2": np.eye(4)}, "layer 2"),
        ({"W1": np.ones((2, 2, 3, 3))}, "torch module"),
    ],
)
def test_check_bad_archives_one_line(capsys, tmp_path, arrays, fragment):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    code, out, err = run(capsys, "check", str(path), "--activation", "relu")
    assert_one_line_error(code, out, err, fragment)


def test_check_refuses_pickles_plain_npy_and_missing_files(capsys, tmp_path):
    obj = tmp_path / "obj.npz"
    np.savez(obj, W1=np.array([None, 1.0], dtype=object))
    code, out, err = run(capsys, "check", str(obj), "--activation", "relu")
    assert_one_line_error(code, out, err, "pickle")
    npy = tmp_path / "one.npy"
    np.save(npy, np.eye(3))
    code, out, err = run(capsys, "check", str(npy), "--activation", "relu")
    assert_one_line_error(code, out, err, ".npz archive")
    code, out, err = run(capsys, "check", str(tmp_path / "missing.npz"), "--activation", "relu")
    assert_one_line_error(code, out, err, "no such file")
    code, out, err = run(capsys, "check", str(npy))
    assert_one_line_error(code, out, err, "--activation")
