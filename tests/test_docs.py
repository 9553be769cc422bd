"""What a new user reads first, and the API reference's build.

The README names the distribution and the packages in its first lines (they differ: `pip install sigprop`,
`import meanfield`) and keeps its two-command quick start; the API reference (Sphinx, docs/) builds in CI
with warnings as errors from an optional extra; tqdm is a regular dependency (progress=True is never
silently ignored).  The build itself runs in `.ci/run` (it executes the notebooks, minutes), not here.
"""
from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_names_the_distribution_and_the_packages_first():
    lines = (ROOT / "README.md").read_text().splitlines()
    head = "\n".join(lines[:6])
    assert "pip install sigprop" in head and "import meanfield" in head
    text = "\n".join(lines)
    quick = text.split("## Quick start", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    assert quick == "pip install . && meanfield critical tanh\npip install -e '.[test]' && python -m pytest -n auto\n"


def test_docs_build_is_part_of_ci_with_warnings_as_errors():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(dep.startswith("tqdm") for dep in project["dependencies"])
    docs = project["optional-dependencies"]["docs"]
    assert any(dep.startswith("sphinx") for dep in docs) and any(dep.startswith("myst-nb") for dep in docs)
    ci = (ROOT / ".ci" / "run").read_text()
    assert "'.[test,docs]'" in ci and "python -m sphinx -W" in ci and " docs " in ci
    conf = (ROOT / "docs" / "conf.py").read_text()
    for extension in ("sphinx.ext.autodoc", "sphinx.ext.napoleon", "myst_nb"):
        assert extension in conf
    index = (ROOT / "docs" / "index.md").read_text()
    for page in ("conventions", "api/meanfield", "api/exact", "01_edge_of_chaos", "05_sweeps"):
        assert page in index
