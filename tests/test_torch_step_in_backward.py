"""fastopt.torch.step_in_backward: each param stepped during backward, then its grad freed.

Held to torch.optim (foreach=False) stepping after backward, for every optimizer (Lion and LAMB
to fastopt.torch's own step after backward, bitwise), with an lr scheduler, a state_dict round
trip in the middle, gradient accumulation with ``no_step()``, several groups and dtypes; the
grads are freed; ``remove()``; and the refusals (max_grad_norm, a param the optimizer lacks).
"""

from __future__ import annotations

import contextlib
import copy

import pytest

torch = pytest.importorskip("torch")
ft = pytest.importorskip("fastopt.torch")

TOL = {torch.float32: dict(rtol=2e-5, atol=2e-6), torch.float64: dict(rtol=1e-11, atol=1e-13)}

TORCH_CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.01)),
    ("Adagrad", dict(lr=0.05, lr_decay=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
]
IDS = [f"{n}-{i}" for i, (n, _) in enumerate(TORCH_CASES)]


def mlp(dtype=torch.float32, seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 8),
                               torch.nn.ReLU(), torch.nn.Linear(8, 1)).to(dtype)


def batches(n, dtype=torch.float32):
    g = torch.Generator().manual_seed(1)
    return [(torch.randn(16, 6, generator=g, dtype=dtype), torch.randn(16, 1, generator=g, dtype=dtype))
            for _ in range(n)]


def loss_of(model, x, y):
    return torch.nn.functional.mse_loss(model(x), y)


def after_backward(model, opt, data, sched=None):
    for x, y in data:
        opt.zero_grad()
        loss_of(model, x, y).backward()
        opt.step()
        if sched is not None:
            sched.step()


def in_backward(model, opt, data, sched=None):
    handle = ft.step_in_backward(model, opt)
    for x, y in data:
        loss_of(model, x, y).backward()
        assert all(p.grad is None for p in model.parameters())  # stepped and freed
        if sched is not None:
            sched.step()
    handle.remove()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name,kw", TORCH_CASES, ids=IDS)
def test_matches_torch_stepping_after_backward(name, kw, dtype):
    ref, mine = mlp(dtype), mlp(dtype)
    data = batches(8, dtype)
    after_backward(ref, getattr(torch.optim, name)(ref.parameters(), **kw, foreach=False), data)
    in_backward(mine, getattr(ft, name)(mine.parameters(), **kw), data)
    for a, b in zip(ref.parameters(), mine.parameters()):
        torch.testing.assert_close(a, b, **TOL[dtype])


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "Lion", "LAMB"])
def test_bitwise_equal_to_fastopts_step_after_backward(name):
    """The same kernel on the same tensors: per-param calls give exactly the group call's numbers."""
    ref, mine = mlp(), mlp()
    data = batches(6)
    kw = dict(lr=0.01, momentum=0.9) if name == "SGD" else dict(lr=0.01)
    o_ref, o_mine = getattr(ft, name)(ref.parameters(), **kw), getattr(ft, name)(mine.parameters(), **kw)
    after_backward(ref, o_ref, data)
    in_backward(mine, o_mine, data)
    for a, b in zip(ref.parameters(), mine.parameters()):
        assert torch.equal(a, b)
    s_ref, s_mine = o_ref.state_dict()["state"], o_mine.state_dict()["state"]
    assert s_ref.keys() == s_mine.keys()
    for i, sa in s_ref.items():
        assert sa.keys() == s_mine[i].keys() and all(torch.equal(sa[k], s_mine[i][k]) for k in sa)


