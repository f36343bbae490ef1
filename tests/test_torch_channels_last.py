"""fastopt.torch steps dense non-contiguous params (channels_last, transposes) in storage order.

A Conv2d model in channels_last against torch.optim (foreach=False) for every optimizer torch
has, and against the same model contiguous for Lion and LAMB; the state fastopt creates has the
param's strides; a grad in another layout is read through a copy; state loaded in another
layout is converted into the param's; layouts that would need a copy of the param (overlapping
elements, gaps) are refused with the message they always had.
"""

from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")
ft = pytest.importorskip("fastopt.torch")

TOL = dict(rtol=2e-5, atol=2e-6)
CL = torch.channels_last

TORCH_CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("Adagrad", dict(lr=0.05, initial_accumulator_value=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
]
IDS = [f"{n}-{i}" for i, (n, _) in enumerate(TORCH_CASES)]


def convnet(seed=0, channels_last=True, dtype=torch.float32):
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Conv2d(8, 4, 3),
                              torch.nn.Flatten(), torch.nn.Linear(4 * 4 * 4, 2)).to(dtype)
    return net.to(memory_format=CL) if channels_last else net


def batch(channels_last=True, dtype=torch.float32):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(5, 3, 8, 8, generator=g, dtype=dtype)
    return (x.to(memory_format=CL) if channels_last else x), torch.randn(5, 2, generator=g, dtype=dtype)


def train(model, opt, steps, x, y):
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()


def conv_weights(model):
    return [m.weight for m in model if isinstance(m, torch.nn.Conv2d)]


def test_the_model_is_channels_last():
    model = convnet()
    for w in conv_weights(model):
        assert not w.is_contiguous() and w.is_contiguous(memory_format=CL)
    x, y = batch()
    torch.nn.functional.mse_loss(model(x), y).backward()
    assert all(w.grad.stride() == w.stride() for w in conv_weights(model))  # autograd's grads


@pytest.mark.parametrize("name,kw", TORCH_CASES, ids=IDS)
def test_channels_last_convnet_matches_torch(name, kw):
    ref, mine = convnet(), convnet()
    x, y = batch()
    topt = getattr(torch.optim, name)(ref.parameters(), **kw, foreach=False)
    fopt = getattr(ft, name)(mine.parameters(), **kw)
    train(ref, topt, 6, x, y)
    train(mine, fopt, 6, x, y)
    for a, b in zip(ref.parameters(), mine.parameters()):
        torch.testing.assert_close(a, b, **TOL)
    for r, p in zip(ref.parameters(), mine.parameters()):  # the same layout, every state tensor too
        assert p.stride() == r.stride()
        for key, v in fopt.state[p].items():
            if key != "step":
                assert v.stride() == p.stride(), (key, v.stride(), p.stride())
                torch.testing.assert_close(v, topt.state[r][key], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["Lion", "LAMB", "AdamW", "SGD"])
def test_channels_last_steps_as_contiguous(name):
    """Stepping in storage order is the same update as stepping the contiguous model."""
    cl, plain = convnet(), convnet(channels_last=False)
    x_cl, y = batch()
    x = x_cl.contiguous()
    kw = dict(lr=0.01, momentum=0.9) if name == "SGD" else dict(lr=0.01)
    o_cl, o_plain = getattr(ft, name)(cl.parameters(), **kw), getattr(ft, name)(plain.parameters(), **kw)
    train(cl, o_cl, 5, x_cl, y)
    train(plain, o_plain, 5, x, y)
    for a, b in zip(cl.parameters(), plain.parameters()):
        torch.testing.assert_close(a, b, **TOL)
    assert all(not w.is_contiguous() for w in conv_weights(cl))


def test_adagrad_state_made_at_construction_has_the_params_strides():
    model = convnet()
    opt = ft.Adagrad(model.parameters(), initial_accumulator_value=0.5)
    for w in conv_weights(model):
        assert opt.state[w]["sum"].stride() == w.stride()


