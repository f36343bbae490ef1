"""fastopt.optim.lr_scheduler against torch.optim.lr_scheduler, epoch by epoch."""

from __future__ import annotations

import math

import numpy as np
import pytest

import fastopt.optim as O
from fastopt.optim import lr_scheduler as S

EPOCHS = 150


def _torch():
    return pytest.importorskip("torch")


def _pair(opt_name="SGD", lrs=(0.1, 0.03), **kw):
    """Our optimizer and torch's, two groups with different lrs."""
    torch = _torch()
    ours = getattr(O, opt_name)([{"params": [np.zeros(2, np.float32)], "lr": lrs[0]},
                                 {"params": [np.zeros(3, np.float32)], "lr": lrs[1]}], **kw)
    theirs = getattr(torch.optim, opt_name)([{"params": [torch.zeros(2, requires_grad=True)], "lr": lrs[0]},
                                             {"params": [torch.zeros(3, requires_grad=True)], "lr": lrs[1]}], **kw)
    return ours, theirs


def _lrs(opt):
    return [g["lr"] for g in opt.param_groups]


def assert_lrs(a, b, epoch):
    for x, y in zip(a, b):
        assert x == pytest.approx(y, rel=1e-12, abs=1e-300), f"epoch {epoch}: {a} != {b}"


SCHEDULES = [
    ("StepLR", dict(step_size=7, gamma=0.5)),
    ("StepLR", dict(step_size=1, gamma=0.97)),
    ("MultiStepLR", dict(milestones=[5, 20, 20, 60], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.95)),
    ("CosineAnnealingLR", dict(T_max=40)),
    ("CosineAnnealingLR", dict(T_max=17, eta_min=0.001)),
    ("LinearLR", dict()),
    ("LinearLR", dict(start_factor=0.1, end_factor=0.7, total_iters=30)),
    ("LinearLR", dict(start_factor=1.0, end_factor=0.0, total_iters=50)),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=EPOCHS + 1)),
    ("OneCycleLR", dict(max_lr=[0.5, 2.0], epochs=8, steps_per_epoch=19, pct_start=0.25, anneal_strategy="linear")),
    ("OneCycleLR", dict(max_lr=0.3, total_steps=EPOCHS + 1, three_phase=True, div_factor=10.0, final_div_factor=100.0)),
]


@pytest.mark.parametrize("opt_name,opt_kw", [("SGD", dict(momentum=0.9)), ("Adam", dict())])
@pytest.mark.parametrize("name,kw", SCHEDULES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SCHEDULES)])
def test_schedule_equals_torch(name, kw, opt_name, opt_kw):
    torch = _torch()
    ours, theirs = _pair(opt_name, **opt_kw)
    s = getattr(S, name)(ours, **kw)
    t = getattr(torch.optim.lr_scheduler, name)(theirs, **kw)
    assert_lrs(_lrs(ours), _lrs(theirs), 0)
    assert_lrs(s.get_last_lr(), t.get_last_lr(), 0)
    assert s.base_lrs == t.base_lrs
    n = EPOCHS if name != "OneCycleLR" else s.total_steps - 1
    values = []
    for epoch in range(1, n + 1):
        theirs.step()
        s.step()
        t.step()
        assert_lrs(_lrs(ours), _lrs(theirs), epoch)
        assert_lrs(s.get_last_lr(), t.get_last_lr(), epoch)
        values.append(_lrs(ours)[0])
        if name == "OneCycleLR":  # momentum / beta1 cycled too
            key = "momentum" if opt_name == "SGD" else "betas"
            for g, h in zip(ours.param_groups, theirs.param_groups):
                assert g[key] == pytest.approx(h[key], rel=1e-12)
    assert len(set(values)) > 1  # the schedule did something


def test_cosine_formula_and_restart_region():
    """Independent of torch: the closed form within the first half period, and the rise after."""
    opt = O.SGD([np.zeros(1)], lr=1.0)
    s = S.CosineAnnealingLR(opt, T_max=10, eta_min=0.1)
    for e in range(1, 11):
        s.step()
        assert s.get_last_lr()[0] == pytest.approx(0.1 + 0.9 * (1 + math.cos(math.pi * e / 10)) / 2, rel=1e-12)
    s.step()
    assert s.get_last_lr()[0] > 0.1


