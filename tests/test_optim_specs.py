"""The optimizer specs (fastopt._optim_specs) and the three layers that read them agree.

For every spec: the functional step takes the spec's state lists and hyper-parameters with its
defaults; the fastopt.optim and fastopt.torch classes name the spec and have its defaults (and
torch.optim's, signature and ``defaults``, where torch has the optimizer); after one step the
state holds torch's keys. And the other way: every public optimizer step and class has a spec.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import fastopt.optim as fo
from fastopt import _optim_specs as S
from fastopt import functional as F
from fastopt.functional import _optim as FO

from _optim_table import option_sets

SPECS = list(S.SPECS.values())
IDS = [s.kernel for s in SPECS]

# option sets under which each conditional state entry exists, alone and together (and none)
OPTIONS = {name: option_sets(name) for name in S.SPECS}


def _params(fn):
    return inspect.signature(fn).parameters


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_functional_step_takes_the_spec(spec):
    params = _params(getattr(F, spec.kernel + "_"))
    positional = [n for n, p in params.items() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional == ["params", "grads"] + [s.arg for s in spec.states]
    keywords = [n for n, p in params.items() if p.kind is p.KEYWORD_ONLY]
    assert [n for n in keywords if n in spec.hypers] == list(spec.hypers)  # all of them, in order
    assert ("step" in keywords) == spec.takes_step
    for name, default in spec.hypers.items():
        d = params[name].default
        assert d is inspect.Parameter.empty and name == "lr" or d == default, (name, d, default)
    for s in spec.states:  # a conditional state list is optional, the others are required
        assert (params[s.arg].default is None) == (s.when is not None)
    assert spec.formula in getattr(F, spec.kernel + "_").__doc__


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_fastopt_optim_class_reads_the_spec(spec):
    cls = getattr(fo, spec.cls)
    assert cls._spec is spec
    params = _params(cls.__init__)
    for name, default in spec.group_defaults().items():  # AdamW's decoupled flag is not an argument
        assert name not in params or params[name].default == default, name
    opt = cls([np.zeros(3)])
    assert opt.defaults == {**spec.group_defaults(), "max_grad_norm": None}


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fastopt_optim_state_after_one_step(spec, dtype):
    for kw in OPTIONS[spec.kernel]:
        p = np.ones(4, dtype)
        opt = getattr(fo, spec.cls)([p], **kw)
        opt.step([np.full(4, 0.5, dtype)])
        group = {**spec.group_defaults(), **kw}
        keys = {k for k in spec.state_keys(group) if k is not None} | ({"step"} if spec.step else set())
        st = opt.state[p]
        assert set(st) == keys, (kw, st.keys())
        assert all(st[k].dtype == dtype and st[k].shape == p.shape for k in keys - {"step"})


def test_spec_maps_groups_to_kernel_arguments():
    group = {**S.ADAM.group_defaults(), "betas": (0.8, np.float64(0.95)), "amsgrad": True}
    assert S.ADAM.kernel_hyper(group) == dict(lr=1e-3, beta1=0.8, beta2=0.95, eps=1e-8, weight_decay=0,
                                              amsgrad=True, maximize=False, decoupled=False)
    assert S.ADAMW.kernel_hyper(S.ADAMW.group_defaults())["decoupled"] is True
    assert "decoupled" not in S.LAMB.kernel_hyper(S.LAMB.group_defaults())
    assert S.spec_for_group(S.ADAM, {"decoupled_weight_decay": True}) is S.ADAMW
    assert S.spec_for_group(S.ADAMW, {"decoupled_weight_decay": False}) is S.ADAM
    assert S.spec_for_group(S.ADAM, {}) is S.ADAM and S.spec_for_group(S.SGD, {}) is S.SGD
    sgd = {**S.SGD.group_defaults(), "momentum": 0.9}
    assert S.SGD.kernel_states(sgd, [["b"]]) == [("momentum_buffers", ["b"])]
    assert S.SGD.kernel_states(S.SGD.group_defaults(), [["b"]]) == [("momentum_buffers", None)]
    assert S.RMSPROP.state_keys({"centered": False, "momentum": 0.5}) == ["square_avg", None, "momentum_buffer"]
    assert S.ADAGRAD.states[0].initial({"initial_accumulator_value": 0.25}) == 0.25


def test_every_public_optimizer_has_a_spec():
    steps = {n for n in FO.__all__ if n != "clip_grad_norm_"}
    assert steps == {s.kernel + "_" for s in SPECS}
    classes = {n for n in fo.__all__ if isinstance(getattr(fo, n), type) and issubclass(getattr(fo, n), fo.Optimizer)}
    assert classes - {"Optimizer", "LBFGS"} == {s.cls for s in SPECS}  # LBFGS has no fused kernel
    assert len({s.cls for s in SPECS}) == len(SPECS)


# ---- fastopt.torch and torch.optim -----------------------------------------------------------------

@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def test_every_fastopt_torch_optimizer_has_a_spec(torch):
    import fastopt.torch as ft

    classes = {n for n in ft.__all__ if isinstance(getattr(ft, n), type)}
    assert all(issubclass(getattr(ft, n), torch.optim.Optimizer) for n in classes)
    assert classes == {s.cls for s in SPECS}


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_fastopt_torch_class_reads_the_spec(spec, torch):
    import fastopt.torch as ft

    cls = getattr(ft, spec.cls)
    assert cls._spec is spec
    assert cls([torch.zeros(3)]).defaults == spec.torch_defaults()
    params = _params(cls.__init__)
    for name, default in spec.torch_defaults().items():
        assert name not in params or params[name].default == default, name
    if spec.in_torch:
        theirs = getattr(torch.optim, spec.cls)
        assert theirs([torch.zeros(3)]).defaults == spec.torch_defaults()
        tparams = _params(theirs.__init__)
        assert [n for n in tparams if n in spec.torch_defaults()] == [n for n in params if n in spec.torch_defaults()]
        for name, default in spec.torch_defaults().items():
            assert name not in tparams or tparams[name].default == default, name
    else:
        assert not hasattr(torch.optim, spec.cls)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_state_keys_are_torchs_after_one_step(spec, torch):
    import fastopt.torch as ft

    for kw in OPTIONS[spec.kernel]:
        kw = {k: v for k, v in kw.items() if k in _params(getattr(ft, spec.cls).__init__)}
        group = {**spec.group_defaults(), **kw}
        expected = {k for k in spec.state_keys(group) if k is not None} | ({"step"} if spec.step else set())
        if spec.in_torch:
            t = torch.ones(4, requires_grad=True)
            topt = getattr(torch.optim, spec.cls)([t], **kw, foreach=False)
            t.grad = torch.full((4,), 0.5)
            topt.step()
            assert set(topt.state_dict()["state"].get(0, {})) == expected, (kw, topt.state_dict()["state"])
        p = torch.ones(4, requires_grad=True)
        opt = getattr(ft, spec.cls)([p], **kw)
        p.grad = torch.full((4,), 0.5)
        opt.step()
        assert set(opt.state_dict()["state"].get(0, {})) == expected, kw
        n = np.ones(4)
        nopt = getattr(fo, spec.cls)([n], **kw)
        nopt.step([np.full(4, 0.5)])
        assert set(nopt.state_dict()["state"].get(0, {})) == expected, kw


def test_fastopt_torch_steps_through_the_functional_path(torch, monkeypatch):
    """fastopt.torch has no kernel call of its own: its steps are ``functional._optim._run``'s."""
    import fastopt.torch as ft
    import fastopt.torch._optim as TO

    assert not hasattr(TO, "_core")
    calls = []
    run = FO._run

    def spy(spec, group, *args, **kwargs):
        calls.append((spec.kernel, group["lr"]))
        return run(spec, group, *args, **kwargs)

    monkeypatch.setattr(TO, "_run", spy)
    p = torch.ones(4, requires_grad=True)
    opt = ft.Adam([p], lr=0.25, decoupled_weight_decay=True)
    p.grad = torch.ones(4)
    opt.step()
    assert calls == [("adamw", 0.25)]
    assert TO.__dict__["_run"] is spy and run is FO._run
