"""Every activation kernel, forward and backward, against fastopt.reference.

Size classes x dtype x ISA; edge values and the points around every kink; in place and
``out=``; non-contiguous inputs; thread counts; PReLU; hypothesis properties.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import (
    BACKWARD,
    DTYPES,
    FORWARD,
    ISAS,
    KERNELS,
    LARGE,
    SIZES,
    Kernel,
    assert_close,
    edge_values,
    grad_edge_values,
    random_points,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastopt
from fastopt import _core
from fastopt import reference as R

kernels = pytest.mark.parametrize("kernel", KERNELS, ids=repr)
backward_kernels = pytest.mark.parametrize("kernel", BACKWARD, ids=repr)


def check(kernel: Kernel, args, kw, dtype, out=None, err_msg=""):
    """Run the kernel and the reference on ``args`` and compare; returns the kernel result."""
    expected = kernel.ref(*args, **kw)
    actual = kernel.fast(*args, out=out, **kw)
    if out is not None:
        assert actual is out
    grad_out = args[0] if kernel.backward else None
    assert_close(actual, expected, kernel.name, dtype, grad_out=grad_out, err_msg=err_msg + f" kw={kw}", x=args[-1], kw=kw)
    return actual


# --------------------------------------------------------------------------------------------
# size classes
# --------------------------------------------------------------------------------------------


@kernels
@pytest.mark.parametrize("size", SIZES)
def test_sizes(kernel, dtype, isa, size, rng):
    x = random_points(rng, size, dtype)
    check(kernel, kernel.inputs(x, rng), kernel.kwargs(rng), dtype)


@kernels
def test_large_per_thread_count(kernel, dtype, isa, nthreads, rng):
    x = random_points(rng, LARGE, dtype)
    check(kernel, kernel.inputs(x, rng), kernel.kwargs(rng), dtype)


# Chunks over 512 KB run in 256-element blocks with the next block prefetched (drivers.hpp,
# stream_blocks): 2^18 + 45 elements put every chunk there (float32 and float64, 1 and 2
# threads), with a partial last block; the misaligned view adds a head before the first
# 64-byte boundary.
STREAMED = (1 << 18) + 45


@kernels
def test_streamed_blocks(kernel, dtype, isa, nthreads, rng):
    x = random_points(rng, STREAMED + 1, dtype)
    full = kernel.inputs(x, rng)
    kw = kernel.kwargs(rng)
    check(kernel, [a[1:] for a in full], kw, dtype)


SHAPES = [(), (0,), (1,), (7,), (3, 0, 2), (1, 1, 1), (31, 1), (4, 7, 1, 3), (10, 100), (101, 990)]


@kernels
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_shapes(kernel, dtype, shape, rng):
    x = random_points(rng, math.prod(shape), dtype).reshape(shape)
    args = kernel.inputs(x, rng)
    result = check(kernel, args, kernel.kwargs(rng), dtype)
    assert result.shape == shape
    assert isinstance(result, np.ndarray)


# --------------------------------------------------------------------------------------------
# edge values
# --------------------------------------------------------------------------------------------


@kernels
def test_edge_values(kernel, dtype, isa, rng):
    x = edge_values(dtype)
    gy = np.where(rng.random(x.size) < 0.5, 1.0, rng.standard_normal(x.size)).astype(dtype)
    check(kernel, kernel.inputs(x, rng, gy=gy), kernel.kwargs(), dtype)


@backward_kernels
def test_edge_grad_times_edge_x(kernel, dtype, isa, rng):
    """Every grad_out special value against every x (or y) edge value."""
    x = edge_values(dtype)
    gy = grad_edge_values(dtype)
    gy_grid, x_grid = np.meshgrid(gy, x, indexing="ij")
    args = kernel.inputs(x_grid.ravel(), rng, gy=gy_grid.ravel())
    check(kernel, args, kernel.kwargs(), dtype)
    # grad_out = +-inf: only where the derivative is exactly 0 or clearly representable in the
    # dtype (elsewhere a float32 derivative that underflows makes inf * 0 = NaN, not a bug)
    x = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 3.0, -3.0, np.nan, np.inf, -np.inf, 1e30, -1e30], dtype)
    gy_grid, x_grid = np.meshgrid(np.array([np.inf, -np.inf], dtype), x, indexing="ij")
    args = kernel.inputs(x_grid.ravel(), rng, gy=gy_grid.ravel())
    check(kernel, args, kernel.kwargs(), dtype, err_msg="grad_out=+-inf")


@pytest.mark.parametrize("kernel", [k for k in BACKWARD if k.saved == "y"], ids=repr)
def test_y_edge_values_used_directly(kernel, dtype, isa, rng):
    """sigmoid/tanh backward take y; any y (not only a forward's output) follows the formula."""
    y = edge_values(dtype)
    y = y[np.abs(y) < 1e15]  # y*y overflowing in float32 differs from float64 only by order
    gy = np.ones_like(y)
    check(kernel, (gy, y), kernel.kwargs(), dtype)


@pytest.mark.parametrize("name", ["softplus", "softplus_backward"])
@pytest.mark.parametrize(
    "beta,threshold", [(1.0, 20.0), (2.0, 20.0), (0.5, 1.0), (3.0, 7.0), (0.7, 15.0), (1.3, 0.3), (-1.0, 20.0)]
)
def test_softplus_threshold_kink(name, beta, threshold, dtype, isa, rng):
    """x = threshold/beta and its neighbours: the branch ``beta*x > threshold`` is taken in the
    input dtype exactly as torch does (with a small threshold the two branches differ a lot)."""
    from conftest import KERNEL_BY_NAME, _around

    kernel = KERNEL_BY_NAME[name]
    centre = dtype(threshold) / dtype(beta)
    x = np.array(_around(dtype, [centre, -centre], ulps=(1, 2, 3, 8)), dtype=dtype)
    check(kernel, kernel.inputs(x, rng), {"beta": beta, "threshold": threshold}, dtype)


@pytest.mark.parametrize("name", ["softplus", "softplus_backward"])
def test_softplus_large_threshold(name, dtype, isa, rng):
    """With the threshold above exp's overflow point the smooth branch still works (stably)."""
    from conftest import KERNEL_BY_NAME

    kernel = KERNEL_BY_NAME[name]
    x = np.array([50.0, 90.0, 100.0, 200.0, 800.0, 1e4, -1e4, -800.0, 0.0], dtype=dtype)
    args = kernel.inputs(x, rng, gy=np.ones_like(x))
    result = check(kernel, args, {"beta": 1.0, "threshold": 1e30}, dtype)
    assert np.all(np.isfinite(result))


# --------------------------------------------------------------------------------------------
# out=, in place, non-contiguous and misaligned inputs
# --------------------------------------------------------------------------------------------


@kernels
def test_out_is_returned(kernel, dtype, isa, rng):
    x = random_points(rng, 1000, dtype).reshape(10, 100)
    args = kernel.inputs(x, rng)
    kw = kernel.kwargs(rng)
    out = np.full(x.shape, np.nan, dtype=dtype)
    check(kernel, args, kw, dtype, out=out)


@kernels
@pytest.mark.parametrize("size", [7, 1000, LARGE])
def test_in_place(kernel, dtype, isa, size, rng):
    """out may be any of the inputs themselves (out=x for a forward, out=grad_out or out=x/y
    for a backward), or another array over the same memory."""
    x = random_points(rng, size, dtype)
    args = kernel.inputs(x, rng)
    kw = kernel.kwargs(rng)
    expected = kernel.ref(*args, **kw)
    grad_out = args[0] if kernel.backward else None
    for i in range(len(args)):
        copies = [a.copy() for a in args]
        result = kernel.fast(*copies, out=copies[i], **kw)
        assert result is copies[i]
        assert_close(result, expected, kernel.name, dtype, grad_out=grad_out, err_msg=f"in place on arg {i}", x=args[-1], kw=kw)
        # the same memory through a different ndarray object
        copies = [a.copy() for a in args]
        alias = copies[i].view()
        result = kernel.fast(*copies, out=alias, **kw)
        assert result is alias
        assert_close(copies[i], expected, kernel.name, dtype, grad_out=grad_out, err_msg=f"aliased out on arg {i}", x=args[-1], kw=kw)


def _layouts(a: np.ndarray):
    """Views of the same values laid out differently: transposed, strided, reversed, misaligned."""
    base = np.empty((a.shape[1], a.shape[0]), a.dtype)
    base[...] = a.T
    yield "transposed", base.T
    big = np.zeros((a.shape[0], 2 * a.shape[1]), a.dtype)
    big[:, ::2] = a
    yield "strided", big[:, ::2]
    rev = np.ascontiguousarray(a[::-1, ::-1])
    yield "negative-stride", rev[::-1, ::-1]
    raw = bytearray(a.nbytes + 1)
    mis = np.frombuffer(raw, dtype=a.dtype, count=a.size, offset=1).reshape(a.shape)
    mis[...] = a
    yield "misaligned", mis
    if a.dtype == np.float64:  # a list converts to float64
        yield "list", a.tolist()


@kernels
def test_noncontiguous_inputs_are_copied(kernel, dtype, isa, rng):
    x = random_points(rng, 12 * 35, dtype).reshape(12, 35)
    args = kernel.inputs(x, rng)
    kw = kernel.kwargs(rng)
    expected = kernel.fast(*args, **kw)
    for i in range(len(args)):
        for label, view in _layouts(args[i]):
            before = np.array(view, dtype=dtype, copy=True)
            new_args = list(args)
            new_args[i] = view
            result = kernel.fast(*new_args, **kw)
            assert result.dtype == dtype and result.flags.c_contiguous
            assert np.array_equal(result, expected, equal_nan=True), f"{label} arg {i}"
            assert np.array_equal(np.asarray(view, dtype=dtype), before, equal_nan=True)


@kernels
def test_read_only_inputs(kernel, dtype, rng):
    x = random_points(rng, 100, dtype)
    args = kernel.inputs(x, rng)
    for a in args:
        a.flags.writeable = False
    kw = kernel.kwargs(rng)
    check(kernel, args, kw, dtype)


# --------------------------------------------------------------------------------------------
# threads: bitwise identical results for 1 and 2 threads, aligned and misaligned
# --------------------------------------------------------------------------------------------


def _with_threads(n, fn):
    before = fastopt.get_num_threads()
    fastopt.set_num_threads(n)
    try:
        return fn()
    finally:
        fastopt.set_num_threads(before)


@kernels
def test_bitwise_equal_across_thread_counts(kernel, dtype, isa, rng):
    n = LARGE
    x = random_points(rng, n + 1, dtype)
    full = kernel.inputs(x, rng)
    kw = kernel.kwargs(rng)
    for label, args in [("aligned", [a[:-1].copy() for a in full]), ("misaligned", [a[1:] for a in full])]:
        out_buf = np.empty(n + 1, dtype)
        out1 = out_buf[1:] if label == "misaligned" else np.empty(n, dtype)
        r1 = _with_threads(1, lambda: kernel.fast(*args, out=out1, **kw)).copy()
        r2 = _with_threads(2, lambda: kernel.fast(*args, out=out1, **kw))
        assert r1.tobytes() == r2.tobytes(), label
        grad_out = args[0] if kernel.backward else None
        assert_close(r2, kernel.ref(*args, **kw), kernel.name, dtype, grad_out=grad_out, x=args[-1], kw=kw)


def _at_offset(a: np.ndarray, offset: int) -> np.ndarray:
    """A copy of a whose data starts `offset` elements past a 64-byte boundary."""
    buf = np.empty(a.size + 64 // a.itemsize + offset, a.dtype)
    k = (-buf.ctypes.data % 64) // a.itemsize + offset
    view = buf[k:k + a.size]
    view[...] = a
    return view


@kernels
def test_bitwise_equal_at_any_alignment(kernel, dtype, isa, two_threads, rng):
    """The drivers peel the elements before the output's first 64-byte boundary
    (parallel_for_aligned), so which elements take the vector body or the loop remainder
    depends on the arrays' addresses: an element's bits must not (the same values at every
    offset from a 64-byte boundary, 1 and 2 threads)."""
    n = LARGE
    x = random_points(rng, n, dtype)
    full = kernel.inputs(x, rng)
    kw = kernel.kwargs(rng)
    expected = None
    for offset in range(64 // np.dtype(dtype).itemsize):
        args = [_at_offset(a, offset) for a in full]
        out = _at_offset(np.zeros(n, dtype), (offset * 5) % (64 // np.dtype(dtype).itemsize))
        got = kernel.fast(*args, out=out, **kw).tobytes()
        if expected is None:
            expected = got
        assert got == expected, f"offset {offset}"


def _on_isa(isa, fn):
    before = _core._get_isa()
    _core._set_isa(isa)
    try:
        return fn()
    finally:
        _core._set_isa(before)


# The kernels with hand-written AVX-512 code for float32 arrays (forward_array /
# backward_array in activations.hpp, math.hpp's tanh_array aside: another algorithm).
VECTOR_PATHS = {
    "sigmoid": lambda x, g, out: fastopt.sigmoid(x, out=out),
    "sigmoid_backward": lambda x, g, out: fastopt.sigmoid_backward(g, x, out=out),  # x plays y
    "tanh_backward": lambda x, g, out: fastopt.tanh_backward(g, x, out=out),
    "relu": lambda x, g, out: fastopt.relu(x, out=out),
    "relu_backward": lambda x, g, out: fastopt.relu_backward(g, x, out=out),
    "leaky_relu": lambda x, g, out: fastopt.leaky_relu(x, 0.01, out=out),
    "leaky_relu(-0.5)": lambda x, g, out: fastopt.leaky_relu(x, -0.5, out=out),
    "leaky_relu_backward": lambda x, g, out: fastopt.leaky_relu_backward(g, x, 0.2, out=out),
    "silu": lambda x, g, out: fastopt.silu(x, out=out),
    "silu_backward": lambda x, g, out: fastopt.silu_backward(g, x, out=out),
    "softplus_backward": lambda x, g, out: fastopt.softplus_backward(g, x, out=out),
    "softplus_backward(threshold=17)": lambda x, g, out: fastopt.softplus_backward(g, x, threshold=17.0, out=out),
    "softplus_backward(threshold=16.9)": lambda x, g, out: fastopt.softplus_backward(g, x, threshold=16.9, out=out),
    "softplus_backward(beta=2, threshold=5)": lambda x, g, out: fastopt.softplus_backward(
        g, x, beta=2.0, threshold=5.0, out=out),
    "softplus_backward(beta=0.3, threshold=-1)": lambda x, g, out: fastopt.softplus_backward(
        g, x, beta=0.3, threshold=-1.0, out=out),
}


@pytest.mark.skipif(not {"avx2", "avx512"} <= set(ISAS), reason="needs a CPU with AVX2 and AVX-512")
@pytest.mark.parametrize("name", sorted(VECTOR_PATHS))
def test_avx512_vector_code_equals_the_rules(name, rng):
    """The AVX-512 build runs hand-written 16-lane code for these; the AVX2 build vectorizes
    the per-element rules (both with FMA). The values must be the same, bit for bit (NaN
    payloads aside), on random floats of every exponent, the edge values, tails of every
    length, and inputs at other offsets from a 64-byte boundary than the output (map16.hpp
    then reads them with aligned loads, merged in registers)."""
    bits = rng.integers(0, 2**32, 50000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    x = np.concatenate([random_points(rng, 50000, np.float32), bits, edge_values(np.float32)])
    g = rng.standard_normal(x.size).astype(np.float32)
    g[::7] = grad_edge_values(np.float32)[rng.integers(0, 8, g[::7].size)]
    for n in [x.size, 1, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65, 100]:
        for offsets in [(0, 0, 0), (3, 3, 0), (5, 0, 0), (0, 9, 0), (15, 1, 0), (2, 7, 11)]:
            xs, gs = _at_offset(x[-n:], offsets[0]), _at_offset(g[-n:], offsets[1])
            want = _on_isa("avx2", lambda: VECTOR_PATHS[name](xs, gs, None))
            got = _on_isa("avx512", lambda: VECTOR_PATHS[name](xs, gs, _at_offset(np.zeros(n, np.float32), offsets[2])))
            same = (want.view(np.uint32) == got.view(np.uint32)) | (np.isnan(want) & np.isnan(got))
            assert same.all(), f"n={n} offsets={offsets}: x={xs[~same][:4]} avx2={want[~same][:4]} avx512={got[~same][:4]}"


@pytest.mark.parametrize("name", ["sigmoid_backward", "tanh_backward", "relu_backward", "leaky_relu_backward",
                                  "silu_backward", "softplus_backward"])
@pytest.mark.parametrize("n", [33, 1000, LARGE])
def test_in_place_over_grad_with_input_elsewhere(name, n, isa, two_threads, rng):
    """out=grad_out while the other input sits at another offset from 64 bytes: the realigned
    reads (map16.hpp) load a block ahead of the store; the values must be those of a separate
    output."""
    fn = getattr(fastopt, name)
    x = _at_offset(random_points(rng, n, np.float32), 5)
    gy = _at_offset(rng.standard_normal(n).astype(np.float32), 0)
    want = fn(gy, x)
    got = fn(gy, x, out=gy)
    assert got is gy
    assert got.tobytes() == want.tobytes()


# --------------------------------------------------------------------------------------------
# PReLU
# --------------------------------------------------------------------------------------------

PRELU_CASES = [
    ((), 1),
    ((0,), 1),
    ((9,), 1),
    ((5, 3), 1),
    ((5, 3), 3),
    ((2, 7, 4, 5), 1),
    ((2, 7, 4, 5), 7),
    ((0, 3), 3),
    ((300, 4, 100), 4),
    ((LARGE,), 1),
    # channels on the last axis: tiled weight rows for C <= 256 (activations.cpp), runs above
    ((4099, 3), 3),
    ((2000, 64), 64),
    ((700, 256), 256),
    ((300, 257), 257),
    ((30011, 7), 7),
]


def _grad_weight_bound(grad_out, x, dtype):
    """|kernel - reference| allowed for grad_weight: one rounding of the result's dtype per
    term and for the result (check_prelu adds the float64 summation error of both sides:
    float64 products summed in float64, in different orders, differ by up to ~n eps_64 of
    the terms' mass)."""
    terms = np.where(x > 0, 0.0, np.abs(x.astype(np.float64) * grad_out.astype(np.float64)))
    eps = 2.0**-24 if dtype == np.float32 else 2.0**-53
    return terms, eps


def check_prelu(x, w, gy, dtype):
    y = fastopt.prelu(x, w)
    assert_close(y, R.prelu(x, w), "prelu", dtype)
    gx, gw = fastopt.prelu_backward(gy, x, w)
    rgx, rgw = R.prelu_backward(gy, x, w)
    assert_close(gx, rgx, "prelu_backward", dtype)
    assert gw.shape == w.shape and gw.dtype == w.dtype
    terms, eps = _grad_weight_bound(gy, x, dtype)
    if w.size == 1:
        mass = terms.sum()
    else:
        mass = terms.sum(axis=tuple(i for i in range(x.ndim) if i != 1)).reshape(w.shape)
    err = np.abs(gw.astype(np.float64) - rgw.astype(np.float64))
    n_terms = x.size // max(w.size, 1)
    bound = 2 * eps * np.abs(rgw.astype(np.float64)) + (2 * eps + n_terms * 2.0**-53) * mass
    bound = bound + np.finfo(dtype).smallest_normal
    assert np.all(err <= bound), (gw, rgw, err, bound)
    return gw


@pytest.mark.parametrize("shape,channels", PRELU_CASES, ids=str)
def test_prelu(shape, channels, dtype, isa, rng):
    x = random_points(rng, math.prod(shape), dtype).reshape(shape)
    w = rng.uniform(-1, 1, channels).astype(dtype)
    gy = rng.standard_normal(shape).astype(dtype)
    check_prelu(x, w, gy, dtype)


@pytest.mark.parametrize("wshape", [(), (1,), (4,)], ids=str)
def test_prelu_weight_shapes(wshape, dtype, rng):
    """grad_weight keeps weight's shape, whatever it is (only its element count matters)."""
    x = random_points(rng, 3 * 4 * 5, dtype).reshape(3, 4, 5)
    w = rng.uniform(-1, 1, wshape).astype(dtype)
    gy = rng.standard_normal(x.shape).astype(dtype)
    gw = check_prelu(x, w, gy, dtype)
    assert gw.shape == wshape


def test_prelu_edge_values(dtype, isa, rng):
    x = edge_values(dtype).reshape(-1, 1)
    x = np.concatenate([x, -x, x[::-1]], axis=1)  # 3 channels
    w = np.array([0.25, -2.0, 0.0], dtype=dtype)
    gy = rng.standard_normal(x.shape).astype(dtype)
    y = fastopt.prelu(x, w)
    assert_close(y, R.prelu(x, w), "prelu", dtype)
    gx, gw = fastopt.prelu_backward(gy, x, w)
    rgx, rgw = R.prelu_backward(gy, x, w)
    assert_close(gx, rgx, "prelu_backward", dtype)
    # every channel sees inf/NaN, so grad_weight is non-finite exactly where the reference is
    assert np.array_equal(np.isnan(gw), np.isnan(rgw)) and np.array_equal(np.isinf(gw), np.isinf(rgw))


def test_prelu_out_and_in_place(dtype, isa, rng):
    x = random_points(rng, 6 * 5 * 7, dtype).reshape(6, 5, 7)
    w = rng.uniform(-1, 1, 5).astype(dtype)

@pytest.mark.parametrize("channels,inner", [(1, 1), (5, 1), (5, 7)], ids=str)
@pytest.mark.parametrize("where", ["fresh", "grad_out", "x"])
def test_prelu_backward_out(channels, inner, where, dtype, isa, two_threads, rng):
    """grad_x into out, including in place over grad_out or x: grad_weight still sums the
    inputs' values (each element is read before out overwrites it), bitwise as without out.
    Big enough that each weight layout's loop runs vectorized and on two threads."""
    shape = (300_007 // (channels * inner), channels, inner)
    x = random_points(rng, math.prod(shape), dtype).reshape(shape)
    w = rng.uniform(-1, 1, channels).astype(dtype)
    gy = rng.standard_normal(shape).astype(dtype)
    gx_ref, gw_ref = fastopt.prelu_backward(gy, x, w)
    out = {"fresh": np.empty_like(x), "grad_out": gy, "x": x}[where]
    gx, gw = fastopt.prelu_backward(gy, x, w, out=out)
    assert gx is out
    assert gx.tobytes() == gx_ref.tobytes()
    assert gw.tobytes() == gw_ref.tobytes()

    expected = R.prelu(x, w)
    out = np.empty_like(x)
    assert fastopt.prelu(x, w, out=out) is out
    assert_close(out, expected, "prelu", dtype)
    assert fastopt.prelu(x, w, out=x) is x
    assert_close(x, expected, "prelu", dtype)


@pytest.mark.parametrize("channels", [1, 3])
def test_prelu_grad_weight_bitwise_across_threads(channels, dtype, isa, rng):
    """grad_weight is a reduction: blocked, combined in order, the same for any thread count.
    2^20 + 5 elements so that the reduction really runs on several threads."""
    n = (1 << 20) + 5
    x = random_points(rng, n * channels, dtype).reshape(n, channels)
    w = rng.uniform(-1, 1, channels).astype(dtype)
    gy = rng.standard_normal(x.shape).astype(dtype)
    gx1, gw1 = _with_threads(1, lambda: fastopt.prelu_backward(gy, x, w))
    gx2, gw2 = _with_threads(2, lambda: fastopt.prelu_backward(gy, x, w))
    assert gx1.tobytes() == gx2.tobytes()
    assert gw1.tobytes() == gw2.tobytes(), (gw1, gw2)
    check_prelu(x, w, gy, dtype)


# --------------------------------------------------------------------------------------------
# hypothesis: random shapes and values, finite and not
# --------------------------------------------------------------------------------------------


@st.composite
def kernel_case(draw, dtype):
    kernel = draw(st.sampled_from(KERNELS))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=9))
    elems = st.floats(allow_nan=True, allow_infinity=True, width=np.dtype(dtype).itemsize * 8)
    x = draw(hnp.arrays(dtype, shape, elements=elems))
    gy = draw(hnp.arrays(dtype, shape, elements=st.floats(-1e3, 1e3, width=np.dtype(dtype).itemsize * 8)))
    seed = draw(st.integers(0, 2**32 - 1))
    return kernel, x, gy, seed


def _property(case, dtype):
    kernel, x, gy, seed = case
    rng = np.random.default_rng(seed)
    if kernel.saved == "y":
        # any y goes through the polynomial formulas; huge y would overflow y*y in an
        # order-dependent way, so keep |y| moderate there
        y = np.where(np.abs(x) > 1e15, dtype(1.0), x).astype(dtype)
        args = (gy, y)
    else:
        args = kernel.inputs(x, rng, gy=gy)
    check(kernel, args, kernel.kwargs(rng), dtype)


@settings(max_examples=150, deadline=None)
@given(kernel_case(np.float32))
def test_property_float32(case):
    _property(case, np.float32)


@settings(max_examples=150, deadline=None)
@given(kernel_case(np.float64))
def test_property_float64(case):
    _property(case, np.float64)


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=4, max_side=6), elements=st.floats(-1e6, 1e6)),
    st.booleans(),
    st.integers(0, 2**32 - 1),
)
def test_property_prelu(x, shared, seed):
    rng = np.random.default_rng(seed)
    channels = 1 if shared else x.shape[1]
    w = rng.uniform(-1, 1, channels)
    gy = rng.standard_normal(x.shape)
    check_prelu(x, w, gy, np.float64)
    x32, w32, gy32 = x.astype(np.float32), w.astype(np.float32), gy.astype(np.float32)
    check_prelu(x32, w32, gy32, np.float32)


def test_dtype_preserved(rng):
    for dtype in DTYPES:
        for kernel in FORWARD:
            x = random_points(rng, 5, dtype)
            assert kernel.fast(x, **kernel.kwargs()).dtype == dtype
