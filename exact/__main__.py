"""``python -m exact``: the same as the ``exact`` console script."""
from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
