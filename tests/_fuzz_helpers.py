"""Machinery of the memory-contract fuzzers (``test_fuzz_memory_contract.py``,
``test_fuzz_loss_contract.py``): the hypothesis profiles, arrays in byte buffers the test
owns (:class:`Buffers`, :class:`Spec`, :func:`make`, :func:`alias_view`), the strategies that
draw their descriptions, the oracle's predicates (what the binding reads in place, what it
refuses to write) and the elementwise call strategy (inputs of one shape, ``out`` modes).
Not a test module (no ``test_`` prefix).
"""

from __future__ import annotations

import atexit
import collections
import math
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st


try:
    import ml_dtypes

    BF16 = np.dtype(ml_dtypes.bfloat16)
except ImportError:  # pragma: no cover
    BF16 = None

_COMMON = dict(deadline=None, derandomize=False, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])
settings.register_profile("fastopt-fuzz-dev", max_examples=50, **_COMMON)
# ci: the same examples on every run (a red CI is reproducible); dev and long: fresh ones.
settings.register_profile("fastopt-fuzz-ci", max_examples=1, **{**_COMMON, "derandomize": True})
settings.register_profile("fastopt-fuzz-long", max_examples=1, **_COMMON)
PROFILE = os.environ.get("FASTOPT_FUZZ_PROFILE", "ci")
if PROFILE not in ("dev", "ci", "long"):
    raise ValueError(f"FASTOPT_FUZZ_PROFILE={PROFILE!r}: expected dev, ci or long")
SCALE = {"dev": 0.05, "ci": 1.0, "long": 50.0}[PROFILE]


# FASTOPT_FUZZ_STATS=1 prints how often each aliasing mode was valid or refused, at exit.
STATS: "collections.Counter[str]" = collections.Counter()
if os.environ.get("FASTOPT_FUZZ_STATS"):
    atexit.register(lambda: print("\nfuzz outcomes:", *sorted(STATS.items()), sep="\n  "))


def note(what: str) -> None:
    event(what)
    STATS[what] += 1


def examples(ci: int) -> settings:
    return settings(settings.get_profile(f"fastopt-fuzz-{PROFILE}"), max_examples=max(10, int(ci * SCALE)))


# --------------------------------------------------------------------------------------------
# Arrays in owned byte buffers
# --------------------------------------------------------------------------------------------

FLOAT_DTYPES = [np.dtype(np.float32), np.dtype(np.float64)]
OTHER_DTYPES = [np.dtype(t) for t in (np.float16, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
                                      np.uint32, np.uint64, np.bool_, np.complex64, np.longdouble)]
OTHER_DTYPES += [np.dtype(">f4"), np.dtype(">f8"), np.dtype(object)]
if BF16 is not None:
    OTHER_DTYPES.append(BF16)

LAYOUTS = ["c", "c", "c", "f", "t", "neg", "step", "zero", "misaligned", "offset"]
PLAIN = ("c", "misaligned", "offset")  # one run of memory from the start of a byte buffer: alias_view works
BIG = 66_001  # above 2 * grain: the threaded path


class Buffers:
    """Every byte buffer (and object array / list) behind the arguments of one call."""

    def __init__(self) -> None:
        self.items: List[Any] = []

    def new(self, nbytes: int) -> np.ndarray:
        b = np.zeros(nbytes + 256, np.uint8)
        self.items.append(b)
        return b

    def keep(self, obj) -> None:
        self.items.append(obj)

    @staticmethod
    def _snap(obj):
        if isinstance(obj, np.ndarray) and obj.dtype != object:
            return obj.tobytes()
        if isinstance(obj, np.ndarray):
            return [id(v) for v in obj.ravel()], repr(obj.tolist())
        return repr(obj)

    def snapshot(self) -> List[Any]:
        return [self._snap(b) for b in self.items]


def _values(rng, n: int) -> np.ndarray:
    v = rng.standard_normal(n) * 3.0
    if n:
        v[rng.random(n) < 0.05] = 0.0
    return v


