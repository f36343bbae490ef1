"""fastopt.torch never steps stale memory: every ordinary way of changing a param's grad or the
optimizer's state between steps is seen by the next step, exactly as torch.optim sees it.

fastopt.torch caches NumPy views of params, grads and state between steps (rebuilding them
only when something changed); these tests change each of those things in each way a user,
a checkpoint loader or a wrapper does, on a fastopt.torch optimizer and on the torch.optim
optimizer beside it, then step both and compare params and state_dict. Each mutation is
applied with the same values to both, so any difference is a stale view.
"""

from __future__ import annotations

import collections
import io

import pytest

torch = pytest.importorskip("torch")
ft = pytest.importorskip("fastopt.torch")

TOL = dict(rtol=2e-5, atol=2e-6)

OPTIMIZERS = [
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("Adagrad", dict(lr=0.05, initial_accumulator_value=0.1)),
]
SHAPES = [(7,), (33, 5), (1000,)]


def tensor_keys(opt, p):
    """The state tensors of p other than the step counter, in a fixed order."""
    return sorted(k for k, v in opt.state[p].items() if isinstance(v, torch.Tensor) and k != "step")


def fresh(t, salt):
    """A new tensor (new storage) with values derived from t: the same on both sides."""
    return (t.detach() * 0.5 + 0.01 * salt).clone()


# ---- the mutations: (opt, params) -> None, applied between steps ------------------------------

def grad_data(opt, params):
    for i, p in enumerate(params):
        p.grad.data = fresh(p.grad, i)


def grad_set_(opt, params):
    for i, p in enumerate(params):
        p.grad.set_(fresh(p.grad, i))


def state_entry_assign(opt, params):
    for i, p in enumerate(params):
        for k in tensor_keys(opt, p):
            opt.state[p][k] = fresh(opt.state[p][k], i)


def state_entry_update(opt, params):
    p = params[1]
    opt.state[p].update({k: fresh(opt.state[p][k], 3) for k in tensor_keys(opt, p)})


def state_entry_setdefault(opt, params):
    p = params[0]
    k = tensor_keys(opt, p)[0]
    saved = opt.state[p].pop(k)
    opt.state[p].setdefault(k, fresh(saved, 2))


def state_tensor_data(opt, params):
    for i, p in enumerate(params):
        for k in tensor_keys(opt, p):
            opt.state[p][k].data = fresh(opt.state[p][k], i)


def state_tensor_set_(opt, params):
    p = params[2]
    for k in tensor_keys(opt, p):
        opt.state[p][k].set_(fresh(opt.state[p][k], 5))


def step_assign(opt, params):
    if "step" in opt.state[params[0]]:
        opt.state[params[0]]["step"] = torch.tensor(40.0)


def step_data(opt, params):
    if "step" in opt.state[params[1]]:
        opt.state[params[1]]["step"].data = torch.tensor(25.0)


def state_clear(opt, params):
    opt.state.clear()


def state_pop(opt, params):
    opt.state.pop(params[1])


def state_popitem(opt, params):
    opt.state.popitem()


def state_del(opt, params):
    del opt.state[params[0]]


def state_update(opt, params):
    p = params[2]
    opt.state.update({p: {k: (v.clone() * 0.25 if k != "step" else v.clone()) for k, v in opt.state[p].items()}})


def state_setdefault(opt, params):
    opt.state.pop(params[0])
    opt.state.setdefault(params[0], {})


def state_replace_dict(opt, params):
    """A caller's own plain dict, then changed in place after the next step (kept by the caller)."""
    p = params[1]
    mine = {k: v.clone() for k, v in opt.state[p].items()}
    opt.state[p] = mine
    opt._test_kept = mine


def state_object_replaced(opt, params):
    opt.state = collections.defaultdict(dict, {p: dict(opt.state[p]) for p in params})


def reload_then_tensor_data(opt, params):
    """A checkpoint through torch.save / torch.load (state tensors that share storages come
    back sharing them), then one state tensor's storage swapped."""
    buf = io.BytesIO()
    torch.save(opt.state_dict(), buf)
    buf.seek(0)
    opt.load_state_dict(torch.load(buf, weights_only=True))
    p = params[2]
    k = tensor_keys(opt, p)[-1]
    opt.state[p][k].data = fresh(opt.state[p][k], 7)


