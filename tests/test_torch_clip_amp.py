"""fastopt.torch's fused clipping (``max_grad_norm``) and torch.amp.GradScaler.

Held to torch.optim (foreach=False) after ``torch.nn.utils.clip_grad_norm_(all params)``: one
group (the kernel's fused norm), several groups (the global norm, then one call per group),
float32/float64, bfloat16 params with a float32 master copy, the by-products in
``last_step``, the option's checks and its place in checkpoints, and GradScaler loops (with
and without clipping, and with inf grads injected: the step is skipped as torch's).
"""

from __future__ import annotations

import copy
import math

import pytest

torch = pytest.importorskip("torch")
ft = pytest.importorskip("fastopt.torch")

TOL = {torch.float32: dict(rtol=2e-5, atol=2e-6), torch.float64: dict(rtol=1e-11, atol=1e-13)}

# every optimizer torch has, with options that exercise its state
TORCH_CASES = [
    ("SGD", dict(lr=0.005, momentum=0.9, weight_decay=0.01)),  # 0.05 diverges: chaos, not a comparison
    ("Adagrad", dict(lr=0.05)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
]
ALL = [n for n, _ in TORCH_CASES] + ["Lion", "LAMB"]


def mlp(dtype=torch.float32, seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 8),
                               torch.nn.ReLU(), torch.nn.Linear(8, 1)).to(dtype)


def data(dtype=torch.float32, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(32, 6, generator=g, dtype=dtype), torch.randn(32, 1, generator=g, dtype=dtype)


def loss_of(model, x, y):
    return torch.nn.functional.mse_loss(model(x), y) * 50  # grads large enough to clip


def groups_of(model, split, **extra):
    """The model's params as one group, or as three with different lrs."""
    params = list(model.parameters())
    if not split:
        return [{"params": params, **extra}]
    return [{"params": params[:2], "lr": 0.02, **extra}, {"params": params[2:4], **extra},
            {"params": params[4:], "lr": 0.003, **extra}]


def torch_clip_steps(model, opt, max_norm, steps, x, y):
    norms = []
    for _ in range(steps):
        opt.zero_grad()
        loss_of(model, x, y).backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)))
        opt.step()
    return norms


def fused_clip_steps(model, opt, steps, x, y):
    norms = []
    for _ in range(steps):
        opt.zero_grad()
        loss_of(model, x, y).backward()
        opt.step()
        norms.append(opt.last_step.grad_norm)
    return norms


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("split", [False, True], ids=["one-group", "three-groups"])
@pytest.mark.parametrize("name,kw", TORCH_CASES, ids=[n for n, _ in TORCH_CASES])
def test_clipping_matches_torch_clip_grad_norm(name, kw, split, dtype):
    ref, mine = mlp(dtype), mlp(dtype)
    x, y = data(dtype)
    topt = getattr(torch.optim, name)(groups_of(ref, split), **kw, foreach=False)
    fopt = getattr(ft, name)(groups_of(mine, split), **kw, max_grad_norm=0.5)
    ref_norms = torch_clip_steps(ref, topt, 0.5, 10, x, y)
    my_norms = fused_clip_steps(mine, fopt, 10, x, y)
    assert ref_norms[0] > 0.5  # the test clips
    for a, b in zip(ref.parameters(), mine.parameters()):
        torch.testing.assert_close(a, b, **TOL[dtype])
    rtol = 1e-5 if dtype == torch.float32 else 1e-12
    for a, b in zip(ref_norms, my_norms):
        assert math.isclose(a, b, rel_tol=rtol), (ref_norms, my_norms)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("split", [False, True], ids=["one-group", "three-groups"])
def test_fused_clipping_equals_clipping_first(name, split):
    """Every optimizer (Lion and LAMB too): max_grad_norm= gives what clip_grad_norm_ then an
    unclipped step give."""
    ref, mine = mlp(), mlp()
    x, y = data()
    ropt = getattr(ft, name)(groups_of(ref, split))
    mopt = getattr(ft, name)(groups_of(mine, split), max_grad_norm=0.5)
    torch_clip_steps(ref, ropt, 0.5, 6, x, y)
    fused_clip_steps(mine, mopt, 6, x, y)
    for a, b in zip(ref.parameters(), mine.parameters()):
        torch.testing.assert_close(a, b, **TOL[torch.float32])


