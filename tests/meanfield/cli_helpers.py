"""Shared helpers of the command-line tests."""
import json

from meanfield.cli import main


def run(capsys, *argv):
    """Run ``meanfield ARGV`` in-process: (exit code, stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def strict_json(text):
    """json.loads that refuses the non-standard NaN/Infinity tokens."""
    def refuse(token):
        raise AssertionError(f"non-standard JSON token {token!r}")

    return json.loads(text, parse_constant=refuse)


def number(value):
    """A JSON number or one of the documented non-finite strings, as a float."""
    if isinstance(value, str):
        assert value in ("inf", "-inf", "nan"), value
    else:
        assert isinstance(value, (int, float)) and not isinstance(value, bool), value
    return float(value)


def assert_one_line_error(code, out, err, fragment):
    """Bad input: exit 2, nothing on stdout, one 'meanfield: error:' line naming ``fragment``."""
    assert code == 2
    assert out == ""
    assert err.startswith("meanfield: error: ") and err.endswith("\n") and err.count("\n") == 1, err
    assert fragment in err
    assert "Traceback" not in err