def extra_view_kept(opt, params):
    """A caller keeps a view of a state tensor (one more user of its storage) and later swaps
    another state tensor's storage: the step must see the swap."""
    p, q = params[0], params[2]
    opt._test_alias = opt.state[p][tensor_keys(opt, p)[0]].view(-1)
    for k in tensor_keys(opt, q):  # the same values in new memory: a stale step leaves it behind
        opt.state[q][k].data = opt.state[q][k].detach().clone()


def param_data(opt, params):
    for i, p in enumerate(params):
        p.data = fresh(p, i)


MUTATIONS = [grad_data, grad_set_, state_entry_assign, state_entry_update, state_entry_setdefault,
             state_tensor_data, state_tensor_set_, step_assign, step_data, state_clear, state_pop,
             state_popitem, state_del, state_update, state_setdefault, state_replace_dict,
             state_object_replaced, reload_then_tensor_data, extra_view_kept, param_data]


def make(name, kw, seed=0):
    g = torch.Generator().manual_seed(seed)
    params = [torch.randn(s, generator=g).requires_grad_() for s in SHAPES]
    grads = [torch.randn(s, generator=g) for s in SHAPES]
    return params, grads


def set_grads(params, step, in_place):
    """Grads for a step: new tensors, or the same grad tensors overwritten (set_to_none=False)."""
    g = torch.Generator().manual_seed(100 + step)
    for p in params:
        new = torch.randn(p.shape, generator=g)
        if in_place and p.grad is not None:
            p.grad.copy_(new)
        else:
            p.grad = new


def run(opt, params, mutation, in_place):
    for step in range(3):
        set_grads(params, step, in_place)
        opt.step()
    mutation(opt, params)
    for step in range(3, 6):
        if mutation not in (grad_data, grad_set_) or step > 3:
            set_grads(params, step, in_place)
        opt.step()
        kept = getattr(opt, "_test_kept", None)
        if kept is not None:  # the caller changes its own dict in place: seen at the next step
            for k, v in kept.items():
                if k != "step":
                    kept[k] = v * 0.5
            opt._test_kept = None


def assert_same(ref_opt, ref_params, opt, params):
    for a, b in zip(ref_params, params):
        torch.testing.assert_close(b.detach(), a.detach(), **TOL)
    s_ref, s_mine = ref_opt.state_dict()["state"], opt.state_dict()["state"]
    assert s_ref.keys() == s_mine.keys()
    for i in s_ref:
        assert s_ref[i].keys() == s_mine[i].keys(), i
        for k, v in s_ref[i].items():
            torch.testing.assert_close(s_mine[i][k], v, **TOL, msg=lambda m: f"state[{i}][{k!r}]: {m}")


@pytest.mark.parametrize("in_place", [True, False], ids=["same_grads", "new_grads"])
@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.__name__ for m in MUTATIONS])
@pytest.mark.parametrize("name,kw", OPTIMIZERS, ids=[n for n, _ in OPTIMIZERS])
def test_mutation_between_steps_matches_torch(name, kw, mutation, in_place):
    ref_params, _ = make(name, kw)
    params = [p.detach().clone().requires_grad_() for p in ref_params]
    ref_opt = getattr(torch.optim, name)(ref_params, **kw, foreach=False)
    opt = getattr(ft, name)(params, **kw)
    run(ref_opt, ref_params, mutation, in_place)
    run(opt, params, mutation, in_place)
    assert_same(ref_opt, ref_params, opt, params)


def test_state_dict_is_plain_and_loads_weights_only(tmp_path):
    """The per-param state dicts count their changes, but a checkpoint holds plain dicts that
    torch.load(weights_only=True) reads."""
    params, _ = make("Adam", {})
    opt = ft.Adam(params, lr=0.01)
    set_grads(params, 0, False)
    opt.step()
    sd = opt.state_dict()
    assert all(type(v) is dict for v in sd["state"].values())
    torch.save(sd, tmp_path / "opt.pt")
    back = torch.load(tmp_path / "opt.pt", weights_only=True)
    ref = torch.optim.Adam([p.detach().clone().requires_grad_() for p in params], lr=0.01)
    ref.load_state_dict(back)
    assert ref.state_dict()["state"].keys() == sd["state"].keys()
