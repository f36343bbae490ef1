"""The environment the benchmark times in, arranged before OpenMP and OpenBLAS load.

libgomp reads its wait policy when it loads, which ``import fastopt`` (and torch) does: it
cannot be changed from inside the process. With libgomp's default (spin a while, then
sleep), a parallel call on a small VM whose idle vCPUs are descheduled can cost ~8 ms or
more, for fastopt and torch alike, for stretches of seconds. ``GOMP_SPINCOUNT=1000`` (spin
briefly, then sleep) makes every parallel call pay a thread wake-up (~25 us) instead, and
fastopt then keeps arrays under ~256 K elements on one thread (docs/reliability.md).
``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE``, set on some machines for old OpenBLAS builds,
slow a current NumPy. So the benchmark re-executes itself once with the wait policy set,
unless the user chose one (``GOMP_SPINCOUNT`` or ``OMP_WAIT_POLICY``), and without the
OpenBLAS overrides; the re-executed process records what was changed in ``ARRANGED`` and its
header says so.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Dict, List, Mapping, Optional, Sequence

WAIT_POLICY = ("GOMP_SPINCOUNT", "1000")
USER_WAIT_POLICY = ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")  # either one set: the user's choice stands
UNSET = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
ARRANGED = "FASTOPT_BENCH_ARRANGED"  # in the re-executed process: what was changed, "; "-separated


def arranged(environ: Mapping[str, str]) -> Optional[Dict[str, str]]:
    """The environment to time in, or None when `environ` is already it (or was arranged)."""
    if ARRANGED in environ:
        return None
    env, changes = dict(environ), []
    if not any(k in env for k in USER_WAIT_POLICY):
        env[WAIT_POLICY[0]] = WAIT_POLICY[1]
        changes.append(f"{WAIT_POLICY[0]}={WAIT_POLICY[1]} set")
    for k in UNSET:
        if env.pop(k, None) is not None:
            changes.append(f"{k} unset")
    if not changes:
        return None
    env[ARRANGED] = "; ".join(changes)
    return env


def changes(environ: Mapping[str, str] = os.environ) -> List[str]:
    """What the re-execution changed ([] when nothing was)."""
    text = environ.get(ARRANGED, "")
    return text.split("; ") if text else []


def reexec_if_needed(argv: Optional[Sequence[str]] = None) -> None:
    """Run this program again in the arranged environment, if it is not already in it.

    `argv`: the command line to run again (default: this script's, ``python script.py ...``).
    Returns only when nothing needs changing; otherwise the process is replaced (POSIX), or
    exits with the child's exit code."""
    env = arranged(os.environ)
    if env is None:
        return
    argv = [sys.executable] + sys.argv if argv is None else list(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        os.execve(argv[0], argv, env)
    sys.exit(subprocess.call(argv, env=env))
