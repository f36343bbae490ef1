"""fastopt.torch: drop-in torch.optim optimizers, held to torch.optim (foreach=False) step by step.

Parity on a small MLP and on random tensors for every optimizer and its options, checkpoint
interchange both ways (in memory and through torch.save), lr schedulers, zero_grad, params
without grads, low-precision params with a float32 master copy, the errors at construction,
and that importing fastopt does not import torch.
"""

from __future__ import annotations

import copy
import io
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ft = pytest.importorskip("fastopt.torch")
from fastopt import reference as R  # noqa: E402
from fastopt._optim_specs import SPECS  # noqa: E402

from _optim_table import NAMES, option_sets  # noqa: E402

TOL = {torch.float32: dict(rtol=2e-5, atol=2e-6), torch.float64: dict(rtol=1e-11, atol=1e-13)}

# (name, torch options); fastopt.torch.<name> takes the same options
CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.002, momentum=0.9, nesterov=True, weight_decay=0.01, maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.05, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1, eps=1e-8)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, alpha=0.9, weight_decay=0.1, momentum=0.5, centered=True)),
    ("RMSprop", dict(lr=0.01, centered=True, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True, eps=1e-6)),
    ("AdamW", dict(lr=0.01, maximize=True)),
    ("Adamax", dict(lr=0.01, betas=(0.3, 0.99), eps=1e-6, weight_decay=0.1, maximize=True)),
]
# and every optimizer torch has, under each option set of its spec (tests/_optim_table.py)
CASES += [(SPECS[k].cls, dict(lr=0.01, **o)) for k in NAMES if SPECS[k].in_torch for o in option_sets(k)]
IDS = [f"{n}-{i}" for i, (n, _) in enumerate(CASES)]


def mlp(dtype=torch.float32, seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 8),
                               torch.nn.ReLU(), torch.nn.Linear(8, 1)).to(dtype)


def data(dtype=torch.float32, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(32, 6, generator=g, dtype=dtype), torch.randn(32, 1, generator=g, dtype=dtype)


def train(model, opt, steps, x, y, set_to_none=True, sched=None):
    for _ in range(steps):
        opt.zero_grad(set_to_none=set_to_none)
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
        if sched is not None:
            sched.step()


def torch_opt(name, params, kw):
    return getattr(torch.optim, name)(params, **kw, foreach=False)


def assert_params(a, b, dtype):
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb, **TOL[dtype])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
@pytest.mark.parametrize("set_to_none", [True, False])
def test_mlp_matches_torch(name, kw, dtype, set_to_none):
    ref, mine = mlp(dtype), mlp(dtype)
    x, y = data(dtype)
    train(ref, torch_opt(name, ref.parameters(), kw), 12, x, y, set_to_none)
    opt = getattr(ft, name)(mine.parameters(), **kw)
    train(mine, opt, 12, x, y, set_to_none)
    assert_params(ref, mine, dtype)


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_random_tensors_match_torch(name, kw):
    g = torch.Generator().manual_seed(3)
    shapes = [(1,), (7,), (33, 5), (2, 3, 4), (100003,), (0,), (64, 64)]
    p_ref = [torch.randn(s, generator=g) for s in shapes]
    p_mine = [p.clone() for p in p_ref]
    o_ref, o_mine = torch_opt(name, p_ref, kw), getattr(ft, name)(p_mine, **kw)
    for _ in range(8):
        for a, b in zip(p_ref, p_mine):
            grad = torch.randn(a.shape, generator=g)
            a.grad, b.grad = grad.clone(), grad.clone()
        o_ref.step()
        o_mine.step()
    for a, b in zip(p_ref, p_mine):
        torch.testing.assert_close(a, b, **TOL[torch.float32])
    # the state has torch's keys, dtypes and shapes
    s_ref, s_mine = o_ref.state_dict(), o_mine.state_dict()
    drop = lambda gs: [{k: v for k, v in g.items() if k != "foreach"} for g in gs]  # noqa: E731
    assert drop(s_ref["param_groups"]) == drop(s_mine["param_groups"])
    assert s_ref["state"].keys() == s_mine["state"].keys()
    for i in s_ref["state"]:
        assert s_ref["state"][i].keys() == s_mine["state"][i].keys()
        for k, v in s_ref["state"][i].items():
            w = s_mine["state"][i][k]
            assert w.dtype == v.dtype and w.shape == v.shape, k
            torch.testing.assert_close(w, v, **TOL[torch.float32])


