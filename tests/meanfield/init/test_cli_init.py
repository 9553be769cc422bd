"""The ``meanfield init`` subcommand: verdict table, JSON, and one-line errors."""
import math

import pytest

from tests.meanfield.cli_helpers import assert_one_line_error, number, run, strict_json, undefined


def test_init_text_table_kumar(capsys):
    code, out, err = run(capsys, "init", "kumar", "--activation", "sigmoid", "--depth", "3", "--mc-width", "32")
    assert code == 0 and err == ""
    assert out.startswith("kumar with sigmoid: ORDERED, NOT ISOMETRIC")
    assert "chi_1" in out and "theory" in out and "measured" in out
    assert out.rstrip().endswith("(measured network seeded with 0)")  # seeded by default, the seed printed


def test_init_json_he_relu(capsys):
    code, out, err = run(capsys, "init", "he", "--activation", "relu", "--depth", "3", "--mc-width", "32",
                         "--seed", "0", "--json")
    assert code == 0 and err == ""
    d = strict_json(out)
    code, old, err = run(capsys, "init", "he", "--activation", "relu", "--depth", "3", "--width", "32",
                         "--monte-carlo", "--seed", "0", "--json")  # the deprecated spellings: same network
    assert code == 0 and strict_json(old) == d
    assert "--width N is deprecated" in err and "--monte-carlo is deprecated" in err and err.count("\n") == 2
    assert d["command"] == "init" and d["recipe"] == "he"
    assert number(d["sigma_w2"]) == 2.0 and number(d["chi1"]) == pytest.approx(1.0, abs=1e-12)
    assert d["critical"] is True and d["isometric"] is False
    assert d["measured"]["widths"] == [32, 32, 32, 32]


def test_init_structured_recipe_is_always_measured(capsys):
    code, out, _ = run(capsys, "init", "eoi", "--activation", "linear", "--recipe-param", "density=0.1",
                       "--mc-width", "64", "--depth", "2", "--seed", "1", "--json")
    d = strict_json(out)
    assert code == 0 and d["isometric"] is True
    assert abs(number(d["measured"]["density"]) - 0.1) <= 2 / 64
    assert number(d["measured"]["orthogonality_error"]) < 1e-12


def test_init_shape_and_recipe_params(capsys):
    code, out, _ = run(capsys, "init", "idinit", "--activation", "linear", "--shape", "10", "4", "--json")
    d = strict_json(out)
    assert code == 0 and d["isometric"] is False
    assert sorted(number(v) for v in d["measured"]["singular_values"]) == pytest.approx([math.sqrt(2)] * 2 + [math.sqrt(3)] * 2)
    lo, hi = number(d["measured"]["min_singular_value"]), number(d["measured"]["max_singular_value"])
    assert lo == pytest.approx(math.sqrt(2)) and hi == pytest.approx(math.sqrt(3))
    code, out, _ = run(capsys, "init", "looks-linear", "--activation", "relu", "--recipe-param", "orthogonal=false",
                       "--depth", "2", "--mc-width", "16", "--seed", "0", "--json")
    assert code == 0 and strict_json(out)["ensemble"] == "linear-gaussian"


def test_init_divergent_values_are_null_with_reasons(capsys):
    code, out, _ = run(capsys, "init", "he", "--activation", "relu", "--sigma-b2", "0.1", "--depth", "2", "--json")
    d = strict_json(out)
    assert code == 0
    assert "no finite fixed point" in undefined(d, "q_star", "+infinity")
    undefined(d, "chi1", "not a number")


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["init", "bogus", "--activation", "relu"], "unknown recipe"),
        (["init", "he"], "--activation"),
        (["init", "eoi", "--activation", "tanh", "--recipe-param", "density=0.001"], "not achievable"),
        (["init", "he", "--activation", "relu", "--recipe-param", "density"], "NAME=VALUE"),
        (["init", "he", "--activation", "relu", "--recipe-param", "gain=2"], "takes the parameters"),
        (["init", "he", "--activation", "relu", "--sigma-b2", "-1"], "sigma_b2"),
        (["init", "he", "--activation", "relu", "--shape", "3"], "--shape"),
        (["init", "he", "--activation", "relu", "--depth", "0"], "depth"),
        (["init", "he", "--activation", "nope"], "nope"),
        (["init", "he", "--activation", "relu", "--width", "8", "--mc-width", "8"], "not both"),
    ],
)
def test_init_bad_input_one_line(capsys, argv, fragment):
    code, out, err = run(capsys, *argv)
    assert_one_line_error(code, out, err, fragment)
