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
    """A JSON number (not a bool, not a string), as a float."""
    assert isinstance(value, (int, float)) and not isinstance(value, bool), value
    return float(value)


def undefined(data, path, kind=None):
    """The field at ``path`` ("rows[1].xi_q", "q_star") of a command's JSON ``data`` is null and
    data["undefined"] gives its reason (starting with ``kind``: "+infinity", "not a number", ...)."""
    value = data
    for part in path.replace("[", ".[").split("."):
        value = value[int(part[1:-1])] if part.startswith("[") else value[part]
    assert value is None, (path, value)
    reason = data["undefined"][path]
    assert isinstance(reason, str) and len(reason) > 10, reason
    if kind is not None:
        assert reason.startswith(kind + ":"), reason
    return reason


def assert_one_line_error(code, out, err, fragment, prog="meanfield"):
    """Bad input: exit 2, nothing on stdout, one 'PROG: error:' line naming ``fragment``."""
    assert code == 2
    assert out == ""
    assert err.startswith(f"{prog}: error: ") and err.endswith("\n") and err.count("\n") == 1, err
    assert fragment in err, err
    assert "Traceback" not in err


def table_rows(out, first_word):
    """The whitespace-separated table whose header line starts with ``first_word``, as a list of
    {column: cell} dicts (up to the first blank line)."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(first_word + " "))
    header = lines[start].split()
    rows = []
    for line in lines[start + 1:]:
        if not line.strip():
            break
        cells = line.split()
        assert len(cells) == len(header), line
        rows.append(dict(zip(header, cells)))
    return rows
