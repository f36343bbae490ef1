"""Living beside PyTorch: either import order, threaded kernels of both interleaved (and
concurrently from two Python threads), correct results, no crash, no duplicate-runtime error,
no oversubscription.

How the threads relate (docs/reliability.md): torch's CPU wheel ships GNU libgomp under the
same soname (libgomp.so.1) as the system one fastopt links, so the dynamic loader maps one
OpenMP runtime whichever package is imported first, and there is one worker pool. fastopt
passes its own thread count to every parallel region (fastopt.set_num_threads; starts at
OMP_NUM_THREADS or the core count), independent of torch.set_num_threads. Each scenario runs
in a fresh interpreter (subprocess) so the import order is real.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("torch")

HERE = str(Path(__file__).parent)

BODY = textwrap.dedent(
    """
    import os, threading
    import numpy as np
    from fastopt import functional as F, reference as R
    from reliability_calls import CASES, run_case

    fastopt.set_num_threads(2)
    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(1_000_003).astype(np.float32)
    tx = torch.from_numpy(x.copy())
    expected_f = R.gelu(x)
    expected_t = torch.nn.functional.gelu(tx)
    serial = [run_case(c, F, np.random.default_rng(1), 100_003, np.float32) for c in CASES]

    def both(rounds):
        for _ in range(rounds):
            y = F.gelu(x)
            assert np.allclose(y, expected_f, rtol=1e-6, atol=1e-7)
            t = torch.nn.functional.gelu(tx)
            assert torch.equal(t, expected_t)
            s = torch.sigmoid(tx) + torch.tanh(tx)  # more threaded torch kernels
            p = torch.nn.Parameter(tx[:100_000].clone())
            opt = torch.optim.Adam([p], lr=0.1)
            p.grad = tx[:100_000].clone()
            opt.step()
            assert [run_case(c, F, np.random.default_rng(1), 100_003, np.float32) for c in CASES] == serial

    both(3)
    # torch and fastopt from two Python threads at the same time
    errors = []
    def guarded(fn):
        try:
            fn()
        except BaseException as e:
            errors.append(e)
    ts = [threading.Thread(target=guarded, args=(lambda: both(2),)) for _ in range(2)]
    [t.start() for t in ts]; [t.join() for t in ts]
    assert not errors, errors
    assert fastopt.get_num_threads() == 2 and torch.get_num_threads() == 2
    torch.set_num_threads(1)
    assert fastopt.get_num_threads() == 2  # independent settings
    fastopt.set_num_threads(1)
    assert torch.get_num_threads() == 1
    fastopt.set_num_threads(2)
    torch.set_num_threads(2)
    both(1)

    gomp = sorted({l.split()[-1] for l in open("/proc/self/maps") if "libgomp" in l or "libiomp" in l})
    threads = int([l for l in open("/proc/self/status") if l.startswith("Threads:")][0].split()[1])
    print("runtimes", len(gomp), gomp)
    print("threads", threads)
    print("ok")
    """
)


def _run(first: str, env_extra=None) -> subprocess.CompletedProcess:
    imports = "import fastopt\nimport torch\n" if first == "fastopt" else "import torch\nimport fastopt\n"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([HERE, os.environ.get("PYTHONPATH", "")]))
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-c", imports + BODY], capture_output=True, text=True, timeout=300,
                          cwd=HERE, env=env)


@pytest.mark.parametrize("first", ["fastopt", "torch"], ids=["fastopt_first", "torch_first"])
def test_import_order_and_interleaving(first):
    r = _run(first, {"OMP_NUM_THREADS": "2"})
    out = r.stdout
    assert r.returncode == 0 and out.strip().endswith("ok"), (r.returncode, out[-2000:], r.stderr[-3000:])
    assert "OMP: Error" not in r.stderr and "OMP: Warning" not in r.stderr, r.stderr[-2000:]
    runtimes = int(out.split("runtimes ")[1].split()[0])
    assert runtimes <= 1 or sys.platform != "linux", out  # one OpenMP runtime in the process
    # No oversubscription: the main thread, one shared OpenMP pool of (2 - 1) workers per
    # Python thread that ran a team (3 here: main + 2 helper threads, which have exited but
    # whose pools libgomp may keep), and torch's inter-op pool: far below 2 x cores x pools.
    threads = int(out.split("threads ")[1].split()[0])
    assert threads <= 12, out
