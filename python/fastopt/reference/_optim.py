"""The NumPy reference of the multi-tensor optimizer steps (the documentation's page "The
multi-tensor optimizer step API").

Every function has the signature of its ``fastopt.functional`` twin, updates its arrays in
place and returns a :class:`fastopt.StepResult`. Unlike the activation references, which
compute in float64 and round once, an optimizer reference must follow the trajectory that
torch.optim produces in the param's dtype: each update here is computed **in the param dtype
(float32 for low-precision params, on the master copy), one formula per line, in the order of
torch's ``_single_tensor_*`` implementations** (``foreach=False``), with every Python-float
hyper-parameter rounded to that dtype where torch rounds it (a scalar operand of a float32
tensor op) and kept in float64 where torch keeps it (bias corrections, ``lr / bc1``).

Torch's float32 kernels may contract ``a + s * b`` into one FMA where NumPy rounds twice, so
the reference agrees with torch to a few float32 roundings per step, not bitwise.

Common steps, in this order, before any update (see :func:`_prepare`):

1. grads are converted to the compute dtype (float32 for bfloat16/float16 grads);
2. ``grad_scale``: ``g = g / grad_scale`` (AMP unscaling);
3. the non-finite check: ``found_inf`` of the result is whether any unscaled grad is inf/NaN;
   with ``found_inf=`` given, a nonzero entry value or a non-finite grad sets it to 1.0 and
   the step writes nothing else;
4. ``max_grad_norm``: ``norm = sqrt(sum of g*g over all grads)`` accumulated in float64,
   ``coef = max_grad_norm / (norm + 1e-6)`` rounded to the compute dtype, ``g = g * coef``
   unless ``coef >= 1`` (torch's ``clamp(max=1)`` then multiply; a NaN norm gives NaN grads
   as in torch).

Low precision: a ``bfloat16`` param (``uint16`` bits or ``ml_dtypes.bfloat16``) or a
``float16`` param needs ``master_params=`` (float32, same shapes); the step updates the master
copy in float32 and writes it rounded to nearest even into the param (a NaN stays a NaN).
"""

from __future__ import annotations

import functools
import math
from typing import List, Optional, Sequence

import numpy as np

from .._step_result import StepResult

__all__ = [
    "adagrad_",
    "adam_",
    "adamax_",
    "adamw_",
    "clip_grad_norm_",
    "lamb_",
    "lion_",
    "rmsprop_",
    "sgd_",
]
# bf16_round / bf16_to_float32 are public helpers of this module (fastopt.reference._optim),
# not kernels, so they stay out of __all__ (the registry test matches __all__ to the kernels).

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_F16 = np.dtype(np.float16)
_U16 = np.dtype(np.uint16)


# --------------------------------------------------------------------------------------------
# bfloat16 bits
# --------------------------------------------------------------------------------------------


def _is_bf16(dt: np.dtype) -> bool:
    return dt == _U16 or dt.name == "bfloat16"


def bf16_to_float32(bits) -> np.ndarray:
    """bfloat16 (``uint16`` bits or ``ml_dtypes.bfloat16``) to float32, exactly."""
    bits = np.ascontiguousarray(bits).view(_U16)
    return (bits.astype(np.uint32) << np.uint32(16)).view(_F32)


def bf16_round(x) -> np.ndarray:
    """float32 -> bfloat16 bits (``uint16``), round to nearest even; NaN stays a (quiet) NaN."""
    x = np.ascontiguousarray(x, dtype=_F32)
    u = x.view(np.uint32)
    lsb = (u >> np.uint32(16)) & np.uint32(1)
    rounded = ((u + np.uint32(0x7FFF) + lsb) >> np.uint32(16)).astype(_U16)
    nan_bits = ((u >> np.uint32(16)) | np.uint32(0x0040)).astype(_U16)
    return np.where(np.isnan(x), nan_bits, rounded)


