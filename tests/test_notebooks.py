"""Execute every notebook in notebooks/ top to bottom; any cell error fails the test.

The kernel is the "python3" kernelspec (ipykernel's), started with the notebook's folder as its
working directory.  When sigprop is pip-installed the kernel imports it from site-packages; in a plain
source checkout the repository root is prepended to the kernel's PYTHONPATH instead.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def _kernel_env() -> dict[str, str]:
    """The environment for the kernel: os.environ, plus the repo root on PYTHONPATH if needed.

    jupyter_client runs the "python3" kernelspec with this interpreter (sys.executable), so the
    check is made with it, from the notebooks' folder, in a fresh process (pytest's own sys.path
    may contain the repo root even when the package is not installed).
    """
    env = dict(os.environ)
    probe = subprocess.run(
        [sys.executable, "-c", "import meanfield"],
        cwd=NOTEBOOK_DIR,
        env=env,
        capture_output=True,
    )
    if probe.returncode != 0:
        parts = [str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        env["PYTHONPATH"] = os.pathsep.join(parts)
    return env


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path: Path):
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=600,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},  # the kernel's cwd
    )
    client.execute(env=_kernel_env())  # raises CellExecutionError on the first failing cell


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(path: Path):
    nb = nbformat.read(path, as_version=4)
    dirty = [
        i for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    assert not dirty, f"{path.name}: code cells {dirty} have outputs or execution counts; clear them before committing"
