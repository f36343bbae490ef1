"""Multi-tensor optimizer steps: one fused, in-place pass over all of a model's arrays.

The contract (shared with ``fastopt.reference`` and ``fastopt.optim``) is in
``docs/optimizer-api.md``; in short:

* ``params``, ``grads`` and each state list are one ndarray or parallel lists of ndarrays.
  One call releases the GIL once and spreads the threads over the total number of elements,
  so 200 tensors cost what one flat tensor of the same size costs.
* float32/float64 params with grads and state of the same dtype; or bfloat16 (``uint16``
  view or ``ml_dtypes.bfloat16``) / float16 params with ``master_params`` (float32 copies
  that are updated, the low-precision params rewritten from them in the same pass, rounded
  to nearest even; state float32). float32 and low-precision params accept float32,
  bfloat16 or float16 grads.
* Every array is checked before anything is written: params, state and master copies must be
  C-contiguous, aligned, writeable ndarrays of the right dtype and shape; grads C-contiguous
  and aligned; no two arrays may share memory. Otherwise ``TypeError``/``ValueError`` naming
  the list and index, and nothing has changed. Nothing is ever silently copied.
* ``max_grad_norm``: clip by the global L2 norm of the grads (as
  ``torch.nn.utils.clip_grad_norm_``) inside the step: a read-only norm pass, then the
  update scales each grad as it reads it; the grads themselves are not modified.
* ``grad_scale``: grads are divided by it as they are read (AMP unscaling).
* ``found_inf``: a float32 array of one element. If it is nonzero on entry, or any grad is
  inf/NaN after unscaling, it is set to 1 and the step changes nothing (torch's fused
  optimizers' rule). Without it non-finite grads propagate as in torch.
* The result is a :class:`fastopt.StepResult` ``(grad_norm, found_inf, skipped)``.
* ``step``: the 1-based number of this update (torch's ``state['step']`` after its
  increment): an int, or one int per tensor.
* Results are bitwise identical for any thread count; the update itself is elementwise.
* Hyper-parameters are checked before anything is written, by ``fastopt._hyper`` (torch.optim's
  rules and messages, shared with the classes), prefixed with the function's name
  (``fastopt.functional.adam_: Invalid learning rate: -0.1``). Stricter than torch: NaN is
  refused in every hyper-parameter (torch's SGD lets a NaN lr/momentum/weight_decay through),
  betas must be a pair of real numbers, and a 1-element array or tensor is accepted wherever
  a number is (torch allows a Tensor lr).
"""

from __future__ import annotations

import numbers
from typing import Optional, Sequence, Tuple, Union

import numpy as np

from .. import _core, _hyper
from .._step_result import StepResult

__all__ = [
    "sgd_",
    "adagrad_",
    "rmsprop_",
    "adam_",
    "adamw_",
    "lion_",
    "lamb_",
    "clip_grad_norm_",
]

Arrays = Union[np.ndarray, Sequence[np.ndarray]]
OptArrays = Optional[Arrays]
Steps = Union[int, Sequence[int]]


def _count(params: Arrays) -> int:
    return 1 if isinstance(params, np.ndarray) else len(params)


def _where(fn: str) -> str:
    return f"fastopt.functional.{fn}"


def _need(name: str, arrays: OptArrays, why: str, fn: str) -> None:
    if arrays is None:
        raise ValueError(f"{_where(fn)}: {name} are required {why}")


def _scalar(x):
    """A checked hyper-parameter as a Python scalar (a 1-element array or tensor by .item())."""
    return x if isinstance(x, numbers.Number) or not hasattr(x, "item") else x.item()


