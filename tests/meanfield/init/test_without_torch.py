"""sigprop imports and assesses arrays without PyTorch; torch-only entry points say how to install it.

Run in a fresh interpreter where ``import torch`` fails (a meta-path finder refuses it), so the check holds
whether or not torch is installed here."""
import subprocess
import sys

SCRIPT = r"""
import importlib.abc
import sys


class NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is not installed (simulated)")


sys.meta_path.insert(0, NoTorch())
import numpy as np
import meanfield as mf
r = mf.init.assess([mf.init.he((32, 32), seed=s) for s in range(3)], "relu", seed=0)
assert r.phase == "critical", r.phase
try:
    mf.init.initialize_(object(), "he")
except mf.ParameterError as exc:
    assert "sigprop[torch]" in str(exc), exc
else:
    raise AssertionError("initialize_ without torch must raise")
print("ok")
"""


def test_meanfield_works_without_torch():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_importing_meanfield_does_not_import_torch():
    code = "import sys, meanfield, meanfield.init, exact; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
