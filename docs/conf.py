"""Sphinx configuration of sigprop's API reference (``python -m sphinx -W -b html docs docs/_build/html``).

The reference is built from the docstrings (autodoc; numpy-style sections through napoleon); the
conventions and architecture pages are the Markdown files of this folder (MyST), and the notebooks are
executed during the build (myst-nb), so their figures are those of the installed code.
"""
from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# the checkout being documented, for autodoc and for the kernels that execute the notebooks (also when
# another copy of sigprop is installed)
sys.path.insert(0, str(HERE.parent))
os.environ["PYTHONPATH"] = os.pathsep.join([str(HERE.parent), *filter(None, [os.environ.get("PYTHONPATH")])])

project = "sigprop"
author = "sigprop developers"
copyright = "sigprop developers"  # noqa: A001 - Sphinx's name
release = version = __import__("meanfield").__version__

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax", "myst_nb"]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
root_doc = "index"

# docstrings: numpy-style sections, plain-text formulas (see _plain_text below)
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_ivar = True
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # the signatures show them; descriptions say the types in words
autodoc_default_options = {"members": True, "show-inheritance": False}
suppress_warnings = ["myst.header"]  # pages start at "##" sections where their text does
myst_heading_anchors = 3

# notebooks: executed at build time (committed without outputs), a failing cell fails the build
nb_execution_mode = "force"
nb_execution_timeout = 900
nb_execution_raise_on_error = True
nb_execution_show_tb = True

html_theme = "alabaster"
html_title = f"sigprop {release}"

_GENERATED = HERE / "_generated"


def _copy_notebooks(app) -> None:
    """The notebooks live in ../notebooks (run there by the tests): copy them next to the pages."""
    target = _GENERATED / "notebooks"
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted((HERE.parent / "notebooks").glob("*.ipynb")):
        if not (target / path.name).exists() or (target / path.name).read_bytes() != path.read_bytes():
            shutil.copyfile(path, target / path.name)


_INLINE = re.compile(r"(?<![`\\])([|*])")


def _plain_text(app, what, name, obj, options, lines) -> None:
    """Docstrings are written as plain text: formulas such as |x|^2, phi'(x)*y or E[phi^2], and fields as
    "name : text" with hanging indents.  In reStructuredText '|' and '*' would start substitutions and
    emphasis, and a hanging indent an unexpected block: outside literal blocks, directives, doctests and
    ``code`` spans the characters are escaped and hanging lines joined to the line they continue."""
    out: list[str] = []
    literal = None  # indentation that a literal block's lines keep
    for line in lines:
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if literal is not None and stripped and indent < literal:
            literal = None
        if literal is not None or stripped.startswith((">>>", "...")):
            out.append(line)
            continue
        if stripped.endswith("::") or stripped.startswith(".. "):
            literal = indent + 1
            out.append(_escape(line[:-2]) + "::" if stripped.endswith("::") and not stripped.startswith("..") else line)
            continue
        previous = out[-1] if out else ""
        hanging = (stripped and previous.strip() and indent > len(previous) - len(previous.lstrip())
                   and not previous.strip().endswith("::"))
        if hanging:
            out[-1] = previous.rstrip() + " " + _escape(stripped)
        else:
            out.append(_escape(line))
    lines[:] = out


def _escape(line: str) -> str:
    """'|' and '*' escaped outside ``code`` spans, keeping **kwargs and *args readable."""
    parts = line.split("``")
    for k in range(0, len(parts), 2):  # even parts are outside ``...``
        parts[k] = _INLINE.sub(r"\\\1", parts[k])
    return "``".join(parts)


def setup(app):
    app.connect("builder-inited", _copy_notebooks)
    app.connect("autodoc-process-docstring", _plain_text)
