"""The memory contract, fuzzed (hypothesis), for the kernels with a shape rule of their own:
softmax, log_softmax and their backwards (an axis), cross_entropy and nll_loss (class targets,
a weight), dropout and dropout_backward (a seed, a mask).

The machinery and the rules are those of ``test_fuzz_memory_contract.py`` (shared through
``_fuzz_helpers.py``): every array lives in a byte buffer the test owns, and is drawn with a
random dtype, shape, layout (C, Fortran, transposed, negative, zero and sliced strides,
misaligned and offset views), read-only flag, as a Python list now and then, and aliased
with the other arguments. An oracle encoding the documented contract says whether the call
must succeed:

* success: the result equals ``fastopt.reference`` on copies of the arguments (the loss
  tolerances of ``test_losses.py``; dropout's values and mask bitwise: the reference draws the
  same Philox mask), ``out`` is the array returned, and every buffer the call does not write
  is byte-for-byte unchanged;
* refusal: a ``TypeError``/``ValueError``/``IndexError`` and every buffer byte-for-byte
  unchanged. A class target out of range when nothing else is wrong must be an
  ``IndexError``, and any ``IndexError`` must name the first offending position and value.

Drawn besides the common layouts:

* cross_entropy / nll_loss: logits ``(C,)``, ``(N, C)``, ``(N, C, d...)`` (empty N, C or d;
  now and then above the threading threshold; 0-d: refused); class-index targets int32/int64
  (also big-endian, strided, read-only, lists) holding ignored and out-of-range values;
  targets of other dtypes (float of the sample shape, bool, every uint, int8/16, float16,
  bfloat16, complex, longdouble, object) or shapes; probability targets (cross_entropy; the
  logits' shape, other float dtypes, the logits themselves); ``ignore_index`` (the default, a
  class, beyond the classes, not an int); a weight (right or wrong length, dtype, layout);
  reduction, label_smoothing and grad_scale (valid and not), ``grad=False``; ``out`` fresh,
  the logits, partly over them, beside them in their buffer, holding the target or the weight.
* softmax family: the axis (every valid one, negative ones, out of range, not an int).
* dropout: p (0, 1, between, outside, NaN, not a number), the seed (0 to 2**64 - 1, outside,
  not an int), training; dropout_backward: the mask's dtype (bool, uint8, others), shape,
  layout, lists, and ``out`` holding the mask.

The aliasing rule these kernels keep (docs/reliability.md): softmax, log_softmax, their
backwards, dropout and dropout_backward take an ``out`` that is exactly an input (in place)
and refuse one that partially overlaps an input read in place; dropout_backward's ``out`` may
not overlap the mask at all; cross_entropy's and nll_loss's gradient may not share any memory
with the logits, the target or the weight read in place, not even exactly. Inputs the
binding copies (non-contiguous, misaligned, big-endian, lists) may overlap ``out``: the
result is as if there were no overlap. Refusals are ``ValueError``s raised before anything
is written.

Profiles as the other fuzzer: ``FASTOPT_FUZZ_PROFILE=ci`` (default, the same ~4,100 examples
every run), ``long`` (50x, fresh), ``dev``; ``FASTOPT_FUZZ_STATS=1`` prints the outcomes.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, List, Optional, Tuple

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import fastopt  # noqa: E402
from fastopt import functional as F  # noqa: E402
from fastopt import reference as R  # noqa: E402

from _fuzz_helpers import (  # noqa: E402
    attempt,
    BF16, FLOAT_DTYPES, PLAIN, Buffers, Family, Spec, _fill, _native, _ref_input, alias_view, as_input,
    build_elementwise, elementwise_call, elementwise_expect_ok, examples, in_place_input, make, note,
    shares, small_or_big_shape, spec_for, writable_ok,
)
from _loss_helpers import (  # noqa: E402
    EPS, SOFTMAX_TOL, assert_allclose_nan, ce_grad_scale, check_loss_pair, loss_atol,
)


pytestmark = pytest.mark.usefixtures("two_threads")  # conftest: every example on 2 threads


# --------------------------------------------------------------------------------------------
# Arrays holding chosen values; views of one array's memory as another dtype
# --------------------------------------------------------------------------------------------


def put(a: np.ndarray, values) -> None:
    """Write ``values`` (logical, of ``a``'s shape) into ``a``, cast to its dtype (integers
    wrap, as a narrow integer dtype stores them)."""
    v = np.asarray(values)
    with np.errstate(all="ignore"):
        if v.dtype == a.dtype:
            a[...] = v
        elif a.dtype.kind == "b":
            a[...] = v != 0
        elif a.dtype.kind in "iu":
            a[...] = v.astype(np.int64).astype(a.dtype)
        else:
            a[...] = v.astype(np.float64).astype(a.dtype)


def make_with(spec: Spec, bufs: Buffers, rng, values) -> Any:
    """``make(spec)`` holding ``values`` (a list of them for ``as_list``; an object array
    keeps make's floats: it is refused whatever it holds)."""
    if spec.as_list:
        v = np.asarray(values)
        lst = (v != 0).tolist() if spec.dtype.kind == "b" else v.tolist()
        bufs.keep(lst)
        return lst
    a = make(dataclasses.replace(spec, readonly=False), bufs, rng)
    if a.dtype != object:
        put(a, values)
    if spec.readonly:
        a.flags.writeable = False
    return a


def view_into(of: np.ndarray, dtype: np.dtype, shape, byte_shift: int = 0) -> Optional[np.ndarray]:
    """A C-contiguous view of ``dtype`` and ``shape`` starting ``byte_shift`` bytes into the
    memory of ``of`` (a C-contiguous view of a Buffers buffer), or None without room."""
    base = of
    while isinstance(base.base, np.ndarray):
        base = base.base
    start = of.__array_interface__["data"][0] - base.__array_interface__["data"][0] + byte_shift
    need = math.prod(shape) * dtype.itemsize
    flat = base.view(np.uint8).reshape(-1)[start:]
    if len(flat) < need:
        return None
    return flat[:need].view(dtype).reshape(tuple(shape))


def plain_array(a, spec: Optional[Spec]) -> bool:
    """An ndarray laid out from the start of its own buffer: alias_view / view_into work."""
    return isinstance(a, np.ndarray) and a.dtype != object and spec is not None and spec.layout in PLAIN


def rare(draw, good, bad, one_in: int = 16):
    """A value from ``good``, or about one in ``one_in`` times from ``bad``. (Not ``== 0``:
    hypothesis draws the ends of a range several times more often than 1/n, and five rare
    options would refuse most calls.)"""
    if draw(st.integers(0, one_in - 1)) == one_in // 2:
        return draw(st.sampled_from(bad))
    return draw(st.sampled_from(good))


def unchanged_except(bufs: Buffers, before: List[Any], written) -> None:
    """Every buffer not sharing memory with the array the call wrote is as it was."""
    after = bufs.snapshot()
    for item, b, a in zip(bufs.items, before, after):
        if written is not None and isinstance(item, np.ndarray) and shares(item, written):
            continue
        assert a == b, "a buffer the call does not write changed"


def logical_bytes(a):
    return np.array(a, copy=True).tobytes() if isinstance(a, np.ndarray) else repr(a)


def int_like(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def real_in_unit(v) -> bool:
    """p of dropout: a real number in [0, 1] (NaN is not)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and 0.0 <= v <= 1.0


# --------------------------------------------------------------------------------------------
# cross_entropy and nll_loss
# --------------------------------------------------------------------------------------------

INDEX_DTYPES = [np.dtype(np.int64), np.dtype(np.int64), np.dtype(np.int32), np.dtype(">i8"), np.dtype(">i4")]
BAD_TARGET_DTYPES = [np.dtype(t) for t in (np.float32, np.float64, np.float16, np.bool_, np.uint8, np.uint16,
                                           np.uint32, np.uint64, np.int8, np.int16, np.complex64, np.longdouble,
                                           object)] + ([BF16] if BF16 is not None else [])
IGNORE_GOOD = [-100] * 6 + [-1, 0, 1, 3, 7, 2**40]
IGNORE_BAD = [1.5, None, "x", 2**70]
OUT_OF_RANGE = [-1, -7, -2**31, 2**31 - 1, -2**40, 2**40, -100]  # and C, C + 1
CLASS_OUT = ["none"] * 3 + ["fresh"] * 3 + ["same", "partial", "disjoint", "target_in_out", "weight_in_out", "list"]
BIG_CLASS_SHAPES = [(1100, 61), (3, 22001), (2, 9, 3700)]  # over 2 * kGrain logits: the threaded path


def class_dims(shape) -> Tuple[int, Tuple[int, ...]]:
    """(C, the sample shape) of logits of ``shape`` ((C,): one sample of shape ())."""
    if len(shape) == 0:
        return 1, ()
    if len(shape) == 1:
        return shape[0], ()
    return shape[1], (shape[0],) + tuple(shape[2:])


@st.composite
def class_shape(draw):
    """Logits' shapes: (C,) or (N, C, d...); now and then empty (N, C or a d of 0), 0-d, or
    above the threading threshold. (Rare cases are one value in the middle of a range; see
    :func:`rare`.)"""
    r = draw(st.integers(0, 29))
    if r == 15:
        return draw(st.sampled_from(BIG_CLASS_SHAPES))
    if r == 16:
        return ()
    c = 0 if draw(st.integers(0, 9)) == 5 else draw(st.integers(1, 7))
    if draw(st.integers(0, 5)) == 3:
        return (c,)
    n = 0 if draw(st.integers(0, 9)) == 5 else draw(st.integers(1, 5))
    extra = draw(st.lists(st.integers(1, 3), max_size=2))
    if extra and draw(st.integers(0, 9)) == 5:
        extra[-1] = 0
    return (n, c) + tuple(extra)


@dataclasses.dataclass
class ClassCall:
    seed: int
    x: Spec
    kind: str  # index, prob, bad
    target: Spec
    out_of_range: bool
    target_is_x: bool
    weight: Optional[Spec]
    ignore_index: Any
    reduction: Any
    label_smoothing: Any
    grad_scale: Any
    grad: Any
    out_mode: str
    out: Spec
    shift: int


@st.composite
def class_call(draw, nll: bool):
    main = draw(st.sampled_from(FLOAT_DTYPES))
    clean = draw(st.integers(0, 2)) == 0  # a third differ only in their targets, options and aliasing
    x = draw(spec_for(main, draw(class_shape()), input_only=True, clean=clean))
    c, sample = class_dims(x.shape)
    kind = draw(st.sampled_from(["index"] * 7 + ([] if nll else ["prob"] * 3) + ["bad"]))
    if kind == "index":
        target = draw(spec_for(draw(st.sampled_from(INDEX_DTYPES)), sample, input_only=True, clean=clean))
    elif kind == "prob":
        target = draw(spec_for(main, x.shape, input_only=True, clean=clean))
    else:
        target = draw(spec_for(draw(st.sampled_from(BAD_TARGET_DTYPES)), sample, input_only=True))
    weight = None
    if draw(st.booleans()):
        wshape = (c,) if draw(st.integers(0, 3)) else draw(st.sampled_from([(c + 1,), (max(c - 1, 0),), (1, c), (),
                                                                             (c, 1)]))
        weight = draw(spec_for(main, wshape, input_only=True, clean=clean))
    # the options: valid ones (ignore_index mostly the default for probabilities, which
    # allow no other), or now and then one of them invalid (a ValueError, or a TypeError
    # where pybind11 cannot convert it)
    options = {
        "ignore_index": (IGNORE_GOOD if kind != "prob" else [-100] * 7 + [3], IGNORE_BAD),
        "reduction": (["mean", "sum", "none"], ["avg", None]),
        "grad_scale": ([1.0, 0.5, -2.0], [None, "x"]),
        "grad": ([True, True, True, True, False], ["x"]),
    }
    if not nll:
        options["label_smoothing"] = ([0.0, 0.0, 0.1, 1.0], [-0.1, 1.5, math.nan, "x"])
    bad = draw(st.sampled_from(sorted(options))) if draw(st.integers(0, 9)) == 5 else None
    chosen = {k: draw(st.sampled_from(v[1] if k == bad else v[0])) for k, v in sorted(options.items())}
    return ClassCall(
        seed=draw(st.integers(0, 2**32 - 1)), x=x, kind=kind, target=target,
        out_of_range=draw(st.integers(0, 4)) == 2, target_is_x=kind == "prob" and draw(st.integers(0, 4)) == 2,
        weight=weight, label_smoothing=chosen.pop("label_smoothing", None), **chosen,
        out_mode=draw(st.sampled_from(CLASS_OUT)),
        out=draw(spec_for(main, x.shape, input_only=False, clean=clean)),
        shift=draw(st.integers(1, 3)),
    )


def class_values(rng, shape, c: int, ignore, out_of_range: bool) -> np.ndarray:
    """Class indices: 20% ``ignore`` (when it is an int), and with ``out_of_range`` one to
    three values outside [0, c) (which may happen to be the ignore_index)."""
    n = math.prod(shape)
    ign = int(ignore) if int_like(ignore) and -2**63 <= ignore < 2**63 else -100
    v = rng.integers(0, c, n) if c > 0 else np.full(n, ign, np.int64)
    if n:
        v[rng.random(n) < 0.2] = ign
        if out_of_range:
            for pos in rng.integers(0, n, int(rng.integers(1, 4))):
                v[pos] = rng.choice(OUT_OF_RANGE + [c, c + 1])
    return v.reshape(shape)


def prob_values(rng, shape) -> np.ndarray:
    q = rng.random(shape)
    if len(shape) >= 1:
        with np.errstate(all="ignore"):
            q = q / q.sum(axis=0 if len(shape) == 1 else 1, keepdims=True)
    return q


def build_class(call: ClassCall, rng):
    bufs = Buffers()
    x = make(call.x, bufs, rng)
    c, _ = class_dims(call.x.shape)
    if call.kind == "prob":
        target = make_with(call.target, bufs, rng, prob_values(rng, call.target.shape))
        if call.target_is_x and isinstance(x, np.ndarray):
            target = x
    else:
        target = make_with(call.target, bufs, rng,
                           class_values(rng, call.target.shape, c, call.ignore_index, call.out_of_range))
    weight = None
    if call.weight is not None:
        weight = make_with(call.weight, bufs, rng, rng.uniform(0.2, 2.0, call.weight.shape))
    out = None
    mode = call.out_mode
    if mode == "list":
        out = np.zeros(call.out.shape).tolist()
    elif mode == "same" and isinstance(x, np.ndarray):
        out = x
    elif mode in ("partial", "disjoint") and plain_array(x, call.x) and x.size >= 2:
        out = alias_view(x, call.shift if mode == "partial" else x.size)
        if mode == "disjoint":
            _fill(out, rng)
    elif mode != "none":
        out = make(call.out, bufs, rng)
        held = target if mode == "target_in_out" else weight if mode == "weight_in_out" else None
        if plain_array(out, call.out) and isinstance(held, np.ndarray) and held.dtype != object:
            # the target (weight) lies in out's memory: its values, its dtype, a C-contiguous
            # view at out's start, one element on, or one byte on (misaligned: copied first)
            v = view_into(out, held.dtype, held.shape, (0, held.dtype.itemsize, 1)[call.shift - 1])
            if v is not None:
                put(v, np.array(held, copy=True))
                if mode == "target_in_out":
                    target = v
                else:
                    weight = v
    return bufs, x, target, weight, out


def target_in_place(t) -> bool:
    """A target the binding reads where it is (index targets: int32/int64; probabilities as
    any float input)."""
    if not isinstance(t, np.ndarray):
        return False
    if t.dtype.kind == "f":
        return in_place_input(t)
    return (t.dtype.kind == "i" and t.dtype.itemsize in (4, 8) and t.dtype.isnative and t.flags.c_contiguous
            and t.flags.aligned)


def first_out_of_range(t: np.ndarray, c: int, ignore: int) -> Optional[str]:
    """'target[i, j] = v' (as the binding words it) for the first index outside [0, c) that
    is not ``ignore``, or None."""
    with np.errstate(all="ignore"):
        bad = (t != ignore) & ((t < 0) | (t >= c))
    if not bad.any():
        return None
    flat = int(np.flatnonzero(bad)[0])
    pos = np.unravel_index(flat, t.shape) if t.ndim else ()
    where = "[" + ", ".join(str(int(i)) for i in pos) + "]" if t.ndim else ""
    return f"target{where} = {int(t.reshape(-1)[flat])}"


def class_expect(nll: bool, call: ClassCall, x, target, weight, out) -> Tuple[str, Optional[str]]:
    """('ok', None); ('index', words): only the target's values are wrong, an IndexError
    naming them is required; or ('refused <what>', words or None): some clear error (an
    IndexError only if it names ``words``)."""
    ii = call.ignore_index
    if not (int_like(ii) and -2**63 <= ii < 2**63 and isinstance(call.reduction, str)
            and isinstance(call.grad_scale, float) and isinstance(call.grad, bool)
            and (nll or isinstance(call.label_smoothing, float))):
        return "refused scalar type", None  # pybind11 cannot convert it
    xa = as_input(x)
    if xa is None or xa.ndim < 1:
        return "refused logits", None
    c, sample = class_dims(xa.shape)
    t = np.asarray(target)
    prob = t.dtype.kind == "f"
    words = first_out_of_range(t, c, ii) if t.dtype.kind == "i" else None
    if prob:
        ok = (not nll and t.shape == xa.shape and t.dtype.itemsize in (4, 8) and _native(t.dtype) == _native(xa.dtype)
              and ii == -100)
    else:
        ok = t.dtype.kind == "i" and t.dtype.itemsize in (4, 8) and t.shape == sample
    if not ok:
        return "refused target", words
    if weight is not None:
        wa = as_input(weight)
        if wa is None or _native(wa.dtype) != _native(xa.dtype) or wa.shape != (c,):
            return "refused weight", words
    if call.reduction not in ("mean", "sum", "none") or not (nll or 0.0 <= call.label_smoothing <= 1.0):
        return "refused option", words
    if words is not None:
        return "index", words
    if out is not None:
        if not call.grad or not writable_ok(out, _native(xa.dtype), xa.shape):
            return "refused out", None
        if (in_place_input(x) and shares(out, x)) or (target_in_place(target) and shares(out, target)) or (
                in_place_input(weight) and shares(out, weight)):
            return "refused overlap", None
    return "ok", None


def ref_target(t) -> np.ndarray:
    a = np.array(t, copy=True)
    return a.astype(_native(a.dtype)) if a.dtype.kind in "if" else a


def signed_prob_slack(x, q, w, ls, reduction, grad_scale):
    """(loss atol, gradient scale) for probability targets of any sign and size (the logits
    as their own targets): loss_i = -sum_c w_c qs_c (x_c - lse_i) cancels, so a few ULP of
    each term's size; the gradient A_i p_c - w_c qs_c (A_i = sum_c w_c qs_c) likewise."""
    axis = 0 if x.ndim == 1 else 1
    xl = np.moveaxis(x.astype(np.float64), axis, -1)
    c = xl.shape[-1]
    if xl.size == 0:
        return 0.0, 0.0
    wq = (np.ones(c) if w is None else w.astype(np.float64)) * (
        (1.0 - ls) * np.moveaxis(q.astype(np.float64), axis, -1) + ls / c)
    m = np.max(xl, axis=-1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(xl - m), axis=-1, keepdims=True))
    per = 8 * EPS[np.dtype(x.dtype)] * np.sum(np.abs(wq) * (np.abs(xl) + np.abs(lse)), axis=-1)
    atol = per if reduction == "none" else float(np.sum(per)) / (per.size if reduction == "mean" else 1)
    gmax = float(np.max(np.sum(np.abs(wq), axis=-1) + np.max(np.abs(wq), axis=-1)))
    return atol, abs(grad_scale) * gmax / (per.size if reduction == "mean" else 1)


def check_class_loss(nll: bool, call: ClassCall) -> None:
    name = "nll_loss" if nll else "cross_entropy"
    rng = np.random.default_rng(call.seed)
    bufs, x, target, weight, out = build_class(call, rng)
    verdict, words = class_expect(nll, call, x, target, weight, out)
    note(f"{name:>20} {call.kind} out={call.out_mode} {verdict}")
    kw = dict(weight=weight, ignore_index=call.ignore_index, reduction=call.reduction, grad_scale=call.grad_scale,
              grad=call.grad)
    if not nll:
        kw["label_smoothing"] = call.label_smoothing
    if verdict == "ok":
        rx, rt = _ref_input(x), ref_target(target)
        rw = None if weight is None else _ref_input(weight)
        with np.errstate(all="ignore"):
            expected = getattr(R, name)(rx, rt, **{**kw, "weight": rw})
    inputs = [x, target, weight]
    before_inputs = [logical_bytes(a) for a in inputs]
    snap = bufs.snapshot()
    try:
        got = getattr(F, name)(x, target, **kw, out=out)
    except (TypeError, ValueError, IndexError) as e:
        assert verdict != "ok", f"{name}: refused a valid call: {type(e).__name__}: {e}"
        if verdict == "index":
            assert isinstance(e, IndexError), f"{name}: an out-of-range target gave {type(e).__name__}: {e}"
        if isinstance(e, IndexError):
            assert words is not None and words in str(e), f"{name}: IndexError ({e}) does not name {words}"
        assert bufs.snapshot() == snap, f"{name}: raised {type(e).__name__} ({e}) but changed an argument"
        return
    assert verdict == "ok", f"{name}: accepted a call the contract refuses ({verdict}, {words}; {call})"
    dt = np.dtype(rx.dtype)
    prob = rt.dtype.kind == "f"
    gscale = ce_grad_scale(rx, rt, rw, call.reduction, call.grad_scale, prob, call.ignore_index)
    latol = loss_atol(rx, call.reduction, rw, dt)
    if prob and bool(np.any(rt < 0)):  # the logits as their own targets: sums that cancel
        p_atol, p_gscale = signed_prob_slack(rx, rt, rw, call.label_smoothing, call.reduction, call.grad_scale)
        latol, gscale = np.maximum(latol, p_atol), max(gscale, p_gscale)
    what = f"{name} {call.kind} reduction={call.reduction} ls={call.label_smoothing} out={call.out_mode}"
    if call.grad:
        if out is not None:
            assert got[1] is out, f"{name}: did not return out"
        check_loss_pair(got, expected, dt, gscale, what, loss_atol=latol)
    else:
        check_loss_pair((got, None), (expected, None), dt, gscale, what, loss_atol=latol)
    for a, b in zip(inputs, before_inputs):
        if not (out is not None and isinstance(a, np.ndarray) and shares(out, a)):
            assert logical_bytes(a) == b, f"{name}: an input changed"
    unchanged_except(bufs, snap, got[1] if call.grad else None)


@examples(1500)
@given(call=class_call(nll=False))
def test_cross_entropy_contract(call):
    check_class_loss(False, call)


@examples(600)
@given(call=class_call(nll=True))
def test_nll_loss_contract(call):
    check_class_loss(True, call)


# --------------------------------------------------------------------------------------------
# softmax, log_softmax and their backwards: an axis
# --------------------------------------------------------------------------------------------

SOFTMAX = [
    Family("softmax", ("x",)),
    Family("log_softmax", ("x",)),
    Family("softmax_backward", ("grad_out", "y")),
    Family("log_softmax_backward", ("grad_out", "y")),
]
@st.composite
def softmax_call(draw, fam: Family):
    """An elementwise call and an axis: mostly a valid one of the drawn shape (negative ones
    too, a NumPy integer now and then), else out of range or not an int."""
    call = draw(elementwise_call(fam))
    lim = max(len(call[1][-1].shape), 1)  # x's or y's (a 0-d array has the axis 0 / -1)
    good = list(range(-lim, lim)) + [np.int64(-1)]
    bad = [lim, -lim - 1, lim + 3, 2**40, -2**40, 2**70, None, 1.5, "0"]
    return call, rare(draw, good, bad, one_in=6)


def axis_ok(a, axis) -> bool:
    conv = as_input(a)
    if conv is None or not int_like(axis):
        return False
    lim = max(conv.ndim, 1)
    return -lim <= int(axis) < lim


def softmax_tolerance(fam: Family, got, expected, ref_args, axis) -> None:
    dt = np.dtype(got.dtype)
    rtol, atol = SOFTMAX_TOL[dt]
    rtol *= 2  # the contract, not the last ULP: the sanitizer's -O2 build measured 12 ULP (.ci/sanitize)
    eps = EPS[dt]
    a64 = [np.asarray(a, dtype=np.float64).reshape(a.shape if a.ndim else (1,)) for a in ref_args]
    ax = int(axis) % max(got.ndim, 1)
    with np.errstate(all="ignore"):
        if fam.name == "softmax":
            bound = atol
        elif fam.name == "log_softmax":  # a few ULP of the row's log-sum-exp
            bound = atol * (1.0 + float(np.max(np.abs(a64[0]), initial=0.0)))
        elif fam.name == "softmax_backward":  # y (g - s), s = sum(g y): the rounding of g - s
            g, y = a64
            s = np.sum(np.abs(g * y), axis=ax, keepdims=True)
            bound = (16 * eps * np.abs(y) * (np.abs(g) + s)).reshape(got.shape) + atol
        else:  # g - exp(y) sum(g): exp within a few ULP, the rounding of the difference
            g, y = a64
            s = np.sum(np.abs(g), axis=ax, keepdims=True)
            bound = (16 * eps * (np.abs(g) + np.exp(y) * s)).reshape(got.shape) + atol
    assert_allclose_nan(got, expected, rtol, bound, fam.name)


def check_softmax(fam: Family, call, axis) -> None:
    seed, specs, out_mode, out_spec, which, shift = call
    rng = np.random.default_rng(seed)
    bufs, args, out = build_elementwise(fam, rng, specs, out_mode, out_spec, which, shift)
    ok = elementwise_expect_ok(fam, args, out) and axis_ok(args[-1], axis)
    note(f"{fam.name:>20} out={out_mode} {'valid' if ok else 'refused'}")
    if ok:
        ref_args = [_ref_input(a) for a in args]
        with np.errstate(all="ignore"):
            expected = getattr(R, fam.name)(*ref_args, axis=axis)
    before_inputs = [logical_bytes(a) for a in args]
    snap = bufs.snapshot()
    done, got = attempt(fam.name, ok, bufs, lambda: getattr(F, fam.name)(*args, axis=axis, out=out),
                        f"axis={axis!r}, out_mode={out_mode}, specs={specs}", snap)
    if not done:
        return
    if out is not None:
        assert got is out, f"{fam.name}: did not return out"
    assert got.dtype == expected.dtype and got.shape == expected.shape
    softmax_tolerance(fam, got, expected, ref_args, axis)
    for a, b in zip(args, before_inputs):
        if not (out is not None and isinstance(a, np.ndarray) and shares(out, a)):
            assert logical_bytes(a) == b, f"{fam.name}: an input changed"
    unchanged_except(bufs, snap, got)


@pytest.mark.parametrize("fam", SOFTMAX, ids=repr)
def test_softmax_contract(fam):
    @examples(300)
    @given(call=softmax_call(fam))
    def run(call):
        check_softmax(fam, *call)

    run()


# --------------------------------------------------------------------------------------------
# dropout and dropout_backward: p, the seed, the mask
# --------------------------------------------------------------------------------------------

P_GOOD = [0.0, 0.1, 0.5, 0.5, 0.9, 1.0]
P_BAD = [-0.1, 1.5, math.nan, math.inf, "x", None]
SEED_BAD = [-1, 2**64, 2**70, 1.5, None, True, "1"]
DROPOUT = Family("dropout", ("x",))
DROPOUT_BACKWARD = Family("dropout_backward", ("grad_out",))


@st.composite
def dropout_call(draw):
    call = draw(elementwise_call(DROPOUT))
    p = rare(draw, P_GOOD, P_BAD)
    seed = draw(st.integers(0, 2**64 - 1)) if draw(st.integers(0, 15)) else draw(st.sampled_from(SEED_BAD))
    training = draw(st.sampled_from([True, True, True, False]))
    return call, p, seed, training


def seed_ok(seed) -> bool:
    return type(seed) is int and 0 <= seed < 2**64


def bits(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a).tobytes()


@examples(400)
@given(call=dropout_call())
def test_dropout_contract(call):
    (seed_, specs, out_mode, out_spec, which, shift), p, seed, training = call
    rng = np.random.default_rng(seed_)
    bufs, args, out = build_elementwise(DROPOUT, rng, specs, out_mode, out_spec, which, shift)
    x = args[0]
    ok = elementwise_expect_ok(DROPOUT, args, out) and real_in_unit(p) and seed_ok(seed)
    note(f"{'dropout':>20} out={out_mode} {'valid' if ok else 'refused'}")
    if ok:
        rx = _ref_input(x)
        ye, me = R.dropout(rx, p, seed=seed, training=training)
    before = logical_bytes(x)
    snap = bufs.snapshot()
    done, got = attempt("dropout", ok, bufs, lambda: F.dropout(x, p, seed=seed, training=training, out=out),
                        f"p={p!r}, seed={seed!r}, out_mode={out_mode}, {specs}", snap)
    if not done:
        return
    y, mask = got
    if out is not None:
        assert y is out, "dropout: did not return out"
    assert y.dtype == ye.dtype and y.shape == ye.shape and bits(y) == bits(ye), "dropout: values differ"
    assert mask.dtype == np.bool_ and mask.shape == rx.shape and np.array_equal(mask, me), "dropout: mask differs"
    if not (out is not None and shares(out, x)):
        assert logical_bytes(x) == before, "dropout: x changed"
    unchanged_except(bufs, snap, y)


MASK_OUT = ["none", "none", "fresh", "fresh", "same", "view_same", "partial", "disjoint", "mask_in_out", "list"]


@st.composite
def dropout_backward_call(draw):
    main = draw(st.sampled_from(FLOAT_DTYPES))
    shape = draw(small_or_big_shape())
    clean = draw(st.integers(0, 2)) == 0
    g = draw(spec_for(main, shape, input_only=True, clean=clean))
    mask_main = np.dtype(np.uint8) if draw(st.integers(0, 3)) == 0 else np.dtype(np.bool_)
    mask = draw(spec_for(mask_main, shape, input_only=True, clean=clean))
    out_spec = draw(spec_for(main, shape, input_only=False, clean=clean))
    return (draw(st.integers(0, 2**32 - 1)), g, mask, draw(st.sampled_from(MASK_OUT)), out_spec,
            draw(st.integers(1, 3)), rare(draw, P_GOOD, P_BAD), draw(st.booleans()))


def mask_in_place(m) -> bool:
    return (isinstance(m, np.ndarray) and (m.dtype.kind == "b" or (m.dtype.kind == "u" and m.dtype.itemsize == 1))
            and m.flags.c_contiguous and m.flags.aligned)


@examples(400)
@given(call=dropout_backward_call())
def test_dropout_backward_contract(call):
    seed, g_spec, m_spec, out_mode, out_spec, shift, p, wide = call
    rng = np.random.default_rng(seed)
    bufs = Buffers()
    g = make(g_spec, bufs, rng)
    keep = rng.random(m_spec.shape) < 0.6
    # a uint8 mask may hold any non-zero byte for "kept"
    mask = make_with(m_spec, bufs, rng, np.where(keep, rng.integers(1, 256, m_spec.shape) if wide else 1, 0))
    out = None
    if out_mode == "list":
        out = np.zeros(out_spec.shape).tolist()
    elif out_mode in ("same", "view_same") and isinstance(g, np.ndarray):
        out = g if out_mode == "same" else g.view()
    elif out_mode in ("partial", "disjoint") and plain_array(g, g_spec) and g.size >= 2:
        out = alias_view(g, shift if out_mode == "partial" else g.size)
        if out_mode == "disjoint":
            _fill(out, rng)
    elif out_mode != "none":
        out = make(out_spec, bufs, rng)
        if out_mode == "mask_in_out" and plain_array(out, out_spec) and isinstance(mask, np.ndarray) \
                and mask.dtype != object:
            v = view_into(out, mask.dtype, mask.shape, shift - 1)
            if v is not None:
                put(v, np.array(mask, copy=True))
                mask = v
    ok = as_input(g) is not None and real_in_unit(p)
    if ok:
        ga, ma = as_input(g), np.asarray(mask)
        ok = (ma.dtype.kind == "b" or (ma.dtype.kind == "u" and ma.dtype.itemsize == 1)) and ma.shape == ga.shape
        if ok and out is not None:
            ok = elementwise_expect_ok(DROPOUT_BACKWARD, [g], out) and not (mask_in_place(mask) and shares(out, mask))
    note(f"{'dropout_backward':>20} out={out_mode} {'valid' if ok else 'refused'}")
    if ok:
        rg, rm = _ref_input(g), np.array(mask, copy=True)
        expected = R.dropout_backward(rg, rm, p)
    before = [logical_bytes(a) for a in (g, mask)]
    snap = bufs.snapshot()
    done, got = attempt("dropout_backward", ok, bufs, lambda: F.dropout_backward(g, mask, p, out=out),
                        f"p={p!r}, out_mode={out_mode}, {g_spec}, {m_spec}", snap)
    if not done:
        return
    if out is not None:
        assert got is out, "dropout_backward: did not return out"
    assert got.dtype == expected.dtype and got.shape == expected.shape and bits(got) == bits(expected), \
        "dropout_backward: values differ"
    for a, b in zip((g, mask), before):
        if not (out is not None and isinstance(a, np.ndarray) and shares(out, a)):
            assert logical_bytes(a) == b, "dropout_backward: an input changed"
    unchanged_except(bufs, snap, got)