def test_several_groups_and_dtypes():
    ref, mine = mlp(), mlp()
    for m in (ref, mine):
        m[2].to(torch.float64)
        m[3].register_forward_pre_hook(lambda mod, args: tuple(a.float() for a in args))
        m[2].register_forward_pre_hook(lambda mod, args: tuple(a.double() for a in args))

    def groups(m):
        return [{"params": m[0].parameters()}, {"params": m[2].parameters(), "lr": 0.003},
                {"params": m[4].parameters(), "weight_decay": 0.2}]

    data = batches(5)
    after_backward(ref, torch.optim.AdamW(groups(ref), lr=0.01, foreach=False), data)
    in_backward(mine, ft.AdamW(groups(mine), lr=0.01), data)
    for a, b in zip(ref.parameters(), mine.parameters()):  # (float64 grads through a float32 net)
        torch.testing.assert_close(a, b, **TOL[torch.float32])


def test_lr_scheduler_and_state_dict_round_trip():
    ref, mine = mlp(), mlp()
    data = batches(10)
    topt = torch.optim.Adam(ref.parameters(), lr=0.02, foreach=False)
    tsched = torch.optim.lr_scheduler.StepLR(topt, step_size=2, gamma=0.5)
    after_backward(ref, topt, data[:5], tsched)

    fopt = ft.Adam(mine.parameters(), lr=0.02)
    fsched = torch.optim.lr_scheduler.StepLR(fopt, step_size=2, gamma=0.5)
    in_backward(mine, fopt, data[:5], fsched)  # (no warning that the scheduler stepped first)
    assert fopt.param_groups[0]["lr"] == topt.param_groups[0]["lr"]

    # a checkpoint taken mid-run: into a fresh fastopt optimizer, and into torch.optim
    sd, model_sd, sched_sd = copy.deepcopy(fopt.state_dict()), copy.deepcopy(mine.state_dict()), fsched.state_dict()
    assert all(float(st["step"]) == 5 for st in sd["state"].values())
    again = mlp(seed=7)
    again.load_state_dict(model_sd)
    aopt = ft.Adam(again.parameters(), lr=0.02)
    aopt.load_state_dict(sd)
    asched = torch.optim.lr_scheduler.StepLR(aopt, step_size=2, gamma=0.5)
    asched.load_state_dict(sched_sd)
    in_backward(again, aopt, data[5:], asched)
    after_backward(ref, topt, data[5:], tsched)
    for a, b in zip(ref.parameters(), again.parameters()):
        torch.testing.assert_close(a, b, **TOL[torch.float32])
    assert aopt.param_groups[0]["lr"] == topt.param_groups[0]["lr"]
    # and the stepped-in-backward optimizer's checkpoint loads into torch.optim, which agrees
    twin = copy.deepcopy(again)
    t2 = torch.optim.Adam(twin.parameters(), lr=0.02, foreach=False)
    t2.load_state_dict(copy.deepcopy(aopt.state_dict()))
    after_backward(twin, t2, data[:2])
    in_backward(again, aopt, data[:2])
    for a, b in zip(twin.parameters(), again.parameters()):
        torch.testing.assert_close(a, b, **TOL[torch.float32])


@pytest.mark.parametrize("name,kw", [("AdamW", dict(lr=0.01)), ("SGD", dict(lr=0.05, momentum=0.9))])
def test_gradient_accumulation(name, kw):
    """Steps on every 3rd backward with the sum of 3 micro-batches' grads, as torch.optim
    stepping every 3rd backward without zero_grad in between."""
    ref, mine = mlp(), mlp()
    data = batches(9)
    topt = getattr(torch.optim, name)(ref.parameters(), **kw, foreach=False)
    for i, (x, y) in enumerate(data):
        (loss_of(ref, x, y) / 3).backward()
        if (i + 1) % 3 == 0:
            topt.step()
            topt.zero_grad()
    fopt = getattr(ft, name)(mine.parameters(), **kw)
    handle = ft.step_in_backward(mine, fopt)
    for i, (x, y) in enumerate(data):
        with handle.no_step() if (i + 1) % 3 else contextlib.nullcontext():
            (loss_of(mine, x, y) / 3).backward()
        stepped = (i + 1) % 3 == 0
        assert all((p.grad is None) == stepped for p in mine.parameters())
    for a, b in zip(ref.parameters(), mine.parameters()):
        torch.testing.assert_close(a, b, **TOL[torch.float32])
    if name == "AdamW":
        assert all(float(fopt.state[p]["step"]) == 3 for p in mine.parameters())


