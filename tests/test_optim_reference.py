"""fastopt.reference's optimizer steps against torch.optim (foreach=False) and hand formulas.

* every option combination of SGD, Adagrad, RMSprop, Adam and AdamW, random
  hyper-parameters, 60 steps over a list of tensors: the whole trajectory against torch's;
* Lion and LAMB against per-element formulas written out here;
* max_grad_norm against torch.nn.utils.clip_grad_norm_ followed by the step; grad_scale;
  found_inf skips; non-finite grads propagating as torch's;
* bfloat16 / float16 params with a float32 master copy against the float32 trajectory
  rounded; mixed grad dtypes; per-tensor step lists;
* bad input: raised before any array is touched.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from fastopt import reference as R
from fastopt.reference import _optim as RO

from _optim_table import NAMES, state_lists, takes_step
from fastopt._optim_specs import SPECS

SHAPES = [(13, 7), (5,), (1,), (0,), (3, 2, 4)]
STEPS = 60

# Trajectory tolerance after STEPS steps: |actual - torch| <= rtol * |torch| + atol * scale,
# with scale = lr * STEPS (the largest distance the params can travel). Torch's float32
# kernels fuse some a + s*b into one FMA and vectorize; the reference rounds each operation,
# so float32 trajectories drift by a few roundings per step. Measured worst of
# |err| / (|torch| + lr * STEPS) over 3 seeds of every case below: 4.8e-7 float32 (RMSprop),
# 9.5e-16 float64; the tolerance leaves a margin of ~6x (float32) and ~20x (float64).
TOL = {np.float32: (3e-6, 3e-6), np.float64: (2e-14, 2e-14)}


def _torch():
    return pytest.importorskip("torch")


def _params(rng, dtype):
    return [rng.standard_normal(s).astype(dtype) for s in SHAPES]


def _grad_seq(rng, dtype, n=STEPS):
    return [[(rng.standard_normal(s) * rng.choice([0.1, 1.0, 3.0])).astype(dtype) for s in SHAPES] for _ in range(n)]


def assert_traj(actual, expected, dtype, scale=1.0, what=""):
    rtol, atol = TOL[dtype]
    for i, (a, e) in enumerate(zip(actual, expected)):
        assert a.dtype == e.dtype and a.shape == e.shape
        np.testing.assert_array_equal(np.isnan(a), np.isnan(e), err_msg=f"{what} tensor {i}: NaN positions")
        fin = np.isfinite(e)
        err = np.abs(a[fin].astype(np.float64) - e[fin])
        tol = rtol * np.abs(e[fin]) + atol * scale
        if err.size and not (err <= tol).all():
            k = int(np.argmax(err - tol))
            pytest.fail(f"{what} tensor {i}: |{a[fin][k]} - {e[fin][k]}| = {err[k]:.3g} > {tol[k]:.3g}")


# --------------------------------------------------------------------------------------------
# the drivers: the reference with its own state lists, and torch.optim
# --------------------------------------------------------------------------------------------

STATE_LISTS = {name: state_lists(name) for name in NAMES}
HAS_STEP = {name for name in NAMES if takes_step(name)}


def run_reference(name, hp, params, grad_seq, *, extra=None, each_step=None):
    """Run ``reference.<name>_`` over grad_seq; returns (params, states) after the last step."""
    params = [p.copy() for p in params]
    sdt = [p.dtype if p.dtype in (np.float32, np.float64) else np.dtype(np.float32) for p in params]
    states = {k: [np.zeros(p.shape, dtype=dt) for p, dt in zip(params, sdt)] for k in STATE_LISTS[name]}
    if name == "adagrad":
        init = hp.pop("initial_accumulator_value", 0.0)
        states["state_sums"] = [np.full(p.shape, init, dtype=dt) for p, dt in zip(params, sdt)]
    fn = getattr(R, name + "_")
    for k, grads in enumerate(grad_seq, 1):
        kw = dict(hp)
        if name in HAS_STEP:
            kw["step"] = k
        if name == "sgd":
            kw["first_step"] = k == 1
        kw.update(extra or {})
        res = fn(params, grads, *[states[s] for s in STATE_LISTS[name]], **kw)
        if each_step is not None:
            each_step(k, res, params)
    return params, states


def run_torch(cls_name, hp, params, grad_seq, clip=None):
    torch = _torch()
    tps = [torch.tensor(p.copy()) for p in params]
    for t in tps:
        t.requires_grad_(True)
    opt = getattr(torch.optim, cls_name)(tps, foreach=False, **hp)
    norms = []
    for grads in grad_seq:
        for t, g in zip(tps, grads):
            t.grad = torch.tensor(g.copy())
        if clip is not None:
            norms.append(float(torch.nn.utils.clip_grad_norm_(tps, clip, foreach=False)))
        opt.step()
    return [t.detach().numpy().copy() for t in tps], opt, norms


def _r(rng, lo, hi):
    return float(rng.uniform(lo, hi))


# --------------------------------------------------------------------------------------------
# every option combination against torch
# --------------------------------------------------------------------------------------------


# Each optimizer torch has, over every combination of its options (from its spec): a boolean
# option on or off, a numeric one 0 or a random nonzero value, beta1 small or large (both
# branches of torch's lerp).
NONZERO = {  # option -> (lo, hi) of its random nonzero values
    "momentum": (0.5, 0.95), "dampening": (0.1, 0.9), "weight_decay": (1e-3, 0.1), "lr_decay": (1e-3, 0.1),
    "initial_accumulator_value": (0.01, 1.0),
}
LR = {"sgd": (1e-3, 0.05), "adagrad": (1e-3, 0.1)}  # else (1e-4, 1e-2)


def _option_axes(name):
    spec = SPECS[name]
    axes = {}
    for h, v in {**spec.hypers, **spec.class_hypers}.items():
        if h == "decoupled_weight_decay":
            continue  # Adam and AdamW are separate specs
        if isinstance(v, bool):
            axes[h] = [False, True]
        elif h == "betas":
            axes["small_b1"] = [False, True]
        elif h in NONZERO:
            axes[h] = [0, 1]
    return axes


def _torch_cases(name):
    axes = _option_axes(name)
    for combo in itertools.product(*axes.values()):
        flags = dict(zip(axes, combo))
        if flags.get("nesterov") and (not flags.get("momentum") or flags.get("dampening")):
            continue  # torch refuses Nesterov without momentum or with dampening
        yield flags


def _materialise(name, flags, rng):
    """Random hyper-parameter values for the flags of a case (1 = a random nonzero value)."""
    hp = {"lr": _r(rng, *LR.get(name, (1e-4, 1e-2)))}
    for h, on in flags.items():
        if h == "small_b1":
            b1 = _r(rng, 0.1, 0.45) if on else _r(rng, 0.8, 0.95)  # both lerp branches
            hp["betas"] = (b1, _r(rng, 0.9, 0.9999))
        elif h in NONZERO:
            hp[h] = _r(rng, *NONZERO[h]) if on else 0.0
        else:
            hp[h] = on
    hypers = SPECS[name].hypers
    if "eps" in hypers:
        hp["eps"] = float(rng.choice([hypers["eps"], 1e-6 if hypers["eps"] < 1e-6 else 1e-5]))
    if "alpha" in hypers:
        hp["alpha"] = _r(rng, 0.8, 0.999)
    return hp


TORCH_CASES = [(name, SPECS[name].cls, flags) for name in NAMES if SPECS[name].in_torch
               for flags in _torch_cases(name)]


def _case_id(case):
    name, _, flags = case
    on = [k if v is True else f"{k}" for k, v in flags.items() if v]
    return name + "-" + ("+".join(on) or "plain")


@pytest.mark.parametrize("case", TORCH_CASES, ids=[_case_id(c) for c in TORCH_CASES])
def test_against_torch(case, dtype, rng):
    name, cls_name, flags = case
    hp = _materialise(name, flags, rng)
    params = _params(rng, dtype)
    grads = _grad_seq(rng, dtype)
    expected, opt, _ = run_torch(cls_name, dict(hp), params, grads)
    actual, states = run_reference(name, dict(hp), params, grads)
    assert_traj(actual, expected, dtype, scale=hp["lr"] * STEPS, what=f"{name} {hp}")
    # the state too (torch's names)
    torch_state = opt.state[opt.param_groups[0]["params"][0]]
    for ours, theirs in ((s.arg, s.key) for s in SPECS[name].states):
        if ours in states and theirs in torch_state and torch_state[theirs] is not None:
            e = torch_state[theirs].numpy()
            assert_traj([states[ours][0]], [e], dtype, scale=float(np.abs(e).max()), what=f"{name} state {theirs}")


def test_tolerance_can_fail(rng):
    """The trajectory check notices a 0.1% change of the learning rate."""
    torch = _torch()
    params = _params(rng, np.float32)
    grads = _grad_seq(rng, np.float32)
    hp = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-6)
    expected, _, _ = run_torch("Adam", dict(hp), params, grads)
    actual, _ = run_reference("adam", dict(hp, lr=hp["lr"] * 1.001), params, grads)
    with pytest.raises(pytest.fail.Exception):
        assert_traj(actual, expected, np.float32, scale=hp["lr"] * STEPS)
    assert torch is not None


# --------------------------------------------------------------------------------------------
# Lion and LAMB against per-element formulas
# --------------------------------------------------------------------------------------------


def _lion_scalar(p, g, m, lr, b1, b2, wd, maximize, t):
    """One element, in the dtype ``t``, the paper's order of operations."""
    if maximize:
        g = -g
    c = m * t(b1) + t(1 - b1) * g
    if wd != 0:
        p = p * t(1 - lr * wd)
    s = t(0) if c == 0 else (t(1) if c > 0 else t(-1))
    p = p + t(-lr) * s
    m = m * t(b2) + t(1 - b2) * g
    return p, m