def test_chained_schedulers_equal_torch():
    torch = _torch()
    ours, theirs = _pair("SGD")
    a = [S.LinearLR(ours, start_factor=0.2, total_iters=10), S.ExponentialLR(ours, gamma=0.9),
         S.MultiStepLR(ours, milestones=[30, 31], gamma=0.5)]
    b = [torch.optim.lr_scheduler.LinearLR(theirs, start_factor=0.2, total_iters=10),
         torch.optim.lr_scheduler.ExponentialLR(theirs, gamma=0.9),
         torch.optim.lr_scheduler.MultiStepLR(theirs, milestones=[30, 31], gamma=0.5)]
    assert_lrs(_lrs(ours), _lrs(theirs), 0)
    for epoch in range(1, 60):
        theirs.step()
        for x in a:
            x.step()
        for y in b:
            y.step()
        assert_lrs(_lrs(ours), _lrs(theirs), epoch)


@pytest.mark.parametrize("kw", [
    dict(),
    dict(mode="max", factor=0.5, patience=2, threshold=0.01, cooldown=3),
    dict(mode="min", factor=0.3, patience=0, threshold=0.05, threshold_mode="abs", min_lr=[0.01, 0.001]),
    dict(mode="max", threshold_mode="abs", patience=1, min_lr=0.02, eps=1e-3),
])
def test_reduce_on_plateau_equals_torch(kw, rng):
    torch = _torch()
    ours, theirs = _pair("Adam")
    s = S.ReduceLROnPlateau(ours, **kw)
    t = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs, **kw)
    metric = 10.0
    changes = 0
    for epoch in range(1, EPOCHS + 1):
        metric += float(rng.choice([-1.0, 0.0, 0.002, 0.5])) * (1 if kw.get("mode") != "max" else -1)
        before = _lrs(ours)
        theirs.step()
        s.step(metric)
        t.step(metric)
        assert _lrs(ours) == _lrs(theirs), epoch
        assert s.get_last_lr() == t.get_last_lr()
        assert (s.best, s.num_bad_epochs, s.cooldown_counter) == (t.best, t.num_bad_epochs, t.cooldown_counter)
        changes += before != _lrs(ours)
    assert changes > 0


@pytest.mark.parametrize("name,kw", [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[4, 9, 9], gamma=0.5)),
    ("CosineAnnealingLR", dict(T_max=13)),
    ("LinearLR", dict(start_factor=0.25, total_iters=12)),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=40)),
])
@pytest.mark.parametrize("via_file", [False, True], ids=["memory", "npz"])
def test_scheduler_state_dict_round_trip(name, kw, via_file, tmp_path):
    opt = O.SGD([np.zeros(2)], lr=0.1, momentum=0.9)
    s = getattr(S, name)(opt, **kw)
    for _ in range(10):
        s.step()
    sd = s.state_dict()
    osd = opt.state_dict()
    if via_file:
        O.save_state_dict(tmp_path / "s.npz", sd)
        sd = O.load_state_dict_file(tmp_path / "s.npz")
    opt2 = O.SGD([np.zeros(2)], lr=0.1, momentum=0.9)
    opt2.load_state_dict(osd)
    s2 = getattr(S, name)(opt2, **kw)
    s2.load_state_dict(sd)
    opt2.param_groups[0]["lr"] = opt.param_groups[0]["lr"]
    for _ in range(25):
        s.step()
        s2.step()
        assert s.get_last_lr() == s2.get_last_lr()
        assert opt.param_groups[0]["momentum"] == opt2.param_groups[0]["momentum"]


def test_plateau_state_dict_round_trip(tmp_path):
    opt = O.SGD([np.zeros(2)], lr=0.1)
    s = S.ReduceLROnPlateau(opt, patience=1, cooldown=1)
    for m in [5, 4, 4, 4, 4]:
        s.step(m)
    O.save_state_dict(tmp_path / "p.npz", s.state_dict())
    opt2 = O.SGD([np.zeros(2)], lr=opt.param_groups[0]["lr"])
    s2 = S.ReduceLROnPlateau(opt2)
    s2.load_state_dict(O.load_state_dict_file(tmp_path / "p.npz"))
    for m in [4, 4, 4, 3, 3, 3, 3]:
        s.step(m)
        s2.step(m)
        assert s.get_last_lr() == s2.get_last_lr()
    assert s.get_last_lr()[0] < 0.1