@pytest.mark.parametrize("name", ["Lion", "LAMB"])
@pytest.mark.parametrize("kw", [dict(), dict(lr=0.01, weight_decay=0.1, maximize=True)])
def test_lion_lamb_match_reference(name, kw):
    g = np.random.default_rng(4)
    shapes = [(7,), (33, 5), (1000,)]
    ref = [g.standard_normal(s).astype(np.float32) for s in shapes]
    tensors = [torch.tensor(a) for a in ref]
    opt = getattr(ft, name)(tensors, **kw)
    m = [np.zeros_like(a) for a in ref]
    v = [np.zeros_like(a) for a in ref]
    for step in range(1, 6):
        grads = [g.standard_normal(a.shape).astype(np.float32) for a in ref]
        for t, gr in zip(tensors, grads):
            t.grad = torch.tensor(gr)
        opt.step()
        if name == "Lion":
            R.lion_(ref, grads, m, **kw)
        else:
            R.lamb_(ref, grads, m, v, step=step, **kw)
    for t, a in zip(tensors, ref):
        np.testing.assert_allclose(t.numpy(), a, rtol=2e-5, atol=2e-6)
    st = opt.state_dict()["state"][0]
    assert set(st) == ({"exp_avg"} if name == "Lion" else {"step", "exp_avg", "exp_avg_sq"})
    if name == "LAMB":
        assert st["step"].dtype == torch.float32 and float(st["step"]) == 5


def test_defaults_are_torch():
    p = [torch.zeros(3)]
    for name in ("SGD", "Adagrad", "RMSprop", "Adam", "AdamW"):
        assert getattr(ft, name)(p).defaults == getattr(torch.optim, name)(p).defaults, name
    assert ft.Lion(p).defaults == dict(lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, maximize=False)
    assert ft.LAMB(p).defaults == dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0,
                                       bias_correction=True, maximize=False)
    for name in ("SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "Lion", "LAMB"):
        assert issubclass(getattr(ft, name), torch.optim.Optimizer)


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
@pytest.mark.parametrize("direction", ["torch->fastopt", "fastopt->torch"])
def test_checkpoint_interchange(name, kw, direction):
    x, y = data()
    ref = mlp()
    train(ref, torch_opt(name, ref.parameters(), kw), 4, x, y)  # for the continuation only
    first, second = (torch_opt, getattr(ft, name)) if direction == "torch->fastopt" else (
        lambda n, ps, k: getattr(ft, n)(ps, **k), lambda ps, **k: torch_opt(name, ps, k))
    a = mlp()
    opt_a = first(name, a.parameters(), kw)
    train(a, opt_a, 4, x, y)
    buf = io.BytesIO()
    torch.save({"model": a.state_dict(), "optim": opt_a.state_dict()}, buf)
    buf.seek(0)
    ck = torch.load(buf)
    b = mlp()
    b.load_state_dict(ck["model"])
    opt_b = second(b.parameters(), **kw)
    opt_b.load_state_dict(ck["optim"])
    # both continue; the reference continues in torch
    opt_ref = torch_opt(name, ref.parameters(), kw)
    ref.load_state_dict(a.state_dict())
    opt_ref.load_state_dict(copy.deepcopy(opt_a.state_dict()))
    train(b, opt_b, 5, x, y)
    train(ref, opt_ref, 5, x, y)
    assert_params(ref, b, torch.float32)
    sb = opt_b.state_dict()["state"]
    for i, st in opt_ref.state_dict()["state"].items():
        assert st.keys() == sb[i].keys()
        assert float(st.get("step", 0)) == float(sb[i].get("step", 0))


@pytest.mark.parametrize("sched", ["step", "cosine", "onecycle", "lambda", "plateau"])
def test_lr_schedulers(sched):
    def make(opt):
        S = torch.optim.lr_scheduler
        return {"step": lambda: S.StepLR(opt, 3, gamma=0.5),
                "cosine": lambda: S.CosineAnnealingLR(opt, T_max=5),
                "onecycle": lambda: S.OneCycleLR(opt, max_lr=0.05, total_steps=20),
                "lambda": lambda: S.LambdaLR(opt, lambda e: 1 / (1 + e)),
                "plateau": lambda: S.ReduceLROnPlateau(opt, patience=0)}[sched]()

    x, y = data()
    models, lrs = [], []
    for mk in (lambda ps: torch.optim.AdamW(ps, lr=0.02, foreach=False), lambda ps: ft.AdamW(ps, lr=0.02)):
        m = mlp()
        opt = mk(m.parameters())
        s = make(opt)
        hist = []
        for _ in range(10):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(m(x), y)
            loss.backward()
            opt.step()
            s.step(loss.item()) if sched == "plateau" else s.step()
            hist.append(opt.param_groups[0]["lr"])
        models.append(m)
        lrs.append(hist)
    assert lrs[0] == lrs[1]
    assert_params(models[0], models[1], torch.float32)


def test_params_without_grad_are_skipped():
    ref, mine = mlp(), mlp()
    for m in (ref, mine):
        m[2].weight.requires_grad_(False)  # never gets a grad
    x, y = data()
    o_ref = torch.optim.Adam(ref.parameters(), lr=0.01, foreach=False)
    o_mine = ft.Adam(mine.parameters(), lr=0.01)
    train(ref, o_ref, 3, x, y)
    train(mine, o_mine, 3, x, y)
    # a param whose grad goes away for a while: torch skips it, the step count stays behind
    for m, o in ((ref, o_ref), (mine, o_mine)):
        o.zero_grad()
        torch.nn.functional.mse_loss(m(x), y).backward()
        m[0].bias.grad = None
        o.step()
    train(ref, o_ref, 2, x, y)
    train(mine, o_mine, 2, x, y)
    assert_params(ref, mine, torch.float32)
    s_ref, s_mine = o_ref.state_dict()["state"], o_mine.state_dict()["state"]
    assert s_ref.keys() == s_mine.keys()
    for i in s_ref:
        assert float(s_ref[i]["step"]) == float(s_mine[i]["step"])
    assert mine[2].weight.grad is None and o_mine.state[mine[2].weight] == {}


def test_zero_grad_and_closure():
    m = mlp()
    opt = ft.SGD(m.parameters(), lr=0.1, momentum=0.9)
    x, y = data()

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(m(x), y)
        loss.backward()
        return loss

    l0 = opt.step(closure)
    assert isinstance(l0, torch.Tensor)
    opt.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in m.parameters())
    before = [p.detach().clone() for p in m.parameters()]
    opt.zero_grad(set_to_none=True)
    assert all(p.grad is None for p in m.parameters())
    opt.step()  # no grads: nothing moves
    for a, b in zip(before, m.parameters()):
        assert torch.equal(a, b)
    for _ in range(20):
        loss = opt.step(closure)
    assert loss < l0


