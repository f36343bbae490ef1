"""fastopt.optim's classes: trajectories against torch.optim, param groups, state_dict round
trips (in memory and through np.savez), validation messages, None grads, low precision, bad
input."""

from __future__ import annotations

import numpy as np
import pytest

import fastopt.optim as O
from fastopt import reference as R
from fastopt.reference import _optim as RO

SHAPES = [(6, 5), (4,), (2, 3, 2)]
# fastopt.functional against torch over 50 steps: a few float32 roundings per step (see
# TOL in test_optim_reference.py, where the reference measures ~5e-7 of lr * steps).
TOL = {np.float32: (1e-5, 1e-5), np.float64: (1e-13, 1e-13)}
STEPS = 50


def _torch():
    return pytest.importorskip("torch")


def _params(rng, dtype, shapes=SHAPES):
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def _grads(rng, params, none_every=0, k=0):
    out = []
    for i, p in enumerate(params):
        if none_every and (k + i) % none_every == 0:
            out.append(None)
        else:
            out.append(rng.standard_normal(p.shape).astype(p.dtype))
    return out


def assert_close(a, e, dtype, scale):
    rtol, atol = TOL[dtype]
    np.testing.assert_allclose(a.astype(np.float64), e.astype(np.float64), rtol=rtol, atol=atol * scale)


CLASSES = [
    ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=0.01), dict(lr=0.05, momentum=0.5, dampening=0.3, nesterov=False)),
    ("SGD", dict(lr=0.01), dict(lr=0.02, maximize=True)),
    ("Adagrad", dict(lr=0.05, lr_decay=0.01, initial_accumulator_value=0.1), dict(lr=0.02, weight_decay=0.05)),
    ("RMSprop", dict(lr=1e-3, centered=True, momentum=0.8), dict(lr=2e-3, alpha=0.9, weight_decay=0.01)),
    ("Adam", dict(lr=1e-3, amsgrad=True), dict(lr=3e-3, betas=(0.8, 0.99), weight_decay=0.1, maximize=True)),
    ("AdamW", dict(lr=1e-3), dict(lr=3e-3, betas=(0.3, 0.9), amsgrad=True)),
]


@pytest.mark.parametrize("cls_name,hp,group2", CLASSES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CLASSES)])
def test_trajectory_against_torch(cls_name, hp, group2, dtype, rng):
    """Two param groups, some None grads, a group added mid-training: same as torch.optim."""
    torch = _torch()
    p1, p2, p3 = _params(rng, dtype), _params(rng, dtype), _params(rng, dtype, [(7,)])
    ours = [a.copy() for a in p1], [a.copy() for a in p2], [a.copy() for a in p3]
    theirs = [[torch.tensor(a.copy(), requires_grad=True) for a in grp] for grp in (p1, p2, p3)]
    opt = getattr(O, cls_name)([{"params": ours[0]}, {"params": ours[1], **group2}], **hp)
    topt = getattr(torch.optim, cls_name)([{"params": theirs[0]}, {"params": theirs[1], **group2}], foreach=False, **hp)
    for k in range(STEPS):
        if k == STEPS // 2:
            opt.add_param_group({"params": ours[2], "lr": 0.004})
            topt.add_param_group({"params": theirs[2], "lr": 0.004})
        flat = [p for g in opt.param_groups for p in g["params"]]
        grads = _grads(rng, flat, none_every=4, k=k)
        tflat = [p for g in topt.param_groups for p in g["params"]]
        for t, g in zip(tflat, grads):
            t.grad = None if g is None else torch.tensor(g.copy())
        opt.step(grads)
        topt.step()
    for a, t in zip([p for g in ours for p in g], [p for g in theirs for p in g]):
        assert_close(a, t.detach().numpy(), dtype, scale=0.05 * STEPS)
    # state keys as torch's
    for a, t in zip([p for g in ours for p in g], [p for g in theirs for p in g]):
        tkeys = {k for k, v in topt.state[t].items() if v is not None}
        okeys = {k for k, v in opt.state[a].items() if v is not None}
        assert okeys == tkeys
        for key in tkeys - {"step"}:
            assert_close(opt.state[a][key], topt.state[t][key].numpy(), dtype, scale=float(np.abs(topt.state[t][key].numpy()).max()))
        if "step" in tkeys:
            assert opt.state[a]["step"] == int(topt.state[t]["step"])