def test_constructor_errors():
    opt = O.SGD([np.zeros(2)], lr=0.1)
    with pytest.raises(ValueError, match="Factor should be < 1.0."):
        S.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="Starting multiplicative factor"):
        S.LinearLR(opt, start_factor=0.0)
    with pytest.raises(ValueError, match="total_steps OR"):
        S.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(ValueError, match="momentum or beta1"):
        S.OneCycleLR(O.Adagrad([np.zeros(2)]), max_lr=1.0, total_steps=10)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        S.StepLR(object(), step_size=1)
    s = S.OneCycleLR(O.SGD([np.zeros(2)], lr=0.1, momentum=0.9), max_lr=1.0, total_steps=3)
    for _ in range(3):
        s.step()
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        s.step()


CLOSED_FORMS = [
    ("StepLR", dict(step_size=4, gamma=0.5), lambda b, e: b * 0.5 ** (e // 4)),
    ("MultiStepLR", dict(milestones=[3, 10, 10], gamma=0.1), lambda b, e: b * 0.1 ** ((e >= 3) + 2 * (e >= 10))),
    ("ExponentialLR", dict(gamma=0.9), lambda b, e: b * 0.9 ** e),
    ("LinearLR", dict(start_factor=0.2, end_factor=0.8, total_iters=10), lambda b, e: b * (0.2 + 0.6 * min(e, 10) / 10)),
    ("CosineAnnealingLR", dict(T_max=25, eta_min=0.01), lambda b, e: 0.01 + (b - 0.01) * (1 + math.cos(math.pi * e / 25)) / 2),
]


@pytest.mark.parametrize("name,kw,closed", CLOSED_FORMS, ids=[c[0] for c in CLOSED_FORMS])
def test_recursive_forms_follow_the_closed_forms(name, kw, closed):
    """Without torch: the chainable forms stay within rounding of the textbook schedule, and
    ``step(epoch)`` (deprecated, warns as torch's) jumps with the closed form."""
    opt = O.SGD([{"params": [np.zeros(1)], "lr": 0.5}, {"params": [np.zeros(1)], "lr": 0.02}])
    s = getattr(S, name)(opt, **kw)
    for e in range(0, 26):
        if e:
            s.step()
        for lr, base in zip(s.get_last_lr(), (0.5, 0.02)):
            assert lr == pytest.approx(closed(base, e), rel=1e-10), (e, lr)
    with pytest.warns(UserWarning, match="epoch parameter"):
        s.step(7)
    assert s.get_last_lr()[0] == pytest.approx(closed(0.5, 7), rel=1e-12)


def test_one_cycle_shape():
    opt = O.SGD([np.zeros(1)], lr=0.1, momentum=0.9)
    s = S.OneCycleLR(opt, max_lr=1.0, total_steps=100, pct_start=0.3)
    lrs, moms = [s.get_last_lr()[0]], [opt.param_groups[0]["momentum"]]
    for _ in range(99):
        s.step()
        lrs.append(s.get_last_lr()[0])
        moms.append(opt.param_groups[0]["momentum"])
    assert lrs[0] == pytest.approx(1.0 / 25) and max(lrs) == pytest.approx(1.0)
    assert int(np.argmax(lrs)) == 29 and lrs[-1] == pytest.approx(1.0 / 25 / 1e4)
    assert moms[0] == pytest.approx(0.95) and min(moms) == pytest.approx(0.85) and moms[-1] == pytest.approx(0.95)


@pytest.mark.parametrize("name", ["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR",
                                  "OneCycleLR", "ReduceLROnPlateau"])
def test_constructor_signature_is_torchs(name):
    torch = _torch()
    import inspect

    ours = inspect.signature(getattr(S, name)).parameters
    theirs = inspect.signature(getattr(torch.optim.lr_scheduler, name)).parameters
    assert list(ours) == list(theirs)
    for n in ours:
        assert ours[n].default == theirs[n].default, n
