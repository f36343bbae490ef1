"""Mixed precision: bfloat16/float16 params with a float32 master copy, low-precision grads.

The conversions are checked exhaustively where they can be (all 65536 half bit patterns
widened) and against NumPy's float16 and torch's / ml_dtypes' bfloat16 rounding for narrowing
(round to nearest even, overflow to inf, NaN stays NaN, subnormals), on every ISA.
"""

from __future__ import annotations

import numpy as np
import pytest

from fastopt import functional as F

ALL_HALF_BITS = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)


def _bf16_to_f32(bits: np.ndarray) -> np.ndarray:
    return (bits.astype(np.uint32) << 16).view(np.float32)


def _f32_to_bf16_rne(x: np.ndarray) -> np.ndarray:
    """Round-to-nearest-even float32 -> bfloat16 bits, written out plainly; NaN -> quiet NaN."""
    u = x.view(np.uint32).astype(np.uint64)
    rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    nan = np.isnan(x)
    return np.where(nan, ((u >> 16) | 0x40).astype(np.uint16), rounded)


def _narrow_inputs(rng) -> np.ndarray:
    """float32 values of every class: random bit patterns, halfway cases, the edges."""
    bits = rng.integers(0, 1 << 32, size=1 << 16, dtype=np.uint64).astype(np.uint32)
    mant = rng.integers(0, 1 << 16, size=4096, dtype=np.uint64).astype(np.uint32)
    halfway = (mant << 16) | 0x8000  # exactly between two bfloat16 values
    half_halfway = (mant << 13) | 0x1000  # between two float16 values (normal range)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 65504.0, 65519.99, 65520.0, -65520.0, 6e-8, 3e-8,
                        2.9e-8, 1e-45, -1e-45, 6.1e-5, 6.0e-5, 3.4e38, -3.4e38, 1.0, -1.0], np.float32)
    return np.concatenate([bits.view(np.float32), halfway.view(np.float32),
                           (half_halfway & 0x47FFFFFF).view(np.float32), special])


def _narrow_with_step(master: np.ndarray, lowp_dtype) -> np.ndarray:
    """Runs an SGD step with lr=0 so the master copy is unchanged and the low-precision
    param receives exactly its rounding."""
    master = master.copy()
    param = np.zeros(master.shape, lowp_dtype)
    F.sgd_(param, np.zeros_like(master), lr=0.0, master_params=master)
    return param


def test_bf16_narrowing(isa, rng):
    x = _narrow_inputs(rng)
    got = _narrow_with_step(x, np.uint16)
    want = _f32_to_bf16_rne(x)
    finite = ~np.isnan(x)
    np.testing.assert_array_equal(got[finite], want[finite])
    assert np.all(np.isnan(_bf16_to_f32(got[~finite])))


def test_bf16_narrowing_matches_torch(rng):
    torch = pytest.importorskip("torch")
    x = _narrow_inputs(rng)
    x = x[~np.isnan(x)]
    want = torch.from_numpy(x).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    np.testing.assert_array_equal(_narrow_with_step(x, np.uint16), want)


def test_f16_narrowing(isa, rng):
    x = _narrow_inputs(rng)
    with np.errstate(over="ignore"):
        want = x.astype(np.float16)
    got = _narrow_with_step(x, np.float16)
    finite = ~np.isnan(x)
    np.testing.assert_array_equal(got[finite].view(np.uint16), want[finite].view(np.uint16))
    assert np.all(np.isnan(got[~finite]))


@pytest.mark.parametrize("kind", ["bf16", "f16"])
def test_widening_every_bit_pattern(kind, isa):
    """SGD with lr=1 from a zero master: master = 0 - widen(g) for all 65536 grads."""
    if kind == "bf16":
        g = ALL_HALF_BITS.copy()
        wide = _bf16_to_f32(g)
    else:
        g = ALL_HALF_BITS.view(np.float16).copy()
        wide = g.astype(np.float32)
    with np.errstate(invalid="ignore"):
        want = np.float32(0) - wide
    p = np.zeros(g.shape, np.float32)
    F.sgd_(p, g, lr=1.0)
    finite = ~np.isnan(want)
    np.testing.assert_array_equal(p[finite].view(np.uint32), want[finite].view(np.uint32))
    assert np.all(np.isnan(p[~finite]))


def test_ml_dtypes_bfloat16_arrays():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    master = np.linspace(-3, 3, 1001, dtype=np.float32)
    param = master.astype(ml_dtypes.bfloat16)
    grad = np.ones(1001, ml_dtypes.bfloat16)
    F.sgd_(param, grad, lr=0.5, master_params=master)
    np.testing.assert_array_equal(master, np.linspace(-3, 3, 1001, dtype=np.float32) - np.float32(0.5))
    np.testing.assert_array_equal(param, master.astype(ml_dtypes.bfloat16))


@pytest.mark.parametrize("param_kind", ["bf16", "f16"])
@pytest.mark.parametrize("grad_kind", ["f32", "bf16", "f16"])
def test_adam_master_trajectory(param_kind, grad_kind, isa, nthreads, rng):
    """Each step equals the float32 step on the master with the widened grads, and the
    low-precision params are the master rounded to nearest even, on every step."""
    shapes = [(3000,), (70001,), (7, 5)]
    lowp = np.uint16 if param_kind == "bf16" else np.float16
    narrow = _f32_to_bf16_rne if param_kind == "bf16" else (lambda a: a.astype(np.float16))
    master = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    params = [narrow(m) for m in master]
    ref = [m.copy() for m in master]
    state = [[np.zeros_like(m) for m in master] for _ in range(2)]
    ref_state = [[np.zeros_like(m) for m in master] for _ in range(2)]
    for step in range(1, 6):
        g32 = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        if grad_kind == "bf16":
            grads = [_f32_to_bf16_rne(g) for g in g32]
            wide = [_bf16_to_f32(g) for g in grads]
        elif grad_kind == "f16":
            grads = [g.astype(np.float16) for g in g32]
            wide = [g.astype(np.float32) for g in grads]
        else:
            grads = wide = g32
        F.adamw_(params, grads, *state, step=step, lr=1e-2, master_params=master, max_grad_norm=50.0)
        F.adamw_(ref, wide, *ref_state, step=step, lr=1e-2, max_grad_norm=50.0)
        for p, m, r in zip(params, master, ref):
            np.testing.assert_array_equal(m, r)
            np.testing.assert_array_equal(np.asarray(p).view(np.uint16), np.asarray(narrow(r)).view(np.uint16))


def test_mixed_precision_bad_input(rng):
    master = [np.zeros(4, np.float32)]
    with pytest.raises(TypeError, match="master copies are float32"):
        F.sgd_([np.zeros(4, np.float16)], [np.zeros(4, np.float32)], lr=0.1, master_params=[np.zeros(4, np.float64)])
    with pytest.raises(TypeError, match="master_params are for bfloat16/float16 params"):
        F.sgd_([np.zeros(4, np.float32)], [np.zeros(4, np.float32)], lr=0.1, master_params=master)
    with pytest.raises(TypeError, match="float64 params need float64 grads"):
        F.sgd_([np.zeros(4, np.float64)], [np.zeros(4, np.float16)], lr=0.1)
    with pytest.raises(ValueError, match="shape"):
        F.sgd_([np.zeros(4, np.float16)], [np.zeros(4, np.float32)], lr=0.1, master_params=[np.zeros(5, np.float32)])
