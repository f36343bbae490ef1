"""The memory contract, fuzzed (hypothesis).

For every public kernel, arguments are drawn with random dtype (every float and int type,
bool, object, float16, bfloat16, big-endian floats, Python lists), shape (0-d, empty, 1-3
dims, and now and then one above the threading threshold), layout (C, Fortran, transposed,
negative, zero and sliced strides, misaligned offset views into a byte buffer), read-only
flags, and aliasing between arguments (``out`` equal to, a view of, partially overlapping,
or sharing a buffer with an input; a param twice in one list; a grad aliasing its param; a
state buffer overlapping another array). Every array lives in a byte buffer the test owns.

For each call an oracle that encodes the documented contract says whether it must succeed:

* success: the result equals ``fastopt.reference`` on copies of the arguments (so an ``out``
  that is exactly an input behaves as in place, as if no overlap), ``out`` is the array
  returned, and every buffer not written by the call is byte-for-byte unchanged;
* refusal: a ``TypeError``/``ValueError``/``IndexError``, and every buffer, written or not,
  is byte-for-byte unchanged (compared with a snapshot taken before the call).

Partial overlap of ``out`` (or of any array a step writes) with an input that the kernel
reads in place is refused (``ValueError``); NumPy's "as if no overlap" rule holds only for
exact in-place use and for inputs the binding copies anyway (non-contiguous, misaligned,
big-endian, lists).

Adding a kernel family is one table row: a :class:`Family` with the public name, the kinds of
its arguments and the call. The machinery (buffers, strategies, the oracle's predicates,
profiles) is in ``_fuzz_helpers.py``, shared with ``test_fuzz_loss_contract.py`` (softmax,
cross_entropy, nll_loss, dropout).

Profiles: ``FASTOPT_FUZZ_PROFILE=ci`` (default: about 4,750 examples over the module, the same
ones every run) or ``long`` (50x more, fresh random examples, for a run on demand); ``dev``
for a quick look. ``FASTOPT_FUZZ_STATS=1`` prints how often each aliasing mode was valid or
refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Tuple

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import fastopt  # noqa: E402
from fastopt import functional as F  # noqa: E402
from fastopt import reference as R  # noqa: E402

from _fuzz_helpers import (  # noqa: E402
    BF16, FLOAT_DTYPES, PLAIN, Buffers, Family, _fill, _native, _ref_input, alias_view, as_input, attempt,
    build_elementwise,
    elementwise_call, elementwise_expect_ok, examples, exact_alias, in_place_input, make, note, shares,
    small_or_big_shape, spec_for, writable_ok,
)
from conftest import assert_close  # noqa: E402
from _optim_table import NAMES, NONNEGATIVE_STATES, state_lists, call_options  # noqa: E402

# --------------------------------------------------------------------------------------------
# Families: one row per kernel family
# --------------------------------------------------------------------------------------------


ELEMENTWISE = [
    Family("sigmoid", ("x",)),
    Family("tanh", ("x",)),
    Family("relu", ("x",)),
    Family("leaky_relu", ("x",), kwargs={"negative_slope": 0.2}),
    Family("softplus", ("x",), kwargs={"beta": 2.0, "threshold": 5.0}),
    Family("elu", ("x",), kwargs={"alpha": 1.5}),
    Family("gelu", ("x",)),
    Family("gelu", ("x",), kwargs={"approximate": "tanh"}, kernel="gelu_tanh"),
    Family("silu", ("x",)),
    Family("sigmoid_backward", ("grad_out", "y")),
    Family("tanh_backward", ("grad_out", "y")),
    Family("relu_backward", ("grad_out", "x")),
    Family("leaky_relu_backward", ("grad_out", "x"), kwargs={"negative_slope": 0.2}),
    Family("softplus_backward", ("grad_out", "x"), kwargs={"beta": 2.0, "threshold": 5.0}),
    Family("elu_backward", ("grad_out", "x"), kwargs={"alpha": 1.5}),
    Family("gelu_backward", ("grad_out", "x")),
    Family("gelu_backward", ("grad_out", "x"), kwargs={"approximate": "tanh"}, kernel="gelu_tanh_backward"),
    Family("silu_backward", ("grad_out", "x")),
]
# Pointwise losses: (pred, target) -> (loss, grad); ``out`` receives the gradient and, unlike
# an activation's, may not share memory with an input at all (not even exactly): the loss
# reads both inputs in its reduction pass and writes the gradient in a second one.
POINTWISE_LOSSES = [
    Family("mse_loss", ("pred", "target")),
    Family("l1_loss", ("pred", "target")),
    Family("smooth_l1_loss", ("pred", "target"), kwargs={"beta": 0.5}),
    Family("huber_loss", ("pred", "target"), kwargs={"delta": 2.0}),
    Family("binary_cross_entropy_with_logits", ("logits", "target")),
    Family("binary_cross_entropy_with_logits", ("logits", "target", "weight", "pos_weight"),
           keywords=("weight", "pos_weight"), kernel="bce_with_logits(weight, pos_weight)"),
]


def check_elementwise(fam: Family, call) -> None:
    seed, specs, out_mode, out_spec, which, shift = call
    rng = np.random.default_rng(seed)
    bufs, args, out = build_elementwise(fam, rng, specs, out_mode, out_spec, which, shift)
    ok = elementwise_expect_ok(fam, args, out)
    note(f"{fam!r:>20} out={out_mode} {'valid' if ok else 'refused'}")
    if ok:
        ref_args = [_ref_input(a) for a in args]
        with np.errstate(all="ignore"):
            expected = getattr(R, fam.name)(*ref_args, **fam.kwargs)
    before_inputs = [_ref_input(a) for a in args]
    before_lists = [repr(a) if isinstance(a, list) else None for a in args]
    fn = getattr(F, fam.name)
    done, got = attempt(repr(fam), ok, bufs,
                        lambda: fn(*args, **fam.kwargs, out=out) if fam.out else fn(*args, **fam.kwargs),
                        f"out_mode={out_mode}, specs={specs}, out={out_spec}")
    if not done:
        return
    if out is not None:
        assert got is out, f"{fam!r}: did not return out"
    dtype = np.dtype(got.dtype).type
    g = args[0] if "grad_out" in fam.inputs else None
    assert_close(got, expected, fam.kernel or fam.name, dtype,
                 grad_out=None if g is None else before_inputs[0], x=before_inputs[-1], kw=fam.kwargs,
                 err_msg=f"(out_mode={out_mode})")
    # inputs not aliased by out are unchanged
    for a, b, lst in zip(args, before_inputs, before_lists):
        if lst is not None:
            assert repr(a) == lst
        elif not (out is not None and shares(out, a)):
            np.testing.assert_array_equal(_ref_input(a), b)


pytestmark = pytest.mark.usefixtures("two_threads")  # conftest: every example on 2 threads


def loss_expect_ok(fam: Family, args, out) -> bool:
    """elementwise_expect_ok for the positional inputs; a keyword input (a weight) needs the
    logits' dtype and a shape that broadcasts to theirs (NumPy rules)."""
    k = len(fam.inputs) - len(fam.keywords)
    if not elementwise_expect_ok(fam, args[:k], out):
        return False
    main = as_input(args[0])
    for a in args[k:]:
        c = as_input(a)
        if c is None or _native(c.dtype) != _native(main.dtype):
            return False
        try:
            if np.broadcast_shapes(c.shape, main.shape) != main.shape:
                return False
        except ValueError:
            return False
    return True


