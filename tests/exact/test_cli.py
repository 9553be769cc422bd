"""The ``exact`` command (exact/cli.py), run in-process through ``main(argv)``.

The numbers of the table are checked against independent routes, not against the package or stored
output: the exact mean, P(dead) and kurtosis against the mpmath recursion R4 and the closed-form
dead masses (tests/exact/reference_exact.py), the median and the quantiles by the reference CDF
(Mellin inversion) at the printed values, and the Monte Carlo columns against the exact law with
binomial bounds.  The JSON is checked against its schema (undefined values as null with a "reasons"
entry), the CSV against the JSON, bad input against the contract: exit status 2, nothing on stdout,
one line "exact: error: ..." on stderr, no traceback.  The kurtosis column is the excess (Fisher)
kurtosis, 0 for a Gaussian.
"""
from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from exact.cli import main
from tests.exact import reference_exact as ref
from tests.meanfield import cli_helpers as helpers
from tests.meanfield.cli_helpers import number, strict_json

ROOT = Path(__file__).resolve().parents[2]
# 12 significant digits in the text output: relative rounding error <= 5e-12
TEXT_RTOL = 1e-11


def run(capsys, *argv):
    """Run ``exact ARGV`` in-process: (exit code, stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, out, err, fragment):
    helpers.assert_one_line_error(code, out, err, fragment, prog="exact")
    for leak in ("4300", "RecursionError", "index-sized"):
        assert leak not in err, err


def is_quantile(cdf, v, level, tol):
    """v is the ``level`` quantile of a law on [0, inf) with CDF ``cdf``: F(v-) - tol <= level <= F(v) + tol
    (an atom at v = 0 holds every level up to its mass; F(0-) = 0)."""
    v = float(v)
    left = 0.0 if v == 0 else float(cdf(v * (1 - 1e-12)))
    return left - tol <= level <= float(cdf(v)) + tol


def table(out):
    """The per-layer table as a list of {column: cell} dicts."""
    return helpers.table_rows(out, "l")


# ------------------------------------------------------------------------------------------------
# the table against the reference
# ------------------------------------------------------------------------------------------------
def test_table_matches_the_reference(capsys):
    widths = [4, 3, 5, 2, 1]
    code, out, err = run(capsys, "relu", "--widths", "4,3,5,2,1", "--sigma-w2", "1.5", "--input-norm2", "2")
    assert code == 0 and err == ""
    nt = ref.net(widths, 1.5, 0, 2)
    rows = table(out)
    assert [int(r["l"]) for r in rows] == [1, 2, 3, 4]
    q = ref.mean_field(nt)
    for l, row in enumerate(rows, start=1):
        assert math.isclose(float(row["q"]), float(q[l - 1]), rel_tol=TEXT_RTOL)
        assert math.isclose(float(row["mean"]), float(ref.moment_s(nt, l, 1)), rel_tol=TEXT_RTOL)
        kurt = 3 * ref.moment_s(nt, l, 2) / ref.moment_s(nt, l, 1) ** 2 - 3  # Fisher
        assert math.isclose(float(row["kurtosis"]), float(kurt), rel_tol=TEXT_RTOL, abs_tol=1e-300)
        dead = ref.dead_probability(nt, l - 1)
        assert math.isclose(float(row["P(dead)"]), float(dead), rel_tol=TEXT_RTOL, abs_tol=0)
        if l == 1:
            assert float(row["median"]) == float(row["q05"]) == float(row["q95"]) == float(q[0])
            continue
        # the printed quantiles are the reference's: its CDF there is the level (12 printed digits
        # move the CDF by < 1e-11 relative x density, far below the 1e-9 allowed); the 5% quantile
        # of s^2 is 0, inside the atom 1/8 of the dead first layer
        for col, level in (("q05", 0.05), ("median", 0.5), ("q95", 0.95)):
            assert is_quantile(lambda v: ref.mellin_cdf(nt, "s", l, v), row[col], level, 1e-9), (l, col)
    assert float(rows[1]["q05"]) == 0.0
    text = out.split("\n\n", 1)[1]
    atom = ref.atom(nt, "f")[1]
    assert f"atom at 0 {float(atom):.12g}" in text
    assert f"P(some hidden layer dead) {float(ref.dead_probability(nt)):.12g}" in text
    kurt_f = ref.moment_f(nt, 4) / ref.moment_f(nt, 2) ** 2 - 3
    assert f"excess kurtosis {float(kurt_f):.12g} (Gaussian: 0)" in text


def test_json_with_bias_matches_the_reference(capsys):
    code, out, err = run(capsys, "relu", "--widths", "3,2,6,1", "--sigma-w2", "2", "--sigma-b2", "0.3", "--json")
    assert code == 0 and err == ""
    data = strict_json(out)
    assert data["command"] == "relu" and data["widths"] == [3, 2, 6, 1] and data["monte_carlo"] is None
    assert data["sigma_b2"] == 0.3 and data["parameter_sharing"] is False and data["figure"] is None
    nt = ref.net([3, 2, 6, 1], 2, "0.3")
    assert [row["l"] for row in data["layers"]] == [1, 2, 3]
    for row in data["layers"]:
        l = row["l"]
        assert set(row) == {"l", "q", "mean", "median", "q05", "q95", "dead", "kurtosis"}
        assert math.isclose(number(row["mean"]), float(ref.moment_s(nt, l, 1)), rel_tol=1e-13)
        kurt = 3 * ref.moment_s(nt, l, 2) / ref.moment_s(nt, l, 1) ** 2 - 3  # Fisher
        assert math.isclose(number(row["kurtosis"]), float(kurt), rel_tol=1e-12, abs_tol=1e-300)
    # s^2 = 0.3 + 2 |x^1|^2 / 2 has an atom 1/4 at sigma_b^2: its 5% quantile is sigma_b^2
    assert number(data["layers"][1]["q05"]) == 0.3
    # the median of s^2 by the convolution reference: P(s^2 <= median) = 1/2
    med = data["layers"][1]["median"]
    assert abs(float(ref.conv_cdf(nt, "s", 2, med)) - 0.5) < 1e-9
    o = data["output"]
    assert number(o["atom"]) == 0.0
    assert math.isclose(number(o["dead_probability"]), float(ref.dead_probability(nt)), rel_tol=1e-14)
    assert math.isclose(number(o["variance"]), float(ref.moment_f(nt, 2)), rel_tol=1e-13)


def test_parameter_sharing_table(capsys):
    # sigma_w2 = 1 (the default with sharing: the template's critical variance) : a linear template,
    # q^l = s_1 at every layer, no dead layers and excess kurtosis 3 prod (1 + 2/n_j) - 3 (notes R4, R8)
    code, out, _ = run(capsys, "relu", "--widths", "5,4,6,1", "--parameter-sharing")
    assert code == 0 and "parameter sharing" in out
    rows = table(out)
    nt = ref.net([5, 4, 6, 1], 1, 0, None, True)
    for l, row in enumerate(rows, start=1):
        assert math.isclose(float(row["q"]), 1.0, rel_tol=TEXT_RTOL) and float(row["P(dead)"]) == 0
        expected = 3 * math.prod(1 + 2 / n for n in [4, 6][: l - 1]) - 3
        assert math.isclose(float(row["kurtosis"]), expected, rel_tol=TEXT_RTOL, abs_tol=1e-300)
        if l > 1:
            assert abs(float(ref.mellin_cdf(nt, "s", l, row["median"])) - 0.5) < 1e-9


def test_undefined_values_are_json_null_with_a_reason(capsys):
    # |x^0|^2 = 0 and no bias: every s^l is 0, kurtosis 0/0 and median/q^L are undefined (null)
    code, out, _ = run(capsys, "relu", "--widths", "3,3,1", "--input-norm2", "0", "--json")
    assert code == 0
    data = strict_json(out)
    row = data["layers"][1]
    assert row["kurtosis"] is None and "0/0" in row["reasons"]["kurtosis"]
    assert data["output"]["median_over_q"] is None and "q^L" in data["output"]["reasons"]["median_over_q"]
    assert row["mean"] == 0.0 and isinstance(row["mean"], float)
    assert "reasons" not in data["layers"][0] or set(data["layers"][0]["reasons"]) == {"kurtosis"}
    # a value beyond double precision: null, "infinite" (sigma_w2 = 1e300: q^3 = 1e600)
    code, out, _ = run(capsys, "relu", "--widths", "2,2,2,1", "--sigma-w2", "1e300", "--json")
    data = strict_json(out)
    assert code == 0 and data["layers"][2]["q"] is None and "infinite" in data["layers"][2]["reasons"]["q"]


# ------------------------------------------------------------------------------------------------
# Monte Carlo columns and the figure
# ------------------------------------------------------------------------------------------------
def test_monte_carlo_columns_and_figure(capsys, tmp_path):
    # 4000 networks of widths [4, 2, 2, 2, 1], He, zero bias.  Bounds: the dead fraction and the
    # reference CDF at the sampled median/quantiles are binomial proportions, checked at 5 standard
    # errors (two-sided p ~ 6e-7 each); the KS distance of the outputs from the exact law must stay
    # below the DKW bound at alpha = 1e-3 (the command prints the verdict).  Seeded: deterministic.
    png = tmp_path / "fig.png"
    n = 4000
    code, out, err = run(capsys, "relu", "--widths", "4,2,2,2,1", "--mc-networks", str(n), "--seed", "7",
                         "--out", str(png), "--json")
    assert code == 0 and err == ""
    data = strict_json(out)
    assert data["monte_carlo"] == {"n_networks": n, "seed": 7} and data["figure"] == str(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    nt = ref.net([4, 2, 2, 2, 1])
    for row in data["layers"][1:]:
        l = row["l"]
        dead = float(ref.dead_probability(nt, l - 1))
        assert abs(number(row["mc_dead"]) - dead) <= 5 * math.sqrt(dead * (1 - dead) / n)
        for col, level in (("mc_q05", 0.05), ("mc_median", 0.5), ("mc_q95", 0.95)):
            err5 = 5 * math.sqrt(level * (1 - level) / n)
            assert is_quantile(lambda v: ref.mellin_cdf(nt, "s", l, v), number(row[col]), level, err5), (l, col)
    o = data["output"]
    assert number(o["mc_ks"]) <= number(o["mc_ks_bound"])
    assert math.isclose(number(o["mc_ks_bound"]), math.sqrt(math.log(2 / 1e-3) / (2 * n)), rel_tol=1e-12)


def test_monte_carlo_text_is_seeded(capsys):
    argv = ["relu", "--widths", "3,2,1", "--sigma-b2", "0.1", "--mc-networks", "500", "--seed", "3"]
    code, first, _ = run(capsys, *argv)
    assert code == 0
    assert "mc_median" in table(first)[0] and "Monte Carlo (500 networks, seed 3)" in first
    assert run(capsys, *argv)[1] == first
    # seeded by default, and the seed is printed
    code, default, err = run(capsys, *argv[:-2])
    assert code == 0 and err == "" and "Monte Carlo (500 networks, seed 0)" in default
    assert run(capsys, *argv[:-2])[1] == default


def test_deprecated_monte_carlo_spelling_still_works(capsys):
    """--monte-carlo N is --mc-networks N for one more release, with one warning line on stderr."""
    new = run(capsys, "relu", "--widths", "3,2,1", "--mc-networks", "300", "--seed", "4")
    code, out, err = run(capsys, "relu", "--widths", "3,2,1", "--monte-carlo", "300", "--seed", "4")
    assert code == 0 and out == new[1]
    assert err.count("\n") == 1 and "deprecated" in err and "--mc-networks" in err


# ------------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv,fragment",
    [
        (["relu", "--widths", "4,x"], "comma-separated integers"),
        (["relu", "--widths", "4"], "at least two widths"),
        (["relu", "--widths", "4,0,1"], "each >= 1"),
        (["relu"], "--widths"),
        (["relu", "--widths", "4,3,1", "--sigma-w2", "-1"], "sigma_w2"),
        (["relu", "--widths", "4,3,1", "--sigma-b2", "nan"], "finite"),
        (["relu", "--widths", "4,3,1", "--input-norm2", "-2"], "input_norm2"),
        (["relu", "--widths", "4,3,1", "--monte-carlo", "1"], "--monte-carlo"),
        (["relu", "--widths", "4,3,1", "--mc-networks", "1"], "--mc-networks"),
        (["relu", "--widths", "4,3,1", "--mc-networks", "3", "--monte-carlo", "3"], "not both"),
        (["relu", "--widths", "4,3,1", "--mc-networks", "1" + "0" * 30], "between 1 and 1,000,000,000"),
        (["relu", "--widths", "4,3,1", "--mc-networks", "9" * 5000], "--mc-networks"),
        (["relu", "--widths", "4," + "9" * 5000 + ",1"], "comma-separated integers"),
        (["relu", "--widths", "4,1000000000,1"], "width must be an integer between 1 and 100,000,000"),
        (["relu", "--widths", "4,3,1", "--json", "--csv"], "not allowed with"),
        (["relu", "--widths", "4,3,1", "--seed", "x"], "--seed"),
        (["relu", "--widths", "4,3,1", "--out", "a.unknownformat"], "extension"),
        (["relu", "--widths", "4,3,1", "--out", "/nonexistent-folder-h4b/a.png"], "does not exist"),
        (["relu", "--widths", "4,3,1", "--dpi", "0"], "--dpi"),
        (["relu", "--widths", "4,3,1", "--dpi", "1e9", "--out", "x.png"], "--dpi: must lie in (0, 2400]"),
        (["relu", "--widths", "4,3,1", "--dpi", "1e9"], "--dpi: must lie in (0, 2400]"),
        (["relu", "--widths", "4,3,1", "--out", "/"], "is a folder"),
        (["relu", "--widths", "4,3,1", "--out", "/proc/sigprop-cannot-write-here.png"], "cannot write"),
        (["sigmoid"], "invalid choice"),
        ([], "required"),
    ],
)
def test_bad_input_one_line_exit_2(capsys, argv, fragment):
    assert_one_line_error(*run(capsys, *argv), fragment)


def test_help_exits_0_and_documents_json(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "relu" in out
    code, out, _ = run(capsys, "relu", "--help")
    assert code == 0 and "null" in out and "--mc-networks" in out and "--parameter-sharing" in out
    assert "--csv" in out and "--progress" in out and "--seed" in out and "Fisher" in out
    code, out, _ = run(capsys, "--version")
    assert code == 0 and "0." in out


def test_python_dash_m_entry_point():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    proc = subprocess.run([sys.executable, "-m", "exact", "relu", "--widths", "3,2,1", "--json"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert strict_json(proc.stdout)["widths"] == [3, 2, 1]
    bad = subprocess.run([sys.executable, "-m", "exact", "relu", "--widths", "3"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


def test_errors_name_the_input_and_never_leak_python_limits(capsys):
    """Huge integers and extreme numbers: one short line naming the input, no Python-internal messages."""
    for argv in (["relu", "--widths", "4," + "9" * 5000 + ",1"], ["relu", "--widths", "4,3,1", "--seed", "9" * 5000],
                 ["relu", "--widths", "4," + "1" + "0" * 40 + ",1"]):
        code, out, err = run(capsys, *argv)
        assert code == 2 and out == "" and err.count("\n") == 1 and len(err) < 400, err
        for leak in ("4300", "RecursionError", "index-sized", "Traceback"):
            assert leak not in err


@pytest.mark.parametrize("flag,value", [("--sigma-w2", "1e-300"), ("--sigma-b2", "1e300")])
def test_extreme_variances_answer_instead_of_crashing(capsys, flag, value):
    """Formerly ZeroDivisionError / OverflowError: now the table, with the exact mean (= q^l) of the
    mpmath recursion (underflow to 0 and values near the double range are printed as such)."""
    code, out, err = run(capsys, "relu", "--widths", "2,2,2,1", flag, value, "--json")
    assert code == 0 and err == ""
    data = strict_json(out)
    sw2, sb2 = (value, 0) if flag == "--sigma-w2" else (2, value)
    nt = ref.net([2, 2, 2, 1], sw2, sb2)
    for row in data["layers"]:
        expected = float(ref.moment_s(nt, row["l"], 1))
        assert math.isclose(number(row["mean"]), expected, rel_tol=1e-12, abs_tol=1e-300)


def test_unwritable_figure_path_is_refused_before_any_work(capsys, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # running as root: permissions do not bind
            pytest.skip("permissions are not enforced for this user")
        assert_one_line_error(*run(capsys, "relu", "--widths", "4,3,1", "--out", str(locked / "a.png")), "cannot be written")
    finally:
        locked.chmod(0o700)


def test_csv_is_the_table_of_the_json(capsys):
    argv = ["relu", "--widths", "4,3,5,2,1", "--sigma-b2", "0.2", "--mc-networks", "200"]
    code, out, err = run(capsys, *argv, "--csv")
    assert code == 0 and err == ""
    import csv

    rows = list(csv.DictReader(out.splitlines()))
    data = strict_json(run(capsys, *argv, "--json")[1])
    assert [int(r["l"]) for r in rows] == [row["l"] for row in data["layers"]]
    for r, row in zip(rows, data["layers"]):
        for key in ("q", "mean", "median", "q05", "q95", "kurtosis", "mc_mean", "mc_median"):
            assert float(r[key]) == row[key]  # repr round-trips exactly
        assert float(r["P(dead)"]) == row["dead"]


def test_progress_bar_runs(capsys):
    code, out, err = run(capsys, "relu", "--widths", "3,2,1", "--mc-networks", "50", "--progress")
    assert code == 0 and "Monte Carlo (50 networks, seed 0)" in out
