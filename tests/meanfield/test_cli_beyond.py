"""The ``meanfield ntk`` and ``meanfield finite-width`` subcommands (meanfield/cli_beyond.py), in-process.

Numbers are checked against the library calls they print (12 significant digits in text, full precision in
JSON), the Monte Carlo columns against a sampler run with the same seed, and bad input against the contract
(exit 2, one line on stderr, nothing on stdout).
"""
import numpy as np
import pytest

import meanfield as mf
from tests.meanfield.cli_helpers import assert_one_line_error, number, run, strict_json, table_rows


def _pairs(q0, cosines):
    rows = [[1.0, 0.0]] + [[c, np.sqrt(1 - c * c)] for c in cosines]
    return np.sqrt(2 * q0) * np.array(rows)


def test_ntk_text_matches_library(capsys):
    code, out, err = run(capsys, "ntk", "erf", "--sigma-w2", "1.5", "--sigma-b2", "0.1", "--depth", "6",
                         "--cosine", "0.2", "0.7", "--q0", "0.8")
    assert code == 0 and err == ""
    K, T = mf.ntk_kernel("erf", 1.5, 0.1, 6, _pairs(0.8, [0.2, 0.7]), return_nngp=True)
    rows = table_rows(out, "cosine")
    for k, row in enumerate(rows):
        assert float(row["Theta_12"]) == pytest.approx(T[0, k + 1], rel=1e-11)
        assert float(row["K_12"]) == pytest.approx(K[0, k + 1], rel=1e-11)
        assert float(row["Theta_11"]) == pytest.approx(T[0, 0], rel=1e-11)
    d = mf.ntk_depth_scale("erf", 1.5, 0.1, q0=1.5 * 0.8 + 0.1)
    assert f"depth: {d.phase}" in out


@pytest.mark.parametrize("suffix", [".npy", ".csv"])
def test_ntk_json_of_an_input_file(capsys, tmp_path, suffix):
    X = np.random.default_rng(0).normal(size=(5, 3))
    path = tmp_path / f"x{suffix}"
    np.save(path, X) if suffix == ".npy" else np.savetxt(path, X, delimiter=",", fmt="%.17g")
    code, out, _ = run(capsys, "ntk", "tanh", "--sigma-w2", "1.7", "--sigma-b2", "0.05", "--depth", "3",
                       "--inputs", str(path), "--parameterization", "standard", "--width", "256", "--json")
    assert code == 0
    data = strict_json(out)
    K, T = mf.ntk_kernel("tanh", 1.7, 0.05, 3, X, "standard", widths=256, return_nngp=True)
    np.testing.assert_allclose(np.array(data["ntk"], float), T, rtol=1e-15)
    np.testing.assert_allclose(np.array(data["nngp"], float), K, rtol=1e-15)
    assert data["parameterization"] == "standard" and data["depth_scale"]["phase"] in ("ordered", "chaotic")
    assert number(data["depth_scale"]["xi"]) > 0


def test_ntk_without_a_deep_limit_still_prints_the_kernel(capsys):
    code, out, _ = run(capsys, "ntk", "relu", "--sigma-w2", "3", "--sigma-b2", "0", "--depth", "3", "--json")
    data = strict_json(out)
    assert code == 0 and "no finite fixed point" in data["depth_scale"]["reason"]
    assert number(data["ntk"][0][0]) == pytest.approx(mf.ntk_kernel("relu", 3, 0, 3, _pairs(1, [0, .5, .9]))[0, 0])