def test_bfloat16_channels_last_with_master():
    mine = convnet(dtype=torch.bfloat16)
    ref = copy.deepcopy(mine).float()
    opt = ft.AdamW(mine.parameters(), lr=0.01)
    topt = torch.optim.AdamW(ref.parameters(), lr=0.01, foreach=False)
    g = torch.Generator().manual_seed(2)
    for _ in range(3):
        for a, b in zip(mine.parameters(), ref.parameters()):
            grad = torch.randn(a.shape, generator=g).to(torch.bfloat16)
            a.grad = grad.contiguous(memory_format=CL) if a.dim() == 4 else grad
            b.grad = a.grad.float()
        opt.step()
        topt.step()
    for a, b in zip(mine.parameters(), ref.parameters()):
        master = opt.state[a]["master_param"]
        assert master.stride() == a.stride()
        torch.testing.assert_close(master, b, **TOL)
        torch.testing.assert_close(a, b.detach().to(torch.bfloat16), rtol=0, atol=0)


def test_a_grad_in_another_layout_is_read_through_a_copy():
    """Handled, not refused: grads are only read, so a contiguous grad of a channels_last param
    is copied into the param's order for the step."""
    ref, mine = convnet(), convnet()
    topt = torch.optim.Adam(ref.parameters(), lr=0.01, foreach=False)
    fopt = ft.Adam(mine.parameters(), lr=0.01)
    g = torch.Generator().manual_seed(3)
    for _ in range(3):
        for a, b in zip(ref.parameters(), mine.parameters()):
            grad = torch.randn(a.shape, generator=g)  # contiguous, unlike the conv weights
            a.grad, b.grad = grad.clone(), grad.clone()
        topt.step()
        fopt.step()
    for a, b in zip(ref.parameters(), mine.parameters()):
        torch.testing.assert_close(a, b, **TOL)
    assert conv_weights(mine)[0].grad.is_contiguous()  # the grad itself is untouched


def test_state_in_another_layout_is_converted_to_the_params():
    """A checkpoint of the contiguous model loads into the channels_last one (torch's state
    keeps the saved layout; fastopt converts it into the param's at the next step)."""
    plain, cl = convnet(channels_last=False), convnet()
    x, y = batch()
    o_plain = ft.AdamW(plain.parameters(), lr=0.01)
    train(plain, o_plain, 2, x.contiguous(), y)
    o_cl = ft.AdamW(cl.parameters(), lr=0.01)
    cl.load_state_dict(plain.state_dict())
    o_cl.load_state_dict(copy.deepcopy(o_plain.state_dict()))
    train(plain, o_plain, 2, x.contiguous(), y)
    train(cl, o_cl, 2, x, y)
    for a, b in zip(plain.parameters(), cl.parameters()):
        torch.testing.assert_close(a, b, **TOL)
    for w in conv_weights(cl):
        assert o_cl.state[w]["exp_avg"].stride() == w.stride()


def test_a_transposed_param_is_stepped_in_place():
    w = torch.randn(5, 7).t().requires_grad_()
    ref = w.detach().clone().requires_grad_()
    opt, topt = ft.RMSprop([w], lr=0.01), torch.optim.RMSprop([ref], lr=0.01, foreach=False)
    for i in range(3):
        grad = torch.randn(7, 5, generator=torch.Generator().manual_seed(i))
        w.grad, ref.grad = grad.t().contiguous().t(), grad.clone()  # w's grad laid out as w
        opt.step()
        topt.step()
    torch.testing.assert_close(w, ref, **TOL)
    assert w.stride() == (1, 7) and opt.state[w]["square_avg"].stride() == (1, 7)


@pytest.mark.parametrize("make", [
    lambda: torch.zeros(4, 6)[:, ::2],  # gaps
    lambda: torch.zeros(4, 1).expand(4, 3),  # overlapping elements
    lambda: torch.zeros(2, 3, 8, 8).to(memory_format=CL)[:, :, :4],  # channels_last with gaps
])
def test_layouts_that_need_a_copy_are_refused(make):
    p = make().requires_grad_()
    with pytest.raises(ValueError, match="not contiguous"):
        ft.Adam([p])
    opt = ft.Adam([torch.zeros(3, requires_grad=True)])
    with pytest.raises(ValueError, match="not contiguous"):
        opt.add_param_group({"params": [p]})
