"""The ``meanfield`` command (meanfield/cli.py), run in-process through ``main(argv)``.

Numbers in the output are checked against the library functions (not against stored output), the
JSON against its documented schema (numbers as JSON numbers; non-finite values null, with the reason
under "undefined"), CSV against the JSON, and bad input against the contract: exit status 2, nothing
on stdout, one line "meanfield: error: ..." on stderr and no traceback.  A physics answer (q diverges)
is printed with exit status 0.
"""
from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import meanfield as mf
from meanfield import cli
from tests.meanfield.cli_helpers import assert_one_line_error, number, run, strict_json, table_rows, undefined

ROOT = Path(__file__).resolve().parents[2]
# 12 significant digits in the text output: relative rounding error <= 5e-12
TEXT_RTOL = 1e-11








def key_values(out):
    return dict(line.split(None, 1) for line in out.splitlines() if line.strip())


def xi(rate):
    return math.inf if rate >= 1 else -1.0 / math.log(rate)


def close(text, value, rtol=TEXT_RTOL):
    if math.isinf(value):
        return text == "inf"
    return math.isclose(float(text), value, rel_tol=rtol, abs_tol=1e-300)


# ------------------------------------------------------------------------------------------------
# critical
# ------------------------------------------------------------------------------------------------
def test_critical_tanh_defaults_match_library(capsys):
    code, out, err = run(capsys, "critical", "tanh")
    assert code == 0 and err == ""
    rows = table_rows(out, "sigma_b2")
    assert [float(r["sigma_b2"]) for r in rows] == list(cli.DEFAULT_SIGMA_B2)
    assert [0.0, 0.01, 0.05, 0.1, 0.2, 0.3] == list(cli.DEFAULT_SIGMA_B2)
    expected_w2 = mf.critical_sigma_w2("tanh", np.array(cli.DEFAULT_SIGMA_B2))
    for row, b, w2 in zip(rows, cli.DEFAULT_SIGMA_B2, expected_w2):
        p = mf.critical_point("tanh", b)
        assert close(row["sigma_w2"], w2)
        assert close(row["q*"], p.q_star)
        assert close(row["q_slope"], p.q_slope, 1e-9)
        assert close(row["xi_q"], xi(p.q_slope), 1e-9)
        assert row["status"] == p.status
        assert row["stable"] == ("yes" if p.stable else "no")
    # anchor of the notes: sigma_b2 = 0.05 -> 1.76095..., and the degenerate q* -> 0 limit at 0
    assert rows[2]["sigma_w2"].startswith("1.76095")
    assert rows[0]["status"] == "degenerate" and float(rows[0]["sigma_w2"]) == 1.0
    assert rows[0]["xi_q"] == "inf"  # q-map slope 1 at q* = 0
    # the 12 significant digits are really printed
    assert len(rows[2]["sigma_w2"].replace(".", "")) == 12


def test_critical_none_rows_print_none_and_the_reason(capsys):
    code, out, err = run(capsys, "critical", "relu", "--sigma-b2", "0", "0.1")
    assert code == 0 and err == ""
    marginal, none = table_rows(out, "sigma_b2")
    assert marginal["status"] == "marginal" and float(marginal["sigma_w2"]) == 2.0
    assert none["status"] == "none"
    assert none["sigma_w2"] == none["q*"] == none["xi_q"] == "none"
    assert mf.critical_point("relu", 0.1).reason in out