def _run(name, params, grads, states, hyper, *, step=1, first=False, master_params=None,
         max_grad_norm=None, grad_scale=None, found_inf=None) -> StepResult:
    where = _where(name + "_")
    _hyper.check_max_grad_norm(where, max_grad_norm)
    _hyper.check_grad_scale(where, grad_scale)
    hyper = {k: _scalar(v) for k, v in hyper.items()}
    norm, inf, skipped = _core.optimizer_step(
        name, params, grads, states, master_params, step, first, hyper,
        1.0 if grad_scale is None else float(_scalar(grad_scale)),
        None if max_grad_norm is None else _scalar(max_grad_norm), found_inf)
    return StepResult(norm, bool(inf), bool(skipped))


def sgd_(params: Arrays, grads: Arrays, momentum_buffers: OptArrays = None, *, lr: float,
         momentum: float = 0.0, dampening: float = 0.0, nesterov: bool = False,
         weight_decay: float = 0.0, maximize: bool = False,
         first_step: Union[bool, Sequence[bool]] = False, master_params: OptArrays = None,
         max_grad_norm: Optional[float] = None, grad_scale: Optional[float] = None,
         found_inf: Optional[np.ndarray] = None) -> StepResult:
    """SGD with momentum, dampening, Nesterov and L2 weight decay, as ``torch.optim.SGD``.

    ``g = -g if maximize; g += weight_decay * p; buf = momentum * buf + (1 - dampening) * g``
    (``buf = g`` where ``first_step``); ``g = g + momentum * buf`` if nesterov else ``buf``;
    ``p -= lr * g``. ``momentum_buffers`` are needed when ``momentum != 0``;
    ``first_step`` (bool or one per tensor) marks buffers with no history yet, whose
    contents are ignored (torch's ``momentum_buffer is None``).
    """
    _hyper.check_sgd(_where("sgd_"), lr=lr, momentum=momentum, dampening=dampening,
                     weight_decay=weight_decay, nesterov=nesterov, reject_nan=True)
    if momentum != 0:
        _need("momentum_buffers", momentum_buffers, "when momentum != 0", "sgd_")
    hyper = dict(lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov,
                 weight_decay=weight_decay, maximize=maximize)
    states = [("momentum_buffers", momentum_buffers if momentum != 0 else None)]
    return _run("sgd", params, grads, states, hyper, first=first_step, master_params=master_params,
                max_grad_norm=max_grad_norm, grad_scale=grad_scale, found_inf=found_inf)


def adagrad_(params: Arrays, grads: Arrays, state_sums: Arrays, *, step: Steps, lr: float = 1e-2,
             lr_decay: float = 0.0, weight_decay: float = 0.0, eps: float = 1e-10,
             maximize: bool = False, master_params: OptArrays = None,
             max_grad_norm: Optional[float] = None, grad_scale: Optional[float] = None,
             found_inf: Optional[np.ndarray] = None) -> StepResult:
    """Adagrad, as ``torch.optim.Adagrad``.

    ``g = -g if maximize; g += weight_decay * p; sum += g * g;
    p -= lr / (1 + (step - 1) * lr_decay) * g / (sqrt(sum) + eps)``.
    ``initial_accumulator_value`` is how ``state_sums`` start (the caller fills them).
    """
    _hyper.check_adagrad(_where("adagrad_"), lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, eps=eps)
    hyper = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, eps=eps, maximize=maximize)
    return _run("adagrad", params, grads, [("state_sums", state_sums)], hyper, step=step,
                master_params=master_params, max_grad_norm=max_grad_norm,
                grad_scale=grad_scale, found_inf=found_inf)