def _to_compute(a: np.ndarray, dt: np.dtype) -> np.ndarray:
    """A copy of ``a`` in the compute dtype ``dt`` (bfloat16 read through its bits)."""
    if _is_bf16(a.dtype):
        return bf16_to_float32(a).astype(dt)
    return np.array(a, dtype=dt, copy=True)


def _store_low(param: np.ndarray, value32: np.ndarray) -> None:
    """Write the float32 ``value32`` into the low-precision ``param``, rounded to nearest even."""
    if _is_bf16(param.dtype):
        param.view(_U16)[...] = bf16_round(value32)
    else:
        param[...] = value32.astype(param.dtype)


# --------------------------------------------------------------------------------------------
# argument checks (all before any write)
# --------------------------------------------------------------------------------------------


def _as_list(x, name: str, allow_none: bool = False) -> Optional[List[np.ndarray]]:
    if x is None:
        return None
    if isinstance(x, np.ndarray):
        return [x]
    if isinstance(x, (list, tuple)):
        for i, a in enumerate(x):
            if not isinstance(a, np.ndarray) and not (allow_none and a is None):
                raise TypeError(f"{name}[{i}] must be a numpy.ndarray, got {type(a).__name__}")
        return list(x)
    raise TypeError(f"{name} must be an ndarray or a list/tuple of ndarrays, got {type(x).__name__}")


def _check_writable(a: np.ndarray, name: str) -> None:
    if not a.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous (it is updated in place; a copy would lose the update)")
    if not a.flags.aligned:
        raise ValueError(f"{name} must be aligned")
    if not a.flags.writeable:
        raise ValueError(f"{name} is read-only (it is updated in place)")


def _check(params, grads, states, master_params):
    """Validate everything; return (params, grads, {name: list}, masters, compute dtype list)."""
    params = _as_list(params, "params")
    grads = _as_list(grads, "grads")
    masters = _as_list(master_params, "master_params", allow_none=True)
    n = len(params)
    if len(grads) != n:
        raise ValueError(f"grads has {len(grads)} entries, params has {n}")
    if masters is not None and len(masters) != n:
        raise ValueError(f"master_params has {len(masters)} entries, params has {n}")
    lists = {}
    for name, s in states.items():
        s = _as_list(s, name)
        if s is not None and len(s) != n:
            raise ValueError(f"{name} has {len(s)} entries, params has {n}")
        lists[name] = s
    cdts = []
    for i, p in enumerate(params):
        low = _is_bf16(p.dtype) or p.dtype == _F16
        if p.dtype not in (_F32, _F64) and not low:
            raise TypeError(
                f"params[{i}] has dtype {p.dtype}; accepted: float32, float64, or bfloat16 "
                "(uint16 view or ml_dtypes.bfloat16) / float16 with master_params"
            )
        _check_writable(p, f"params[{i}]")
        if low:
            if masters is None:
                raise TypeError(f"params[{i}] is {p.dtype}: low-precision params need master_params (float32)")
            m = masters[i]
            if m is None:
                raise TypeError(f"params[{i}] is {p.dtype}: master_params[{i}] (float32) is required")
            if m.dtype != _F32:
                raise TypeError(f"master_params[{i}] has dtype {m.dtype}; expected float32")
            if m.shape != p.shape:
                raise ValueError(f"master_params[{i}] has shape {m.shape}, params[{i}] has {p.shape}")
            _check_writable(m, f"master_params[{i}]")
            cdt = _F32
        else:
            if masters is not None and masters[i] is not None:
                raise TypeError(f"master_params[{i}] given for a {p.dtype} param; only bfloat16/float16 params take one")
            cdt = p.dtype
        g = grads[i]
        if g.shape != p.shape:
            raise ValueError(f"grads[{i}] has shape {g.shape}, params[{i}] has {p.shape}")
        ok = (g.dtype == cdt) if cdt == _F64 else (g.dtype in (_F32, _F16) or _is_bf16(g.dtype))
        if not ok:
            raise TypeError(f"grads[{i}] has dtype {g.dtype}, which params[{i}] ({p.dtype}) does not accept")
        if not g.flags.c_contiguous or not g.flags.aligned:
            raise ValueError(f"grads[{i}] must be C-contiguous and aligned")
        for name, s in lists.items():
            if s is None:
                continue
            a = s[i]
            if a.dtype != cdt:
                raise TypeError(f"{name}[{i}] has dtype {a.dtype}; expected {cdt}")
            if a.shape != p.shape:
                raise ValueError(f"{name}[{i}] has shape {a.shape}, params[{i}] has {p.shape}")
            _check_writable(a, f"{name}[{i}]")
        cdts.append(cdt)
    return params, grads, lists, masters, cdts