@pytest.mark.parametrize("wd,maximize", list(itertools.product([0.0, 0.05], [False, True])))
def test_lion_per_element(dtype, rng, wd, maximize):
    t = np.dtype(dtype).type
    lr, b1, b2 = _r(rng, 1e-4, 1e-2), _r(rng, 0.8, 0.95), _r(rng, 0.9, 0.999)
    params = _params(rng, dtype)
    grads = _grad_seq(rng, dtype)
    grads[3][0][0, 0] = 0.0  # c == 0 on the first step: sign 0
    exp = [p.copy() for p in params]
    mom = [np.zeros_like(p) for p in params]
    for gs in grads:
        for p, g, m in zip(exp, gs, mom):
            for idx in np.ndindex(p.shape):
                p[idx], m[idx] = _lion_scalar(p[idx], g[idx], m[idx], lr, b1, b2, wd, maximize, t)
    actual, states = run_reference("lion", dict(lr=lr, betas=(b1, b2), weight_decay=wd, maximize=maximize), params, grads)
    for a, e in zip(actual, exp):
        np.testing.assert_array_equal(a, e)
    for a, e in zip(states["exp_avgs"], mom):
        np.testing.assert_array_equal(a, e)


def _lamb_tensor(p, g, m, v, step, lr, b1, b2, eps, wd, bias_correction, maximize):
    """One tensor in float64 with Python floats, element by element."""
    p, g, m, v = (list(map(float, a.ravel())) for a in (p, g, m, v))
    if maximize:
        g = [-x for x in g]
    m = [mi + (1 - b1) * (gi - mi) for mi, gi in zip(m, g)]
    v = [b2 * vi + (1 - b2) * gi * gi for vi, gi in zip(v, g)]
    bc1 = 1 - b1 ** step if bias_correction else 1.0
    bc2 = 1 - b2 ** step if bias_correction else 1.0
    u = [(mi / bc1) / (math.sqrt(vi / bc2) + eps) + wd * pi for mi, vi, pi in zip(m, v, p)]
    pn = math.sqrt(sum(x * x for x in p))
    un = math.sqrt(sum(x * x for x in u))
    r = pn / un if pn > 0 and un > 0 else 1.0
    p = [pi - lr * r * ui for pi, ui in zip(p, u)]
    return np.array(p), np.array(m), np.array(v)