def test_none_grads_are_skipped(rng):
    ps = _params(rng, np.float32)
    before = [p.copy() for p in ps]
    opt = O.Adam(ps, lr=0.1)
    opt.step([None, rng.standard_normal((4,)).astype(np.float32), None])
    np.testing.assert_array_equal(ps[0], before[0])
    np.testing.assert_array_equal(ps[2], before[2])
    assert not np.array_equal(ps[1], before[1])
    assert len(opt.state[ps[0]]) == 0 and opt.state[ps[1]]["step"] == 1
    assert list(opt.state_dict()["state"]) == [1]
    opt.step([None, None, None])  # nothing at all: no call, nothing changes
    assert opt.state[ps[1]]["step"] == 1


@pytest.mark.parametrize("cls_name,hp", [
    ("Lion", dict(lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)),
    ("LAMB", dict(lr=1e-3, weight_decay=0.01)),
    ("LAMB", dict(lr=1e-3, bias_correction=False, maximize=True)),
])
def test_lion_lamb_follow_the_reference(cls_name, hp, rng):
    """The classes drive fastopt.functional with the right state and step numbers: the
    trajectory equals the reference driven by hand."""
    ps = _params(rng, np.float32)
    ref = [p.copy() for p in ps]
    start = [p.copy() for p in ps]
    opt = getattr(O, cls_name)(ps, **hp)
    m = [np.zeros_like(p) for p in ps]
    v = [np.zeros_like(p) for p in ps]
    for k in range(1, 21):
        grads = _grads(rng, ps)
        opt.step(grads)
        if cls_name == "Lion":
            R.lion_(ref, grads, m, **hp)
        else:
            R.lamb_(ref, grads, m, v, step=k, **hp)
    for a, e in zip(ps, ref):
        np.testing.assert_allclose(a, e, rtol=1e-6, atol=1e-7)
    assert all(not np.array_equal(a, b) for a, b in zip(ps, start))


# --------------------------------------------------------------------------------------------
# state_dict
# --------------------------------------------------------------------------------------------

ROUND_TRIP = [
    ("SGD", dict(lr=0.01, momentum=0.9)),
    ("Adagrad", dict(lr=0.05)),
    ("RMSprop", dict(lr=1e-3, centered=True, momentum=0.5)),
    ("Adam", dict(lr=1e-3, amsgrad=True)),
    ("AdamW", dict(lr=1e-3, betas=(0.8, 0.95))),
    ("Lion", dict(lr=1e-3)),
    ("LAMB", dict(lr=1e-3, weight_decay=0.01)),
]


@pytest.mark.parametrize("via_file", [False, True], ids=["memory", "npz"])
@pytest.mark.parametrize("cls_name,hp", ROUND_TRIP, ids=[c[0] for c in ROUND_TRIP])
def test_state_dict_round_trip_mid_training(cls_name, hp, via_file, rng, tmp_path):
    cls = getattr(O, cls_name)
    ps = _params(rng, np.float32)
    opt = cls([{"params": ps[:2]}, {"params": ps[2:], "lr": hp["lr"] * 2}], **hp)
    seq = [_grads(rng, ps, none_every=5, k=k) for k in range(30)]
    for g in seq[:15]:
        opt.step(g)
    sd = opt.state_dict()
    assert sorted(sd["state"]) == [0, 1, 2]
    assert sd["param_groups"][1]["params"] == [2]
    if via_file:
        O.save_state_dict(tmp_path / "opt.npz", sd)
        sd = O.load_state_dict_file(tmp_path / "opt.npz")
    # a fresh optimizer over copies of the params, with other hyper-parameters at first
    qs = [p.copy() for p in ps]
    opt2 = cls([{"params": qs[:2]}, {"params": qs[2:]}], **dict(hp, lr=0.5))
    opt2.load_state_dict(sd)
    assert opt2.param_groups[1]["lr"] == hp["lr"] * 2
    for g in seq[15:]:
        opt.step(g)
        opt2.step(g)
    for a, b in zip(ps, qs):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(ps, qs):
        assert opt.state[a].keys() == opt2.state[b].keys()
        for k in opt.state[a]:
            np.testing.assert_array_equal(opt.state[a][k], opt2.state[b][k])
    # the snapshot did not move with training
    if not via_file:
        for st in sd["state"].values():
            if "step" in st:
                assert st["step"] <= 15