def test_finite_width_json_matches_library_and_sampler(capsys):
    widths = [64, 64, 64, 64, 64]
    code, out, err = run(capsys, "finite-width", "tanh", "--sigma-w2", "1.76", "--sigma-b2", "0.05", "--widths",
                         *map(str, widths), "--mc-networks", "300", "--seed", "4", "--json")
    assert code == 0 and err == ""
    data = strict_json(out)
    fw = mf.finite_width("tanh", 1.76, 0.05, widths)
    jl = mf.jacobian_norm_law("tanh", 1.76, 0.05, widths)
    mc = mf.simulate.sample_fluctuations("tanh", 1.76, 0.05, widths, 300, seed=4)
    assert data["reliable"] is True and data["depth_to_width"] == pytest.approx(3 / 64)
    layers = data["layers"]
    assert [row["layer"] for row in layers] == [1, 2, 3, 4]
    np.testing.assert_allclose([number(r["excess_kurtosis"]) for r in layers], fw.excess_kurtosis, rtol=1e-15)
    np.testing.assert_allclose([number(r["kernel_shift"]) for r in layers], fw.kernel_shift, rtol=1e-15)
    np.testing.assert_allclose([number(r["log_jacobian_var"]) for r in layers], jl.var, rtol=1e-15)
    np.testing.assert_allclose([number(r["mc_excess_kurtosis"]) for r in layers], mc.excess_kurtosis, rtol=1e-15)
    np.testing.assert_allclose([number(r["mc_log_jacobian_mean"]) for r in layers], mc.log_jacobian.mean(0), rtol=1e-15)


def test_finite_width_text_and_breakdown_warning(capsys):
    code, out, err = run(capsys, "finite-width", "relu", "--sigma-w2", "2", "--sigma-b2", "0", "--depth", "6",
                         "--width", "20")
    assert code == 0
    assert err.startswith("warning: finite_width is a first-order expansion") and "sum_l 1/n_l = 0.25" in err
    rows = table_rows(out, "layer")
    with pytest.warns(mf.FiniteWidthWarning):
        expected = mf.finite_width("relu", 2, 0, [20] * 7).excess_kurtosis
    np.testing.assert_allclose([float(r["excess_kurtosis"]) for r in rows], expected, rtol=1e-5)
    code, out, err = run(capsys, "finite-width", "relu", "--sigma-w2", "2", "--sigma-b2", "0", "--depth", "6",
                         "--width", "20", "--json")
    assert strict_json(out)["reliable"] is False and len(strict_json(out)["warnings"]) == 2


@pytest.mark.parametrize("argv, fragment", [
    (["finite-width", "tanh", "--sigma-w2", "1", "--sigma-b2", "0", "--widths", "10"], "widths must list"),
    (["finite-width", "tanh", "--sigma-w2", "1", "--sigma-b2", "0"], "give the widths"),
    (["finite-width", "tanh", "--sigma-w2", "1", "--sigma-b2", "0", "--widths", "4", "4", "--depth", "2"], "not both"),
    (["finite-width", "tanh", "--sigma-w2", "1", "--sigma-b2", "0", "--widths", "4", "4", "--mc-networks", "1"], "--mc-networks"),
    (["finite-width", "tanh", "--sigma-w2", "0", "--sigma-b2", "0", "--widths", "4", "4"], "sigma_w2"),
    (["ntk", "relu", "--sigma-w2", "2", "--sigma-b2", "0", "--depth", "3", "--parameterization", "standard"], "--width"),
    (["ntk", "relu", "--sigma-w2", "2", "--sigma-b2", "0", "--depth", "3", "--cosine", "1.5"], "cosine"),
    (["ntk", "relu", "--sigma-w2", "2", "--sigma-b2", "0", "--depth", "0"], "depth"),
    (["ntk", "relu", "--sigma-w2", "-2", "--sigma-b2", "0", "--depth", "3"], "sigma_w2"),
    (["ntk", "relu", "--sigma-w2", "2", "--sigma-b2", "0", "--depth", "3", "--inputs", "/nonexistent.npy"], "no file"),
])
def test_bad_input_one_line_exit_2(capsys, argv, fragment):
    assert_one_line_error(*run(capsys, *argv), fragment)


def test_help(capsys):
    for command in ("ntk", "finite-width"):
        code, out, _ = run(capsys, command, "--help")
        assert code == 0 and "JSON output" in out