@pytest.mark.parametrize("wd,bias_correction,maximize", list(itertools.product([0.0, 0.01], [True, False], [False, True])))
def test_lamb_per_element(dtype, rng, wd, bias_correction, maximize):
    lr, b1, b2 = _r(rng, 1e-4, 1e-2), _r(rng, 0.8, 0.95), _r(rng, 0.99, 0.9999)
    eps = 1e-6
    params = _params(rng, dtype)
    params[2][...] = 0  # ||p|| == 0: ratio 1
    grads = _grad_seq(rng, dtype)
    exp = [p.astype(np.float64) for p in params]
    ms = [np.zeros(p.shape) for p in params]
    vs = [np.zeros(p.shape) for p in params]
    for k, gs in enumerate(grads, 1):
        for i, g in enumerate(gs):
            pn, mn, vn = _lamb_tensor(exp[i], g, ms[i], vs[i], k, lr, b1, b2, eps, wd, bias_correction, maximize)
            exp[i], ms[i], vs[i] = pn.reshape(g.shape), mn.reshape(g.shape), vn.reshape(g.shape)
    hp = dict(lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd, bias_correction=bias_correction, maximize=maximize)
    actual, _ = run_reference("lamb", hp, params, grads)
    # float64: the reference evaluates the same formulas in float64; float32 drifts by
    # float32 roundings (the hand version stays in float64 throughout).
    rtol, atol = (1e-11, 1e-12) if dtype == np.float64 else (1e-5, 2e-5 * lr * STEPS)
    for a, e in zip(actual, exp):
        np.testing.assert_allclose(a.astype(np.float64), e, rtol=rtol, atol=atol)


