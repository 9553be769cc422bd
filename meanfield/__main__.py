"""``python -m meanfield``: the same as the ``meanfield`` console script."""
from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
