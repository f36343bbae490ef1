"""Typing of the public API: ``mypy --strict`` on a user's script is clean, and the stub of
the compiled module (``_core.pyi``) matches it (``mypy.stubtest``). mypy is in the test extra;
without it these skip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mypy")

SCRIPT = Path(__file__).parent / "typing" / "user_api.py"


def _run(args, tmp_path):
    env = dict(os.environ, MYPY_CACHE_DIR=str(tmp_path / "mypy_cache"))
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=600)


def test_user_script_runs():
    subprocess.run([sys.executable, str(SCRIPT)], check=True, capture_output=True, timeout=300)


def test_mypy_strict_on_a_user_script(tmp_path):
    r = _run(["mypy", "--strict", "--no-error-summary", str(SCRIPT)], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_flags_a_misuse(tmp_path):
    """The check has teeth: unpacking the loss alone (grad=False) is an error."""
    bad = tmp_path / "bad.py"
    bad.write_text("import numpy as np\nimport fastopt\n"
                   "loss, g = fastopt.cross_entropy(np.zeros((2, 3)), np.zeros(2, int), grad=False)\n")
    r = _run(["mypy", "--strict", "--no-error-summary", str(bad)], tmp_path)
    assert r.returncode == 1 and "bad.py:3" in r.stdout, r.stdout + r.stderr


def test_stubtest_core(tmp_path):
    r = _run(["mypy.stubtest", "fastopt._core"], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
