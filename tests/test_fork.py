"""Fork safety: after fastopt ran a threaded kernel, a forked child can run kernels.

GNU libgomp's worker pool does not survive fork(): before the fix a child that entered a
parallel region after the parent had run one hung forever. fastopt registers a
pthread_atfork child handler (dispatch.cpp) that pins the child's thread count to 1, so the
child runs every kernel on its calling thread (same results: they are bitwise identical for
any thread count). Each scenario runs in a subprocess under a timeout, so a hang fails the
test instead of stopping the suite. A build without OpenMP keeps 1 thread everywhere (THREADS);
its children must still run every kernel and match the parent.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HERE = str(Path(__file__).parent)
TIMEOUT = 120

PRELUDE = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    import fastopt
    from fastopt import functional as F
    from reliability_calls import CASES, run_case

    fastopt.set_num_threads(2)
    THREADS = 2 if fastopt.info()["openmp"] else 1  # set_num_threads stays 1 in a serial build
    N = 100_003  # above the grain: threaded

    def all_cases(seed):
        return [run_case(c, F, np.random.default_rng(seed), N, np.float32) for c in CASES]

    parent = all_cases(1)  # the parent has run a threaded region of every kernel
    assert fastopt.get_num_threads() == THREADS
    """
)


def _run(tmp_path, body: str) -> subprocess.CompletedProcess:
    script = tmp_path / "scenario.py"  # a file, so multiprocessing's spawn can re-import it
    script.write_text(PRELUDE + textwrap.dedent(body))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([HERE, os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=TIMEOUT,
                          cwd=HERE, env=env)


def _check(r: subprocess.CompletedProcess) -> None:
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), (r.returncode, r.stdout[-2000:], r.stderr[-2000:])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork")
def test_os_fork_child_runs_kernels(tmp_path):
    _check(_run(tmp_path,
        """
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                if fastopt.get_num_threads() != 1:
                    code = 4
                fastopt.set_num_threads(2)  # cannot raise it in a forked child
                if fastopt.get_num_threads() != 1:
                    code = 5
                if all_cases(1) != parent:
                    code = 3
                # a grandchild too
                pid2 = os.fork()
                if pid2 == 0:
                    os._exit(0 if all_cases(1) == parent else 3)
                _, st2 = os.waitpid(pid2, 0)
                if st2 != 0:
                    code = 6
            except BaseException:
                code = 2
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert status == 0, status
        # the parent keeps its threads
        assert fastopt.get_num_threads() == THREADS
        assert all_cases(1) == parent
        print("ok")
        """
    ))


def test_multiprocessing_fork_pool(tmp_path):
    _check(_run(tmp_path,
        """
        import multiprocessing as mp

        expected = {1: parent, 2: all_cases(2)}

        def work(seed):
            return fastopt.get_num_threads(), all_cases(seed) == expected[seed]

        if __name__ == "__main__":
            with mp.get_context("fork").Pool(2) as pool:
                got = pool.map(work, [1, 2, 2, 1])
            assert got == [(1, True)] * 4, got
            print("ok")
        """
    ))


def test_spawn_children_keep_threads(tmp_path):
    """Not forked: a spawned child imports fastopt afresh and may use threads again."""
    _check(_run(tmp_path,
        """
        import multiprocessing as mp

        def work(_):
            fastopt.set_num_threads(2)
            return fastopt.get_num_threads(), all_cases(1) == parent

        if __name__ == "__main__":
            with mp.get_context("spawn").Pool(1) as pool:
                assert pool.map(work, [0]) == [(THREADS, True)]
            print("ok")
        """
    ))