def test_the_norm_is_global_over_groups():
    """Each group is scaled by the coefficient of the norm over all groups, not its own."""
    ref, mine = mlp(), mlp()
    x, y = data()
    topt = torch.optim.SGD(groups_of(ref, True), lr=0.1, foreach=False)
    fopt = ft.SGD(groups_of(mine, True), lr=0.1, max_grad_norm=1.0)
    torch_clip_steps(ref, topt, 1.0, 1, x, y)
    fused_clip_steps(mine, fopt, 1, x, y)
    params = list(mine.parameters())
    own = float(torch.nn.utils.get_total_norm([p.grad for p in params[:2]]))
    assert fopt.last_step.grad_norm > own  # the global norm, not the first group's
    for a, b in zip(ref.parameters(), mine.parameters()):
        torch.testing.assert_close(a, b, **TOL[torch.float32])


def test_a_group_without_max_grad_norm_is_not_clipped():
    """The norm is still over every grad; only the groups with max_grad_norm are scaled."""
    mine = mlp()
    ref = copy.deepcopy(mine)
    x, y = data()
    params, rparams = list(mine.parameters()), list(ref.parameters())
    fopt = ft.SGD([{"params": params[:2]}, {"params": params[2:], "max_grad_norm": 0.5}], lr=0.1)
    loss_of(mine, x, y).backward()
    loss_of(ref, x, y).backward()
    norm = float(torch.nn.utils.get_total_norm([p.grad for p in rparams]))
    coef = min(1.0, 0.5 / (norm + 1e-6))
    fopt.step()
    assert math.isclose(fopt.last_step.grad_norm, norm, rel_tol=1e-6)
    with torch.no_grad():
        for i, p in enumerate(rparams):
            p -= 0.1 * p.grad * (coef if i >= 2 else 1.0)
    for a, b in zip(rparams, params):
        torch.testing.assert_close(a, b, **TOL[torch.float32])


@pytest.mark.parametrize("split", [False, True], ids=["one-group", "three-groups"])
@pytest.mark.parametrize("name,kw", TORCH_CASES, ids=[n for n, _ in TORCH_CASES])
def test_bfloat16_params_with_master_match_torch_on_float32(name, kw, split):
    """bf16 params and grads: the float32 master copy moves as torch.optim moves float32 params
    fed the same (bf16-valued) grads after clip_grad_norm_; the param is its rounding."""
    torch.manual_seed(0)
    shapes = [(16, 6), (16,), (8, 16), (8,), (1, 8), (1,)]
    p16 = [torch.randn(s).to(torch.bfloat16).requires_grad_() for s in shapes]
    p32 = [p.detach().float().requires_grad_() for p in p16]
    fopt = getattr(ft, name)(groups_of_list(p16, split), **kw, max_grad_norm=0.5)
    topt = getattr(torch.optim, name)(groups_of_list(p32, split), **kw, foreach=False)
    g = torch.Generator().manual_seed(5)
    for _ in range(5):
        grads = [(torch.randn(s, generator=g) * 3).to(torch.bfloat16) for s in shapes]
        for a, b, gr in zip(p16, p32, grads):
            a.grad, b.grad = gr.clone(), gr.float()
        torch.nn.utils.clip_grad_norm_(p32, 0.5)
        topt.step()
        fopt.step()
    for a, b in zip(p16, p32):
        torch.testing.assert_close(fopt.state[a]["master_param"], b, **TOL[torch.float32])
        torch.testing.assert_close(a, b.detach().to(torch.bfloat16), rtol=0, atol=0)


def groups_of_list(params, split):
    if not split:
        return [{"params": params}]
    return [{"params": params[:2]}, {"params": params[2:], "lr": 0.002}]


