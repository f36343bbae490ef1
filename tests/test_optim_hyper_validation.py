"""Hyper-parameter validation of the optimizers (fastopt._hyper), in every layer that has it.

One table, ``ROWS``: for each functional step, each bad hyper-parameter value, the exception
and a word the message must contain (torch's word for the argument: "learning rate" for lr,
"epsilon" for eps, "beta" for betas; else the argument's name). Each row also says whose
rule it is:

* ``torch``: torch.optim's rule (the classes raise torch's exact message; torch agrees);
* ``nan``: a NaN that torch's SGD lets through: the functional step refuses it, the class
  (as torch) accepts it at construction and its ``step`` refuses it;
* ``ours``: a check torch lacks (types, betas a pair, a multi-element lr array);
* ``step`` / ``common``: arguments of the call, not of the optimizer (``step``,
  ``max_grad_norm``, ``grad_scale``).

For every row: the functional step raises with ``fastopt.functional.<name>: `` in front and
leaves every array bitwise unchanged; the fastopt.optim class raises the same message without
that prefix (or, for ``nan`` and ``grad_scale``, its step raises the functional message);
and, with torch, torch.optim's class raises the message of ``_hyper``'s check with an empty
prefix.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import fastopt.functional as F
import fastopt.optim as O
from fastopt import _hyper
from fastopt._optim_specs import SPECS

from _optim_table import NAMES, every_state_options, real_hypers, state_lists

NAN = math.nan

# The tables come from the specs (tests/_optim_table.py): step name -> (function, number of
# state lists, valid kwargs that use every state list); the class; torch's check where torch
# has the optimizer; each step's real hyper-parameters besides betas.
STEPS = {k + "_": (getattr(F, k + "_"), len(state_lists(k)), dict(every_state_options(k), lr=0.1)) for k in NAMES}
CLASSES = {k + "_": SPECS[k].cls for k in NAMES}
CHECKS = {k + "_": SPECS[k].check for k in NAMES if SPECS[k].in_torch}
REALS = {k + "_": tuple(real_hypers(k)) for k in NAMES}
WORD = {"lr": "learning rate", "eps": "epsilon"}


def _rows():
    for fn in STEPS:
        for arg in REALS[fn]:
            if arg != "dampening":  # torch bounds every one but SGD's dampening
                yield fn, {arg: -0.1}, ValueError, WORD.get(arg, arg), "torch"
            nan_ok_in_torch = fn == "sgd_"  # SGD's checks are `x < 0.0`, the others `not 0.0 <= x`
            yield fn, {arg: NAN}, ValueError, WORD.get(arg, arg), "nan" if nan_ok_in_torch else "torch"
            yield fn, {arg: "0.1"}, TypeError, arg, "ours"
            yield fn, {arg: None}, TypeError, arg, "ours"
        yield fn, {"lr": np.array([0.1, 0.2])}, ValueError, "lr", "ours"
        if "betas" in SPECS[fn[:-1]].hypers:
            for betas in [(1.5, 0.999), (0.9, 1.0), (-0.1, 0.9), (0.9, -0.1), (NAN, 0.9), (0.9, NAN)]:
                yield fn, {"betas": betas}, ValueError, "beta parameter at index", "torch"
            for betas in [(0.9,), (0.9, 0.99, 0.9), ()]:
                yield fn, {"betas": betas}, ValueError, "betas", "ours"
            for betas in ["ab", 0.9, None, (0.9, "x"), (None, 0.9)]:
                yield fn, {"betas": betas}, TypeError, "betas", "ours"
        if fn == "sgd_":
            yield fn, dict(nesterov=True, momentum=0.0), ValueError, "Nesterov", "torch"
            yield fn, dict(nesterov=True, momentum=0.9, dampening=0.1), ValueError, "Nesterov", "torch"
        if "step" in STEPS[fn][2]:  # checked by the C++ binding
            for step in (0, -1, [1, 0], [1, 1, 1]):
                yield fn, {"step": step}, ValueError, "step", "step"
            for step in (1.5, "1", None):
                yield fn, {"step": step}, TypeError, "step", "step"
        for v in (0.0, -1.0, NAN):
            yield fn, {"max_grad_norm": v}, ValueError, "max_grad_norm", "common"
        yield fn, {"max_grad_norm": "x"}, TypeError, "max_grad_norm", "common"
        for v in (0.0, -1.0, math.inf, NAN):
            yield fn, {"grad_scale": v}, ValueError, "grad_scale", "common"
        yield fn, {"grad_scale": "x"}, TypeError, "grad_scale", "common"


ROWS = list(_rows())
IDS = [f"{fn}-{'-'.join(f'{k}={v!r}' for k, v in kw.items())}" for fn, kw, *_ in ROWS]


def _arrays(fn):
    rng = np.random.default_rng(0)
    nstates = STEPS[fn][1]
    make = lambda: [rng.standard_normal(n).astype(np.float32) for n in (5, 3)]  # noqa: E731
    return make(), make(), [[np.abs(a) for a in make()] for _ in range(nstates)]


def _call(fn, kw):
    """Run the functional step on fresh arrays; return the exception and whether any array changed."""
    step, _, base = STEPS[fn]
    params, grads, states = _arrays(fn)
    everything = params + grads + [a for s in states for a in s]
    before = [a.tobytes() for a in everything]
    with pytest.raises(Exception) as info:
        step(params, grads, *states, **{**base, **kw})
    return info.value, [a.tobytes() for a in everything] != before


@pytest.mark.parametrize("fn,kw,exc,word,kind", ROWS, ids=IDS)
def test_functional_refuses_and_changes_nothing(fn, kw, exc, word, kind):
    err, changed = _call(fn, kw)
    assert type(err) is exc, repr(err)
    msg = str(err)
    assert msg.startswith(f"fastopt.functional.{fn}: "), msg
    assert word in msg, msg
    assert not changed, "a refused call wrote into an array"


@pytest.mark.parametrize("fn,kw,exc,word,kind", [r for r in ROWS if r[4] != "step"],
                         ids=[i for r, i in zip(ROWS, IDS) if r[4] != "step"])
def test_class_refuses_with_the_same_message(fn, kw, exc, word, kind):
    """fastopt.optim raises the functional message without its prefix (torch's, for torch's
    rules). Where the value is only the step's business (a NaN torch's SGD accepts, a
    grad_scale), the class is built and its step raises the functional message, changing
    nothing."""
    fn_err, _ = _call(fn, kw)
    prefix = f"fastopt.functional.{fn}: "
    cls = getattr(O, CLASSES[fn])
    p = np.ones(4, np.float32)
    if kind == "nan" or "grad_scale" in kw:
        opt = cls([p], **{k: v for k, v in kw.items() if k != "grad_scale"})
        with pytest.raises(exc) as info:
            opt.step([np.ones(4, np.float32)], **{k: v for k, v in kw.items() if k == "grad_scale"})
        assert str(info.value) == str(fn_err)
        np.testing.assert_array_equal(p, 1.0)
        assert len(opt.state) == 0 or all(len(s) == 0 or s.get("step", 0) == 0 for s in opt.state.values())
    else:
        with pytest.raises(exc) as info:
            cls([p], **kw)
        assert prefix + str(info.value) == str(fn_err)


TORCH_ROWS = [r for r in ROWS if r[0] in CHECKS and r[4] in ("torch", "nan")]


@pytest.mark.parametrize("fn,kw,exc,word,kind", TORCH_ROWS,
                         ids=[i for r, i in zip(ROWS, IDS) if r[0] in CHECKS and r[4] in ("torch", "nan")])
def test_torch_class_agrees_with_the_check(fn, kw, exc, word, kind):
    """torch.optim raises exactly the check's message (empty prefix), and accepts what it
    accepts (SGD's NaNs): the classes' rules are torch's."""
    torch = pytest.importorskip("torch")
    kw = {"lr": 0.01, **kw}
    try:
        CHECKS[fn]("", **kw)
        ours = None
    except ValueError as e:
        ours = str(e)
    theirs = None
    try:
        getattr(torch.optim, CLASSES[fn])([torch.zeros(2, requires_grad=True)], **kw)
    except ValueError as e:
        theirs = str(e)
    assert ours == theirs
    assert (ours is None) == (kind == "nan")


_FT = [(r, i) for r, i in zip(ROWS, IDS) if r[4] in ("torch", "nan", "ours")]


@pytest.mark.parametrize("fn,kw,exc,word,kind", [r for r, _ in _FT], ids=[i for _, i in _FT])
def test_fastopt_torch_class_raises_like_torch(fn, kw, exc, word, kind):
    """fastopt.torch's constructors run the same checks with no prefix: torch.optim's message
    and exception type wherever torch.optim refuses the value (Lion and LAMB: the check's)."""
    torch = pytest.importorskip("torch")
    ft = pytest.importorskip("fastopt.torch")
    kw = {"lr": 0.01, **kw}
    if isinstance(kw.get("lr"), np.ndarray):
        kw["lr"] = torch.tensor(kw["lr"])

    def outcome(cls):
        try:
            cls([torch.zeros(2, requires_grad=True)], **kw)
        except Exception as e:  # noqa: BLE001 -- the type is compared
            return type(e), str(e)
        return None

    ours = outcome(getattr(ft, CLASSES[fn]))
    if fn in CHECKS:
        theirs = outcome(getattr(torch.optim, CLASSES[fn]))
        if theirs is not None and theirs[0] is ValueError:
            assert ours == theirs
            return
    assert ours is not None or kind == "nan", kw
    if ours is not None:
        assert ours[0] is exc and word in ours[1], ours


@pytest.mark.parametrize("kw,exc,word", [
    (dict(max_norm=-1.0), ValueError, "max_norm"),
    (dict(max_norm=NAN), ValueError, "max_norm"),
    (dict(max_norm="1"), TypeError, "max_norm"),
    (dict(max_norm=None), TypeError, "max_norm"),
    (dict(norm_type=0.0), ValueError, "norm_type"),
    (dict(norm_type=-2.0), ValueError, "norm_type"),
    (dict(norm_type=NAN), ValueError, "norm_type"),
    (dict(norm_type="fro"), TypeError, "norm_type"),
])
def test_clip_grad_norm_refuses_and_changes_nothing(kw, exc, word):
    grads = [np.full(5, 3.0, np.float32), np.full(3, -2.0, np.float32)]
    with pytest.raises(exc) as info:
        F.clip_grad_norm_(grads, **{"max_norm": 1.0, **kw})
    assert str(info.value).startswith("fastopt.functional.clip_grad_norm_: ") and word in str(info.value)
    np.testing.assert_array_equal(grads[0], 3.0)
    np.testing.assert_array_equal(grads[1], -2.0)


def test_clip_grad_norm_edge_values_accepted():
    g = np.full(4, 3.0, np.float32)
    assert F.clip_grad_norm_([g], math.inf) == pytest.approx(6.0)
    np.testing.assert_array_equal(g, 3.0)
    F.clip_grad_norm_([g], 0.0)
    np.testing.assert_array_equal(g, 0.0)


def test_one_element_values_are_numbers():
    """A 1-element array (torch allows a 1-element Tensor lr) or a NumPy scalar is accepted
    and gives the same bits as the plain float."""
    def run(**kw):
        params, grads, states = _arrays("adam_")
        F.adam_(params, grads, *states, step=3, amsgrad=True, **kw)
        return [a.tobytes() for a in params + [x for s in states for x in s]]

    plain = run(lr=0.1, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.01, max_grad_norm=0.5, grad_scale=2.0)
    wrapped = run(lr=np.array([0.1]), betas=(np.float64(0.8), np.array(0.99)), eps=np.array([[1e-6]]),
                  weight_decay=np.float64(0.01), max_grad_norm=np.array([0.5]), grad_scale=np.array([2.0]))
    assert wrapped == plain
    p = np.ones(4, np.float32)
    opt = O.Adam([p], lr=np.array([0.1]), betas=np.array([0.9, 0.999]))
    assert opt.param_groups[0]["betas"] == (0.9, 0.999)
    opt.step([np.ones(4, np.float32)])
    np.testing.assert_allclose(p, 0.9, rtol=1e-6)


def test_prefix_is_the_only_difference():
    """The message with a prefix is ``<where>: <torch's message>``; the empty prefix gives
    torch's message alone (what fastopt.torch and fastopt.optim use)."""
    for where, expect in [("", "Invalid learning rate: -0.1"),
                          ("fastopt.functional.adam_", "fastopt.functional.adam_: Invalid learning rate: -0.1")]:
        with pytest.raises(ValueError) as info:
            _hyper.check_adam(where, lr=-0.1)
        assert str(info.value) == expect
    with pytest.raises(ValueError, match=r"^Invalid beta parameter at index 0: 1.5$"):
        _hyper.check_adam(lr=0.1, betas=(1.5, 0.999))
    with pytest.raises(ValueError, match=r"^betas must be either both floats or both Tensors$"):
        _hyper.check_adam(lr=0.1, betas=(0, 0.999), torch_beta_types=True)
    _hyper.check_adam(lr=0.1, betas=(0, 0.999))  # ints are fine in the NumPy layers
    _hyper.check_sgd(lr=NAN, momentum=NAN, dampening=NAN, weight_decay=NAN)  # torch's SGD accepts NaN
    with pytest.raises(ValueError, match=r"^f: Invalid dampening value: nan$"):
        _hyper.check_sgd("f", lr=0.1, dampening=NAN, reject_nan=True)


def test_torch_tensor_values():
    """1-element Tensors, as torch allows for lr and betas; a longer one is torch's message."""
    torch = pytest.importorskip("torch")
    _hyper.check_adam(lr=torch.tensor(0.1), betas=(torch.tensor(0.9), torch.tensor(0.999)),
                      torch_beta_types=True)
    for check in (_hyper.check_adam, _hyper.check_sgd):
        with pytest.raises(ValueError) as ours:
            check(lr=torch.tensor([0.1, 0.2]))
        with pytest.raises(ValueError) as theirs:
            getattr(torch.optim, "Adam" if check is _hyper.check_adam else "SGD")(
                [torch.zeros(2, requires_grad=True)], lr=torch.tensor([0.1, 0.2]))
        assert str(ours.value) == str(theirs.value) == "Tensor lr must be 1-element"
    with pytest.raises(ValueError) as ours:
        _hyper.check_adam(lr=torch.tensor([-0.1]))
    with pytest.raises(ValueError) as theirs:
        torch.optim.Adam([torch.zeros(2, requires_grad=True)], lr=torch.tensor([-0.1]))
    assert str(ours.value) == str(theirs.value)
