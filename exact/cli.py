"""The ``exact`` command.  The finite-width laws are not implemented yet: it says so and exits 2."""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Report that the exact finite-width laws are not available in this version."""
    print(
        "exact: error: the exact finite-width laws of Gaussian ReLU networks are not implemented "
        "in this version of sigprop; use `meanfield` for the mean-field theory",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
