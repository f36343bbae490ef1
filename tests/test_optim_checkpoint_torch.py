"""fastopt.optim checkpoints (NumPy arrays) load into torch.optim and fastopt.torch (issue 23).

torch.optim's load_state_dict takes tensors only (an ndarray fails with a TypeError about a
generator), so ``fastopt.torch.to_torch_state_dict`` converts; fastopt.torch's classes load the
NumPy state_dict as it is. Each case trains a few steps in fastopt.optim, moves the state (in
memory and through a ``save_state_dict`` file), and checks that torch continues exactly as
fastopt.optim does.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastopt.optim as fo
from fastopt.optim import load_state_dict_file, save_state_dict

torch = pytest.importorskip("torch")
ft = pytest.importorskip("fastopt.torch")

SHAPES = [(5, 3), (7,), (2, 2, 2)]

# (class name, options): every optimizer fastopt.optim and torch.optim both step with a grad
CASES = [
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("Adagrad", dict(lr=0.05, lr_decay=0.01, initial_accumulator_value=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, decoupled_weight_decay=True, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01, maximize=True)),
]
IDS = [f"{n}-{i}" for i, (n, _) in enumerate(CASES)]


def init_params():
    rng = np.random.default_rng(0)
    return [rng.standard_normal(s) for s in SHAPES]  # float64: the comparison is exact to rounding


def grads_of(ps):
    """A fixed nonlinear gradient field, the same in NumPy and torch (p**3 - 0.5)."""
    return [p ** 3 - 0.5 for p in ps]


def numpy_steps(opt, params, n):
    for _ in range(n):
        opt.step(grads_of(params))


def torch_steps(opt, tparams, n):
    for _ in range(n):
        with torch.no_grad():
            for t, g in zip(tparams, grads_of([t.detach() for t in tparams])):
                t.grad = g.clone()
        opt.step()


def trained(name, kw):
    params = init_params()
    opt = getattr(fo, name)(params, **kw)
    numpy_steps(opt, params, 4)
    return params, opt


@pytest.mark.parametrize("via_file", [False, True])
@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_fastopt_optim_checkpoint_loads_into_torch_optim(name, kw, via_file, tmp_path):
    params, opt = trained(name, kw)
    sd = opt.state_dict()
    if via_file:
        save_state_dict(tmp_path / "ck.npz", sd)
        sd = load_state_dict_file(tmp_path / "ck.npz")
    tparams = [torch.tensor(p, requires_grad=True) for p in params]
    topt = getattr(torch.optim, name)(tparams, **kw, foreach=False)
    topt.load_state_dict(ft.to_torch_state_dict(sd))
    for i, st in topt.state_dict()["state"].items():
        assert set(st) == set(sd["state"][i]), (st.keys(), sd["state"][i].keys())
        if "step" in st:
            assert torch.is_tensor(st["step"]) and float(st["step"]) == 4
    numpy_steps(opt, params, 3)
    torch_steps(topt, tparams, 3)
    for p, t in zip(params, tparams):
        np.testing.assert_allclose(t.detach().numpy(), p, rtol=1e-12, atol=1e-14)


SPEC_CASES = CASES + [("Lion", dict(lr=0.01, weight_decay=0.1)), ("LAMB", dict(lr=0.01, weight_decay=0.1))]


@pytest.mark.parametrize("name,kw", SPEC_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SPEC_CASES)])
def test_fastopt_optim_checkpoint_loads_into_fastopt_torch(name, kw):
    """fastopt.torch converts a NumPy state_dict itself, for every optimizer it has."""
    params, opt = trained(name, kw)
    tparams = [torch.tensor(p, requires_grad=True) for p in params]
    topt = getattr(ft, name)(tparams, **kw)
    topt.load_state_dict(opt.state_dict())
    numpy_steps(opt, params, 3)
    torch_steps(topt, tparams, 3)
    for p, t in zip(params, tparams):
        np.testing.assert_allclose(t.detach().numpy(), p, rtol=1e-12, atol=1e-14)
    for i, st in topt.state_dict()["state"].items():
        assert set(st) == set(opt.state_dict()["state"][i])


def test_to_torch_state_dict_keeps_the_input():
    params, opt = trained("Adam", dict(lr=0.01))
    sd = opt.state_dict()
    out = ft.to_torch_state_dict(sd)
    assert isinstance(sd["state"][0]["exp_avg"], np.ndarray) and sd["state"][0]["step"] == 4
    assert torch.is_tensor(out["state"][0]["exp_avg"]) and out["state"][0]["step"].dtype == torch.float32
    out["state"][0]["exp_avg"].zero_()  # a copy: the checkpoint is not aliased
    assert np.any(sd["state"][0]["exp_avg"] != 0)
    assert out["param_groups"] == sd["param_groups"]


def test_lbfgs_checkpoint_loads_into_torch_optim():
    """LBFGS's history (lists of arrays) converts too; torch continues the same iterations."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((6, 6))
    a = a @ a.T + np.eye(6)
    b = rng.standard_normal(6)
    x = np.zeros(6)
    opt = fo.LBFGS([x], max_iter=3, history_size=4)

    def closure():
        return 0.5 * x @ a @ x - b @ x, [a @ x - b]

    opt.step(closure)
    t = torch.tensor(x, requires_grad=True)
    topt = torch.optim.LBFGS([t], max_iter=3, history_size=4)
    topt.load_state_dict(ft.to_torch_state_dict(opt.state_dict()))
    at, bt = torch.tensor(a), torch.tensor(b)

    def tclosure():
        topt.zero_grad()
        loss = 0.5 * t @ at @ t - bt @ t
        loss.backward()
        return loss

    for _ in range(2):
        opt.step(closure)
        topt.step(tclosure)
    n_iter = opt.state_dict()["state"][0]["n_iter"]
    assert topt.state_dict()["state"][0]["n_iter"] == n_iter > 3
    np.testing.assert_allclose(t.detach().numpy(), x, rtol=1e-12, atol=1e-14)