def rmsprop_(params: Arrays, grads: Arrays, square_avgs: Arrays, grad_avgs: OptArrays = None,
             momentum_buffers: OptArrays = None, *, lr: float = 1e-2, alpha: float = 0.99,
             eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0,
             centered: bool = False, maximize: bool = False, master_params: OptArrays = None,
             max_grad_norm: Optional[float] = None, grad_scale: Optional[float] = None,
             found_inf: Optional[np.ndarray] = None) -> StepResult:
    """RMSprop, as ``torch.optim.RMSprop``.

    ``g = -g if maximize; g += weight_decay * p; sq = alpha * sq + (1 - alpha) * g * g``;
    centered: ``ga = lerp(ga, g, 1 - alpha); avg = sqrt(sq - ga * ga) + eps``, else
    ``avg = sqrt(sq) + eps``; with momentum ``buf = momentum * buf + g / avg; p -= lr * buf``,
    else ``p -= lr * g / avg``. ``grad_avgs`` are needed when centered, ``momentum_buffers``
    when ``momentum > 0`` (both start at zero, as torch's).
    """
    _hyper.check_rmsprop(_where("rmsprop_"), lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                         momentum=momentum)
    if centered:
        _need("grad_avgs", grad_avgs, "when centered", "rmsprop_")
    if momentum > 0:
        _need("momentum_buffers", momentum_buffers, "when momentum > 0", "rmsprop_")
    hyper = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                 centered=centered, maximize=maximize)
    states = [("square_avgs", square_avgs), ("grad_avgs", grad_avgs if centered else None),
              ("momentum_buffers", momentum_buffers if momentum > 0 else None)]
    return _run("rmsprop", params, grads, states, hyper, master_params=master_params,
                max_grad_norm=max_grad_norm, grad_scale=grad_scale, found_inf=found_inf)


