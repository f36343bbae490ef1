"""The compiled multi-tensor steps (fastopt.functional.*_) against torch.optim, step by step.

torch is the oracle for SGD, Adagrad, RMSprop, Adam and AdamW (foreach=False, its plain
per-tensor loop); Lion and LAMB, which torch does not ship, are checked against a per-element
float64 formula here. Trajectories run 50 steps on several tensors of mixed sizes with random
hyper-parameters; float32 must stay within float32 rounding of torch's trajectory.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import fastopt
from fastopt import functional as F

torch = pytest.importorskip("torch")

STEPS = 50
SHAPES = [(3, 5), (1,), (257,), (0,), (64, 33)]
RTOL = {np.float32: 2e-5, np.float64: 1e-12}
ATOL = {np.float32: 2e-6, np.float64: 1e-13}


def assert_trajectory_close(actual, expected, dtype, err_msg=""):
    """Equal to rounding: relative to each element, with an absolute floor scaled by the
    tensor's magnitude (elements that cancel to near zero carry the rounding of the big ones)."""
    scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
    np.testing.assert_allclose(actual, expected, rtol=RTOL[dtype], atol=ATOL[dtype] * scale, err_msg=err_msg)


def _arrays(rng, dtype, shapes=SHAPES):
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def _grads(rng, dtype, shapes=SHAPES):
    return [(rng.standard_normal(s) * rng.choice([1e-3, 1.0, 10.0])).astype(dtype) for s in shapes]


# name -> (torch class, list of option dicts, function that runs fastopt's step)
def _sgd(opts):
    return dict(lr=opts["lr"], momentum=opts.get("momentum", 0.0), dampening=opts.get("dampening", 0.0),
                nesterov=opts.get("nesterov", False), weight_decay=opts.get("weight_decay", 0.0),
                maximize=opts.get("maximize", False))


SGD_OPTIONS = [
    dict(lr=0.05),
    dict(lr=0.05, weight_decay=0.1),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01, maximize=True),
    dict(lr=0.05, momentum=0.9, nesterov=True),
    dict(lr=0.05, momentum=0.5, nesterov=True, weight_decay=0.1),
]
ADAGRAD_OPTIONS = [
    dict(lr=0.1),
    dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, eps=1e-6),
    dict(lr=0.1, initial_accumulator_value=0.5, maximize=True),
]
RMSPROP_OPTIONS = [
    dict(lr=0.01),
    dict(lr=0.01, centered=True),
    dict(lr=0.01, momentum=0.9),
    dict(lr=0.01, alpha=0.9, centered=True, momentum=0.5, weight_decay=0.1, maximize=True),
    dict(lr=0.01, eps=1e-3, weight_decay=0.01),
]
ADAM_OPTIONS = [
    dict(lr=1e-2),
    dict(lr=1e-2, betas=(0.8, 0.99), weight_decay=0.1),
    dict(lr=1e-2, amsgrad=True),
    dict(lr=1e-2, amsgrad=True, weight_decay=0.05, maximize=True, eps=1e-6),
    dict(lr=3e-3, betas=(0.5, 0.9)),
]


class Fast:
    """fastopt's step for one torch optimizer configuration, keeping state as torch would."""

    def __init__(self, name, opts, params):
        self.name, self.opts, self.params, self.t = name, dict(opts), params, 0
        zeros = lambda: [np.zeros_like(p) for p in params]  # noqa: E731
        if name == "sgd":
            self.bufs = zeros()
        elif name == "adagrad":
            init = self.opts.pop("initial_accumulator_value", 0.0)
            self.sums = [np.full_like(p, init) for p in params]
        elif name == "rmsprop":
            self.sq, self.ga, self.bufs = zeros(), zeros(), zeros()
        else:
            self.m, self.v, self.vmax = zeros(), zeros(), zeros()

    def step(self, grads, **common):
        self.t += 1
        o = self.opts
        if self.name == "sgd":
            return F.sgd_(self.params, grads, self.bufs, first_step=self.t == 1, **_sgd(o), **common)
        if self.name == "adagrad":
            return F.adagrad_(self.params, grads, self.sums, step=self.t, **o, **common)
        if self.name == "rmsprop":
            return F.rmsprop_(self.params, grads, self.sq, self.ga, self.bufs, **o, **common)
        fn = F.adam_ if self.name == "adam" else F.adamw_
        return fn(self.params, grads, self.m, self.v, self.vmax, step=self.t, **o, **common)