def _per_tensor(value, n: int, name: str) -> list:
    if isinstance(value, (list, tuple, np.ndarray)):
        value = list(value)
        if len(value) != n:
            raise ValueError(f"{name} has {len(value)} entries, params has {n}")
        return value
    return [value] * n


def _check_found_inf(found_inf):
    if found_inf is None:
        return None
    if not isinstance(found_inf, np.ndarray) or found_inf.dtype != _F32 or found_inf.size != 1:
        raise TypeError("found_inf must be a float32 ndarray of one element")
    if not found_inf.flags.writeable:
        raise ValueError("found_inf is read-only")
    return found_inf


def _prepare(grads, cdts, max_grad_norm, grad_scale, found_inf):
    """Steps 1-4 of the module docstring. Returns (compute grads, grad_norm, found, skip)."""
    gs = [_to_compute(g, dt) for g, dt in zip(grads, cdts)]
    if grad_scale is not None:
        gs = [g / g.dtype.type(grad_scale) for g in gs]
    found = any(not np.isfinite(g).all() for g in gs)
    norm = None
    if max_grad_norm is not None:
        total = 0.0
        for g in gs:
            g64 = g.astype(np.float64)
            total += float(np.dot(g64.ravel(), g64.ravel()))
        norm = math.sqrt(total)
    if found_inf is not None and (found_inf.reshape(-1)[0] != 0 or found):
        found_inf.reshape(-1)[0] = 1.0
        return gs, norm, found, True
    if max_grad_norm is not None:
        coef = float(max_grad_norm) / (norm + 1e-6)
        if not coef >= 1.0:  # torch: grads * clamp(coef, max=1); NaN coef -> NaN grads
            gs = [g * g.dtype.type(coef) for g in gs]
    return gs, norm, found, False


def _work_params(params, masters):
    """The arrays the update is computed on: the master copy for low-precision params."""
    if masters is None:
        return [p for p in params]
    return [m if m is not None and p.dtype not in (_F32, _F64) else p for p, m in zip(params, masters)]


def _finish(params, masters, work):
    if masters is None:
        return
    for p, w in zip(params, work):
        if p.dtype not in (_F32, _F64):
            _store_low(p, w)

class _Step:
    """The bookkeeping every step below shares, in the order that keeps "nothing written on
    error": every array checked, then the per-tensor scalars (``step=``, ``first_step=``) and
    ``found_inf``, then the read-only pass over the grads (unscale, global norm, clip factor,
    non-finite check), which may set ``found_inf`` and skip the step. ``work`` holds the arrays
    the update is computed on (the float32 master copies of low-precision params);
    ``finish()`` rounds the masters back into those params and gives the StepResult."""

    def __init__(self, params, grads, states, master_params, max_grad_norm, grad_scale, found_inf,
                 **per_tensor):
        self.params, grads, self.lists, self.masters, cdts = _check(params, grads, states, master_params)
        self.per = {k: _per_tensor(v, len(self.params), k) for k, v in per_tensor.items()}
        found_inf = _check_found_inf(found_inf)
        self.grads, self.norm, self.found, self.skipped = _prepare(grads, cdts, max_grad_norm, grad_scale,
                                                                   found_inf)
        self.work = [] if self.skipped else _work_params(self.params, self.masters)

    def finish(self) -> StepResult:
        if not self.skipped:
            _finish(self.params, self.masters, self.work)
        return StepResult(self.norm, self.found, self.skipped)



