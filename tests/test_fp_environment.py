"""Never change the caller's floating-point environment, and never depend on it.

Every kernel computes in the IEEE default environment (round to nearest, no flush-to-zero,
no denormals-are-zero, exceptions masked) on every thread that runs it, and restores the
calling thread's MXCSR afterwards, status flags included (parallel.hpp, FpEnvScope). So:

* MXCSR is bit-for-bit the same after every call as before, whatever it was;
* results under FTZ/DAZ, another rounding mode, or unmasked exceptions are bitwise the
  results under the default environment, for 1 and 2 threads (before the fix the OpenMP
  workers kept the MXCSR they were created with while the caller used its own, so under
  FTZ the result depended on the thread count);
* ``torch.set_flush_denormal(True)`` (FTZ+DAZ on the calling thread) changes nothing.

MXCSR is read and set with the test-only bindings ``_core._mxcsr`` / ``_core._set_mxcsr``.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import fastopt
from fastopt import _core
from fastopt import functional as F

from reliability_calls import CASES, run_case

pytestmark = pytest.mark.skipif(_core._mxcsr() < 0, reason="no MXCSR on this CPU")

DEFAULT = 0x1F80
FTZ, DAZ = 0x8000, 0x0040
ROUND_DOWN, ROUND_UP, ROUND_ZERO = 0x2000, 0x4000, 0x6000
FLAGS = 0x003F  # sticky status flags (IE DE ZE OE UE PE)
MODES = {
    "default": DEFAULT,
    "ftz": DEFAULT | FTZ,
    "daz": DEFAULT | DAZ,
    "ftz_daz": DEFAULT | FTZ | DAZ,
    "round_zero": DEFAULT | ROUND_ZERO,
    "round_up_ftz_flags": DEFAULT | ROUND_UP | FTZ | 0x21,  # with some status flags already set
    "round_down_daz": DEFAULT | ROUND_DOWN | DAZ,
}
SIZES = (37, 100_003)  # one thread below the grain; every thread above it


def _under(mode: int, case, n: int, dtype, seed: int):
    """Run the case with MXCSR = mode around the kernel call only (the setup and comparison
    run in the default environment); returns (outcome bytes, MXCSR after the call)."""
    rng = np.random.default_rng(seed)
    a = case.setup(rng, n, dtype)
    _core._set_mxcsr(mode)
    try:
        ret = case.call(F, a)
        after = _core._mxcsr()
    finally:
        _core._set_mxcsr(DEFAULT)
    from reliability_calls import outcome

    return outcome(a, ret), after


@pytest.fixture
def restore_threads():
    before = fastopt.get_num_threads()
    yield
    fastopt.set_num_threads(before)
    _core._set_mxcsr(DEFAULT)


def test_mxcsr_binding_round_trips():
    before = _core._mxcsr()
    try:
        for v in MODES.values():
            _core._set_mxcsr(v)
            assert _core._mxcsr() == v
    finally:
        _core._set_mxcsr(before)
    with pytest.raises(ValueError):
        _core._set_mxcsr(1 << 20)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=repr)
def test_environment_preserved_and_ignored(case, dtype, restore_threads):
    """For every kernel: MXCSR unchanged (flags too), results bitwise those of the default
    environment, for 1 and 2 threads and a serial and a threaded size."""
    for n in SIZES:
        seed = n * 7 + 1
        fastopt.set_num_threads(1)
        expected, _ = _under(DEFAULT, case, n, dtype, seed)
        for threads in (1, 2):
            fastopt.set_num_threads(threads)
            for name, mode in MODES.items():
                got, after = _under(mode, case, n, dtype, seed)
                assert after == mode, f"{case} n={n} threads={threads} {name}: MXCSR {after:#x} after, {mode:#x} before"
                assert got == expected, f"{case} n={n} threads={threads} {name}: result differs from the default environment"


def test_subnormals_survive_caller_ftz_daz(restore_threads):
    """The exact effect: a subnormal input is not flushed (relu of 1e-40 is 1e-40) even when
    the caller has FTZ+DAZ set, on every thread."""
    x = np.full(200_000, 1e-40, np.float32)
    for threads in (1, 2):
        fastopt.set_num_threads(threads)
        _core._set_mxcsr(DEFAULT | FTZ | DAZ)
        try:
            y = F.relu(x)
            g = F.relu_backward(x, np.ones_like(x))
        finally:
            _core._set_mxcsr(DEFAULT)
        assert y.tobytes() == x.tobytes()
        assert g.tobytes() == x.tobytes()


def test_torch_set_flush_denormal(restore_threads):
    torch = pytest.importorskip("torch")
    x = np.full(200_000, 1e-40, np.float32)
    p = [np.full(100_000, 1e-39, np.float32)]
    g = [np.full(100_000, 1e-40, np.float32)]
    m, v = [np.zeros_like(p[0])], [np.zeros_like(p[0])]
    before = _core._mxcsr()
    assert torch.set_flush_denormal(True)
    try:
        mode = _core._mxcsr()
        assert mode & (FTZ | DAZ) == FTZ | DAZ
        y = F.relu(x)
        F.sgd_(p, g, lr=1.0)
        F.adam_(p, g, m, v, step=1)
        assert _core._mxcsr() == mode
    finally:
        torch.set_flush_denormal(False)
        _core._set_mxcsr(before)
    assert y.tobytes() == x.tobytes()
    assert np.all(m[0] != 0)  # 0.1 * 1e-40 is a subnormal, not flushed


def test_unmasked_exceptions_do_not_trap():
    """A caller that unmasked invalid/divide/overflow (feenableexcept) gets no SIGFPE from
    kernels fed inf/NaN/huge values: they compute with exceptions masked. In a subprocess, so
    a trap would not take pytest down."""
    code = textwrap.dedent(
        """
        import numpy as np, fastopt
        from fastopt import _core, functional as F
        fastopt.set_num_threads(2)
        x = np.array([np.inf, -np.inf, np.nan, 1e38, -1e38, 0.0] * 20000, np.float32)
        ones = np.ones_like(x)
        p, m, v = [x.copy()], [np.zeros_like(x)], [np.zeros_like(x)]
        _core._set_mxcsr(0x1F80 & ~(0x0080 | 0x0200 | 0x0400))  # unmask invalid, divide, overflow
        outs = [F.sigmoid(x), F.softplus(x), F.gelu(x), F.elu_backward(ones, x), F.silu_backward(x, x)]
        F.adam_(p, [x], m, v, step=1)
        n = F.clip_grad_norm_([x.copy()], 1.0)
        mode = _core._mxcsr()
        _core._set_mxcsr(0x1F80)
        # the control bits are the caller's (Python itself may have raised a status flag)
        assert mode & ~0x3F == 0x1F80 & ~(0x0080 | 0x0200 | 0x0400), hex(mode)
        print("ok")
        """
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       cwd=str(Path(__file__).parent))
    assert r.returncode == 0 and r.stdout.strip() == "ok", (r.returncode, r.stdout, r.stderr)
