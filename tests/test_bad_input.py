"""Every error case for every kernel: the exception type, the words in its message, and that
no argument was touched (a call that raises has written nothing)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List

import numpy as np
import pytest
from conftest import KERNELS

import fastopt


@dataclass
class Call:
    """How to call one public function: its array arguments by name, the keyword ones, and
    whether it takes ``out``."""

    name: str
    func: Callable
    arrays: List[str]
    kwargs: Dict
    has_out: bool = True

    def __repr__(self):
        return self.name


def _calls() -> List[Call]:
    calls = []
    for k in KERNELS:
        arrays = ["grad_out", k.saved] if k.backward else ["x"]
        calls.append(Call(k.name, getattr(fastopt, k.func), arrays, dict(k.fixed)))
    calls.append(Call("prelu", fastopt.prelu, ["x", "weight"], {}))
    calls.append(Call("prelu_backward", fastopt.prelu_backward, ["grad_out", "x", "weight"], {}))
    return calls


CALLS = _calls()
WITH_OUT = [c for c in CALLS if c.has_out]
SHAPE = (3, 4)


def valid_args(call: Call, dtype=np.float32, shape=SHAPE) -> Dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    args = {}
    for name in call.arrays:
        if name == "weight":
            args[name] = rng.uniform(0.1, 0.5, shape[1] if len(shape) >= 2 else 1).astype(dtype)
        elif name == "y":
            args[name] = rng.uniform(0.05, 0.95, shape).astype(dtype)
        else:
            args[name] = rng.standard_normal(shape).astype(dtype)
    return args


def snapshot(*objs):
    return [(o.tobytes(), o.dtype, o.shape) if isinstance(o, np.ndarray) else repr(o) for o in objs]


def expect_error(call: Call, args: Dict, exc, words, out=None, **extra):
    """Call, check the exception and its message, and that every array is unchanged."""
    objs = list(args.values()) + ([out] if out is not None else [])
    before = snapshot(*objs)
    kw = dict(call.kwargs)
    kw.update(extra)
    if out is not None:
        kw["out"] = out
    with pytest.raises(exc) as info:
        call.func(*args.values(), **kw)
    msg = str(info.value)
    for w in words:
        assert w in msg, f"{w!r} not in message {msg!r}"
    assert snapshot(*objs) == before, "an argument changed in a call that raised"
    return msg


calls = pytest.mark.parametrize("call", CALLS, ids=repr)
calls_with_out = pytest.mark.parametrize("call", WITH_OUT, ids=repr)

BAD_DTYPES = [np.int32, np.int64, np.bool_, np.float16, np.complex64, np.complex128, np.uint8, object]


# --------------------------------------------------------------------------------------------
# dtypes
# --------------------------------------------------------------------------------------------


@calls
@pytest.mark.parametrize("bad", BAD_DTYPES, ids=lambda d: np.dtype(d).name)
def test_unsupported_dtype(call, bad):
    """Each operand in turn gets an unsupported dtype: TypeError naming it."""
    for position in call.arrays:
        args = valid_args(call)
        args[position] = args[position].astype(bad) if bad is not object else args[position].astype(object)
        expect_error(call, args, TypeError, [np.dtype(bad).name])


@calls
def test_mixed_float_dtypes(call):
    if len(call.arrays) < 2:
        pytest.skip("one operand")
    for position in call.arrays:
        args = valid_args(call, np.float32)
        args[position] = args[position].astype(np.float64)
        expect_error(call, args, TypeError, [])


@calls
def test_unsupported_dtype_from_list(call):
    """A Python list of ints converts to an integer array: still a TypeError (no cast)."""
    args = valid_args(call, np.float64)
    first = call.arrays[0]
    args[first] = [[1, 2, 3, 4]] * 3
    with pytest.raises(TypeError):
        call.func(*args.values(), **call.kwargs)


# --------------------------------------------------------------------------------------------
# shapes
# --------------------------------------------------------------------------------------------


@calls
def test_shape_mismatch_between_operands(call):
    operands = [a for a in call.arrays if a != "weight"]
    if len(operands) < 2:
        pytest.skip("one operand")
    args = valid_args(call)
    args[operands[0]] = np.zeros((4, 3), np.float32)
    if "weight" in args:
        args["weight"] = np.full(1, 0.25, np.float32)
    expect_error(call, args, ValueError, ["(4, 3)", "(3, 4)"])


@calls_with_out
@pytest.mark.parametrize("out_shape", [(4, 3), (12,), (3, 4, 1), ()], ids=str)
def test_out_wrong_shape(call, out_shape):
    args = valid_args(call)
    out = np.zeros(out_shape, np.float32)
    expect_error(call, args, ValueError, [str(out_shape), str(SHAPE)], out=out)


# --------------------------------------------------------------------------------------------
# out: dtype, type, flags, overlap
# --------------------------------------------------------------------------------------------


@calls_with_out
@pytest.mark.parametrize("out_dtype", [np.float64, np.int32, np.float16], ids=lambda d: np.dtype(d).name)
def test_out_wrong_dtype(call, out_dtype):
    args = valid_args(call, np.float32)
    expect_error(call, args, TypeError, [], out=np.zeros(SHAPE, out_dtype))


@calls_with_out
@pytest.mark.parametrize("out", [[[0.0] * 4] * 3, 0.0, "out"], ids=["list", "float", "str"])
def test_out_not_an_ndarray(call, out):
    args = valid_args(call)
    before = snapshot(*args.values())
    with pytest.raises(TypeError):
        call.func(*args.values(), out=out, **call.kwargs)
    assert snapshot(*args.values()) == before


@calls_with_out
def test_out_read_only(call):
    args = valid_args(call)
    out = np.zeros(SHAPE, np.float32)
    out.flags.writeable = False
    expect_error(call, args, ValueError, [], out=out)


@calls_with_out
def test_out_not_contiguous(call):
    args = valid_args(call)
    strided = np.zeros((3, 8), np.float32)[:, ::2]
    expect_error(call, args, ValueError, [], out=strided)
    transposed = np.zeros((4, 3), np.float32).T
    expect_error(call, args, ValueError, [], out=transposed)


@calls_with_out
def test_out_misaligned(call):
    args = valid_args(call)
    raw = bytearray(4 * 12 + 1)
    out = np.frombuffer(raw, dtype=np.float32, count=12, offset=1).reshape(SHAPE)
    assert not out.flags.aligned
    expect_error(call, args, ValueError, [], out=out)


@calls_with_out
def test_out_partially_overlaps_an_input(call):
    for position in [a for a in call.arrays if a != "weight"]:
        args = valid_args(call, shape=(12,))
        buf = np.linspace(0.1, 0.9, 13).astype(np.float32)
        args[position] = buf[:-1]
        expect_error(call, args, ValueError, [], out=buf[1:])
        # the other way round, and a strided alias of the same memory
        buf = np.linspace(0.1, 0.9, 13).astype(np.float32)
        args[position] = buf[1:]
        expect_error(call, args, ValueError, [], out=buf[:-1])


@calls_with_out
def test_out_same_memory_is_allowed(call):
    """The complement of the overlap rule: out may be an input itself (in place)."""
    for position in [a for a in call.arrays if a != "weight"]:
        args = valid_args(call)
        expected = call.func(*valid_args(call).values(), **call.kwargs)
        out = args[position].view()
        result = call.func(*args.values(), out=out, **call.kwargs)
        if isinstance(result, tuple):  # prelu_backward: (grad_x in out, grad_weight)
            np.testing.assert_array_equal(result[1], expected[1])
            result, expected = result[0], expected[0]
        assert result is out
        np.testing.assert_array_equal(args[position], expected)


# --------------------------------------------------------------------------------------------
# parameters
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("func", [fastopt.gelu, fastopt.gelu_backward], ids=["gelu", "gelu_backward"])
@pytest.mark.parametrize("approximate", ["erf", "Tanh", "", None, 1, "none "], ids=repr)
def test_gelu_bad_approximate(func, approximate):
    call = next(c for c in CALLS if c.func is func)
    args = valid_args(call)
    out = np.zeros(SHAPE, np.float32)
    before = snapshot(*args.values(), out)
    with pytest.raises((ValueError, TypeError)) as info:
        func(*args.values(), approximate=approximate, out=out)
    if isinstance(approximate, str):
        assert info.type is ValueError
        assert "approximate" in str(info.value) or repr(approximate) in str(info.value)
    assert snapshot(*args.values(), out) == before


PRELU_BAD_WEIGHTS = [
    ((3, 4), 2),  # neither 1 nor C = 4
    ((3, 4), 3),
    ((3, 4), 12),
    ((2, 5, 6), 6),
    ((7,), 7),  # x.ndim < 2: one channel
    ((), 2),
    ((3, 4), 0),
]


@pytest.mark.parametrize("name", ["prelu", "prelu_backward"])
@pytest.mark.parametrize("xshape,nweight", PRELU_BAD_WEIGHTS, ids=str)
def test_prelu_weight_count(name, xshape, nweight):
    call = next(c for c in CALLS if c.name == name)
    args = valid_args(call, shape=xshape)
    args["weight"] = np.full(nweight, 0.25, np.float32)
    out = np.zeros(xshape, np.float32) if call.has_out else None
    expect_error(call, args, ValueError, [], out=out)


@pytest.mark.parametrize("name", ["prelu", "prelu_backward"])
def test_prelu_weight_two_dimensional(name):
    """torch takes a 0-d or 1-d weight only."""
    call = next(c for c in CALLS if c.name == name)
    args = valid_args(call)
    args["weight"] = np.full((1, 1), 0.25, np.float32)
    expect_error(call, args, ValueError, [])


# --------------------------------------------------------------------------------------------
# float64 too: the same checks do not depend on the dtype
# --------------------------------------------------------------------------------------------


@calls_with_out
def test_float64_out_float32(call):
    args = valid_args(call, np.float64)
    expect_error(call, args, TypeError, [], out=np.zeros(SHAPE, np.float32))


@calls_with_out
def test_float64_shape_mismatch(call):
    args = valid_args(call, np.float64)
    expect_error(call, args, ValueError, ["(3, 5)", "(3, 4)"], out=np.zeros((3, 5), np.float64))


def test_messages_say_what_to_pass():
    """What a user meets first: an int list, an object NumPy cannot view, a torch tensor that
    requires grad. The message names the dtype and what to pass instead."""
    with pytest.raises(TypeError, match=r"x has unsupported dtype int64; .*numpy\.asarray\(x, numpy\.float32\)"):
        fastopt.sigmoid([0, 1, 2])
    assert fastopt.sigmoid([0.0, 1.0]).dtype == np.float64  # a list of floats is converted
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match=r"x is a torch\.Tensor .*requires grad.* x\.detach\(\)\.cpu\(\)\.numpy\(\)"):
        fastopt.sigmoid(torch.randn(3, requires_grad=True))
    t = torch.randn(3)
    assert np.array_equal(fastopt.relu(t), fastopt.relu(t.numpy()))  # a plain CPU tensor is read as an array