# --------------------------------------------------------------------------------------------
# max_grad_norm, grad_scale, found_inf, non-finite grads
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,cls_name,hp", [
    ("sgd", "SGD", dict(lr=0.01, momentum=0.9)),
    ("adam", "Adam", dict(lr=1e-3)),
    ("adamw", "AdamW", dict(lr=1e-3, weight_decay=0.05)),
    ("rmsprop", "RMSprop", dict(lr=1e-3, centered=True)),
    ("adagrad", "Adagrad", dict(lr=0.01)),
])
@pytest.mark.parametrize("clip", [0.5, 1e6], ids=["clipping", "no-clip"])
def test_max_grad_norm_against_torch_clip(name, cls_name, hp, clip, dtype, rng):
    params = _params(rng, dtype)
    grads = _grad_seq(rng, dtype)
    expected, _, norms = run_torch(cls_name, dict(hp), params, grads, clip=clip)
    seen = []
    actual, _ = run_reference(name, dict(hp), params, grads, extra={"max_grad_norm": clip},
                              each_step=lambda k, res, ps: seen.append(res))
    assert_traj(actual, expected, dtype, scale=hp["lr"] * STEPS, what=f"{name} clip {clip}")
    # torch sums float32 norms in float32; ours accumulates in float64
    np.testing.assert_allclose([r.grad_norm for r in seen], norms, rtol=1e-5 if dtype == np.float32 else 1e-12)
    assert not any(r.found_inf or r.skipped for r in seen)


