"""The ``meanfield spectrum`` and ``meanfield isometry`` commands, run in-process through ``main(argv)``.

Numbers are checked against the library (``meanfield.isometry``, ``jacobian_spectrum``), the JSON
against its schema (strict JSON; non-finite values as "inf"/"-inf"/"nan"), images by their PNG
signature, and bad input against the contract: exit 2, nothing on stdout, one line on stderr.
Densities are only drawn for relu, hardtanh and linear (fast); tanh appears only in the isometry
command, which never evaluates a density.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

import meanfield as mf
from meanfield.spectra.spectrum import jacobian_spectrum
from tests.meanfield.cli_helpers import assert_one_line_error, number, run, strict_json

PNG = b"\x89PNG\r\n\x1a\n"








# ------------------------------------------------------------------------------------------------
# spectrum
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "act, sw2, sb2, L, weights",
    [("relu", "2", "0", "4", "gaussian"), ("hardtanh", "1.05", "0.01", "3", "orthogonal"), ("linear", "1", "0", "2", "gaussian")],
)
def test_spectrum_writes_png(capsys, tmp_path, act, sw2, sb2, L, weights):
    out_file = tmp_path / f"{act}.png"
    code, out, err = run(capsys, "spectrum", act, "--sigma-w2", sw2, "--sigma-b2", sb2, "--depth", L,
                         "--weights", weights, "--out", str(out_file))
    assert code == 0 and err == ""
    data = out_file.read_bytes()
    assert data[:8] == PNG and len(data) > 1000
    spec = jacobian_spectrum(act, float(sw2), float(sb2), int(L), weights)
    with np.errstate(invalid="ignore"):
        top = spec.support()[1]
    assert out.startswith(f"wrote {out_file}") and out.count("\n") == 1
    assert f"lambda_max = {top:.6g}" in out and f"Var[lambda] = {spec.var():.6g}" in out
    assert "Monte Carlo" not in out


def test_spectrum_with_monte_carlo(capsys, tmp_path, monkeypatch):
    seen = {}
    original = mf.JacobianSpectrum.plot

    def spy(self, ax=None, samples=None):
        seen["samples"] = samples
        return original(self, ax=ax, samples=samples)

    monkeypatch.setattr(mf.JacobianSpectrum, "plot", spy)
    out_file = tmp_path / "relu.svg"
    code, out, err = run(capsys, "spectrum", "relu", "--sigma-w2", "2", "--sigma-b2", "0", "--depth", "3",
                         "--weights", "orthogonal", "--monte-carlo", "60", "--networks", "2", "--seed", "5",
                         "--out", str(out_file))
    assert code == 0 and err == ""
    assert out_file.read_text().lstrip().startswith("<?xml")
    assert seen["samples"].shape == (2, 60)
    expected = mf.simulate.jacobian_singular_values("relu", 2, 0, 3, 60, "orthogonal", n_networks=2, seed=5)
    assert (seen["samples"] == expected.lam).all()
    assert "Monte Carlo: 2 x width 60, seed 5" in out


# ------------------------------------------------------------------------------------------------
# isometry
# ------------------------------------------------------------------------------------------------
def test_isometry_text_tanh_isometric(capsys):
    sw2 = mf.critical_point("tanh", 1e-5).sigma_w2
    code, out, err = run(capsys, "isometry", "tanh", "--sigma-w2", repr(sw2), "--sigma-b2", "1e-5", "--depth", "64")
    assert code == 0 and err == ""
    report = mf.isometry("tanh", sw2, 1e-5, 64)
    assert out == report.verdict + "\n"
    assert out.startswith("ISOMETRIC") and "[pass] spread" in out


def test_isometry_text_relu_not_isometric(capsys):
    code, out, err = run(capsys, "isometry", "relu", "--sigma-w2", "2", "--sigma-b2", "0", "--depth", "16",
                         "--weights", "gaussian", "--tolerance", "0.4")
    assert code == 0 and err == ""
    assert out.startswith("NOT ISOMETRIC") and "fails: spread, edge, rank" in out
    assert "[0.6, 1.4]" in out


def test_isometry_json_schema_and_values(capsys):
    code, out, err = run(capsys, "isometry", "leaky_relu", "--param", "slope=0.5", "--sigma-w2", "1.6",
                         "--sigma-b2", "0", "--depth", "8", "--json")
    assert code == 0 and err == ""
    data = strict_json(out)
    report = mf.isometry(mf.activation("leaky_relu", slope=0.5), 1.6, 0.0, 8)
    assert data["command"] == "isometry"
    assert {k: v for k, v in data.items() if k != "command"} == strict_json(json.dumps(report.to_dict()))
    assert data["activation"] == "leaky_relu" and data["params"] == {"slope": 0.5}
    assert isinstance(data["isometric"], bool) and isinstance(data["verdict"], str)
    assert data["weights"] == "orthogonal" and data["depth"] == 8 and data["monte_carlo"] is None
    for key in ("sigma_w2", "sigma_b2", "q_star", "chi1", "mean", "log_mean", "var", "normalised_var", "spread",
                "var_rate", "var_slope", "max_isometric_depth", "lambda_max", "edge_ratio", "zero_atom",
                "tolerance", "band_fraction"):
        number(data[key])
    assert data["band_fraction_method"] in ("cdf", "moment bound")
    assert len(data["band"]) == 2
    for c in data["criteria"]:
        assert set(c) == {"name", "value", "threshold", "passed", "description"}
        number(c["value"]), number(c["threshold"])
        assert isinstance(c["passed"], bool)
    for loc, mass in data["atoms"]:
        number(loc), number(mass)


def test_isometry_json_inf_and_monte_carlo(capsys):
    code, out, err = run(capsys, "isometry", "linear", "--sigma-w2", "1", "--sigma-b2", "0", "--depth", "4",
                         "--monte-carlo", "40", "--seed", "2", "--json")
    assert code == 0 and err == ""
    data = strict_json(out)
    assert data["isometric"] is True and data["max_isometric_depth"] == "inf"
    mc = data["monte_carlo"]
    assert mc["width"] == 40 and mc["n_networks"] == 1 and mc["seed"] == 2
    assert mc["isometric"] is True and mc["agrees"] is True
    assert mc["mean"] == pytest.approx(1.0, rel=1e-10)


# ------------------------------------------------------------------------------------------------
# bad input: exit status 2, one line on stderr, nothing on stdout
# ------------------------------------------------------------------------------------------------
BASE = ["--sigma-w2", "2", "--sigma-b2", "0", "--depth", "3"]


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["isometry", "relu", "--sigma-w2", "2", "--sigma-b2", "0", "--depth", "0"], "depth"),
        (["isometry", "relu", "--sigma-w2", "2", "--sigma-b2", "0", "--depth", "two"], "two"),
        (["isometry", "relu", "--sigma-w2", "2", "--sigma-b2", "0"], "--depth"),
        (["isometry", "relu", "--sigma-w2", "-2", "--sigma-b2", "0", "--depth", "3"], "sigma_w2"),
        (["isometry", "relu", "--sigma-w2", "0", "--sigma-b2", "0", "--depth", "3"], "sigma_w2"),
        (["isometry", "relu", "--sigma-w2", "2", "--sigma-b2", "-1", "--depth", "3"], "sigma_b2"),
        (["isometry", "relu", "--sigma-w2", "nan", "--sigma-b2", "0", "--depth", "3"], "nan"),
        (["isometry", "relu", *BASE, "--weights", "ortho"], "ortho"),
        (["isometry", "relu", *BASE, "--tolerance", "1.5"], "tolerance"),
        (["isometry", "relu", *BASE, "--monte-carlo", "1"], "--monte-carlo"),
        (["isometry", "relu", *BASE, "--monte-carlo", "50", "--networks", "0"], "--networks"),
        (["isometry", "nosuch", *BASE], "nosuch"),
        (["isometry", "relu", *BASE, "--seed", "x"], "x"),
        (["spectrum", "relu", *BASE], "--out"),
        (["spectrum", "relu", *BASE, "--out", "a.unknownformat"], "extension"),
        (["spectrum", "relu", *BASE, "--out", "/no/such/folder/a.png"], "does not exist"),
        (["spectrum", "relu", *BASE, "--out", "a.png", "--dpi", "0"], "dpi"),
        (["spectrum", "relu", "--sigma-w2", "2", "--sigma-b2", "0", "--depth", "-1", "--out", "a.png"], "depth"),
    ],
)
def test_bad_input_one_line_exit_2(capsys, tmp_path, monkeypatch, argv, fragment):
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(*run(capsys, *argv), fragment)
    assert not (tmp_path / "a.png").exists()


def test_help_lists_the_new_commands(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "spectrum" in out and "isometry" in out
    code, out, _ = run(capsys, "isometry", "--help")
    assert code == 0 and "--monte-carlo" in out and "--json" in out and '"inf"' in out
    code, out, _ = run(capsys, "spectrum", "--help")
    assert code == 0 and "--out" in out and "--networks" in out