def test_param_groups_and_changes():
    ref, mine = mlp(), mlp()
    x, y = data()
    groups = lambda m: [{"params": m[0].parameters(), "lr": 0.02},  # noqa: E731
                        {"params": m[2].parameters(), "weight_decay": 0.5}]
    o_ref = torch.optim.AdamW(groups(ref), lr=0.01, foreach=False)
    o_mine = ft.AdamW(groups(mine), lr=0.01)
    train(ref, o_ref, 3, x, y)
    train(mine, o_mine, 3, x, y)
    for o in (o_ref, o_mine):
        o.param_groups[1]["lr"] = 0.003
        o.param_groups[0]["betas"] = (0.5, 0.9)
        o.add_param_group({"params": list(o is o_ref and ref[4].parameters() or mine[4].parameters())})
    train(ref, o_ref, 3, x, y)
    train(mine, o_mine, 3, x, y)
    assert_params(ref, mine, torch.float32)


def test_param_storage_replaced():
    """A param whose .data is swapped (as bucket views do) is stepped in its new memory."""
    p = torch.nn.Parameter(torch.ones(10))
    opt = ft.SGD([p], lr=0.1)
    p.grad = torch.ones(10)
    opt.step()
    flat = torch.zeros(20)
    flat[:10] = p.detach()
    p.data = flat[:10]
    opt.step()
    torch.testing.assert_close(flat[:10], torch.full((10,), 0.8))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_params_keep_a_master_copy(dtype):
    g = torch.Generator().manual_seed(5)
    p32 = torch.randn(1000, generator=g)
    p = p32.to(dtype)
    opt = ft.AdamW([p], lr=0.01)
    m = p.float().numpy().copy()
    ea, eq = np.zeros_like(m), np.zeros_like(m)
    for step in range(1, 4):
        grad = torch.randn(1000, generator=g).to(dtype)
        p.grad = grad
        opt.step()
        R.adamw_(m, grad.float().numpy(), ea, eq, step=step, lr=0.01)
    st = opt.state[p]
    assert st["exp_avg"].dtype == torch.float32
    np.testing.assert_allclose(st["master_param"].numpy(), m, rtol=1e-5, atol=1e-6)
    assert torch.equal(p, st["master_param"].to(dtype))