def test_last_step_reports_the_step():
    p = torch.ones(3, requires_grad=True)
    opt = ft.Adam([p])
    assert opt.last_step is None
    p.grad = torch.tensor([3.0, 4.0, 0.0])
    opt.step()
    assert opt.last_step == (None, False, False)  # no clipping: no norm
    opt.param_groups[0]["max_grad_norm"] = 1.0  # a group option, like lr
    opt.step()
    assert opt.last_step.grad_norm == pytest.approx(5.0)
    assert not opt.last_step.found_inf and not opt.last_step.skipped
    p.grad = torch.tensor([1.0, float("inf"), 0.0])
    opt.step()
    assert opt.last_step.found_inf  # found by the kernel (torch would step into NaN the same)
    assert math.isinf(opt.last_step.grad_norm)


def test_a_non_finite_norm_over_several_groups_spares_the_finite_groups():
    a, b = torch.ones(2, requires_grad=True), torch.ones(2, requires_grad=True)
    opt = ft.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.5, max_grad_norm=1.0)
    a.grad, b.grad = torch.tensor([float("inf"), 0.0]), torch.tensor([3.0, 4.0])
    opt.step()
    assert math.isinf(opt.last_step.grad_norm) and opt.last_step.found_inf
    assert torch.isnan(a).any()
    # b's group clips by its own norm (5): b -= 0.5 * g / 5
    torch.testing.assert_close(b.detach(), torch.tensor([0.7, 0.6]))


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), "1"])
def test_max_grad_norm_is_checked(bad):
    p = torch.ones(2, requires_grad=True)
    with pytest.raises((ValueError, TypeError), match="max_grad_norm"):
        ft.AdamW([p], max_grad_norm=bad)
    opt = ft.AdamW([p])
    with pytest.raises((ValueError, TypeError), match="max_grad_norm"):
        opt.add_param_group({"params": [torch.ones(2, requires_grad=True)], "max_grad_norm": bad})
    assert len(opt.param_groups) == 1  # nothing was added
    opt.param_groups[0]["max_grad_norm"] = bad  # set later: refused at the step, nothing written
    p.grad = torch.ones(2)
    with pytest.raises((ValueError, TypeError), match="max_grad_norm"):
        opt.step()
    torch.testing.assert_close(p.detach(), torch.ones(2))
    assert ft.AdamW([p], max_grad_norm=math.inf).param_groups[0]["max_grad_norm"] == math.inf


def test_max_grad_norm_in_groups_and_checkpoints():
    model = mlp()
    params = list(model.parameters())
    opt = ft.AdamW([{"params": params[:2]}, {"params": params[2:], "max_grad_norm": 2.0}], max_grad_norm=1.0)
    assert [g["max_grad_norm"] for g in opt.param_groups] == [1.0, 2.0]
    assert "max_grad_norm" not in opt.defaults  # defaults stay torch.optim's
    assert "max_grad_norm" not in ft.AdamW(params).param_groups[0]  # None: absent, as torch's groups
    x, y = data()
    fused_clip_steps(model, opt, 2, x, y)
    sd = opt.state_dict()
    assert [g["max_grad_norm"] for g in sd["param_groups"]] == [1.0, 2.0]

    # torch.optim loads the checkpoint, keeps the key and ignores it: it steps unclipped
    twin = copy.deepcopy(model)
    topt = torch.optim.AdamW([{"params": list(twin.parameters())[:2]}, {"params": list(twin.parameters())[2:]}],
                             foreach=False)
    topt.load_state_dict(copy.deepcopy(sd))  # (a state_dict shares the live state tensors)
    mine = ft.AdamW([{"params": params[:2]}, {"params": params[2:]}])
    mine.load_state_dict(copy.deepcopy(sd))
    for group in mine.param_groups:
        group.pop("max_grad_norm")
    for m, o in ((model, mine), (twin, topt)):
        o.zero_grad()
        loss_of(m, x, y).backward()
        o.step()
    for a, b in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(a, b, **TOL[torch.float32])

    # a torch.optim checkpoint's groups get the constructor's max_grad_norm
    again = ft.AdamW([{"params": params[:2]}, {"params": params[2:]}], max_grad_norm=3.0)
    again.load_state_dict(topt.state_dict())
    assert [g["max_grad_norm"] for g in again.param_groups] == [1.0, 2.0]  # the saved ones
    tsd = topt.state_dict()
    for g in tsd["param_groups"]:
        g.pop("max_grad_norm")
    again.load_state_dict(tsd)
    assert [g["max_grad_norm"] for g in again.param_groups] == [3.0, 3.0]

    # copies keep the constructor's value for groups added later
    dup = copy.deepcopy(again)
    dup.add_param_group({"params": [torch.ones(2, requires_grad=True)]})
    assert dup.param_groups[-1]["max_grad_norm"] == 3.0


