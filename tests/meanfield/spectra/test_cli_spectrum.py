"""The ``meanfield spectrum`` and ``meanfield isometry`` commands, run in-process through ``main(argv)``.

Numbers are checked against the library (``meanfield.isometry``, ``jacobian_spectrum``), the JSON
against its schema (strict JSON; non-finite values null with the reason under "undefined"), images by
their PNG signature, and bad input against the contract: exit 2, nothing on stdout, one line on stderr.
Monte Carlo flags: ``--mc-width``, ``--mc-networks``, ``--seed`` (default 0, printed); the deprecated
``--monte-carlo`` and ``--networks`` still work, with a warning on stderr.
Densities are only drawn for relu, hardtanh and linear (fast); tanh appears only in the isometry
command, which never evaluates a density.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

import meanfield as mf
from meanfield.spectra.spectrum import jacobian_spectrum
from tests.meanfield.cli_helpers import assert_one_line_error, number, run, strict_json, undefined

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

    def spy(self, ax=None, samples=None, **kwargs):
        seen["samples"] = samples
        return original(self, ax=ax, samples=samples, **kwargs)

    monkeypatch.setattr(mf.JacobianSpectrum, "plot", spy)
    out_file = tmp_path / "relu.svg"
    code, out, err = run(capsys, "spectrum", "relu", "--sigma-w2", "2", "--sigma-b2", "0", "--depth", "3",
                         "--weights", "orthogonal", "--mc-width", "60", "--mc-networks", "2", "--seed", "5",
                         "--out", str(out_file))
    assert code == 0 and err == ""
    assert out_file.read_text().lstrip().startswith("<?xml")
    assert seen["samples"].lam.shape == (2, 60)
    expected = mf.simulate.jacobian_singular_values("relu", 2, 0, 3, 60, "orthogonal", n_networks=2, seed=5)
    assert (seen["samples"].lam == expected.lam).all()
    assert "Monte Carlo: 2 x width 60, seed 5" in out


def test_spectrum_monte_carlo_is_seeded_by_default_and_old_spellings_warn(capsys):
    base = ["spectrum", "relu", "--sigma-w2", "2", "--sigma-b2", "0", "--depth", "3", "--weights", "gaussian"]
    code, new, err = run(capsys, *base, "--mc-width", "30", "--mc-networks", "2")
    assert code == 0 and err == "" and "seed 0" in new
    code, old, err = run(capsys, *base, "--monte-carlo", "30", "--networks", "2")
    assert code == 0 and old == new  # the same seeded networks
    assert err.count("warning: --monte-carlo is deprecated") == 1 and "use --mc-width" in err
    assert err.count("warning: --networks is deprecated") == 1 and "use --mc-networks" in err
    assert_one_line_error(*run(capsys, *base, "--monte-carlo", "30", "--mc-width", "30"), "not both")


def test_spectrum_json_and_csv_on_stdout_without_out(capsys, tmp_path, monkeypatch):
    """No --out needed: the numbers against jacobian_spectrum, the Monte Carlo block against the sampler;
    the CSV's pdf and cdf against the law at its own lambda (full precision)."""
    import csv
    import io

    monkeypatch.chdir(tmp_path)
    argv = ["spectrum", "relu", "--sigma-w2", "2", "--sigma-b2", "0", "--depth", "4", "--weights", "gaussian"]
    code, out, err = run(capsys, *argv, "--mc-width", "40", "--seed", "3", "--json")
    assert code == 0 and err == "" and list(tmp_path.iterdir()) == []
    data = strict_json(out)
    spec = jacobian_spectrum("relu", 2.0, 0.0, 4, "gaussian")
    assert data["command"] == "spectrum" and data["kind"] == "fixed point" and data["q0"] is None
    assert (data["mean"], data["var"], data["lambda_max"]) == (spec.mean(), spec.var(), spec.support()[1])
    assert data["atoms"] == [[0.0, 0.5]] and data["continuous_mass"] == 0.5 and data["figure"] is None
    assert data["quantiles"]["0.5"] == 0.0 and data["quantiles"]["0.99"] == float(spec.ppf(0.99))
    mc = data["monte_carlo"]
    samples = mf.simulate.jacobian_singular_values("relu", 2.0, 0.0, 4, 40, "gaussian", seed=3)
    assert (mc["width"], mc["n_networks"], mc["seed"]) == (40, 1, 3) and mc["mean"] == float(samples.lam.mean())
    assert 0 < number(mc["ks"]) < 1
    # every null carries its reason: q0 was not given, no figure was asked for
    assert set(data["undefined"]) == {"q0", "figure"} and "q*" in data["undefined"]["q0"]
    code, out, err = run(capsys, *argv, "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and err == "" and len(rows) == 300 and list(rows[0]) == ["lambda", "pdf", "cdf", "sf"]
    lam = np.array([float(r["lambda"]) for r in rows])
    np.testing.assert_array_equal([float(r["pdf"]) for r in rows], spec.pdf(lam))
    np.testing.assert_array_equal([float(r["cdf"]) for r in rows], spec.cdf(lam))


def test_spectrum_and_isometry_q0_follow_the_trajectory(capsys):
    """--q0: the raw input's second moment; the layers sit on its trajectory (mf.isometry(q0=...),
    jacobian_spectrum(q0=...)); tanh's mean E[lambda] = prod_l chi_1^l there, not chi_1^L at q*."""
    sw2 = mf.critical_point("tanh", 0.01).sigma_w2
    base = ["tanh", "--sigma-w2", repr(sw2), "--sigma-b2", "0.01", "--depth", "6"]
    code, out, err = run(capsys, "isometry", *base, "--q0", "2.5", "--json")
    assert code == 0 and err == ""
    data = strict_json(out)
    report = mf.isometry("tanh", sw2, 0.01, 6, q0=2.5)
    assert data["q0"] == 2.5 and data["mean"] == report.mean and data["kind"] == "trajectory"
    assert data["mean"] == pytest.approx(np.prod(mf.trajectory("tanh", sw2, 0.01, 6, 2.5).chi1), rel=1e-10)
    code, out, err = run(capsys, "spectrum", *base, "--q0", "2.5", "--json")
    data = strict_json(out)
    assert code == 0 and data["kind"] == "trajectory" and data["q0"] == 2.5 and data["q_star"] is None
    assert "trajectory" in data["undefined"]["q_star"] and "--mc-width" in data["undefined"]["monte_carlo"]
    assert data["mean"] == pytest.approx(report.mean, rel=1e-12)


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
    assert {k: v for k, v in data.items() if k != "command"} == strict_json(json.dumps(report.to_dict(undefined="null")))
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
                         "--mc-width", "40", "--seed", "2", "--json")
    assert code == 0 and err == ""
    data = strict_json(out)
    assert data["isometric"] is True
    assert "unbounded" in undefined(data, "max_isometric_depth", "+infinity")
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
        (["isometry", "relu", *BASE, "--mc-width", "1"], "--mc-width"),
        (["isometry", "relu", *BASE, "--monte-carlo", "50", "--networks", "0"], "--networks"),
        (["isometry", "relu", *BASE, "--mc-width", "50", "--mc-networks", "0"], "--mc-networks"),
        (["isometry", "relu", *BASE, "--q0", "-1"], "q0"),
        (["isometry", "nosuch", *BASE], "nosuch"),
        (["isometry", "relu", *BASE, "--seed", "x"], "x"),
        (["spectrum", "relu", *BASE, "--json", "--csv"], "not allowed with"),
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
    assert code == 0 and "--mc-width" in out and "--json" in out and '"undefined"' in out and "--q0" in out
    code, out, _ = run(capsys, "spectrum", "--help")
    assert code == 0 and "--out" in out and "--mc-networks" in out and "--csv" in out and "--progress" in out


@pytest.mark.parametrize("command", ["spectrum", "isometry"])
def test_no_finite_fixed_point_is_an_answer_with_exit_0(capsys, command):
    """gelu far above its edge: q grows without bound from q^1 = 1, so there is no spectrum at q* -- printed
    as the answer (exit 0), with --json a null result and the reason; a bad argument stays exit 2."""
    base = [command, "gelu", "--sigma-w2", "2.3", "--sigma-b2", "0.05", "--depth", "3"]
    code, out, err = run(capsys, *base)
    assert code == 0 and err == "" and out.startswith(f"meanfield {command}: no finite answer: ")
    assert "no finite fixed point" in out
    code, out, err = run(capsys, *base, "--json")
    data = strict_json(out)
    assert code == 0 and data["command"] == command and "no finite fixed point" in data["reason"]
    undefined(data, "result", "+infinity")
    assert_one_line_error(*run(capsys, *base, "--depth", "0"), "depth")
