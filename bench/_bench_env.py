"""The environment the bench scripts time in, fixed before OpenMP and OpenBLAS load.

libgomp reads GOMP_SPINCOUNT when it loads: with its default spin-then-sleep wait, a
descheduled vCPU on a small VM can add ~8 ms to a parallel call. OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE (set on some machines for old OpenBLAS builds) slow a current NumPy. So a
script calls :func:`fix_env` first; it re-executes the script once with the environment set.
"""

from __future__ import annotations

import os
import sys

ENV = {"GOMP_SPINCOUNT": "1000"}
UNSET = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def fix_env() -> None:
    if all(os.environ.get(k) == v for k, v in ENV.items()) and not any(k in os.environ for k in UNSET):
        return
    env = dict(os.environ, **ENV)
    for k in UNSET:
        env.pop(k, None)
    os.execve(sys.executable, [sys.executable] + sys.argv, env)