def test_state_dict_layout_like_torch(rng):
    torch = _torch()
    ps = _params(rng, np.float32)
    tps = [torch.tensor(p.copy(), requires_grad=True) for p in ps]
    opt = O.Adam(ps, lr=1e-3, amsgrad=True)
    topt = torch.optim.Adam(tps, lr=1e-3, amsgrad=True)
    g = _grads(rng, ps)
    opt.step(g)
    for t, gg in zip(tps, g):
        t.grad = torch.tensor(gg)
    topt.step()
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sd["state"].keys() == tsd["state"].keys()
    assert sd["state"][0].keys() == tsd["state"][0].keys()
    assert sd["param_groups"][0]["params"] == tsd["param_groups"][0]["params"]
    for k in ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"):
        assert sd["param_groups"][0][k] == tsd["param_groups"][0][k]


def test_load_state_dict_mismatch_changes_nothing(rng):
    ps = _params(rng, np.float32)
    opt = O.Adam(ps, lr=1e-3)
    opt.step(_grads(rng, ps))
    sd = opt.state_dict()
    other = O.Adam(_params(rng, np.float32, [(6, 5), (4,)]), lr=0.1)
    with pytest.raises(ValueError, match="doesn't match the size"):
        other.load_state_dict(sd)
    assert other.param_groups[0]["lr"] == 0.1 and len(other.state) == 0
    bad = opt.state_dict()
    bad["state"][1]["exp_avg"] = np.zeros(5, np.float32)
    other = O.Adam(_params(rng, np.float32), lr=0.1)
    with pytest.raises(ValueError, match="shape"):
        other.load_state_dict(bad)
    assert other.param_groups[0]["lr"] == 0.1 and len(other.state) == 0
    two = O.Adam([{"params": ps[:1]}, {"params": ps[1:]}])
    with pytest.raises(ValueError, match="number of parameter groups"):
        two.load_state_dict(sd)


# --------------------------------------------------------------------------------------------
# validation: torch's messages
# --------------------------------------------------------------------------------------------

INVALID = [
    ("SGD", dict(lr=-0.1)),
    ("SGD", dict(lr=0.1, momentum=-0.5)),
    ("SGD", dict(lr=0.1, weight_decay=-1.0)),
    ("SGD", dict(lr=0.1, nesterov=True)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)),
    ("Adagrad", dict(lr=-1.0)),
    ("Adagrad", dict(lr_decay=-0.1)),
    ("Adagrad", dict(initial_accumulator_value=-0.1)),
    ("Adagrad", dict(eps=-1e-3)),
    ("RMSprop", dict(alpha=-0.5)),
    ("RMSprop", dict(eps=-1.0)),
    ("RMSprop", dict(momentum=-0.1)),
    ("Adam", dict(lr=-0.1)),
    ("Adam", dict(betas=(1.0, 0.999))),
    ("Adam", dict(betas=(0.9, -0.1))),
    ("Adam", dict(eps=-1e-8)),
    ("AdamW", dict(weight_decay=-0.01)),
    ("AdamW", dict(betas=(0.9, 1.5))),
]


@pytest.mark.parametrize("cls_name,kw", INVALID, ids=[f"{c}-{list(k)[-1]}" for c, k in INVALID])
def test_validation_messages_match_torch(cls_name, kw):
    torch = _torch()
    with pytest.raises(ValueError) as theirs:
        getattr(torch.optim, cls_name)([torch.zeros(2, requires_grad=True)], **kw)
    with pytest.raises(ValueError) as ours:
        getattr(O, cls_name)([np.zeros(2, np.float32)], **kw)
    assert str(ours.value) == str(theirs.value)


def test_validation_messages_without_torch():
    with pytest.raises(ValueError, match=r"^Invalid learning rate: -0.1$"):
        O.Adam([np.zeros(2)], lr=-0.1)
    with pytest.raises(ValueError, match=r"^Invalid beta parameter at index 0: 1.0$"):
        O.Lion([np.zeros(2)], betas=(1.0, 0.99))
    with pytest.raises(ValueError, match=r"^Invalid beta parameter at index 1: 1.0$"):
        O.LAMB([np.zeros(2)], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="max_grad_norm"):
        O.SGD([np.zeros(2)], lr=0.1, max_grad_norm=-1.0)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        O.SGD([np.zeros(2)], lr=0.1).add_param_group({"params": [np.zeros(3)], "lr": -1.0})
    with pytest.raises(ValueError, match="empty parameter list"):
        O.SGD([], lr=0.1)
    p = np.zeros(2)
    with pytest.raises(ValueError, match="more than one parameter group"):
        O.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)