def test_no_max_grad_norm_gives_no_norm(rng):
    p = [np.ones(3, np.float32)]
    res = R.sgd_(p, [np.ones(3, np.float32)], lr=0.1)
    assert res.grad_norm is None and not res.skipped and not res.found_inf


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "rmsprop", "adagrad", "lion", "lamb"])
def test_grad_scale_divides(name, rng):
    """grads * 2**k with grad_scale=2**k is the unscaled step, bit for bit (exact division),
    params and state."""
    params = _params(rng, np.float32)
    grads = _grad_seq(rng, np.float32, n=5)
    hp = {"sgd": dict(lr=0.01, momentum=0.9), "adagrad": dict(lr=0.01, weight_decay=0.1)}.get(name, {"lr": 1e-3})
    scaled = [[g * np.float32(1024.0) for g in gs] for gs in grads]
    a, sa = run_reference(name, dict(hp), params, scaled, extra={"grad_scale": 1024.0})
    e, se = run_reference(name, dict(hp), params, grads)
    for x, y in zip(a + sum(sa.values(), []), e + sum(se.values(), [])):
        np.testing.assert_array_equal(x, y)
    # without grad_scale the scaled grads give another result (the state at least)
    b, sb = run_reference(name, dict(hp), params, scaled)
    assert any(not np.array_equal(x, y) for x, y in zip(b + sum(sb.values(), []), e + sum(se.values(), [])))


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "rmsprop", "adagrad", "lion", "lamb"])
@pytest.mark.parametrize("how", ["inf-grad", "nan-grad", "set-on-entry"])
def test_found_inf_skips_everything(name, how, rng):
    params = _params(rng, np.float32)
    grads = _grad_seq(rng, np.float32, n=4)
    hp = {"sgd": dict(lr=0.01, momentum=0.9), "rmsprop": dict(lr=1e-3, centered=True, momentum=0.5)}.get(name, {"lr": 1e-3})
    p, states = run_reference(name, dict(hp), params, grads[:3])
    before_p = [x.copy() for x in p]
    before_s = {k: [x.copy() for x in v] for k, v in states.items()}
    bad = [g.copy() for g in grads[3]]
    if how == "inf-grad":
        bad[0][2, 3] = np.inf
    elif how == "nan-grad":
        bad[4][1, 1, 1] = np.nan
    found = np.array([1.0 if how == "set-on-entry" else 0.0], np.float32)
    kw = dict(hp, found_inf=found, max_grad_norm=1.0)
    if name in HAS_STEP:
        kw["step"] = 4
    res = getattr(R, name + "_")(p, bad, *[states[s] for s in STATE_LISTS[name]], **kw)
    assert res.skipped and found[0] == 1.0
    assert res.found_inf == (how != "set-on-entry")
    for x, y in zip(p, before_p):
        np.testing.assert_array_equal(x, y)
    for k in states:
        for x, y in zip(states[k], before_s[k]):
            np.testing.assert_array_equal(x, y)
    # a zero found_inf with finite grads: the ordinary step, found_inf stays 0
    found[0] = 0.0
    kw["found_inf"] = found
    res = getattr(R, name + "_")(p, grads[3], *[states[s] for s in STATE_LISTS[name]], **kw)
    assert not res.skipped and found[0] == 0.0
    assert any(not np.array_equal(x, y) for x, y in zip(p, before_p))


@pytest.mark.parametrize("name,cls_name,hp", [
    ("sgd", "SGD", dict(lr=0.01, momentum=0.9)),
    ("adam", "Adam", dict(lr=1e-3)),
    ("rmsprop", "RMSprop", dict(lr=1e-3)),
])
@pytest.mark.parametrize("clip", [None, 1.0], ids=["no-clip", "clip"])
def test_nonfinite_grads_propagate_as_torch(name, cls_name, hp, clip, rng):
    """Without found_inf, inf/NaN grads reach the params as in torch; with clipping, a NaN
    norm makes every grad NaN and an inf norm gives coef 0 (torch's clamp-and-multiply)."""
    params = _params(rng, np.float32)
    grads = _grad_seq(rng, np.float32, n=3)
    grads[1][0][0, 0] = np.inf
    grads[1][0][1, 1] = np.nan
    grads[2][1][2] = -np.inf
    expected, _, _ = run_torch(cls_name, dict(hp), params, grads, clip=clip)
    seen = []
    extra = None if clip is None else {"max_grad_norm": clip}
    actual, _ = run_reference(name, dict(hp), params, grads, extra=extra, each_step=lambda k, r, p: seen.append(r))
    assert [r.found_inf for r in seen] == [False, True, True]
    assert not any(r.skipped for r in seen)
    for a, e in zip(actual, expected):
        np.testing.assert_array_equal(np.isnan(a), np.isnan(e))
        np.testing.assert_array_equal(np.isinf(a), np.isinf(e))
    assert not np.isfinite(actual[0][0, 0]) and np.isnan(actual[0][1, 1])


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
def test_clip_grad_norm_against_torch(norm_type, dtype, rng):
    torch = _torch()
    grads = [g * 3 for g in _grad_seq(rng, dtype, n=1)[0] if g.size]  # torch: no inf norm of an empty tensor
    tg = [torch.tensor(g.copy()) for g in grads]
    tps = [torch.zeros(g.shape, dtype=tg[0].dtype, requires_grad=True) for g in grads]
    for t, g in zip(tps, tg):
        t.grad = g
    tn = float(torch.nn.utils.clip_grad_norm_(tps, 1.0, norm_type=norm_type, foreach=False))
    n = R.clip_grad_norm_(grads, 1.0, norm_type=norm_type)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    assert n == pytest.approx(tn, rel=rtol)
    for a, t in zip(grads, tps):
        np.testing.assert_allclose(a, t.grad.numpy(), rtol=rtol, atol=0)
    # below the limit: untouched
    small = [g / np.asarray(1e6, dtype) for g in grads]
    copy = [g.copy() for g in small]
    R.clip_grad_norm_(small, 1.0, norm_type=norm_type)
    for a, b in zip(small, copy):
        np.testing.assert_array_equal(a, b)