def test_critical_json_schema_and_values(capsys):
    code, out, err = run(capsys, "critical", "relu", "--sigma-b2", "0", "0.1", "--sigma-b2", "0.2", "--json")
    assert code == 0 and err == ""
    data = strict_json(out)
    assert data["command"] == "critical" and data["activation"] == "relu" and data["params"] == {}
    assert [r["sigma_b2"] for r in data["rows"]] == [0.0, 0.1, 0.2]  # --sigma-b2 extends
    keys = {"sigma_b2", "sigma_w2", "q_star", "q_slope", "xi_q", "stable", "status", "reason", "roots"}
    for row in data["rows"]:
        assert set(row) == keys
        p = mf.critical_point("relu", row["sigma_b2"])
        assert row["status"] == p.status and row["reason"] == p.reason and row["stable"] == p.stable
        for key, value in (("sigma_w2", p.sigma_w2), ("q_star", p.q_star), ("q_slope", p.q_slope)):
            assert (row[key] is None and math.isnan(value)) or number(row[key]) == value
    first, second, _ = data["rows"]
    assert first["sigma_w2"] == 2.0 and first["stable"] is True
    undefined(data, "rows[0].xi_q", "+infinity")
    for key in ("sigma_w2", "q_star", "xi_q"):
        assert "no edge of chaos" in undefined(data, f"rows[1].{key}", "not a number") or key == "xi_q"
    assert second["stable"] is None and second["status"] == "none" and second["roots"] == []
    assert set(data["undefined"]) == {"rows[0].xi_q"} | {f"rows[{i}].{k}" for i in (1, 2) for k in
                                                          ("sigma_w2", "q_star", "q_slope", "xi_q")}


def test_critical_csv_is_the_json_table(capsys):
    import csv
    import io

    code, out, err = run(capsys, "critical", "gelu", "--sigma-b2", "0.05", "0.3", "--csv")
    assert code == 0 and err == ""
    rows = list(csv.DictReader(io.StringIO(out)))
    _, text, _ = run(capsys, "critical", "gelu", "--sigma-b2", "0.05", "0.3", "--json")
    for row, ref in zip(rows, strict_json(text)["rows"], strict=True):
        for key in ("sigma_b2", "sigma_w2", "q_star", "q_slope", "xi_q"):
            assert (row[key] == "" and ref[key] is None) or float(row[key]) == ref[key]  # full precision
        assert row["status"] == ref["status"] and row["stable"] == str(ref["stable"])


def test_critical_json_full_precision_and_roots(capsys):
    code, out, _ = run(capsys, "critical", "gelu", "--sigma-b2", "0.05", "0.3", "--json")
    assert code == 0
    rows = strict_json(out)["rows"]
    for row in rows:
        p = mf.critical_point("gelu", row["sigma_b2"])
        assert row["sigma_w2"] == p.sigma_w2 and row["q_star"] == p.q_star  # exact floats
        assert (row["xi_q"] is None and math.isinf(xi(p.q_slope))) or number(row["xi_q"]) == pytest.approx(
            xi(p.q_slope), rel=1e-12)
        assert len(row["roots"]) == len(p.roots)
        for r, ref in zip(row["roots"], p.roots):
            assert set(r) == {"sigma_w2", "q_star", "q_slope", "stable"}
            assert (r["sigma_w2"], r["q_star"], r["stable"]) == (ref.sigma_w2, ref.q_star, ref.stable)
    # GELU's edge of chaos at small sigma_b2 sits on an unstable q* (notes, section 3)
    assert rows[0]["status"] == "unstable" and rows[0]["stable"] is False and rows[0]["xi_q"] is None


def test_critical_activation_parameter(capsys):
    code, out, _ = run(capsys, "critical", "leaky_relu", "--param", "slope=0.2", "--sigma-b2", "0", "--json")
    assert code == 0
    data = strict_json(out)
    assert data["params"] == {"slope": 0.2}
    expected = mf.critical_sigma_w2(mf.activation("leaky_relu", slope=0.2), 0.0)
    assert data["rows"][0]["sigma_w2"] == expected
    assert expected == pytest.approx(2 / (1 + 0.2**2), rel=1e-12)