def test_remove_stops_stepping():
    model = mlp()
    opt = ft.SGD(model.parameters(), lr=0.1)
    handle = ft.step_in_backward(model, opt)
    handle.remove()
    handle.remove()
    before = [p.detach().clone() for p in model.parameters()]
    x, y = batches(1)[0]
    loss_of(model, x, y).backward()
    assert all(p.grad is not None for p in model.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    opt.step()  # the optimizer works after backward again
    assert not all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_frozen_params_and_a_params_list():
    model = mlp()
    model[0].weight.requires_grad_(False)
    opt = ft.Adam([p for p in model.parameters() if p.requires_grad], lr=0.01)
    frozen = model[0].weight.detach().clone()
    handle = ft.step_in_backward(list(model.parameters()), opt)  # frozen params are skipped
    x, y = batches(1)[0]
    loss_of(model, x, y).backward()
    handle.remove()
    assert torch.equal(model[0].weight, frozen) and len(opt.state) == 5


def test_refusals():
    model = mlp()
    with pytest.raises(ValueError, match="max_grad_norm.*optimizer.step"):
        ft.step_in_backward(model, ft.AdamW(model.parameters(), max_grad_norm=1.0))
    with pytest.raises(ValueError, match="not in the optimizer"):
        ft.step_in_backward(model, ft.AdamW(list(model.parameters())[:2]))
    with pytest.raises(TypeError, match="fastopt.torch optimizer"):
        ft.step_in_backward(model, torch.optim.AdamW(model.parameters()))
    # max_grad_norm set on a group later: refused at the step, nothing written
    opt = ft.AdamW(model.parameters())
    handle = ft.step_in_backward(model, opt)
    opt.param_groups[0]["max_grad_norm"] = 1.0
    before = [p.detach().clone() for p in model.parameters()]
    x, y = batches(1)[0]
    with pytest.raises(ValueError, match="max_grad_norm"):
        loss_of(model, x, y).backward()
    handle.remove()
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


# ---- docs/embedding.md's snippets for this issue run as written -----------------------------------

def doc_snippet(heading):
    """The first ```python block under ``heading`` in docs/embedding.md."""
    import pathlib

    text = (pathlib.Path(__file__).parent.parent / "docs" / "embedding.md").read_text()
    section = text.split(f"\n{heading}\n", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def convnet():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                               torch.nn.Linear(4 * 6 * 6, 1))


@pytest.mark.parametrize("heading", ["### Clipping by the global norm, and AMP",
                                     "### channels_last and other dense layouts",
                                     "### Stepping during backward"])
def test_embedding_doc_snippets_run(heading, tmp_path):
    conv = "channels_last" in heading
    model = convnet() if conv else mlp()
    g = torch.Generator().manual_seed(0)
    shape = (8, 3, 8, 8) if conv else (8, 6)
    loader = [(torch.randn(shape, generator=g), torch.randn(8, 1, generator=g)) for _ in range(8)]
    before = [p.detach().clone() for p in model.parameters()]
    ns = dict(torch=torch, ft=ft, contextlib=contextlib, model=model, loader=loader,
              loss_fn=torch.nn.functional.mse_loss, path=tmp_path / "ckpt.pt")
    exec(doc_snippet(heading), ns)
    model = ns["model"]
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))  # it trained
    if conv:
        assert not model[0].weight.is_contiguous()  # stepped in place in channels_last
    if "Clipping" in heading:
        assert ns["norm"] > 0
    if "backward" in heading:
        saved = torch.load(tmp_path / "ckpt.pt", weights_only=True)
        assert all(float(st["step"]) == 2 for st in saved["opt"]["state"].values())