def test_clip_grad_norm_error_if_nonfinite():
    g = [np.array([1.0, np.inf], np.float32)]
    with pytest.raises(RuntimeError, match="non-finite"):
        R.clip_grad_norm_(g, 1.0, error_if_nonfinite=True)


# --------------------------------------------------------------------------------------------
# low precision: bfloat16 / float16 params with a float32 master copy
# --------------------------------------------------------------------------------------------


def test_bf16_round_matches_ml_dtypes(rng):
    ml_dtypes = pytest.importorskip("ml_dtypes")
    x = np.concatenate([
        rng.standard_normal(10000).astype(np.float32) * 100,
        np.array([0.0, -0.0, np.inf, -np.inf, 1e-40, -1e-40, 3.4e38, -3.4e38], np.float32),
        # ties: bit 15 set, low bits zero, both parities of bit 16
        np.array([0x3F808000, 0x3F818000, 0x3F80C000, 0x7F7FFFFF], np.uint32).view(np.float32),
    ])
    ours = RO.bf16_round(x)
    theirs = x.astype(ml_dtypes.bfloat16).view(np.uint16)
    np.testing.assert_array_equal(ours, theirs)
    nan = RO.bf16_round(np.array([np.nan, -np.nan], np.float32))
    assert np.isnan(RO.bf16_to_float32(nan)).all()
    np.testing.assert_array_equal(RO.bf16_to_float32(theirs), x.astype(ml_dtypes.bfloat16).astype(np.float32))


def test_bf16_round_ties_to_even():
    # 1 + 2**-8 is halfway between bf16 1 and 1 + 2**-7: rounds to even (1.0);
    # 1 + 3 * 2**-8 is halfway between 1 + 2**-7 and 1 + 2**-6: rounds to 1 + 2**-6
    x = np.array([1 + 2**-8, 1 + 3 * 2**-8, 1 + 2**-8 + 2**-20], np.float32)
    back = RO.bf16_to_float32(RO.bf16_round(x))
    np.testing.assert_array_equal(back, np.array([1.0, 1 + 2**-6, 1 + 2**-7], np.float32))


LOW = ["bf16-uint16", "bf16-ml_dtypes", "float16"]


def _low_param(kind, master):
    if kind == "bf16-uint16":
        return RO.bf16_round(master)
    if kind == "bf16-ml_dtypes":
        ml_dtypes = pytest.importorskip("ml_dtypes")
        return RO.bf16_round(master).view(ml_dtypes.bfloat16)
    return master.astype(np.float16)


def _low_to_f32(kind, p):
    if kind.startswith("bf16"):
        return RO.bf16_to_float32(p)
    return p.astype(np.float32)


def _round_like(kind, x):
    if kind.startswith("bf16"):
        return RO.bf16_to_float32(RO.bf16_round(x))
    return x.astype(np.float16).astype(np.float32)