# --------------------------------------------------------------------------------------------
# bad input, clipping, AMP, low precision
# --------------------------------------------------------------------------------------------


def test_params_must_be_updatable_in_place():
    ro = np.zeros(4, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        O.SGD([ro], lr=0.1)
    with pytest.raises(ValueError, match="contiguous"):
        O.SGD([np.zeros(8, np.float32)[::2]], lr=0.1)
    with pytest.raises(TypeError, match="int64"):
        O.SGD([np.zeros(4, np.int64)], lr=0.1)
    with pytest.raises(TypeError, match="numpy arrays"):
        O.SGD([[1.0, 2.0]], lr=0.1)


@pytest.mark.parametrize("cls_name,hp", ROUND_TRIP, ids=[c[0] for c in ROUND_TRIP])
def test_bad_grads_change_nothing(cls_name, hp, rng):
    ps = _params(rng, np.float32)
    opt = getattr(O, cls_name)(ps, **hp)
    opt.step(_grads(rng, ps))
    before = [p.copy() for p in ps]
    sd = opt.state_dict()
    g = _grads(rng, ps)
    with pytest.raises(ValueError, match="shape"):
        opt.step([g[0], np.zeros(5, np.float32), g[2]])
    with pytest.raises(ValueError, match="3 params"):
        opt.step(g[:2])
    with pytest.raises(TypeError, match="grads"):
        opt.step([g[0], g[1], g[2].astype(np.float64)])  # rejected by the fused step itself
    for a, b in zip(ps, before):
        np.testing.assert_array_equal(a, b)
    sd2 = opt.state_dict()
    for i in sd["state"]:
        for k, v in sd["state"][i].items():
            np.testing.assert_array_equal(sd2["state"][i][k], v)


def test_max_grad_norm_against_torch_clip(dtype, rng):
    torch = _torch()
    ps = _params(rng, dtype)
    tps = [torch.tensor(p.copy(), requires_grad=True) for p in ps]
    opt = O.Adam(ps, lr=1e-2, max_grad_norm=0.5)
    topt = torch.optim.Adam(tps, lr=1e-2, foreach=False)
    for _ in range(STEPS):
        g = _grads(rng, ps)
        res = opt.step(g)
        for t, gg in zip(tps, g):
            t.grad = torch.tensor(gg)
        norm = float(torch.nn.utils.clip_grad_norm_(tps, 0.5))
        topt.step()
        assert res[0].grad_norm == pytest.approx(norm, rel=1e-5)
    for a, t in zip(ps, tps):
        assert_close(a, t.detach().numpy(), dtype, scale=1e-2 * STEPS)


def test_found_inf_skips_and_keeps_step_count(rng):
    ps = _params(rng, np.float32)
    opt = O.Adam(ps, lr=1e-2)
    opt.step(_grads(rng, ps))
    before = [p.copy() for p in ps]
    g = _grads(rng, ps)
    g[1][0] = np.inf
    found = np.zeros(1, np.float32)
    res = opt.step(g, found_inf=found)
    assert found[0] == 1.0 and res[0].skipped
    assert all(opt.state[p]["step"] == 1 for p in ps)
    for a, b in zip(ps, before):
        np.testing.assert_array_equal(a, b)
    found[0] = 0.0
    opt.step([x * 8 for x in _grads(rng, ps)], grad_scale=8.0, found_inf=found)
    assert found[0] == 0.0 and all(opt.state[p]["step"] == 2 for p in ps)


LOW_KINDS = ["bf16-uint16", "bf16-ml_dtypes", "float16"]


def _low(kind, x32):
    if kind == "float16":
        return x32.astype(np.float16)
    bits = RO.bf16_round(x32)
    if kind == "bf16-ml_dtypes":
        ml_dtypes = pytest.importorskip("ml_dtypes")
        return bits.view(ml_dtypes.bfloat16)
    return bits


def _as_f32(kind, p):
    return p.astype(np.float32) if kind == "float16" else RO.bf16_to_float32(p)


@pytest.mark.parametrize("kind", LOW_KINDS)
@pytest.mark.parametrize("cls_name,hp", ROUND_TRIP, ids=[c[0] for c in ROUND_TRIP])
def test_low_precision_params_keep_a_master(cls_name, hp, kind, rng, tmp_path):
    start = [_as_f32(kind, _low(kind, p)) for p in _params(rng, np.float32)]
    lows = [_low(kind, p) for p in start]
    f32 = [p.copy() for p in start]
    opt = getattr(O, cls_name)(lows, **hp)
    ref = getattr(O, cls_name)(f32, **hp)
    for _ in range(10):
        g = _grads(rng, f32)
        opt.step(g)
        ref.step(g)
    for p, q in zip(lows, f32):
        master = opt.state[p]["master_param"]
        assert master.dtype == np.float32
        np.testing.assert_array_equal(master, q)  # the float32 trajectory exactly
        np.testing.assert_array_equal(_as_f32(kind, p), _as_f32(kind, _low(kind, q)))  # rounded
        for k, v in opt.state[p].items():
            if isinstance(v, np.ndarray):
                assert v.dtype == np.float32, k
    # the master survives a round trip through a file
    O.save_state_dict(tmp_path / "low.npz", opt.state_dict())
    lows2 = [p.copy() for p in lows]
    opt2 = getattr(O, cls_name)(lows2, **hp)
    opt2.load_state_dict(O.load_state_dict_file(tmp_path / "low.npz"))
    g = _grads(rng, f32)
    opt.step(g)
    opt2.step(g)
    for a, b in zip(lows, lows2):
        np.testing.assert_array_equal(a.view(np.uint16) if a.dtype != np.float16 else a,
                                      b.view(np.uint16) if b.dtype != np.float16 else b)


def test_mixed_dtype_group_is_split_by_dtype(rng):
    a = rng.standard_normal(5)
    b = rng.standard_normal(5).astype(np.float32)
    opt = O.SGD([a, b], lr=0.1, momentum=0.9)
    ga, gb = rng.standard_normal(5), rng.standard_normal(5).astype(np.float32)
    res = opt.step([ga, gb])
    assert len(res) == 2
    assert opt.state[a]["momentum_buffer"].dtype == np.float64
    assert opt.state[b]["momentum_buffer"].dtype == np.float32


@pytest.mark.parametrize("cls_name,hp", [("Adam", dict(lr=1e-2, amsgrad=True)), ("SGD", dict(lr=0.05, momentum=0.9)),
                                         ("RMSprop", dict(lr=1e-2, centered=True))])
def test_loads_a_torch_state_dict(cls_name, hp, rng):
    """Training started in torch.optim continues in fastopt.optim where it left off."""
    torch = _torch()
    ps = _params(rng, np.float64)
    tps = [torch.tensor(p.copy(), requires_grad=True) for p in ps]
    topt = getattr(torch.optim, cls_name)(tps, foreach=False, **hp)
    seq = [_grads(rng, ps) for _ in range(20)]
    for g in seq[:10]:
        for t, gg in zip(tps, g):
            t.grad = torch.tensor(gg)
        topt.step()
    ours = [t.detach().numpy().copy() for t in tps]
    opt = getattr(O, cls_name)(ours, lr=0.5)
    opt.load_state_dict(topt.state_dict())
    assert opt.param_groups[0]["lr"] == hp["lr"]
    for g in seq[10:]:
        for t, gg in zip(tps, g):
            t.grad = torch.tensor(gg)
        topt.step()
        opt.step(g)
    for a, t in zip(ours, tps):
        assert_close(a, t.detach().numpy(), np.float64, scale=1.0)


@pytest.mark.parametrize("cls_name", ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "LBFGS"])
def test_constructor_signature_is_torchs(cls_name):
    """torch's arguments, in torch's order with torch's defaults, plus max_grad_norm."""
    torch = _torch()
    import inspect

    ours = inspect.signature(getattr(O, cls_name)).parameters
    theirs = inspect.signature(getattr(torch.optim, cls_name)).parameters
    names = [n for n in ours if n != "max_grad_norm"]
    assert names == list(theirs)
    for n in names:
        assert ours[n].default == theirs[n].default, n
        assert ours[n].kind == theirs[n].kind, n