TORCH = {"sgd": "SGD", "adagrad": "Adagrad", "rmsprop": "RMSprop", "adam": "Adam", "adamw": "AdamW"}
CASES = (
    [("sgd", o) for o in SGD_OPTIONS]
    + [("adagrad", o) for o in ADAGRAD_OPTIONS]
    + [("rmsprop", o) for o in RMSPROP_OPTIONS]
    + [("adam", o) for o in ADAM_OPTIONS]
    + [("adamw", o) for o in ADAM_OPTIONS]
)


def _torch_run(name, opts, params0, grads_seq):
    tparams = [torch.tensor(p, requires_grad=True) for p in params0]
    opt = getattr(torch.optim, TORCH[name])(tparams, foreach=False, **opts)
    for grads in grads_seq:
        for tp, g in zip(tparams, grads):
            tp.grad = torch.tensor(g)
        opt.step()
    return [tp.detach().numpy() for tp in tparams]


@pytest.mark.parametrize("name,opts", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_trajectory_matches_torch(name, opts, dtype, rng):
    params0 = _arrays(rng, dtype)
    grads_seq = [_grads(rng, dtype) for _ in range(STEPS)]
    expected = _torch_run(name, opts, params0, grads_seq)
    fast = Fast(name, opts, [p.copy() for p in params0])
    for grads in grads_seq:
        result = fast.step(grads)
        assert result == fastopt.StepResult(None, False, False)
    for i, (a, e) in enumerate(zip(fast.params, expected)):
        assert_trajectory_close(a, e, dtype, err_msg=f"{name} {opts} tensor {i}")


@pytest.mark.parametrize("name", ["sgd", "adagrad", "rmsprop", "adam", "adamw"])
def test_random_hyperparameters_match_torch(name, rng):
    """Random hyper-parameters over many draws, float32, 50 steps each."""
    for _ in range(4):
        lr = float(10 ** rng.uniform(-4, -1))
        wd = float(rng.choice([0.0, 10 ** rng.uniform(-4, -1)]))
        maximize = bool(rng.integers(2))
        if name == "sgd":
            momentum = float(rng.choice([0.0, rng.uniform(0.1, 0.99)]))
            nesterov = bool(momentum > 0 and rng.integers(2))
            opts = dict(lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=wd, maximize=maximize,
                        dampening=0.0 if nesterov else float(rng.choice([0.0, rng.uniform(0, 0.5)])))
        elif name == "adagrad":
            opts = dict(lr=lr, lr_decay=float(rng.uniform(0, 0.1)), weight_decay=wd, maximize=maximize,
                        eps=float(10 ** rng.uniform(-10, -6)))
        elif name == "rmsprop":
            opts = dict(lr=lr, alpha=float(rng.uniform(0.8, 0.999)), weight_decay=wd, maximize=maximize,
                        momentum=float(rng.choice([0.0, rng.uniform(0.1, 0.9)])), centered=bool(rng.integers(2)))
        else:
            opts = dict(lr=lr, betas=(float(rng.uniform(0.5, 0.99)), float(rng.uniform(0.9, 0.9999))),
                        weight_decay=wd, maximize=maximize, amsgrad=bool(rng.integers(2)),
                        eps=float(10 ** rng.uniform(-8, -4)))
        params0 = _arrays(rng, np.float32)
        grads_seq = [_grads(rng, np.float32) for _ in range(STEPS)]
        expected = _torch_run(name, opts, params0, grads_seq)
        fast = Fast(name, opts, [p.copy() for p in params0])
        for grads in grads_seq:
            fast.step(grads)
        for a, e in zip(fast.params, expected):
            assert_trajectory_close(a, e, np.float32, err_msg=str(opts))


def test_every_isa_and_thread_count_is_bitwise_identical(isa, nthreads, rng):
    """The update is elementwise: any ISA's result equals torch's to rounding, and for one ISA
    the result does not depend on the thread count (checked against 1 thread)."""
    shapes = [(70001,), (3, 40000), (5,), (131072,)]
    params0 = _arrays(rng, np.float32, shapes)
    grads = _grads(rng, np.float32, shapes)
    results = {}
    for threads in (1, nthreads):
        fastopt.set_num_threads(threads)
        p = [x.copy() for x in params0]
        m = [np.zeros_like(x) for x in p]
        v = [np.zeros_like(x) for x in p]
        F.adamw_(p, grads, m, v, step=3, lr=1e-2, weight_decay=0.1, max_grad_norm=1.0)
        results[threads] = p + m + v
    for a, b in zip(results[1], results[nthreads]):
        np.testing.assert_array_equal(a, b)


# ---- Lion and LAMB: per-element formulas --------------------------------------------------


def _lion_ref(p, g, m, lr, b1, b2, wd):
    p, g, m = (x.astype(np.float64) for x in (p, g, m))
    c = b1 * m + (1 - b1) * g
    return p * (1 - lr * wd) - lr * np.sign(c), b2 * m + (1 - b2) * g


def test_lion_matches_formula(dtype, rng):
    p = _arrays(rng, dtype)
    m = [np.zeros_like(x) for x in p]
    lr, b1, b2, wd = 1e-3, 0.9, 0.99, 0.1
    for _ in range(10):
        g = _grads(rng, dtype)
        expected = [_lion_ref(pi, gi, mi, lr, b1, b2, wd) for pi, gi, mi in zip(p, g, m)]
        F.lion_(p, g, m, lr=lr, betas=(b1, b2), weight_decay=wd)
        for (ep, em), ap, am in zip(expected, p, m):
            np.testing.assert_allclose(ap, ep, rtol=RTOL[dtype] * 10, atol=ATOL[dtype])
            np.testing.assert_allclose(am, em, rtol=RTOL[dtype] * 10, atol=ATOL[dtype])


def _lamb_ref(p, g, m, v, step, lr, b1, b2, eps, wd):
    p, g, m, v = (x.astype(np.float64) for x in (p, g, m, v))
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    u = (m / (1 - b1**step)) / (np.sqrt(v / (1 - b2**step)) + eps) + wd * p
    wn, un = np.linalg.norm(p), np.linalg.norm(u)
    r = wn / un if wn > 0 and un > 0 else 1.0
    return p - lr * r * u, m, v


def test_lamb_matches_formula(dtype, rng):
    p = _arrays(rng, dtype)
    m = [np.zeros_like(x) for x in p]
    v = [np.zeros_like(x) for x in p]
    lr, b1, b2, eps, wd = 1e-2, 0.9, 0.999, 1e-6, 0.01
    for step in range(1, 11):
        g = _grads(rng, dtype)
        expected = [_lamb_ref(*a, step, lr, b1, b2, eps, wd) for a in zip(p, g, m, v)]
        F.lamb_(p, g, m, v, step=step, lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
        for e, a in zip(expected, zip(p, m, v)):
            for ei, ai in zip(e, a):
                np.testing.assert_allclose(ai, ei, rtol=RTOL[dtype] * 10, atol=ATOL[dtype])


# ---- Clipping, AMP, by-products -------------------------------------------------------------


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf"), 3.0])
def test_clip_grad_norm_matches_torch(norm_type, dtype, rng, nthreads):
    # torch refuses the inf norm of an empty tensor; fastopt counts an empty grad as 0.
    shapes = [(1000,), (7, 9), (70000,)] + ([] if norm_type == float("inf") else [(0,)])
    grads = _grads(rng, dtype, shapes)
    tgrads = [torch.tensor(g) for g in grads]
    tparams = [torch.zeros(g.shape, dtype=tg.dtype, requires_grad=True) for g, tg in zip(grads, tgrads)]
    for tp, tg in zip(tparams, tgrads):
        tp.grad = tg.clone()
    max_norm = 0.5
    expected_norm = float(torch.nn.utils.clip_grad_norm_(tparams, max_norm, norm_type=norm_type, foreach=False))
    norm = F.clip_grad_norm_(grads, max_norm, norm_type=norm_type)
    np.testing.assert_allclose(norm, expected_norm, rtol=RTOL[dtype] * 5)
    for g, tp in zip(grads, tparams):
        np.testing.assert_allclose(g, tp.grad.numpy(), rtol=RTOL[dtype] * 5, atol=ATOL[dtype])


def test_clip_grad_norm_nonfinite(rng):
    grads = [np.array([1.0, np.inf], np.float32)]
    with pytest.raises(RuntimeError, match="non-finite"):
        F.clip_grad_norm_(grads, 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(grads[0], [1.0, np.inf])  # nothing scaled
    assert np.isinf(F.clip_grad_norm_(grads, 1.0))


def test_max_grad_norm_equals_clip_then_step(dtype, rng, nthreads):
    """Fused clipping equals torch's clip_grad_norm_ followed by the step; grads untouched."""
    shapes = [(100,), (300, 200), (5,)]
    params0 = _arrays(rng, dtype, shapes)
    grads = _grads(rng, dtype, shapes)
    grads_before = [g.copy() for g in grads]
    tparams = [torch.tensor(p, requires_grad=True) for p in params0]
    for tp, g in zip(tparams, grads):
        tp.grad = torch.tensor(g)
    expected_norm = float(torch.nn.utils.clip_grad_norm_(tparams, 0.1, foreach=False))
    torch.optim.Adam(tparams, lr=1e-2, foreach=False).step()
    p = [x.copy() for x in params0]
    m = [np.zeros_like(x) for x in p]
    v = [np.zeros_like(x) for x in p]
    result = F.adam_(p, grads, m, v, step=1, lr=1e-2, max_grad_norm=0.1)
    np.testing.assert_allclose(result.grad_norm, expected_norm, rtol=RTOL[dtype] * 5)
    assert not result.found_inf and not result.skipped
    for a, tp in zip(p, tparams):
        np.testing.assert_allclose(a, tp.detach().numpy(), rtol=RTOL[dtype], atol=ATOL[dtype])
    for g, g0 in zip(grads, grads_before):
        np.testing.assert_array_equal(g, g0)


def test_grad_scale_divides_grads(rng):
    p0 = _arrays(rng, np.float32)
    grads = _grads(rng, np.float32)
    scale = 1024.0
    a = [x.copy() for x in p0]
    b = [x.copy() for x in p0]
    F.sgd_(a, [g * scale for g in grads], lr=0.1, grad_scale=scale)
    F.sgd_(b, grads, lr=0.1)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)  # power-of-two scale: exact


@pytest.mark.parametrize("max_grad_norm", [None, 1.0])
def test_found_inf_skips_the_whole_step(rng, max_grad_norm):
    p = _arrays(rng, np.float32)
    grads = _grads(rng, np.float32)
    grads[-1].flat[3] = np.nan
    m = [np.zeros_like(x) for x in p]
    v = [np.zeros_like(x) for x in p]
    before = [x.copy() for x in p + m + v]
    found = np.zeros(1, np.float32)
    result = F.adam_(p, grads, m, v, step=1, found_inf=found, max_grad_norm=max_grad_norm)
    assert result.found_inf and result.skipped and found[0] == 1.0
    for x, y in zip(p + m + v, before):
        np.testing.assert_array_equal(x, y)
    # A nonzero found_inf on entry (set by a GradScaler) skips too, even with finite grads.
    grads[-1].flat[3] = 0.0
    result = F.adam_(p, grads, m, v, step=1, found_inf=found)
    assert result.skipped
    found[0] = 0.0
    result = F.adam_(p, grads, m, v, step=1, found_inf=found)
    assert not result.skipped and not result.found_inf and found[0] == 0.0
    assert not np.array_equal(p[0], before[0])


def test_nonfinite_grads_propagate_and_are_reported(rng):
    p = [np.ones(10, np.float32)]
    g = [np.ones(10, np.float32)]
    g[0][4] = np.inf
    result = F.sgd_(p, g, lr=0.1)
    assert result.found_inf and not result.skipped
    assert np.isneginf(p[0][4]) and np.all(np.isfinite(np.delete(p[0], 4)))


def test_per_tensor_steps(rng):
    """A list of steps equals separate calls with each tensor's own step."""
    p0 = _arrays(rng, np.float32)
    grads = _grads(rng, np.float32)
    steps = [1, 5, 2, 9, 3]
    a = [x.copy() for x in p0]
    ma = [np.full_like(x, 0.1) for x in a]
    va = [np.full_like(x, 0.2) for x in a]
    F.adam_(a, grads, ma, va, step=steps, lr=0.01)
    for i, s in enumerate(steps):
        b, mb, vb = p0[i].copy(), np.full_like(p0[i], 0.1), np.full_like(p0[i], 0.2)
        F.adam_(b, grads[i], mb, vb, step=s, lr=0.01)
        np.testing.assert_array_equal(a[i], b)


def test_multi_tensor_equals_single_tensor_calls(rng):
    p0 = _arrays(rng, np.float32)
    grads = _grads(rng, np.float32)
    a = [x.copy() for x in p0]
    bufs = [np.zeros_like(x) for x in a]
    F.sgd_(a, grads, bufs, lr=0.1, momentum=0.9, first_step=True)
    for i in range(len(p0)):
        b, buf = p0[i].copy(), np.zeros_like(p0[i])
        F.sgd_(b, grads[i], buf, lr=0.1, momentum=0.9, first_step=True)
        np.testing.assert_array_equal(a[i], b)
        np.testing.assert_array_equal(bufs[i], buf)


# ---- Bad input: a clear error, nothing touched ----------------------------------------------


def _adam_lists(rng, n=3):
    p = [rng.standard_normal(5).astype(np.float32) for _ in range(n)]
    return p, [np.ones_like(x) for x in p], [np.zeros_like(x) for x in p], [np.zeros_like(x) for x in p]


@pytest.mark.parametrize(
    "spoil,error,match",
    [
        (lambda p, g, m, v: p.__setitem__(2, p[2].astype(np.float64)), TypeError, r"params\[2\] is float64"),
        (lambda p, g, m, v: g.__setitem__(1, g[1][:4].copy()), ValueError, r"shape"),
        (lambda p, g, m, v: v.__setitem__(2, v[2].astype(np.float64)), TypeError, r"exp_avg_sqs\[2\]"),
        (lambda p, g, m, v: p.__setitem__(2, np.arange(10, dtype=np.float32)[::2]), ValueError, r"C-contiguous"),
        (lambda p, g, m, v: m[2].setflags(write=False), ValueError, r"exp_avgs\[2\] is read-only"),
        (lambda p, g, m, v: g.__setitem__(2, p[2]), ValueError, r"share memory"),
        (lambda p, g, m, v: p.__setitem__(2, p[0]), ValueError, r"share memory"),
        (lambda p, g, m, v: m.pop(), ValueError, r"2 exp_avgs for 3 params"),
        (lambda p, g, m, v: p.__setitem__(2, [1.0] * 5), TypeError, r"params\[2\] must be a numpy.ndarray"),
        (lambda p, g, m, v: p.__setitem__(2, p[2].astype(np.int32)), TypeError, r"unsupported dtype int32"),
        (lambda p, g, m, v: p.__setitem__(slice(None), [x.astype(np.float16) for x in p]), TypeError,
         r"need master_params"),
    ],
)
def test_bad_input_changes_nothing(spoil, error, match, rng):
    p, g, m, v = _adam_lists(rng)
    spoil(p, g, m, v)
    snapshot = [x.copy() for x in p[:2] + m[:2] + v[:2]]
    with pytest.raises(error, match=match):
        F.adam_(p, g, m, v, step=1, lr=0.1)
    for x, y in zip(p[:2] + m[:2] + v[:2], snapshot):
        np.testing.assert_array_equal(x, y)


def test_bad_scalars(rng):
    p, g, m, v = _adam_lists(rng)
    with pytest.raises(ValueError, match="step must be >= 1"):
        F.adam_(p, g, m, v, step=0)
    with pytest.raises(ValueError, match="3 params"):
        F.adam_(p, g, m, v, step=[1, 2])
    with pytest.raises(ValueError, match="grad_scale"):
        F.adam_(p, g, m, v, step=1, grad_scale=0.0)
    with pytest.raises(ValueError, match="max_grad_norm"):
        F.adam_(p, g, m, v, step=1, max_grad_norm=-1.0)
    with pytest.raises(TypeError, match="found_inf"):
        F.adam_(p, g, m, v, step=1, found_inf=np.zeros(1, np.float64))
    with pytest.raises(ValueError, match="momentum_buffers are required"):
        F.sgd_(p, g, lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="max_exp_avg_sqs are required"):
        F.adam_(p, g, m, v, step=1, amsgrad=True)


def test_empty_list_and_single_array():
    assert F.adam_([], [], [], [], step=1) == fastopt.StepResult(None, False, False)
    p = np.ones(4, np.float32)
    F.sgd_(p, np.ones(4, np.float32), lr=0.5)
    np.testing.assert_array_equal(p, 0.5)


@pytest.mark.parametrize("combo", list(itertools.product(["sgd", "adam"], [np.float32, np.float64])))
def test_empty_and_tiny_tensors(combo, rng):
    name, dtype = combo
    for n in (0, 1, 15, 17, 63, 65):
        p = rng.standard_normal(n).astype(dtype)
        g = rng.standard_normal(n).astype(dtype)
        expected = p - 0.1 * g
        if name == "sgd":
            F.sgd_(p, g, lr=0.1)
            np.testing.assert_allclose(p, expected, rtol=RTOL[dtype])
        else:
            F.adam_(p, g, np.zeros_like(p), np.zeros_like(p), step=1, lr=0.1)
            np.testing.assert_allclose(p, expected + 0.1 * g - 0.1 * np.sign(g), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kind", ["lamb", "clip_grad_norm", "max_grad_norm"])
def test_reductions_bitwise_identical_across_threads(kind, isa, rng):
    """The reductions (LAMB's per-tensor norms, the global grad norm) sum fixed blocks in a
    fixed order: 1, 2 and 3 threads give the same bits."""
    shapes = [(300001,), (65536,), (3,), (100000,)]
    params0 = _arrays(rng, np.float32, shapes)
    grads0 = _grads(rng, np.float32, shapes)
    results = []
    before = fastopt.get_num_threads()
    try:
        for threads in (1, 2, 3):
            fastopt.set_num_threads(threads)
            p = [x.copy() for x in params0]
            g = [x.copy() for x in grads0]
            m = [np.zeros_like(x) for x in p]
            v = [np.zeros_like(x) for x in p]
            if kind == "lamb":
                out = F.lamb_(p, g, m, v, step=2, lr=1e-2, weight_decay=0.01)
            elif kind == "clip_grad_norm":
                out = F.clip_grad_norm_(g, 0.5)
            else:
                out = F.adam_(p, g, m, v, step=2, max_grad_norm=0.5)
            results.append((out, p + g + m + v))
    finally:
        fastopt.set_num_threads(before)
    for out, arrays in results[1:]:
        assert out == results[0][0]
        for a, b in zip(arrays, results[0][1]):
            np.testing.assert_array_equal(a, b)