def _fill(view: np.ndarray, rng) -> None:
    vals = _values(rng, view.size).reshape(view.shape)
    dt = view.dtype
    if dt == np.uint16:  # a bfloat16 bit pattern: fastopt reads uint16 as bfloat16
        bits = (vals.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
        view[...] = bits
    elif dt.kind in "iu":
        view[...] = np.clip(vals * 10, 0 if dt.kind == "u" else -100, 100).astype(dt)
    elif dt.kind == "b":
        view[...] = vals > 0
    else:
        view[...] = vals.astype(dt) if dt != np.longdouble else vals


@dataclass
class Spec:
    dtype: np.dtype
    shape: Tuple[int, ...]
    layout: str = "c"
    readonly: bool = False
    as_list: bool = False  # a Python list instead of an ndarray (read-only inputs only)


def make(spec: Spec, bufs: Buffers, rng, base: Optional[np.ndarray] = None, byte_offset: int = 0):
    """The array described by ``spec``, a view into a fresh buffer (or ``base`` at
    ``byte_offset``)."""
    shape, dt = tuple(spec.shape), spec.dtype
    n = math.prod(shape)
    if dt == object:
        a = np.array(_values(rng, n).tolist() + [None], dtype=object)[:n].reshape(shape)
        bufs.keep(a)
        return a
    if spec.as_list:
        a = _values(rng, n).reshape(shape).tolist()
        bufs.keep(a)
        return a
    item = dt.itemsize
    layout = spec.layout
    if layout in ("f", "t") and len(shape) < 2:
        layout = "c"
    if layout in ("neg", "step", "zero") and len(shape) < 1:
        layout = "c"
    extent = 2 * n * item + 64
    if base is None:
        base = bufs.new(extent)
        byte_offset = {"misaligned": 1, "offset": 8 * int(rng.integers(1, 9))}.get(layout, 0)
    flat_bytes = base[byte_offset:]
    count = len(flat_bytes) // item
    flat = flat_bytes[: count * item].view(dt)  # may be misaligned: that is the point
    if layout in ("c", "misaligned", "offset"):
        a = flat[:n].reshape(shape)
    elif layout == "f":
        a = flat[:n].reshape(shape[::-1]).T
    elif layout == "t":
        swapped = shape[:-2] + (shape[-1], shape[-2])
        a = flat[:n].reshape(swapped).swapaxes(-1, -2)
    elif layout == "neg":
        a = flat[:n].reshape(shape)[::-1]
    elif layout == "step":
        wide = shape[:-1] + (2 * shape[-1],)
        a = flat[: 2 * n].reshape(wide)[..., ::2]
    elif layout == "zero":
        row = flat[: max(1, math.prod(shape[1:]))]
        strides = (0,) + (tuple(np.empty(shape[1:], dt).strides) if len(shape) > 1 else ())
        a = np.lib.stride_tricks.as_strided(row, shape=shape, strides=strides, writeable=True)
    else:  # pragma: no cover
        raise AssertionError(layout)
    _fill(a, rng)
    if spec.readonly:
        a.flags.writeable = False
    return a


def alias_view(of: np.ndarray, shift_elems: int, shape=None) -> np.ndarray:
    """A C-contiguous view of ``of``'s dtype (and shape, or ``shape``) starting ``shift_elems``
    elements after ``of`` (which is C-contiguous and sits in a buffer with room after it)."""
    base = of
    while isinstance(base.base, np.ndarray):
        base = base.base
    start = of.__array_interface__["data"][0] - base.__array_interface__["data"][0] + shift_elems * of.itemsize
    flat = base.view(np.uint8).reshape(-1)[start:]
    count = len(flat) // of.itemsize
    shape = of.shape if shape is None else tuple(shape)
    return flat[: count * of.itemsize].view(of.dtype)[: math.prod(shape)].reshape(shape)


# --------------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------------


@st.composite
def small_or_big_shape(draw):
    if draw(st.integers(0, 29)) == 0:
        return (BIG,) if draw(st.booleans()) else (3, BIG // 3)
    if draw(st.integers(0, 9)) == 0:
        return ()
    return tuple(draw(st.lists(st.integers(0, 5), min_size=1, max_size=3)))


@st.composite
def dtype_for(draw, main: np.dtype, p_other: int = 8):
    """Mostly ``main``; one in ``p_other`` draws another dtype (float or not)."""
    if draw(st.integers(0, p_other - 1)) == 0:
        return draw(st.sampled_from(FLOAT_DTYPES + OTHER_DTYPES))
    return main


@st.composite
def spec_for(draw, main_dtype: np.dtype, shape, input_only: bool, p_bad: int = 6, clean: bool = False):
    """One array's description; ``clean``: the main dtype, the shape, C layout, writeable."""
    if clean:
        return Spec(main_dtype, tuple(shape))
    dt = draw(dtype_for(main_dtype))
    if draw(st.integers(0, 14)) == 0:  # a mismatched shape now and then
        shape = draw(small_or_big_shape())
    layout = draw(st.sampled_from(LAYOUTS)) if draw(st.integers(0, p_bad - 1)) == 0 else "c"
    readonly = draw(st.integers(0, p_bad * 2 - 1)) == 0
    as_list = input_only and dt != object and draw(st.integers(0, 19)) == 0
    return Spec(dt, tuple(shape), layout, readonly, as_list)


# --------------------------------------------------------------------------------------------
# The oracle (the documented contract)
# --------------------------------------------------------------------------------------------


def attempt(what: str, ok: bool, bufs: "Buffers", call, detail: str = "", snap=None) -> Tuple[bool, Any]:
    """Runs call() under the memory contract's two outcomes: a valid call (ok) returns, and any
    other raises TypeError/ValueError/IndexError with every argument byte-for-byte unchanged
    (against `snap`, bufs' snapshot from before the call, taken here when not given).
    Returns (True, result), or (False, None) when the call was (rightly) refused."""
    snap = bufs.snapshot() if snap is None else snap
    try:
        got = call()
    except (TypeError, ValueError, IndexError) as e:
        assert not ok, f"{what}: refused a valid call: {type(e).__name__}: {e}"
        assert bufs.snapshot() == snap, f"{what}: raised {type(e).__name__} ({e}) but changed an argument"
        return False, None
    assert ok, f"{what}: accepted a call the contract refuses ({detail})"
    return True, got


def _native(dt: np.dtype) -> np.dtype:
    return dt.newbyteorder("=")


def in_place_input(a) -> bool:
    """An input the binding reads where it is (no conversion copy)."""
    return (isinstance(a, np.ndarray) and a.flags.c_contiguous and a.flags.aligned
            and a.dtype.isnative and a.dtype.kind == "f" and a.dtype.itemsize in (4, 8))


def as_input(a) -> Optional[np.ndarray]:
    """The input as the binding sees it, or None if it is refused (TypeError)."""
    arr = np.asarray(a)
    if arr.dtype.kind != "f" or arr.dtype.itemsize not in (4, 8):
        return None
    return arr


def shares(a, b) -> bool:
    return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.nbytes > 0 and b.nbytes > 0
            and np.may_share_memory(a, b))


def exact_alias(a: np.ndarray, b: np.ndarray) -> bool:
    return a.__array_interface__["data"][0] == b.__array_interface__["data"][0] and a.nbytes == b.nbytes


def writable_ok(a, dtype, shape) -> bool:
    return (isinstance(a, np.ndarray) and a.dtype == dtype and a.dtype.isnative and a.shape == tuple(shape)
            and a.flags.writeable and a.flags.c_contiguous and a.flags.aligned)




@dataclass(frozen=True)
class Family:
    """name: the public name (fastopt.functional and fastopt.reference);
    inputs: names of the read-only array arguments; out: whether it takes ``out=``;
    kwargs: fixed keyword arguments; kernel: the TOLERANCE key in conftest (and the test id);
    keywords: the trailing inputs that are passed by keyword (e.g. a loss's ``weight``)."""

    name: str
    inputs: Tuple[str, ...]
    out: bool = True
    kwargs: Dict[str, Any] = field(default_factory=dict)
    kernel: str = ""
    keywords: Tuple[str, ...] = ()

    def split(self, args) -> Tuple[List[Any], Dict[str, Any]]:
        """args (one per input) as the call's positional and keyword arguments."""
        k = len(self.inputs) - len(self.keywords)
        return list(args[:k]), dict(zip(self.keywords, args[k:]), **self.kwargs)

    def __repr__(self) -> str:
        return self.kernel or self.name


def _ref_input(a) -> np.ndarray:
    arr = np.array(a, copy=True)
    return arr.astype(_native(arr.dtype)) if arr.dtype.kind == "f" else arr


OUT_MODES = ["none", "none", "fresh", "fresh", "same", "view_same", "partial", "disjoint", "list"]


@st.composite
def elementwise_call(draw, fam: Family):
    seed = draw(st.integers(0, 2**32 - 1))
    main = draw(st.sampled_from(FLOAT_DTYPES))
    shape = draw(small_or_big_shape())
    clean = draw(st.integers(0, 2)) == 0  # a third of the calls differ only by their aliasing
    specs = [draw(spec_for(main, shape, input_only=True, clean=clean)) for _ in fam.inputs]
    out_mode = draw(st.sampled_from(OUT_MODES))
    out_spec = draw(spec_for(main, shape, input_only=False, clean=clean))
    which = draw(st.integers(0, len(fam.inputs) - 1))
    shift = draw(st.integers(1, 3))
    return seed, specs, out_mode, out_spec, which, shift


def build_elementwise(fam, rng, specs, out_mode, out_spec, which, shift):
    bufs = Buffers()
    args = []
    for s in specs:
        args.append(make(s, bufs, rng))
    target = args[which]
    out = None
    if out_mode == "fresh":
        out = make(out_spec, bufs, rng)
    elif out_mode == "list":
        out = np.zeros(out_spec.shape).tolist()
    elif isinstance(target, np.ndarray) and target.dtype != object and specs[which].layout in PLAIN:
        if out_mode == "same":
            out = target
        elif out_mode == "view_same":
            out = target.view()
        elif out_mode in ("partial", "disjoint") and target.size >= 2:
            out = alias_view(target, shift if out_mode == "partial" else target.size)
            _fill(out, rng) if out_mode == "disjoint" else None
        else:
            out = make(out_spec, bufs, rng)
    return bufs, args, out


def elementwise_expect_ok(fam, args, out) -> bool:
    conv = [as_input(a) for a in args]
    if any(c is None for c in conv):
        return False
    dts = {_native(c.dtype) for c in conv}
    if len(dts) != 1:
        return False
    if len({c.shape for c in conv}) != 1:
        return False
    if out is None:
        return True
    if not writable_ok(out, _native(conv[0].dtype), conv[0].shape):
        return False
    for a in args:
        if in_place_input(a) and shares(out, a) and not exact_alias(out, a):
            return False
    return True