# ---- torch.amp.GradScaler ------------------------------------------------------------------------

def scaler_loop(model, opt, x, y, steps, clip=None, poison=()):
    """A GradScaler loop; ``clip``: torch's unscale_ + clip_grad_norm_ before scaler.step;
    ``poison``: the steps whose first grad gets an inf."""
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 12, growth_interval=3)
    scales = []
    for i in range(steps):
        opt.zero_grad()
        scaler.scale(loss_of(model, x, y)).backward()
        if i in poison:
            next(model.parameters()).grad[0, 0] = float("inf")
        if clip is not None:
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
    return scales


@pytest.mark.parametrize("name,kw", TORCH_CASES, ids=[n for n, _ in TORCH_CASES])
def test_grad_scaler_matches_torch(name, kw):
    ref, mine = mlp(), mlp()
    x, y = data()
    topt = getattr(torch.optim, name)(ref.parameters(), **kw, foreach=False)
    fopt = getattr(ft, name)(mine.parameters(), **kw)
    assert scaler_loop(ref, topt, x, y, 8) == scaler_loop(mine, fopt, x, y, 8)
    for a, b in zip(ref.parameters(), mine.parameters()):
        torch.testing.assert_close(a, b, **TOL[torch.float32])


@pytest.mark.parametrize("name,kw", TORCH_CASES, ids=[n for n, _ in TORCH_CASES])
def test_grad_scaler_with_fused_clipping_matches_torch(name, kw):
    """torch: scaler.unscale_(opt), clip_grad_norm_, scaler.step(opt); fastopt: scaler.step(opt)
    with max_grad_norm (the scaler unscales the grads before the step clips them)."""
    ref, mine = mlp(), mlp()
    x, y = data()
    topt = getattr(torch.optim, name)(ref.parameters(), **kw, foreach=False)
    fopt = getattr(ft, name)(mine.parameters(), **kw, max_grad_norm=0.5)
    assert scaler_loop(ref, topt, x, y, 8, clip=0.5) == scaler_loop(mine, fopt, x, y, 8)
    for a, b in zip(ref.parameters(), mine.parameters()):
        torch.testing.assert_close(a, b, **TOL[torch.float32])


@pytest.mark.parametrize("name,kw", TORCH_CASES, ids=[n for n, _ in TORCH_CASES])
def test_grad_scaler_skips_inf_steps_as_torch(name, kw):
    ref, mine = mlp(), mlp()
    x, y = data()
    topt = getattr(torch.optim, name)(ref.parameters(), **kw, foreach=False)
    fopt = getattr(ft, name)(mine.parameters(), **kw, max_grad_norm=1.0)
    before = [p.detach().clone() for p in mine.parameters()]
    scales_ref = scaler_loop(ref, topt, x, y, 1, clip=1.0, poison=(0,))
    scales = scaler_loop(mine, fopt, x, y, 1, poison=(0,))
    assert scales == scales_ref == [2.0 ** 11]  # the scale backed off
    for a, b in zip(before, mine.parameters()):  # the step was skipped: nothing moved
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert fopt.last_step is None and all(len(s) == (2 if name == "Adagrad" else 0)
                                          for s in fopt.state.values())
    # then trains on as torch does, skipping again where torch skips
    assert (scaler_loop(ref, topt, x, y, 7, clip=1.0, poison=(2, 3))
            == scaler_loop(mine, fopt, x, y, 7, poison=(2, 3)))
    for a, b in zip(ref.parameters(), mine.parameters()):
        torch.testing.assert_close(a, b, **TOL[torch.float32])