def _lerp_(a: np.ndarray, end: np.ndarray, weight: float) -> None:
    """torch's ``a.lerp_(end, weight)`` in a's dtype: small weights from ``a``, others from ``end``."""
    w = a.dtype.type(weight)
    diff = end - a
    if abs(float(w)) < 0.5:
        a[...] = a + w * diff
    else:
        a[...] = end - diff * (a.dtype.type(1) - w)


def _ieee(fn):
    """Non-finite values propagate as in torch, without NumPy's floating-point warnings."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)

    return wrapper


# --------------------------------------------------------------------------------------------
# the steps
# --------------------------------------------------------------------------------------------


@_ieee
def sgd_(params, grads, momentum_buffers=None, *, lr, momentum=0.0, dampening=0.0, nesterov=False,
         weight_decay=0.0, maximize=False, first_step=False, master_params=None, max_grad_norm=None,
         grad_scale=None, found_inf=None) -> StepResult:
    """SGD, torch.optim.SGD's ``_single_tensor_sgd``.

    The update::

        g = -g                                   if maximize
        g = g + wd * p                           if wd != 0
        buf = g (copy)                           if momentum != 0 and first_step
        buf = momentum * buf + (1 - dampening) * g   if momentum != 0 otherwise
        g = g + momentum * buf  if nesterov else  g = buf      (momentum != 0)
        p = p - lr * g
    """
    if momentum != 0 and momentum_buffers is None:
        raise ValueError("momentum_buffers are required when momentum != 0")
    states = {"momentum_buffers": momentum_buffers if momentum != 0 else None}
    st = _Step(params, grads, states, master_params, max_grad_norm, grad_scale, found_inf, first_step=first_step)
    if st.skipped:
        return st.finish()
    lists, work, gs = st.lists, st.work, st.grads
    first = st.per["first_step"]
    bufs = lists["momentum_buffers"]
    for i, (p, g) in enumerate(zip(work, gs)):
        t = p.dtype.type
        if maximize:
            g = -g
        if weight_decay != 0:
            g = g + t(weight_decay) * p
        if momentum != 0:
            buf = bufs[i]
            if first[i]:
                buf[...] = g
            else:
                buf[...] = buf * t(momentum)
                buf[...] = buf + t(1 - dampening) * g
            if nesterov:
                g = g + t(momentum) * buf
            else:
                g = buf.copy()
        p[...] = p + t(-lr) * g
    return st.finish()


@_ieee
def adagrad_(params, grads, state_sums, *, step, lr=1e-2, lr_decay=0.0, weight_decay=0.0, eps=1e-10,
             maximize=False, master_params=None, max_grad_norm=None, grad_scale=None,
             found_inf=None) -> StepResult:
    """Adagrad, torch.optim.Adagrad's ``_single_tensor_adagrad``.

    The update::

        g = -g                          if maximize
        g = g + wd * p                  if wd != 0
        clr = lr / (1 + (step - 1) * lr_decay)        (float64)
        sum = sum + g * g
        std = sqrt(sum) + eps
        p = p + (-clr * g) / std
    """
    st = _Step(params, grads, {"state_sums": state_sums}, master_params, max_grad_norm, grad_scale, found_inf, step=step)
    if st.skipped:
        return st.finish()
    lists, work, gs = st.lists, st.work, st.grads
    steps = st.per["step"]
    for i, (p, g) in enumerate(zip(work, gs)):
        t = p.dtype.type
        s = lists["state_sums"][i]
        if maximize:
            g = -g
        if weight_decay != 0:
            g = g + t(weight_decay) * p
        clr = lr / (1 + (steps[i] - 1) * lr_decay)
        s[...] = s + (t(1) * g) * g
        std = np.sqrt(s) + t(eps)
        p[...] = p + (t(-clr) * g) / std
    return st.finish()


@_ieee
def rmsprop_(params, grads, square_avgs, grad_avgs=None, momentum_buffers=None, *, lr=1e-2, alpha=0.99,
             eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False, maximize=False, master_params=None,
             max_grad_norm=None, grad_scale=None, found_inf=None) -> StepResult:
    """RMSprop, torch.optim.RMSprop's ``_single_tensor_rmsprop``.

    The update::

        g = -g                                      if maximize
        g = g + wd * p                              if wd != 0
        sq = alpha * sq + (1 - alpha) * g * g
        ga = lerp(ga, g, 1 - alpha); avg = sqrt(sq - ga * ga)      if centered
        avg = sqrt(sq)                                              otherwise
        avg = avg + eps
        buf = momentum * buf + g / avg;  p = p - lr * buf          if momentum > 0
        p = p + (-lr * g) / avg                                     otherwise
    """
    if centered and grad_avgs is None:
        raise ValueError("grad_avgs are required when centered")
    if momentum > 0 and momentum_buffers is None:
        raise ValueError("momentum_buffers are required when momentum > 0")
    states = {"square_avgs": square_avgs, "grad_avgs": grad_avgs if centered else None,
              "momentum_buffers": momentum_buffers if momentum > 0 else None}
    st = _Step(params, grads, states, master_params, max_grad_norm, grad_scale, found_inf)
    if st.skipped:
        return st.finish()
    lists, work, gs = st.lists, st.work, st.grads
    for i, (p, g) in enumerate(zip(work, gs)):
        t = p.dtype.type
        sq = lists["square_avgs"][i]
        if maximize:
            g = -g
        if weight_decay != 0:
            g = g + t(weight_decay) * p
        sq[...] = sq * t(alpha)
        sq[...] = sq + (t(1 - alpha) * g) * g
        if centered:
            ga = lists["grad_avgs"][i]
            _lerp_(ga, g, 1 - alpha)
            avg = np.sqrt(sq + (t(-1) * ga) * ga)
        else:
            avg = np.sqrt(sq)
        avg = avg + t(eps)
        if momentum > 0:
            buf = lists["momentum_buffers"][i]
            buf[...] = buf * t(momentum)
            buf[...] = buf + (t(1) * g) / avg
            p[...] = p + t(-lr) * buf
        else:
            p[...] = p + (t(-lr) * g) / avg
    return st.finish()


@_ieee
def _adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, *, step, lr, betas, eps, weight_decay,
          amsgrad, maximize, decoupled, master_params, max_grad_norm, grad_scale, found_inf):
    if amsgrad and max_exp_avg_sqs is None:
        raise ValueError("max_exp_avg_sqs are required when amsgrad")
    states = {"exp_avgs": exp_avgs, "exp_avg_sqs": exp_avg_sqs,
              "max_exp_avg_sqs": max_exp_avg_sqs if amsgrad else None}
    st = _Step(params, grads, states, master_params, max_grad_norm, grad_scale, found_inf, step=step)
    if st.skipped:
        return st.finish()
    lists, work, gs = st.lists, st.work, st.grads
    steps = st.per["step"]
    beta1, beta2 = betas
    for i, (p, g) in enumerate(zip(work, gs)):
        t = p.dtype.type
        m = lists["exp_avgs"][i]
        v = lists["exp_avg_sqs"][i]
        if maximize:
            g = -g
        if weight_decay != 0:
            if decoupled:
                p[...] = p * t(1 - lr * weight_decay)
            else:
                g = g + t(weight_decay) * p
        _lerp_(m, g, 1 - beta1)
        v[...] = v * t(beta2)
        v[...] = v + (t(1 - beta2) * g) * g
        bias_correction1 = 1 - beta1 ** steps[i]
        bias_correction2 = 1 - beta2 ** steps[i]
        step_size = lr / bias_correction1
        bias_correction2_sqrt = bias_correction2 ** 0.5
        if amsgrad:
            vmax = lists["max_exp_avg_sqs"][i]
            np.maximum(vmax, v, out=vmax)
            denom = np.sqrt(vmax) / t(bias_correction2_sqrt)
        else:
            denom = np.sqrt(v) / t(bias_correction2_sqrt)
        denom = denom + t(eps)
        p[...] = p + (t(-step_size) * m) / denom
    return st.finish()


def adam_(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs=None, *, step, lr=1e-3, betas=(0.9, 0.999),
          eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False, master_params=None, max_grad_norm=None,
          grad_scale=None, found_inf=None) -> StepResult:
    """Adam, torch.optim.Adam's ``_single_tensor_adam``.

    The update::

        g = -g                                   if maximize
        g = g + wd * p                           if wd != 0
        m = lerp(m, g, 1 - b1)                   (m + (1-b1)*(g-m), torch's lerp)
        v = b2 * v + (1 - b2) * g * g
        v_max = max(v_max, v)                    if amsgrad (used in place of v below)
        denom = sqrt(v) / sqrt(1 - b2**step) + eps
        p = p + (-(lr / (1 - b1**step)) * m) / denom
    """
    return _adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, step=step, lr=lr, betas=betas, eps=eps,
                 weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize, decoupled=False,
                 master_params=master_params, max_grad_norm=max_grad_norm, grad_scale=grad_scale,
                 found_inf=found_inf)


def adamw_(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs=None, *, step, lr=1e-3, betas=(0.9, 0.999),
           eps=1e-8, weight_decay=1e-2, amsgrad=False, maximize=False, master_params=None, max_grad_norm=None,
           grad_scale=None, found_inf=None) -> StepResult:
    """AdamW: Adam with decoupled weight decay, ``p = p * (1 - lr * wd)`` before the moments."""
    return _adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, step=step, lr=lr, betas=betas, eps=eps,
                 weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize, decoupled=True,
                 master_params=master_params, max_grad_norm=max_grad_norm, grad_scale=grad_scale,
                 found_inf=found_inf)


@_ieee
def adamax_(params, grads, exp_avgs, exp_infs, *, step, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
            maximize=False, master_params=None, max_grad_norm=None, grad_scale=None,
            found_inf=None) -> StepResult:
    """Adamax (Adam with the infinity norm), torch.optim.Adamax's ``_single_tensor_adamax``.

    The update::

        g = -g                                   if maximize
        g = g + wd * p                           if wd != 0
        m = lerp(m, g, 1 - b1)
        u = maximum(b2 * u, |g| + eps)           (NaN propagates, as torch.maximum)
        p = p + (-(lr / (1 - b1**step)) * m) / u
    """
    st = _Step(params, grads, {"exp_avgs": exp_avgs, "exp_infs": exp_infs}, master_params, max_grad_norm,
               grad_scale, found_inf, step=step)
    if st.skipped:
        return st.finish()
    lists, work, gs = st.lists, st.work, st.grads
    steps = st.per["step"]
    beta1, beta2 = betas
    for i, (p, g) in enumerate(zip(work, gs)):
        t = p.dtype.type
        m = lists["exp_avgs"][i]
        u = lists["exp_infs"][i]
        if maximize:
            g = -g
        if weight_decay != 0:
            g = g + t(weight_decay) * p
        _lerp_(m, g, 1 - beta1)
        u[...] = np.maximum(u * t(beta2), np.abs(g) + t(eps))
        clr = lr / (1 - beta1 ** steps[i])
        p[...] = p + (t(-clr) * m) / u
    return st.finish()


@_ieee
def lion_(params, grads, exp_avgs, *, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, maximize=False,
          master_params=None, max_grad_norm=None, grad_scale=None, found_inf=None) -> StepResult:
    """Lion (Chen et al. 2023).

    The update::

        g = -g                               if maximize
        c = b1 * m + (1 - b1) * g
        p = p * (1 - lr * wd)                if wd != 0
        p = p - lr * sign(c)
        m = b2 * m + (1 - b2) * g
    """
    st = _Step(params, grads, {"exp_avgs": exp_avgs}, master_params, max_grad_norm, grad_scale, found_inf)
    if st.skipped:
        return st.finish()
    lists, work, gs = st.lists, st.work, st.grads
    beta1, beta2 = betas
    for i, (p, g) in enumerate(zip(work, gs)):
        t = p.dtype.type
        m = lists["exp_avgs"][i]
        if maximize:
            g = -g
        c = m * t(beta1)
        c = c + t(1 - beta1) * g
        if weight_decay != 0:
            p[...] = p * t(1 - lr * weight_decay)
        p[...] = p + t(-lr) * np.sign(c)
        m[...] = m * t(beta2)
        m[...] = m + t(1 - beta2) * g
    return st.finish()


@_ieee
def lamb_(params, grads, exp_avgs, exp_avg_sqs, *, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-6,
          weight_decay=0.0, bias_correction=True, maximize=False, master_params=None, max_grad_norm=None,
          grad_scale=None, found_inf=None) -> StepResult:
    """LAMB (You et al. 2019), per tensor.

    The update::

        g = -g                                       if maximize
        m = lerp(m, g, 1 - b1);  v = b2 * v + (1 - b2) * g * g        (as Adam)
        m_hat = m / (1 - b1**step);  v_hat = v / (1 - b2**step)       (if bias_correction)
        u = m_hat / (sqrt(v_hat) + eps) + wd * p
        r = ||p|| / ||u||  if both > 0 else 1       (norms accumulated in float64)
        p = p - (lr * r) * u
    """
    states = {"exp_avgs": exp_avgs, "exp_avg_sqs": exp_avg_sqs}
    st = _Step(params, grads, states, master_params, max_grad_norm, grad_scale, found_inf, step=step)
    if st.skipped:
        return st.finish()
    lists, work, gs = st.lists, st.work, st.grads
    steps = st.per["step"]
    beta1, beta2 = betas
    for i, (p, g) in enumerate(zip(work, gs)):
        t = p.dtype.type
        m = lists["exp_avgs"][i]
        v = lists["exp_avg_sqs"][i]
        if maximize:
            g = -g
        _lerp_(m, g, 1 - beta1)
        v[...] = v * t(beta2)
        v[...] = v + (t(1 - beta2) * g) * g
        if bias_correction:
            m_hat = m / t(1 - beta1 ** steps[i])
            v_hat = v / t(1 - beta2 ** steps[i])
        else:
            m_hat, v_hat = m, v
        u = m_hat / (np.sqrt(v_hat) + t(eps))
        if weight_decay != 0:
            u = u + t(weight_decay) * p
        p_norm = math.sqrt(float(np.sum(np.square(p.astype(np.float64)))))
        u_norm = math.sqrt(float(np.sum(np.square(u.astype(np.float64)))))
        ratio = p_norm / u_norm if (p_norm > 0 and u_norm > 0) else 1.0
        p[...] = p + t(-(lr * ratio)) * u
    return st.finish()


@_ieee
def clip_grad_norm_(grads, max_norm, norm_type=2.0, error_if_nonfinite=False) -> float:
    """``torch.nn.utils.clip_grad_norm_``: the total ``norm_type``-norm of all grads (float64
    accumulation), and ``g *= max_norm / (norm + 1e-6)`` in place when that is ``< 1``
    (NaN too, as torch's clamp-and-multiply). Returns the norm."""
    grads = _as_list(grads, "grads")
    for i, g in enumerate(grads):
        if g.dtype not in (_F32, _F64):
            raise TypeError(f"grads[{i}] has dtype {g.dtype}; accepted: float32, float64")
        _check_writable(g, f"grads[{i}]")
    norm_type = float(norm_type)
    if not grads:
        return 0.0
    g64 = [np.abs(g.astype(np.float64)).ravel() for g in grads]
    if math.isinf(norm_type):
        total = max((float(a.max()) if a.size else 0.0) for a in g64)
    else:
        total = sum(float(np.sum(a ** norm_type)) for a in g64) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it "
            "cannot be clipped. To disable this error and scale the gradients by the non-finite norm "
            "anyway, set `error_if_nonfinite=False`"
        )
    coef = float(max_norm) / (total + 1e-6)
    if not coef >= 1.0:
        for g in grads:
            g *= g.dtype.type(coef)
    return total