def check_pointwise_loss(fam: Family, call) -> None:
    seed, specs, out_mode, out_spec, which, shift = call
    rng = np.random.default_rng(seed)
    bufs, args, out = build_elementwise(fam, rng, specs, out_mode, out_spec, which, shift)
    ok = loss_expect_ok(fam, args, out) and not (
        out is not None and any(in_place_input(a) and shares(out, a) for a in args))
    note(f"{fam!r:>20} out={out_mode} {'valid' if ok else 'refused'}")
    if ok:
        ref_pos, ref_kw = fam.split([_ref_input(a) for a in args])
        with np.errstate(all="ignore"):
            expected = getattr(R, fam.name)(*ref_pos, **ref_kw)
    before_inputs = [_ref_input(a) for a in args]
    pos, kw = fam.split(args)
    with np.errstate(all="ignore"):
        done, got = attempt(repr(fam), ok, bufs, lambda: getattr(F, fam.name)(*pos, **kw, out=out),
                            f"out_mode={out_mode}, specs={specs}")
    if not done:
        return
    loss, grad = got
    if out is not None:
        assert grad is out, f"{fam!r}: did not return out"
    rtol = 1e-5 if grad.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(np.asarray(loss), np.asarray(expected[0]), rtol=rtol, atol=rtol, equal_nan=True)
    scale = float(np.nanmax(np.abs(expected[1]))) if expected[1].size and np.isfinite(expected[1]).any() else 1.0
    np.testing.assert_allclose(grad, expected[1], rtol=rtol, atol=rtol * max(scale, 1e-30), equal_nan=True,
                               err_msg=f"(out_mode={out_mode})")
    for a, b in zip(args, before_inputs):  # the inputs are unchanged
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(_ref_input(a), b)


