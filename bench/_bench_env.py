"""The environment the bench scripts time in: ``python -m fastopt bench``'s, arranged the same way.

A script calls :func:`fix_env` first; it re-executes the script once with libgomp's wait
policy set (unless the user chose one) and the OpenBLAS overrides unset (the reasons are in
``python/fastopt/bench/_env.py``). That file is loaded by path, not through the package: some
scripts load other builds of fastopt's extension and must not have imported the installed one.
"""

from __future__ import annotations

import importlib.util
import os

_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "python", "fastopt", "bench", "_env.py")
_spec = importlib.util.spec_from_file_location("_fastopt_bench_env", _PATH)
_env = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_env)


def fix_env() -> None:
    _env.reexec_if_needed()