# ------------------------------------------------------------------------------------------------
# maps
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("sw2, sb2, phase", [(1.5, 0.05, "ordered"), (2.5, 0.05, "chaotic")])
def test_maps_text_matches_library(capsys, sw2, sb2, phase):
    code, out, err = run(capsys, "maps", "tanh", "--sigma-w2", str(sw2), "--sigma-b2", str(sb2))
    assert code == 0 and err == ""
    kv = key_values(out)
    scales = mf.depth_scales("tanh", sw2, sb2)
    assert close(kv["q*"], mf.fixed_point("tanh", sw2, sb2))
    assert close(kv["chi_1"], mf.chi1("tanh", sw2, sb2))
    assert close(kv["q_slope"], mf.q_slope("tanh", sw2, sb2))
    assert close(kv["xi_q"], scales.xi_q)
    assert close(kv["xi_c"], scales.xi_c)
    assert close(kv["c*"], mf.correlation_fixed_point("tanh", sw2, sb2))
    assert kv["phase"] == phase
    assert (mf.chi1("tanh", sw2, sb2) < 1) == (phase == "ordered")


def test_maps_json_schema_and_values(capsys):
    argv = ["maps", "x*erf(x)", "--sigma-w2", "0.5", "--sigma-b2", "0.05", "--json"]
    code, out, err = run(capsys, *argv)
    assert code == 0 and err == ""
    data = strict_json(out)
    assert set(data) == {
        "command", "activation", "params", "sigma_w2", "sigma_b2", "q0",
        "q_star", "chi1", "q_slope", "xi_q", "chi_c", "xi_c", "c_star", "phase", "undefined",
    }
    assert data["undefined"] == {}
    assert (data["command"], data["activation"], data["phase"]) == ("maps", "x*erf(x)", "ordered")
    assert (data["sigma_w2"], data["sigma_b2"], data["q0"]) == (0.5, 0.05, 1.0)
    act = mf.activation("x*erf(x)")
    scales = mf.depth_scales(act, 0.5, 0.05)
    assert data["q_star"] == mf.fixed_point(act, 0.5, 0.05)
    assert data["chi1"] == mf.chi1(act, 0.5, 0.05)
    assert data["q_slope"] == pytest.approx(mf.q_slope(act, 0.5, 0.05), rel=1e-14)
    assert data["xi_q"] == pytest.approx(scales.xi_q, rel=1e-12)
    assert data["xi_c"] == pytest.approx(scales.xi_c, rel=1e-12)
    assert data["c_star"] == 1.0 and data["chi_c"] == pytest.approx(data["chi1"], rel=1e-12)


def test_maps_edge_of_chaos_is_critical_with_infinite_depth_scales(capsys):
    code, out, _ = run(capsys, "maps", "relu", "--sigma-w2", "2", "--sigma-b2", "0", "--json")
    assert code == 0
    data = strict_json(out)
    assert data["phase"] == "critical" and data["chi1"] == pytest.approx(1.0, abs=1e-12)
    undefined(data, "xi_c", "+infinity"), undefined(data, "xi_q", "+infinity")
    assert set(data["undefined"]) == {"xi_c", "xi_q"}


def test_maps_q0_follows_the_fixed_point_reached_from_q0(capsys):
    # GELU just below its (unstable) critical line: from q^1 = 1 q diverges (an answer, exit 0), from 0.3 it settles
    code, out, err = run(capsys, "maps", "gelu", "--sigma-w2", "2.3", "--sigma-b2", "0.05")
    assert code == 0 and err == "" and key_values(out)["phase"] == "divergent"
    code, out, err = run(capsys, "maps", "gelu", "--sigma-w2", "2.3", "--sigma-b2", "0.05", "--q0", "0.3", "--json")
    assert code == 0 and err == ""
    data = strict_json(out)
    q = mf.fixed_point("gelu", 2.3, 0.05, q0=0.3)
    chi = mf.chi1("gelu", 2.3, 0.05, q=q)
    assert data["q0"] == 0.3 and data["q_star"] == q and data["chi1"] == chi and chi < 1
    assert data["phase"] == "ordered" and data["c_star"] == 1.0
    assert data["xi_c"] == pytest.approx(-1 / math.log(chi), rel=1e-12)
    assert data["xi_q"] == pytest.approx(-1 / math.log(mf.q_slope("gelu", 2.3, 0.05, q=q)), rel=1e-12)