@pytest.mark.parametrize("fam", POINTWISE_LOSSES, ids=repr)
def test_pointwise_loss_contract(fam):
    @examples(100)
    @given(call=elementwise_call(fam))
    def run(call):
        check_pointwise_loss(fam, call)

    run()


@pytest.mark.parametrize("fam", ELEMENTWISE, ids=repr)
def test_elementwise_contract(fam):
    @examples(100)
    @given(call=elementwise_call(fam))
    def run(call):
        check_elementwise(fam, call)

    run()


# --------------------------------------------------------------------------------------------
# PReLU: a weight of one element or one per channel
# --------------------------------------------------------------------------------------------


@st.composite
def prelu_call(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    main = draw(st.sampled_from(FLOAT_DTYPES))
    shape = draw(small_or_big_shape())
    x_spec = draw(spec_for(main, shape, input_only=True))
    g_spec = draw(spec_for(main, shape, input_only=True))
    channels = shape[1] if len(shape) >= 2 else 1
    wshape = draw(st.sampled_from([(1,), (), (channels,), (channels + 1,), (1, channels)]))
    w_spec = draw(spec_for(main, wshape, input_only=True))
    out_mode = draw(st.sampled_from(["none", "fresh", "same", "g_same", "w_in_out"]))
    out_spec = draw(spec_for(main, shape, input_only=False))
    fn_name = draw(st.sampled_from(["prelu", "prelu_backward"]))
    return seed, x_spec, g_spec, w_spec, out_mode, out_spec, fn_name


def _prelu_ok(x, w, g=None) -> bool:
    conv = [as_input(a) for a in ([x, w] if g is None else [g, x, w])]
    if any(c is None for c in conv) or len({_native(c.dtype) for c in conv}) != 1:
        return False
    xa, wa = conv[-2], conv[-1]
    if g is not None and conv[0].shape != xa.shape:
        return False
    channels = xa.shape[1] if xa.ndim >= 2 else 1
    return wa.ndim <= 1 and wa.size in (1, channels)


@examples(300)
@given(call=prelu_call())
def test_prelu_contract(call):
    """One call of prelu or prelu_backward (out receives y or grad_x; grad_weight is new)."""
    seed, x_spec, g_spec, w_spec, out_mode, out_spec, fn_name = call
    rng = np.random.default_rng(seed)
    bufs = Buffers()
    x, g, w = make(x_spec, bufs, rng), make(g_spec, bufs, rng), make(w_spec, bufs, rng)
    fwd = fn_name == "prelu"
    out = None
    if out_mode == "fresh":
        out = make(out_spec, bufs, rng)
    elif out_mode == "same" and isinstance(x, np.ndarray):
        out = x
    elif out_mode == "g_same" and isinstance(g, np.ndarray) and not fwd:
        out = g
    elif out_mode == "w_in_out":  # the weight lies inside out's memory: refused
        out = make(out_spec, bufs, rng)
        if (isinstance(w, np.ndarray) and w.dtype == out.dtype and out.dtype != object
                and out_spec.layout in PLAIN and 0 < w.size <= out.size and w.ndim <= 1):
            w = alias_view(out, 0, w.shape)
    ok = _prelu_ok(x, w) if fwd else _prelu_ok(x, w, g)
    if ok and out is not None:
        xa = as_input(x)
        ok = writable_ok(out, _native(xa.dtype), xa.shape) and not any(
            in_place_input(a) and shares(out, a) and not exact_alias(out, a) for a in ([x] if fwd else [x, g])
        ) and not (isinstance(w, np.ndarray) and shares(out, w))
    if ok:
        with np.errstate(all="ignore"):
            expected = R.prelu(_ref_input(x), _ref_input(w)) if fwd else R.prelu_backward(
                _ref_input(g), _ref_input(x), _ref_input(w))
    snap = bufs.snapshot()
    try:
        got = F.prelu(x, w, out=out) if fwd else F.prelu_backward(g, x, w, out=out)
    except (TypeError, ValueError, IndexError) as e:
        assert not ok, f"{fn_name}: refused a valid call: {e}"
        assert bufs.snapshot() == snap, f"{fn_name}: raised but changed an argument"
        return
    assert ok, f"{fn_name}: accepted a call the contract refuses {x_spec} {w_spec} {out_mode}"
    gx, gx_expected = (got, expected) if fwd else (got[0], expected[0])
    if out is not None:
        assert gx is out
    np.testing.assert_array_equal(gx, gx_expected)
    if not fwd:
        np.testing.assert_allclose(got[1], expected[1], rtol=1e-5 if got[1].dtype == np.float32 else 1e-12,
                                   atol=1e-5 * max(1.0, float(np.abs(expected[0]).sum())))


# --------------------------------------------------------------------------------------------
# Optimizer steps and clip_grad_norm_: lists, every array written in place except grads
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepFamily:
    """name: the public step (fastopt.functional and fastopt.reference); states: the state
    lists in positional order after grads; kwargs: fixed hyper-parameters."""

    name: str
    states: Tuple[str, ...]
    kwargs: Dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return self.name

    def call(self, module, params, grads, states, **extra):
        return getattr(module, self.name)(params, grads, *states, **self.kwargs, **extra)


# One row per optimizer, from its spec (tests/_optim_table.py): every state list in use; Adam's
# row with clipping too.
STEPS = [StepFamily(k + "_", tuple(state_lists(k)), dict(call_options(k), **({"max_grad_norm": 1.0} if k == "adam" else {})))
         for k in NAMES]
STEP_BY_NAME = {f.name: f for f in STEPS}
POSITIVE_STATES = NONNEGATIVE_STATES

STEP_ALIAS = ["none", "none", "none", "param_twice", "grad_is_param", "state_is_param", "state_is_grad",
              "partial", "grads_share", "disjoint", "not_array", "bare", "found_inf", "found_inf_in_param"]


@st.composite
def step_call(draw, n_states: int):
    seed = draw(st.integers(0, 2**32 - 1))
    main = draw(st.sampled_from(FLOAT_DTYPES))
    count = draw(st.integers(1, 3))
    shapes_ = [draw(small_or_big_shape()) for _ in range(count)]
    grad_main = main
    if main == np.float32 and draw(st.integers(0, 4)) == 0:  # float32 params take half/bf16 grads
        grad_main = draw(st.sampled_from([np.dtype(np.float16), np.dtype(np.uint16)] + ([BF16] if BF16 else [])))
    rows = []
    clean = draw(st.integers(0, 2)) == 0  # a third of the calls differ only by their aliasing
    for shp in shapes_:
        p = draw(spec_for(main, shp, input_only=False, p_bad=12, clean=clean))
        g = draw(spec_for(grad_main, shp, input_only=False, p_bad=12, clean=clean))
        s = [draw(spec_for(main, shp, input_only=False, p_bad=12, clean=clean)) for _ in range(n_states)]
        rows.append((p, g, s))
    alias = draw(st.sampled_from(STEP_ALIAS))
    i = draw(st.integers(0, count - 1))
    k = draw(st.integers(0, max(0, n_states - 1)))
    shift = draw(st.integers(1, 3))
    return seed, rows, alias, i, k, shift


def build_step(rows, alias, i, k, shift, rng, n_states, positive=()):
    """The arrays; state ``j`` holds ``1 + |v|`` where ``positive[j]`` (second moments: keeps
    RMSprop's centered ``sq - ga**2`` well conditioned) and ``v / 16`` otherwise."""
    bufs = Buffers()
    params, grads = [], []
    states: List[List[Any]] = [[] for _ in range(n_states)]
    for p, g, s in rows:
        params.append(make(p, bufs, rng))
        grads.append(make(g, bufs, rng))
        for j, sp in enumerate(s):
            a = make(sp, bufs, rng)
            if isinstance(a, np.ndarray) and a.dtype.kind == "f" and a.flags.writeable:
                if j < len(positive) and positive[j]:
                    a[...] = np.abs(a) + 1
                else:
                    a[...] = a / 16
            states[j].append(a)
    plain = [p.layout in PLAIN and p.dtype != object for p, _, _ in rows]
    arrays = lambda x: isinstance(x, np.ndarray) and x.dtype != object  # noqa: E731
    if alias == "param_twice" and len(params) >= 2:
        params[(i + 1) % len(params)] = params[i]
    elif alias == "grad_is_param":
        grads[i] = params[i]
    elif alias == "state_is_param" and n_states:
        states[k][i] = params[i]
    elif alias == "state_is_grad" and n_states:
        states[k][i] = grads[i]
    elif alias == "partial" and plain[i] and params[i].size >= 2:
        v = alias_view(params[i], shift)
        if n_states:
            states[k][i] = v
        else:
            grads[i] = v
    elif alias == "grads_share" and len(grads) >= 2 and arrays(grads[i]) and grads[i].flags.c_contiguous:
        grads[(i + 1) % len(grads)] = grads[i].view()
    elif alias == "disjoint" and plain[i] and params[i].size >= 1:
        v = alias_view(params[i], params[i].size)  # same buffer, right after: no sharing
        if v.dtype == (states[k][i].dtype if n_states and arrays(states[k][i]) else grads[i].dtype):
            _fill(v, rng)
            if v.dtype.kind == "f":  # the same value ranges as build_step's own (bool/int views stay as filled)
                if not n_states or (k < len(positive) and positive[k]):
                    np.abs(v, out=v)
                    v += 1
                else:
                    v /= 16
            if n_states:
                states[k][i] = v
            else:
                grads[i] = v
    elif alias == "not_array":
        grads[i] = np.asarray(grads[i]).tolist() if arrays(grads[i]) else grads[i]
    return bufs, params, grads, states


def _is_bf16(dt) -> bool:
    return dt == np.uint16 or (BF16 is not None and dt == BF16)


def step_expect_ok(params, grads, states) -> bool:
    every = params + grads + [a for s in states for a in s]
    if not all(isinstance(a, np.ndarray) for a in every):
        return False
    pdt = params[0].dtype
    if pdt not in FLOAT_DTYPES or not pdt.isnative:
        return False
    storage = lambda dt: "bf16" if _is_bf16(dt) else dt  # noqa: E731  uint16 views and ml_dtypes' bfloat16 mix
    gdt = storage(grads[0].dtype)
    for idx, (p, g) in enumerate(zip(params, grads)):
        if p.dtype != pdt or storage(g.dtype) != gdt or not g.dtype.isnative:
            return False
        if pdt == np.float64 and g.dtype != np.float64:
            return False
        if pdt == np.float32 and not (g.dtype in (np.float32, np.float16) or _is_bf16(g.dtype)):
            return False
        if g.shape != p.shape or not (g.flags.c_contiguous and g.flags.aligned):
            return False
        if not writable_ok(p, pdt, p.shape):
            return False
        for s in states:
            if not writable_ok(s[idx], pdt, p.shape):
                return False
    for x in range(len(every)):
        for y in range(x + 1, len(every)):
            if shares(every[x], every[y]):
                return False
    return True


def _copies(lst):
    return [np.array(a, copy=True) for a in lst]


def _close(got: np.ndarray, exp: np.ndarray, what: str) -> None:
    if got.dtype == np.float64:
        rtol, atol = 1e-12, 1e-12
    else:
        rtol, atol = 2e-5, 2e-6
    scale = max(1.0, float(np.max(np.abs(exp[np.isfinite(exp)])))) if exp.size and np.isfinite(exp).any() else 1.0
    np.testing.assert_allclose(got, exp, rtol=rtol, atol=atol * scale, err_msg=what)


@pytest.mark.parametrize("fam", STEPS, ids=repr)
def test_step_contract(fam):
    n_states = len(fam.states)

    @examples(250)
    @given(call=step_call(n_states))
    def run(call):
        seed, rows, alias, i, k, shift = call
        rng = np.random.default_rng(seed)
        bufs, params, grads, states = build_step(rows, alias, i, k, shift, rng, n_states,
                                                 [name in POSITIVE_STATES for name in fam.states])
        single = alias == "bare" and len(params) == 1
        pa, ga, sa = (params[0], grads[0], [s[0] for s in states]) if single else (params, grads, states)
        found_inf = None  # written by the step: must be a separate float32 array of one element
        if alias == "found_inf":
            found_inf = np.zeros(1, np.float32)
        elif (alias == "found_inf_in_param" and rows[i][0].layout in PLAIN and isinstance(params[i], np.ndarray)
              and params[i].dtype == np.float32 and params[i].size >= 1):
            found_inf = alias_view(params[i], 0, (1,))
        ok = step_expect_ok(params, grads, states)
        if found_inf is not None:
            every = params + grads + [a for s in states for a in s]
            ok = ok and not any(shares(found_inf, a) for a in every)
        note(f"{fam!r:>20} alias={alias} {'valid' if ok else 'refused'}")
        extra = {} if found_inf is None else {"found_inf": found_inf}
        if ok:
            rp, rg, rs = _copies(params), _copies(grads), [_copies(s) for s in states]
            ref_extra = {k: v.copy() for k, v in extra.items()}
            with np.errstate(all="ignore"):
                fam.call(R, rp, rg, rs, **ref_extra)
        snap = bufs.snapshot() + [found_inf.tobytes() if found_inf is not None else None]
        grads_before = [np.array(g, copy=True) for g in grads]
        try:
            with np.errstate(all="ignore"):
                fam.call(F, pa, ga, sa, **extra)
        except (TypeError, ValueError, IndexError) as e:
            assert not ok, f"{fam!r}: refused a valid call ({alias}): {type(e).__name__}: {e}"
            after = bufs.snapshot() + [found_inf.tobytes() if found_inf is not None else None]
            assert after == snap, f"{fam!r}: raised {type(e).__name__} ({e}) but changed an argument"
            return
        assert ok, f"{fam!r}: accepted a call the contract refuses (alias={alias}, rows={rows})"
        if found_inf is not None:
            assert found_inf.tobytes() == ref_extra["found_inf"].tobytes(), (found_inf, ref_extra["found_inf"])
        for t in range(len(params)):
            _close(params[t], rp[t], f"params[{t}]")
            for j, name in enumerate(fam.states):
                _close(states[j][t], rs[j][t], f"{name}[{t}]")
            assert grads[t].tobytes() == grads_before[t].tobytes(), f"grads[{t}] changed"

    run()


@examples(400)
@given(call=step_call(0), max_norm=st.sampled_from([0.5, 1e3]), norm_type=st.sampled_from([2.0, 1.0, math.inf]))
def test_clip_grad_norm_contract(call, max_norm, norm_type):
    seed, rows, alias, i, k, shift = call
    rng = np.random.default_rng(seed)
    # clip_grad_norm_ writes the grads: draw them as written arrays (the param specs)
    bufs, grads, _, _ = build_step(rows, "none", i, k, shift, rng, 0)
    count = len(grads)
    j = (i + 1) % count
    is_arr = isinstance(grads[i], np.ndarray) and grads[i].dtype != object
    plain = rows[i][0].layout in PLAIN and rows[i][0].dtype != object
    if alias == "not_array" and is_arr:
        grads[i] = grads[i].tolist()
    elif alias == "param_twice" and count >= 2:
        grads[j] = grads[i]
    elif alias == "grads_share" and count >= 2 and is_arr:
        grads[j] = grads[i].view()
    elif alias in ("partial", "disjoint") and count >= 2 and plain and grads[i].size >= 2:
        grads[j] = alias_view(grads[i], shift if alias == "partial" else grads[i].size)
        if alias == "disjoint":
            _fill(grads[j], rng)
    elif alias == "bare" and count == 1:
        grads = grads[0]
    glist = grads if isinstance(grads, list) else [grads]
    ok = all(isinstance(g, np.ndarray) for g in glist)
    if ok:
        dt = glist[0].dtype
        ok = dt in FLOAT_DTYPES and all(writable_ok(g, dt, g.shape) for g in glist) and not any(
            shares(glist[x], glist[y]) for x in range(len(glist)) for y in range(x + 1, len(glist)))
    if ok:
        ref = _copies(glist)
        with np.errstate(all="ignore"):
            expected_norm = R.clip_grad_norm_(ref, max_norm, norm_type)
    snap = bufs.snapshot()
    try:
        with np.errstate(all="ignore"):
            norm = F.clip_grad_norm_(grads, max_norm, norm_type)
    except (TypeError, ValueError, IndexError) as e:
        assert not ok, f"refused a valid call: {type(e).__name__}: {e}"
        assert bufs.snapshot() == snap, f"raised {type(e).__name__} ({e}) but changed an argument"
        return
    assert ok, f"accepted a call the contract refuses (alias={alias}, rows={rows})"
    assert math.isclose(norm, expected_norm, rel_tol=1e-5, abs_tol=1e-6) or (
        math.isnan(norm) and math.isnan(expected_norm)), (norm, expected_norm)
    for t, (g, e) in enumerate(zip(glist, ref)):
        _close(g, e, f"grads[{t}]")


# --------------------------------------------------------------------------------------------
# Regressions the fuzzer found
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("order", [">", "<"])
def test_zero_d_non_native_input_keeps_its_shape(order):
    """A 0-d big-endian input came back with shape (1,) (np.ascontiguousarray makes 0-d
    arrays 1-d), so a forward returned the wrong shape and a backward refused a valid call."""
    x = np.array(0.5, order + "f8")
    assert F.sigmoid(x).shape == ()
    assert F.relu_backward(np.array(1.0), x).shape == ()
    np.testing.assert_array_equal(F.relu_backward(np.array(2.0), x), np.array(2.0))


BAD_SCALARS = [
    ("step='x'", lambda a: F.adam_(*a, step="x")),
    ("step=1.5", lambda a: F.adam_(*a, step=1.5)),
    ("step=None", lambda a: F.adam_(*a, step=None)),
    ("step=2**70", lambda a: F.adam_(*a, step=2**70)),
    ("step=[None]", lambda a: F.adam_(*a, step=[None])),
    ("lr='x'", lambda a: F.adam_(*a, step=1, lr="x")),
    ("lr=None", lambda a: F.adam_(*a, step=1, lr=None)),
    ("betas='ab'", lambda a: F.adam_(*a, step=1, betas="ab")),
    ("eps=[1e-8]", lambda a: F.adam_(*a, step=1, eps=[1e-8])),
    ("amsgrad='x'", lambda a: F.adam_(*a, [np.zeros(4, np.float32)], step=1, amsgrad="x")),
    ("max_grad_norm='x'", lambda a: F.adam_(*a, step=1, max_grad_norm="x")),
    ("first_step='x'", lambda a: F.sgd_(a[0], a[1], a[2], lr=0.1, momentum=0.9, first_step="x")),
    ("weight_decay=None", lambda a: F.lion_(a[0], a[1], a[2], weight_decay=None)),
]


@pytest.mark.parametrize("name,call", BAD_SCALARS, ids=[b[0] for b in BAD_SCALARS])
def test_bad_scalar_arguments_are_type_errors(name, call):
    """A hyper-parameter pybind11 cannot convert was a RuntimeError ("Unable to cast Python
    instance..."), outside the contract's TypeError/ValueError; now a TypeError naming the
    argument, raised before anything is written."""
    a = [[np.ones(4, np.float32)], [np.ones(4, np.float32)], [np.zeros(4, np.float32)], [np.zeros(4, np.float32)]]
    before = [x[0].tobytes() for x in a]
    with pytest.raises((TypeError, ValueError)):
        call(a)
    assert [x[0].tobytes() for x in a] == before


def test_found_inf_may_not_alias_a_step_array():
    """found_inf is written (set to 1 on a non-finite grad) but was not in the disjointness
    check: a found_inf viewing params[0][:1] had 1.0 written into the param."""
    p = [np.full(4, 2.0, np.float32)]
    g = [np.array([np.inf, 1, 1, 1], np.float32)]
    m = [np.zeros(4, np.float32)]
    for found_inf, target in ((p[0][:1], p), (g[0][1:2], g), (m[0][3:], m)):
        before = [a[0].tobytes() for a in (p, g, m)]
        with pytest.raises(ValueError, match="found_inf"):
            F.sgd_(p, g, m, lr=0.1, momentum=0.9, found_inf=found_inf)
        assert [a[0].tobytes() for a in (p, g, m)] == before


# --------------------------------------------------------------------------------------------
# Mixed precision: bfloat16/float16 params with float32 master copies
# --------------------------------------------------------------------------------------------

LOWP = [np.dtype(np.float16), np.dtype(np.uint16)] + ([BF16] if BF16 is not None else [])
MIXED_STEPS = [STEP_BY_NAME[n] for n in ("sgd_", "adam_", "lion_")]  # adam_: amsgrad, clipping
MIXED_ALIAS = ["none", "none", "master_over_param", "master_twice", "state_is_master", "grad_in_master",
               "param_twice", "bare"]


def _as_f32(a: np.ndarray) -> np.ndarray:
    if _is_bf16(a.dtype):
        return (np.ascontiguousarray(a).view(np.uint16).astype(np.uint32) << 16).view(np.float32)
    return np.asarray(a, dtype=np.float32)


@st.composite
def mixed_call(draw, n_states: int):
    seed = draw(st.integers(0, 2**32 - 1))
    low = draw(st.sampled_from(LOWP))
    count = draw(st.integers(1, 3))
    clean = draw(st.integers(0, 1)) == 0
    grad_main = draw(st.sampled_from([np.dtype(np.float32), low]))
    rows = []
    for _ in range(count):
        shp = draw(small_or_big_shape())
        p = draw(spec_for(low, shp, input_only=False, p_bad=12, clean=clean))
        m = draw(spec_for(np.dtype(np.float32), shp, input_only=False, p_bad=12, clean=clean))
        g = draw(spec_for(grad_main, shp, input_only=False, p_bad=12, clean=clean))
        s = [draw(spec_for(np.dtype(np.float32), shp, input_only=False, p_bad=12, clean=clean))
             for _ in range(n_states)]
        rows.append((p, m, g, s))
    return seed, rows, draw(st.sampled_from(MIXED_ALIAS)), draw(st.integers(0, count - 1))


@pytest.mark.parametrize("fam", MIXED_STEPS, ids=repr)
def test_mixed_precision_step_contract(fam):
    n_states = len(fam.states)
    positive = [name in POSITIVE_STATES for name in fam.states]

    @examples(150)
    @given(call=mixed_call(n_states))
    def run(call):
        seed, rows, alias, i = call
        rng = np.random.default_rng(seed)
        bufs = Buffers()
        params, masters, grads = [], [], []
        states: List[List[Any]] = [[] for _ in range(n_states)]
        for p, m, g, s in rows:
            params.append(make(p, bufs, rng))
            master = make(m, bufs, rng)
            if isinstance(params[-1], np.ndarray) and isinstance(master, np.ndarray) and master.dtype == np.float32 \
                    and master.shape == params[-1].shape and master.flags.writeable and params[-1].dtype in LOWP:
                master[...] = _as_f32(params[-1])  # a master copy holds the param's value
            masters.append(master)
            grads.append(make(g, bufs, rng))
            for j, sp in enumerate(s):
                a = make(sp, bufs, rng)
                if isinstance(a, np.ndarray) and a.dtype.kind == "f" and a.flags.writeable:
                    a[...] = np.abs(a) + 1 if positive[j] else a / 16
                states[j].append(a)
        plain = rows[i][1].layout in PLAIN and isinstance(masters[i], np.ndarray) and masters[i].dtype == np.float32
        if alias == "master_over_param" and plain and masters[i].size >= 1:
            masters[i] = alias_view(masters[i], 0)  # a fresh view object; the param becomes its uint16 view
            if masters[i].ndim and isinstance(params[i], np.ndarray) and params[i].ndim:
                params[i] = masters[i].view(np.uint16)[..., : params[i].shape[-1]]
        elif alias == "master_twice" and len(masters) >= 2:
            masters[(i + 1) % len(masters)] = masters[i]
        elif alias == "state_is_master" and n_states:
            states[0][i] = masters[i]
        elif alias == "grad_in_master" and plain and masters[i].size >= 1:
            grads[i] = masters[i]
        elif alias == "param_twice" and len(params) >= 2:
            params[(i + 1) % len(params)] = params[i]

        every = params + masters + grads + [a for s in states for a in s]
        ok = all(isinstance(a, np.ndarray) for a in every)
        if ok:
            cls = lambda dt: "bf16" if _is_bf16(dt) else dt  # noqa: E731
            p_cls, g_cls = cls(params[0].dtype), cls(grads[0].dtype)
            ok = p_cls in ("bf16", np.dtype(np.float16)) and g_cls in ("bf16", np.dtype(np.float16), np.dtype(np.float32))
            for t in range(len(params)):
                p = params[t]
                ok = ok and cls(p.dtype) == p_cls and cls(grads[t].dtype) == g_cls and p.dtype.isnative
                ok = ok and writable_ok(p, p.dtype, p.shape) and writable_ok(masters[t], np.dtype(np.float32), p.shape)
                ok = ok and grads[t].shape == p.shape and grads[t].flags.c_contiguous and grads[t].flags.aligned
                ok = ok and all(writable_ok(s[t], np.dtype(np.float32), p.shape) for s in states)
            ok = ok and not any(shares(every[x], every[y]) for x in range(len(every)) for y in range(x + 1, len(every)))
        note(f"{fam!r:>20} mixed alias={alias} {'valid' if ok else 'refused'}")
        if ok:
            rp, rm, rg, rs = _copies(params), _copies(masters), _copies(grads), [_copies(s) for s in states]
            with np.errstate(all="ignore"):
                fam.call(R, rp, rg, rs, master_params=rm)
        snap = bufs.snapshot()
        single = alias == "bare" and len(params) == 1
        args = (params[0], grads[0], [s[0] for s in states], masters[0]) if single else (params, grads, states, masters)
        try:
            with np.errstate(all="ignore"):
                fam.call(F, args[0], args[1], args[2], master_params=args[3])
        except (TypeError, ValueError, IndexError) as e:
            assert not ok, f"{fam!r}: refused a valid mixed call ({alias}): {type(e).__name__}: {e}"
            assert bufs.snapshot() == snap, f"{fam!r}: raised {type(e).__name__} ({e}) but changed an argument"
            return
        assert ok, f"{fam!r}: accepted a mixed call the contract refuses (alias={alias}, rows={rows})"
        for t in range(len(params)):
            _close(masters[t], rm[t], f"master_params[{t}]")
            for j, name in enumerate(fam.states):
                _close(states[j][t], rs[j][t], f"{name}[{t}]")
            # the low-precision params are the masters rounded: equal bits unless a master
            # differs from the reference's by rounding and sits on a rounding boundary
            got, exp = _as_f32(params[t]), _as_f32(rp[t])
            np.testing.assert_allclose(got, exp, rtol=2.0**-7, atol=1e-6, err_msg=f"params[{t}]")

    run()
