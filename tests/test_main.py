"""python -m fastopt: the version comes from the package metadata (pyproject.toml's)."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import fastopt


def test_version():
    version = importlib.metadata.version("fastopt")
    assert fastopt.__version__ == version
    proc = subprocess.run([sys.executable, "-m", "fastopt", "--version"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"fastopt {version}"