def test_maps_divergent_q_is_an_answer_with_exit_0(capsys):
    """relu above its edge: q grows without bound (no finite fixed point) -- the answer, not a usage error.
    chi_1 = sigma_w2 / 2 does not depend on q for relu (docs/conventions.md §2)."""
    code, out, err = run(capsys, "maps", "relu", "--sigma-w2", "3", "--sigma-b2", "0")
    assert code == 0 and err == ""
    kv = key_values(out)
    assert kv["phase"] == "divergent" and kv["q*"].startswith("inf") and float(kv["chi_1"].split()[0]) == 1.5
    assert "no finite fixed point" in kv["reason"]
    code, out, err = run(capsys, "maps", "relu", "--sigma-w2", "3", "--sigma-b2", "0", "--json")
    data = strict_json(out)
    assert code == 0 and err == "" and data["phase"] == "divergent" and data["chi1"] == 1.5
    assert "no finite fixed point" in data["reason"]
    undefined(data, "q_star", "+infinity")
    for key in ("q_slope", "xi_q", "chi_c", "xi_c", "c_star"):
        undefined(data, key, "not a number")
    code, out, err = run(capsys, "maps", "tanh", "--sigma-w2", "3")  # a missing argument is still exit 2
    assert_one_line_error(code, out, err, "--sigma-b2")


# ------------------------------------------------------------------------------------------------
# phase
# ------------------------------------------------------------------------------------------------
class _FakeDiagram:
    def __init__(self, act, sw2, sb2):
        self.args = (act, np.asarray(sw2), np.asarray(sb2))

    def plot(self, ax=None):
        ax.plot([0, 1], [0, 1])
        return ax


def test_phase_command_plumbing(capsys, tmp_path, monkeypatch):
    """Grids and the Axes reach phase_diagram/.plot (a stand-in, independent of meanfield/phase.py)."""
    calls = []

    def fake(act, sw2, sb2):
        calls.append(_FakeDiagram(act, sw2, sb2))
        return calls[-1]

    monkeypatch.setattr(mf, "phase_diagram", fake, raising=False)
    out_file = tmp_path / "fake.png"
    code, out, err = run(
        capsys, "phase", "leaky_relu", "--param", "slope=0.1", "--out", str(out_file),
        "--sigma-w2-range", "1", "3", "5", "--sigma-b2-range", "0", "0.2", "3",
    )
    assert code == 0 and err == ""
    (diagram,) = calls
    act, sw2, sb2 = diagram.args
    assert act.name == "leaky_relu" and act.params["slope"] == 0.1
    np.testing.assert_array_equal(sw2, np.linspace(1, 3, 5))
    np.testing.assert_array_equal(sb2, np.linspace(0, 0.2, 3))
    assert out_file.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(out_file) in out


@pytest.mark.skipif(
    not hasattr(mf, "phase_diagram"),
    reason="meanfield.phase_diagram (meanfield/phase.py) is not written yet; "
    "the command's plumbing is covered by test_phase_command_plumbing",
)
def test_phase_writes_png(capsys, tmp_path):
    out_file = tmp_path / "tanh.png"
    code, out, err = run(
        capsys, "phase", "tanh", "--out", str(out_file),
        "--sigma-w2-range", "0.5", "3", "6", "--sigma-b2-range", "0", "0.3", "4",
    )
    assert code == 0 and err == ""
    data = out_file.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000