@pytest.mark.parametrize("kind", LOW)
@pytest.mark.parametrize("name,hp", [
    ("sgd", dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("adagrad", dict(lr=0.01)),
    ("rmsprop", dict(lr=1e-3, centered=True, momentum=0.5)),
    ("adam", dict(lr=1e-3, amsgrad=True)),
    ("adamw", dict(lr=1e-3)),
    ("lion", dict(lr=1e-3, weight_decay=0.1)),
    ("lamb", dict(lr=1e-3, weight_decay=0.01)),
])
def test_low_precision_master_path(kind, name, hp, rng):
    """The master copy follows the float32 trajectory bit for bit; the low-precision param
    holds the master rounded to nearest even after every step."""
    masters = [_round_like(kind, p) for p in _params(rng, np.float32)]  # representable start
    lows = [_low_param(kind, m) for m in masters]
    grads = _grad_seq(rng, np.float32, n=20)
    # grads of the param's own precision too (mixed grad dtypes are allowed)
    for gs in grads[::2]:
        gs[0] = _low_param(kind, gs[0])
    f32_grads = [[_low_to_f32(kind, g) if g.dtype != np.float32 else g for g in gs] for gs in grads]
    expected, _ = run_reference(name, dict(hp), masters, f32_grads)

    def check(k, res, ps):
        for p, m in zip(ps, work_masters):
            np.testing.assert_array_equal(_low_to_f32(kind, p), _round_like(kind, m), err_msg=f"step {k}")

    work_masters = [m.copy() for m in masters]
    actual, _ = run_reference(name, dict(hp), lows, grads, extra={"master_params": work_masters}, each_step=check)
    for m, e in zip(work_masters, expected):
        np.testing.assert_array_equal(m, e)
    assert all(a.dtype == l.dtype for a, l in zip(actual, lows))


def test_low_precision_needs_master():
    p = np.zeros(3, np.float16)
    with pytest.raises(TypeError, match="master_params"):
        R.sgd_(p, np.ones(3, np.float32), lr=0.1)


def test_mixed_grad_dtypes_float32_params(rng):
    params = _params(rng, np.float32)
    grads = _grad_seq(rng, np.float32, n=5)
    for gs in grads:
        gs[0] = gs[0].astype(np.float16)
        gs[1] = RO.bf16_round(gs[1])
    as_f32 = [[g.astype(np.float32) if g.dtype == np.float16 else (RO.bf16_to_float32(g) if g.dtype == np.uint16 else g) for g in gs] for gs in grads]
    a, _ = run_reference("adam", dict(lr=1e-3), params, grads)
    e, _ = run_reference("adam", dict(lr=1e-3), params, as_f32)
    for x, y in zip(a, e):
        np.testing.assert_array_equal(x, y)


def test_per_tensor_step_list(rng):
    """step=[...] gives each tensor its own bias correction: the same as separate calls."""
    params = _params(rng, np.float64)
    grads = _grad_seq(rng, np.float64, n=1)[0]
    steps = [1, 7, 3, 2, 10]
    st = [np.full(p.shape, 0.3) for p in params], [np.full(p.shape, 0.2) for p in params]
    a = [p.copy() for p in params]
    R.adam_(a, grads, [x.copy() for x in st[0]], [x.copy() for x in st[1]], step=steps, lr=1e-2)
    for i, p in enumerate(params):
        e = p.copy()
        R.adam_(e, grads[i], st[0][i].copy(), st[1][i].copy(), step=steps[i], lr=1e-2)
        np.testing.assert_array_equal(a[i], e)
    with pytest.raises(ValueError, match="step"):
        R.adam_(a, grads, st[0], st[1], step=[1, 2], lr=1e-2)


def test_sgd_first_step_per_tensor(rng):
    params = _params(rng, np.float64)[:2]
    grads = _grad_seq(rng, np.float64, n=1)[0][:2]
    bufs = [np.full(p.shape, 5.0) for p in params]
    R.sgd_(params, grads, bufs, lr=0.1, momentum=0.9, dampening=0.5, first_step=[True, False])
    np.testing.assert_array_equal(bufs[0], grads[0])  # torch's clone, no dampening
    np.testing.assert_allclose(bufs[1], 0.9 * 5.0 + 0.5 * grads[1], rtol=1e-15)


def test_single_arrays_are_lists_of_one(rng):
    p = rng.standard_normal(10)
    g = rng.standard_normal(10)
    m, v = np.zeros(10), np.zeros(10)
    a = p.copy()
    R.adam_(a, g, m, v, step=1)
    b = [p.copy()]
    R.adam_(b, [g], [np.zeros(10)], [np.zeros(10)], step=1)
    np.testing.assert_array_equal(a, b[0])
    assert not np.array_equal(a, p)


# --------------------------------------------------------------------------------------------
# bad input: an error before anything is touched
# --------------------------------------------------------------------------------------------


def _bad_cases():
    ok = lambda: ([np.ones((3, 4), np.float32), np.ones(5, np.float32)],  # noqa: E731
                  [np.ones((3, 4), np.float32), np.ones(5, np.float32)],
                  [np.zeros((3, 4), np.float32), np.zeros(5, np.float32)],
                  [np.zeros((3, 4), np.float32), np.zeros(5, np.float32)])

    def shape_grad():
        p, g, m, v = ok(); g[1] = np.ones(6, np.float32); return p, g, m, v, ValueError, r"grads\[1\]"

    def dtype_grad():
        p, g, m, v = ok(); g[1] = np.ones(5, np.float64); return p, g, m, v, TypeError, r"grads\[1\]"

    def dtype_state():
        p, g, m, v = ok(); v[1] = np.zeros(5, np.float64); return p, g, m, v, TypeError, r"exp_avg_sqs\[1\]"

    def shape_state():
        p, g, m, v = ok(); m[1] = np.zeros(4, np.float32); return p, g, m, v, ValueError, r"exp_avgs\[1\]"

    def readonly_param():
        p, g, m, v = ok(); p[1].flags.writeable = False; return p, g, m, v, ValueError, r"params\[1\].*read-only"

    def readonly_state():
        p, g, m, v = ok(); v[1].flags.writeable = False; return p, g, m, v, ValueError, r"exp_avg_sqs\[1\].*read-only"

    def noncontig_param():
        p, g, m, v = ok(); p[1] = np.ones(10, np.float32)[::2]; return p, g, m, v, ValueError, r"params\[1\].*contiguous"

    def noncontig_state():
        p, g, m, v = ok(); m[1] = np.zeros(10, np.float32)[::2]; return p, g, m, v, ValueError, r"exp_avgs\[1\].*contiguous"

    def int_param():
        p, g, m, v = ok(); p[1] = np.ones(5, np.int32); return p, g, m, v, TypeError, r"params\[1\].*int32"

    def short_list():
        p, g, m, v = ok(); v = v[:1]; return p, g, m, v, ValueError, "exp_avg_sqs has 1 entries"

    def f64_param_f32_grad():
        p, g, m, v = ok(); p[1] = np.ones(5); m[1] = np.zeros(5); v[1] = np.zeros(5); return p, g, m, v, TypeError, r"grads\[1\]"

    return [shape_grad, dtype_grad, dtype_state, shape_state, readonly_param, readonly_state, noncontig_param,
            noncontig_state, int_param, short_list, f64_param_f32_grad]


@pytest.mark.parametrize("make", _bad_cases(), ids=lambda f: f.__name__)
def test_bad_input_raises_before_touching(make):
    p, g, m, v, exc, match = make()
    before = [x.copy() for x in p + m + v]
    with pytest.raises(exc, match=match):
        R.adam_(p, g, m, v, step=1, lr=0.1, weight_decay=0.1)
    for x, y in zip(p + m + v, before):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("what", ["master-dtype", "master-shape", "master-readonly", "master-missing", "found_inf-dtype"])
def test_bad_master_and_found_inf(what):
    p = [np.zeros(4, np.float32), np.zeros(3, np.float16)]
    g = [np.ones(4, np.float32), np.ones(3, np.float32)]
    m = [np.zeros(4, np.float32), np.zeros(3, np.float32)]
    masters = [None, np.ones(3, np.float32)]
    found = None
    exc, match = TypeError, r"master_params\[1\]"
    if what == "master-dtype":
        masters[1] = np.ones(3, np.float64)
    elif what == "master-shape":
        masters[1] = np.ones(4, np.float32)
        exc = ValueError
    elif what == "master-readonly":
        masters[1].flags.writeable = False
        exc = ValueError
    elif what == "master-missing":
        masters[1] = None
    else:
        found = np.zeros(1, np.float64)
        match = "found_inf"
    before = [x.copy() for x in p + m]
    with pytest.raises(exc, match=match):
        R.sgd_(p, g, m, lr=0.1, momentum=0.9, master_params=masters, found_inf=found)
    for x, y in zip(p + m, before):
        np.testing.assert_array_equal(x, y)