def test_construction_errors():
    with pytest.raises(ValueError, match="CPU tensors only.*torch.optim.AdamW"):
        ft.AdamW([torch.empty(3, device="meta")])
    with pytest.raises(ValueError, match="not contiguous"):
        ft.Adam([torch.zeros(4, 6)[:, ::2]])  # gaps between elements (a dense transpose is stepped)
    with pytest.raises(TypeError, match="dtype torch.int64"):
        ft.SGD([torch.zeros(3, dtype=torch.int64)], lr=0.1)
    with pytest.raises(ValueError, match="capturable"):
        ft.Adam([torch.zeros(3)], capturable=True)
    with pytest.raises(ValueError, match="Nesterov"):
        ft.SGD([torch.zeros(3)], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        ft.AdamW([torch.zeros(3)], lr=-1)
    opt = ft.AdamW([torch.zeros(3)])
    with pytest.raises(ValueError, match="CPU tensors only"):
        opt.add_param_group({"params": [torch.empty(2, device="meta")]})


def test_import_fastopt_does_not_import_torch():
    code = "import sys, fastopt, fastopt.optim, fastopt.reference; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_step_hooks_and_profiler_range():
    p = torch.nn.Parameter(torch.ones(4))
    p.grad = torch.ones(4)
    opt = ft.AdamW([p])
    calls = []
    h1 = opt.register_step_pre_hook(lambda o, a, k: calls.append("pre"))
    h2 = opt.register_step_post_hook(lambda o, a, k: calls.append("post"))
    opt.step()
    assert calls == ["pre", "post"]
    h1.remove()
    h2.remove()
    opt.step()
    assert calls == ["pre", "post"]
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        opt.step()
    assert any(e.name == "Optimizer.step#AdamW.step" for e in prof.events())
    assert float(opt.state[p]["step"]) == 3


def test_low_precision_checkpoint_keeps_float32_state():
    g = torch.Generator().manual_seed(6)
    p0 = torch.randn(300, generator=g).to(torch.bfloat16)
    grads = [torch.randn(300, generator=g).to(torch.bfloat16) for _ in range(6)]

    def run(p, opt, gs):
        for gr in gs:
            p.grad = gr.clone()
            opt.step()

    a = p0.clone()
    opt_a = ft.AdamW([a], lr=0.01)
    run(a, opt_a, grads)
    b = p0.clone()
    opt_b = ft.AdamW([b], lr=0.01)
    run(b, opt_b, grads[:3])
    buf = io.BytesIO()
    torch.save(opt_b.state_dict(), buf)
    buf.seek(0)
    c = b.clone()
    opt_c = ft.AdamW([c], lr=0.01)
    opt_c.load_state_dict(torch.load(buf))
    assert opt_c.state[c]["master_param"].dtype == torch.float32
    assert opt_c.state[c]["exp_avg"].dtype == torch.float32
    run(c, opt_c, grads[3:])
    assert torch.equal(opt_c.state[c]["master_param"], opt_a.state[a]["master_param"])
    assert torch.equal(c, a)


def test_strided_and_wrong_grads():
    p = torch.nn.Parameter(torch.ones(3, 4))
    ref = torch.nn.Parameter(torch.ones(3, 4))
    opt, opt_ref = ft.Adam([p], lr=0.1), torch.optim.Adam([ref], lr=0.1, foreach=False)
    g = torch.arange(12.0).reshape(4, 3).t()  # not contiguous: read through a copy
    p.grad, ref.grad = g, g.clone()
    opt.step()
    opt_ref.step()
    torch.testing.assert_close(p, ref)
    p.grad = torch.ones(3, 4, requires_grad=True)
    opt.step()  # a grad that requires grad is read through .detach()
    assert float(opt.state[p]["step"]) == 2


def test_mixed_dtype_group():
    """One group with float32, float64 and bfloat16 params: one kernel call per dtype, as torch
    groups by dtype; float32/float64 equal torch's, bfloat16 equals its own group."""
    g = torch.Generator().manual_seed(7)
    base = [torch.randn(50, generator=g), torch.randn(20, generator=g, dtype=torch.float64),
            torch.randn(30, generator=g).to(torch.bfloat16), torch.randn(10, generator=g)]
    grads = [[torch.randn(t.shape, generator=g).to(t.dtype) for t in base] for _ in range(4)]
    mine = [t.clone() for t in base]
    ref = [t.clone() for t in base]
    split = [t.clone() for t in base]
    o_mine = ft.AdamW(mine, lr=0.01)
    o_ref = torch.optim.AdamW([ref[0], ref[1], ref[3]], lr=0.01, foreach=False)
    o_split = ft.AdamW([{"params": [split[2]]}], lr=0.01)
    for gs in grads:
        for ts in (mine, ref, split):
            for t, gr in zip(ts, gs):
                t.grad = gr.clone()
        o_mine.step()
        o_ref.step()
        o_split.step()
    for i in (0, 1, 3):
        torch.testing.assert_close(mine[i], ref[i], **TOL[mine[i].dtype])
    assert torch.equal(mine[2], split[2])
    st = o_mine.state_dict()["state"]
    assert all(float(st[i]["step"]) == 4 for i in range(4))


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW"])
def test_constructor_signatures_are_torch(name):
    import inspect

    def sig(cls):
        return [(p.name, p.kind, p.default) for p in inspect.signature(cls.__init__).parameters.values()]

    # torch's signature, plus fastopt's keyword-only max_grad_norm (clipping fused into the step)
    extra = [("max_grad_norm", inspect.Parameter.KEYWORD_ONLY, None)]
    assert sig(getattr(ft, name)) == sig(getattr(torch.optim, name)) + extra