def test_phase_json_and_csv_on_stdout_without_out(capsys):
    """The grids against phase_diagram itself: rows of sigma_b2, columns of sigma_w2; divergent points
    (relu above its edge) null with the reason; the CSV holds the same numbers at full precision."""
    import csv
    import io

    argv = ["phase", "relu", "--sigma-w2-range", "1", "3", "3", "--sigma-b2-range", "0", "0.1", "2"]
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0 and err == ""
    data = strict_json(out)
    ref = mf.phase_diagram("relu", np.linspace(1, 3, 3), np.linspace(0, 0.1, 2))
    assert data["sigma_w2"] == [1.0, 2.0, 3.0] and data["sigma_b2"] == [0.0, 0.1] and data["figure"] is None
    for key in ("q_star", "chi1", "xi_q", "xi_c"):
        got = np.array([[np.nan if v is None else v for v in row] for row in data[key]])
        want = getattr(ref, key)
        np.testing.assert_array_equal(got[np.isfinite(want)], want[np.isfinite(want)])
        assert np.all(np.isnan(got[~np.isfinite(want)]))
    assert data["phase"] == [["ordered", "critical", "divergent"], ["ordered", "divergent", "divergent"]]
    assert "3 of 6 entries" in data["undefined"]["q_star"] and data["undefined"]["q_star"].startswith("+infinity")
    assert data["edge_of_chaos"][0] == {"sigma_b2": 0.0, "sigma_w2": 2.0, "stable": True}
    code, out, err = run(capsys, *argv, "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 6
    assert [(float(r["sigma_b2"]), float(r["sigma_w2"]), r["phase"]) for r in rows[:3]] == [
        (0.0, 1.0, "ordered"), (0.0, 2.0, "critical"), (0.0, 3.0, "divergent")]
    assert float(rows[3]["q_star"]) == ref.q_star[1, 0] and rows[4]["q_star"] == ""


# ------------------------------------------------------------------------------------------------
# bad input: exit status 2, one line on stderr, nothing on stdout, no traceback
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["critical", "tanh", "--sigma-b2", "-0.1"], "sigma_b2"),
        (["maps", "tanh", "--sigma-w2", "-1", "--sigma-b2", "0"], "sigma_w2"),
        (["maps", "tanh", "--sigma-w2", "1", "--sigma-b2", "0", "--q0", "0"], "q0"),
        (["critical", "foo"], "foo"),
        (["maps", "foo", "--sigma-w2", "1", "--sigma-b2", "0"], "foo"),
        (["critical", "x.__class__"], "x.__class__"),
        (["critical", "__import__('os')"], "__import__"),
        (["critical", "tanh", "--sigma-b2", "abc"], "abc"),
        (["critical", "tanh", "--sigma-b2", "inf"], "inf"),
        (["maps", "tanh", "--sigma-w2", "1,5", "--sigma-b2", "0"], "1,5"),
        (["critical", "leaky_relu", "--param", "slope"], "NAME=VALUE"),
        (["critical", "leaky_relu", "--param", "slope=fast"], "fast"),
        (["critical", "leaky_relu", "--param", "slope=2"], "slope"),
        (["critical", "tanh", "--param", "slope=0.2"], "slope"),
        (["maps", "tanh"], "--sigma-w2"),
        (["maps", "tanh", "--sigma-w2", "1"], "--sigma-b2"),
        (["critical"], "ACT"),
        ([], "COMMAND"),
        (["frobnicate", "tanh"], "frobnicate"),
        (["critical", "tanh", "--bogus"], "--bogus"),
        (["phase", "tanh"], "--out FILE.png (the figure), --json or --csv"),
        (["phase", "tanh", "--json", "--csv"], "not allowed with"),
        (["phase", "tanh", "--out", "a.png", "--sigma-w2-range", "1", "0", "3"], "HI"),
        (["phase", "tanh", "--out", "a.png", "--sigma-b2-range", "-1", "0", "3"], "variance"),
        (["phase", "tanh", "--out", "a.png", "--sigma-b2-range", "0", "1", "x"], "N"),
        (["phase", "tanh", "--out", "a.unknownformat"], "extension"),
    ],
)
def test_bad_input_one_line_exit_2(capsys, argv, fragment):
    assert_one_line_error(*run(capsys, *argv), fragment)