def _adam(name: str, decoupled: bool, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs,
          step, lr, betas, eps, weight_decay, amsgrad, maximize, common) -> StepResult:
    _hyper.check_adam(_where(name + "_"), lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
    if amsgrad:
        _need("max_exp_avg_sqs", max_exp_avg_sqs, "when amsgrad=True", name + "_")
    beta1, beta2 = betas
    hyper = dict(lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                 amsgrad=amsgrad, maximize=maximize, decoupled=decoupled)
    states = [("exp_avgs", exp_avgs), ("exp_avg_sqs", exp_avg_sqs),
              ("max_exp_avg_sqs", max_exp_avg_sqs if amsgrad else None)]
    return _run(name, params, grads, states, hyper, step=step, **common)


def adam_(params: Arrays, grads: Arrays, exp_avgs: Arrays, exp_avg_sqs: Arrays,
          max_exp_avg_sqs: OptArrays = None, *, step: Steps, lr: float = 1e-3,
          betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
          weight_decay: float = 0.0, amsgrad: bool = False, maximize: bool = False,
          master_params: OptArrays = None, max_grad_norm: Optional[float] = None,
          grad_scale: Optional[float] = None, found_inf: Optional[np.ndarray] = None) -> StepResult:
    """Adam with L2 weight decay, as ``torch.optim.Adam``.

    ``g = -g if maximize; g += weight_decay * p; m = lerp(m, g, 1 - beta1);
    v = beta2 * v + (1 - beta2) * g * g`` (amsgrad: ``v = vmax = max(vmax, v)``);
    ``p -= lr / (1 - beta1**step) * m / (sqrt(v) / sqrt(1 - beta2**step) + eps)``.
    One pass: reads p, g, m, v and writes p, m, v (28 bytes per float32 element).
    """
    common = dict(master_params=master_params, max_grad_norm=max_grad_norm,
                  grad_scale=grad_scale, found_inf=found_inf)
    return _adam("adam", False, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, step, lr,
                 betas, eps, weight_decay, amsgrad, maximize, common)


def adamw_(params: Arrays, grads: Arrays, exp_avgs: Arrays, exp_avg_sqs: Arrays,
           max_exp_avg_sqs: OptArrays = None, *, step: Steps, lr: float = 1e-3,
           betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
           weight_decay: float = 1e-2, amsgrad: bool = False, maximize: bool = False,
           master_params: OptArrays = None, max_grad_norm: Optional[float] = None,
           grad_scale: Optional[float] = None, found_inf: Optional[np.ndarray] = None) -> StepResult:
    """AdamW (decoupled weight decay), as ``torch.optim.AdamW``: ``p *= 1 - lr * weight_decay``
    first, then Adam's update without the L2 term."""
    common = dict(master_params=master_params, max_grad_norm=max_grad_norm,
                  grad_scale=grad_scale, found_inf=found_inf)
    return _adam("adamw", True, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, step, lr,
                 betas, eps, weight_decay, amsgrad, maximize, common)


def lion_(params: Arrays, grads: Arrays, exp_avgs: Arrays, *, lr: float = 1e-4,
          betas: Tuple[float, float] = (0.9, 0.99), weight_decay: float = 0.0,
          maximize: bool = False, master_params: OptArrays = None,
          max_grad_norm: Optional[float] = None, grad_scale: Optional[float] = None,
          found_inf: Optional[np.ndarray] = None) -> StepResult:
    """Lion (Chen et al., 2023): ``c = beta1 * m + (1 - beta1) * g;
    p = p * (1 - lr * weight_decay) - lr * sign(c); m = beta2 * m + (1 - beta2) * g``."""
    _hyper.check_lion(_where("lion_"), lr=lr, betas=betas, weight_decay=weight_decay)
    beta1, beta2 = betas
    hyper = dict(lr=lr, beta1=beta1, beta2=beta2, weight_decay=weight_decay, maximize=maximize)
    return _run("lion", params, grads, [("exp_avgs", exp_avgs)], hyper, master_params=master_params,
                max_grad_norm=max_grad_norm, grad_scale=grad_scale, found_inf=found_inf)


def lamb_(params: Arrays, grads: Arrays, exp_avgs: Arrays, exp_avg_sqs: Arrays, *, step: Steps,
          lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-6,
          weight_decay: float = 0.0, bias_correction: bool = True, maximize: bool = False,
          master_params: OptArrays = None, max_grad_norm: Optional[float] = None,
          grad_scale: Optional[float] = None, found_inf: Optional[np.ndarray] = None) -> StepResult:
    """LAMB (You et al., 2020), per tensor: Adam's moments, then
    ``u = m_hat / (sqrt(v_hat) + eps) + weight_decay * p``, ``r = ||p|| / ||u||`` (1 if
    either is 0), ``p -= lr * r * u``.

    Two passes over memory: the first updates m and v and sums ``||p||^2`` and ``||u||^2``
    per tensor (in float64, fixed blocks: bitwise identical for any thread count); the second
    recomputes u from m, v, p and moves p. (A third, read-only pass with ``max_grad_norm``.)
    """
    _hyper.check_lamb(_where("lamb_"), lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
    beta1, beta2 = betas
    hyper = dict(lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                 bias_correction=bias_correction, maximize=maximize)
    states = [("exp_avgs", exp_avgs), ("exp_avg_sqs", exp_avg_sqs)]
    return _run("lamb", params, grads, states, hyper, step=step, master_params=master_params,
                max_grad_norm=max_grad_norm, grad_scale=grad_scale, found_inf=found_inf)


def clip_grad_norm_(grads: Arrays, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> float:
    """Scale ``grads`` in place so that their global norm is at most ``max_norm``, as
    ``torch.nn.utils.clip_grad_norm_``; returns the norm before clipping.

    One read-only pass computes the norm over all arrays (float64 accumulation over fixed
    blocks: bitwise identical for any thread count); a second multiplies by
    ``min(1, max_norm / (norm + 1e-6))`` and is skipped when that is 1. ``norm_type`` is any
    p > 0 or ``inf``; ``max_norm`` any value >= 0 (torch does not check it: a negative one
    would flip the grads' signs). With ``error_if_nonfinite`` a NaN/inf norm raises ``RuntimeError``
    (torch's message) before anything is scaled.
    """
    _hyper.check_clip_grad_norm(_where("clip_grad_norm_"), max_norm, norm_type)
    return float(_core.clip_grad_norm_(grads, float(_scalar(max_norm)), float(_scalar(norm_type)),
                                       bool(error_if_nonfinite)))