def test_help_exits_0_and_documents_json(capsys):
    code, out, _ = run(capsys, "critical", "--help")
    assert code == 0
    assert "null" in out and '"undefined"' in out and "--sigma-b2" in out and "--csv" in out
    code, out, _ = run(capsys, "--version")
    assert code == 0 and mf.__version__ in out


# ------------------------------------------------------------------------------------------------
# the module entry point
# ------------------------------------------------------------------------------------------------
def test_python_dash_m_entry_point():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    proc = subprocess.run(
        [sys.executable, "-m", "meanfield", "critical", "tanh", "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    data = strict_json(proc.stdout)
    assert [r["sigma_b2"] for r in data["rows"]] == list(cli.DEFAULT_SIGMA_B2)
    assert data["rows"][2]["sigma_w2"] == mf.critical_sigma_w2("tanh", 0.05)
    bad = subprocess.run(
        [sys.executable, "-m", "meanfield", "critical", "foo"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_phase_default_range_shows_the_edge_of_chaos(capsys, tmp_path, name):
    """Without --sigma-w2-range the grid spans [0.5, 1.5] x the critical sigma_w^2 over the sigma_b^2 range:
    sigmoid's edge (~103, far outside the old default 0.5..4) is inside it."""
    code, out, err = run(capsys, "phase", name, "--out", str(tmp_path / "p.png"), "--sigma-b2-range", "0", "0.2", "3")
    assert code == 0 and err == ""
    lo, hi = (float(v) for v in out.split("sigma_w2 in [")[1].split("]")[0].split(","))
    crit = mf.critical_sigma_w2(name, [0.0, 0.1, 0.2])
    crit = crit[np.isfinite(crit) & (crit > 0)]
    assert lo <= crit.min() and crit.max() <= hi
    assert lo == pytest.approx(0.5 * crit.min(), rel=1e-5) and hi == pytest.approx(1.5 * crit.max(), rel=1e-5)


@pytest.mark.parametrize("out_kind, fragment", [("folder", "is a folder"), ("missing", "does not exist"),
                                                ("unwritable", "cannot")])
@pytest.mark.parametrize("command", [["phase", "tanh", "--sigma-b2-range", "0", "0.1", "3", "--sigma-w2-range", "1", "2", "3"],
                                     ["spectrum", "relu", "--sigma-w2", "2", "--sigma-b2", "0", "--depth", "2"]])
def test_bad_output_paths_are_one_line_errors(capsys, tmp_path, command, out_kind, fragment):
    """--out to a folder, a missing folder or a path the file system refuses (here: under /proc) gave raw
    tracebacks; now exit 2 with one line naming the path."""
    out = {"folder": str(tmp_path), "missing": str(tmp_path / "nope" / "a.png"), "unwritable": "/proc/a.png"}[out_kind]
    code, out_text, err = run(capsys, *command, "--out", out)
    assert_one_line_error(code, out_text, err, fragment)


@pytest.mark.parametrize("dpi", ["1e9", "0", "-5"])
def test_extreme_dpi_is_refused(capsys, tmp_path, dpi):
    code, out, err = run(capsys, "phase", "tanh", "--out", str(tmp_path / "a.png"), f"--dpi={dpi}",
                         "--sigma-b2-range", "0", "0.1", "3")
    assert_one_line_error(code, out, err, "--dpi")


def test_long_and_huge_arguments_are_refused_briefly(capsys, tmp_path):
    huge = "1" + "0" * 400
    code, out, err = run(capsys, "phase", "tanh", "--out", str(tmp_path / "p.png"), "--sigma-w2-range", "0.5", "2", huge)
    assert_one_line_error(code, out, err, "between 2 and 2000")
    code, out, err = run(capsys, "maps", "tanh", "--sigma-w2", "1" + "0" * 400 + "x", "--sigma-b2", "0")
    assert_one_line_error(code, out, err, "characters")
    assert len(err) < 300
