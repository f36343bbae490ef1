"""Multi-tensor optimizer steps: one fused, in-place pass over all of a model's arrays.

The contract (shared with ``fastopt.reference`` and ``fastopt.optim``) is the documentation's
page "The multi-tensor optimizer step API"; in short:

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

from typing import Any, Callable, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .. import _core, _hyper
from .._optim_specs import ADAGRAD, ADAM, ADAMAX, ADAMW, LAMB, LION, RMSPROP, SGD, OptimSpec, scalar
from .._step_result import StepResult

__all__ = [
    "sgd_",
    "adagrad_",
    "rmsprop_",
    "adam_",
    "adamw_",
    "adamax_",
    "lion_",
    "lamb_",
    "clip_grad_norm_",
]

Arrays = Union[np.ndarray, Sequence[np.ndarray]]
OptArrays = Optional[Arrays]
Steps = Union[int, Sequence[int]]


def _where(fn: str) -> str:
    return f"fastopt.functional.{fn}"


def _run(spec: OptimSpec, group: Mapping[str, Any], params, grads, states, *, step: Any = 1,
         first: Any = False, master_params=None, max_grad_norm=None, grad_scale=None,
         found_inf=None) -> StepResult:
    """One call of ``spec``'s kernel: ``states`` are the kernel's state lists
    (``spec.kernel_states``), the hyper dict comes from ``group`` (``spec.kernel_hyper``). No
    hyper-parameter checks: the callers make them (``_step`` below; fastopt.torch at
    construction, as torch.optim). The kernel checks every array before it writes any."""
    norm, inf, skipped = _core.optimizer_step(
        spec.kernel, params, grads, states, master_params, step, first, spec.kernel_hyper(group),
        1.0 if grad_scale is None else float(scalar(grad_scale)),
        None if max_grad_norm is None else scalar(max_grad_norm), found_inf)
    return StepResult(norm, bool(inf), bool(skipped))


def _step(spec: OptimSpec, params, grads, arrays: Sequence[OptArrays], group: Mapping[str, Any], *,
          step: Any = 1, first: Any = False, master_params=None, max_grad_norm=None, grad_scale=None,
          found_inf=None) -> StepResult:
    """A functional step (and a fastopt.optim group's): check ``group``'s hyper-parameters
    (NaN refused everywhere), that the state lists its options need are there, then ``_run``.
    ``arrays``: one entry per ``spec.states``, in order."""
    where = _where(spec.kernel + "_")
    spec.validate(where, group, reject_nan=True)
    for s, a in zip(spec.states, arrays):
        if a is None and s.when is not None and s.exists(group):
            raise ValueError(f"{where}: {s.arg} are required when {s.when}")
    _hyper.check_max_grad_norm(where, max_grad_norm)
    _hyper.check_grad_scale(where, grad_scale)
    return _run(spec, group, params, grads, spec.kernel_states(group, arrays), step=step, first=first,
                master_params=master_params, max_grad_norm=max_grad_norm, grad_scale=grad_scale,
                found_inf=found_inf)


def _documented(spec: OptimSpec, summary: str, notes: str = "") -> Callable:
    """Set a step's docstring: ``summary``, the spec's formula, the state lists its options
    need, and ``notes``."""
    needs = "\n".join(f"``{s.arg}`` are needed when {s.when}." for s in spec.states if s.when is not None)
    parts = [p for p in (summary, spec.formula, needs, notes) if p]

    def set_doc(fn):
        fn.__doc__ = "\n\n".join(parts)
        return fn

    return set_doc


@_documented(SGD, "SGD with momentum, dampening, Nesterov and L2 weight decay, as ``torch.optim.SGD``.",
             "``first_step`` (bool or one per tensor) marks buffers with no history yet, whose\n"
             "contents are ignored (torch's ``momentum_buffer is None``).")
def sgd_(params: Arrays, grads: Arrays, momentum_buffers: OptArrays = None, *, lr: float,
         momentum: float = 0.0, dampening: float = 0.0, nesterov: bool = False,
         weight_decay: float = 0.0, maximize: bool = False,
         first_step: Union[bool, Sequence[bool]] = False, master_params: OptArrays = None,
         max_grad_norm: Optional[float] = None, grad_scale: Optional[float] = None,
         found_inf: Optional[np.ndarray] = None) -> StepResult:
    hypers = dict(lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov,
                  weight_decay=weight_decay, maximize=maximize)
    return _step(SGD, params, grads, [momentum_buffers], hypers, first=first_step, master_params=master_params,
                 max_grad_norm=max_grad_norm, grad_scale=grad_scale, found_inf=found_inf)


@_documented(ADAGRAD, "Adagrad, as ``torch.optim.Adagrad``.",
             "``initial_accumulator_value`` is how ``state_sums`` start (the caller fills them).")
def adagrad_(params: Arrays, grads: Arrays, state_sums: Arrays, *, step: Steps, lr: float = 1e-2,
             lr_decay: float = 0.0, weight_decay: float = 0.0, eps: float = 1e-10,
             maximize: bool = False, master_params: OptArrays = None,
             max_grad_norm: Optional[float] = None, grad_scale: Optional[float] = None,
             found_inf: Optional[np.ndarray] = None) -> StepResult:
    hypers = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, eps=eps, maximize=maximize)
    return _step(ADAGRAD, params, grads, [state_sums], hypers, step=step, master_params=master_params,
                 max_grad_norm=max_grad_norm, grad_scale=grad_scale, found_inf=found_inf)


@_documented(RMSPROP, "RMSprop, as ``torch.optim.RMSprop``.", "The state starts at zero, as torch's.")
def rmsprop_(params: Arrays, grads: Arrays, square_avgs: Arrays, grad_avgs: OptArrays = None,
             momentum_buffers: OptArrays = None, *, lr: float = 1e-2, alpha: float = 0.99,
             eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0,
             centered: bool = False, maximize: bool = False, master_params: OptArrays = None,
             max_grad_norm: Optional[float] = None, grad_scale: Optional[float] = None,
             found_inf: Optional[np.ndarray] = None) -> StepResult:
    hypers = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                  centered=centered, maximize=maximize)
    return _step(RMSPROP, params, grads, [square_avgs, grad_avgs, momentum_buffers], hypers,
                 master_params=master_params, max_grad_norm=max_grad_norm, grad_scale=grad_scale,
                 found_inf=found_inf)


@_documented(ADAM, "Adam with L2 weight decay, as ``torch.optim.Adam``.",
             "One pass: reads p, g, m, v and writes p, m, v (28 bytes per float32 element).")
def adam_(params: Arrays, grads: Arrays, exp_avgs: Arrays, exp_avg_sqs: Arrays,
          max_exp_avg_sqs: OptArrays = None, *, step: Steps, lr: float = 1e-3,
          betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
          weight_decay: float = 0.0, amsgrad: bool = False, maximize: bool = False,
          master_params: OptArrays = None, max_grad_norm: Optional[float] = None,
          grad_scale: Optional[float] = None, found_inf: Optional[np.ndarray] = None) -> StepResult:
    hypers = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize)
    return _step(ADAM, params, grads, [exp_avgs, exp_avg_sqs, max_exp_avg_sqs], hypers, step=step,
                 master_params=master_params, max_grad_norm=max_grad_norm, grad_scale=grad_scale,
                 found_inf=found_inf)


@_documented(ADAMW, "AdamW (decoupled weight decay), as ``torch.optim.AdamW``.")
def adamw_(params: Arrays, grads: Arrays, exp_avgs: Arrays, exp_avg_sqs: Arrays,
           max_exp_avg_sqs: OptArrays = None, *, step: Steps, lr: float = 1e-3,
           betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
           weight_decay: float = 1e-2, amsgrad: bool = False, maximize: bool = False,
           master_params: OptArrays = None, max_grad_norm: Optional[float] = None,
           grad_scale: Optional[float] = None, found_inf: Optional[np.ndarray] = None) -> StepResult:
    hypers = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize)
    return _step(ADAMW, params, grads, [exp_avgs, exp_avg_sqs, max_exp_avg_sqs], hypers, step=step,
                 master_params=master_params, max_grad_norm=max_grad_norm, grad_scale=grad_scale,
                 found_inf=found_inf)


@_documented(ADAMAX, "Adamax (Adam with the infinity norm), as ``torch.optim.Adamax``.",
             "One pass: reads p, g, m, u and writes p, m, u (28 bytes per float32 element).")
def adamax_(params: Arrays, grads: Arrays, exp_avgs: Arrays, exp_infs: Arrays, *, step: Steps,
            lr: float = 2e-3, betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
            weight_decay: float = 0.0, maximize: bool = False, master_params: OptArrays = None,
            max_grad_norm: Optional[float] = None, grad_scale: Optional[float] = None,
            found_inf: Optional[np.ndarray] = None) -> StepResult:
    hypers = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize)
    return _step(ADAMAX, params, grads, [exp_avgs, exp_infs], hypers, step=step, master_params=master_params,
                 max_grad_norm=max_grad_norm, grad_scale=grad_scale, found_inf=found_inf)


@_documented(LION, "Lion (Chen et al., 2023).")
def lion_(params: Arrays, grads: Arrays, exp_avgs: Arrays, *, lr: float = 1e-4,
          betas: Tuple[float, float] = (0.9, 0.99), weight_decay: float = 0.0,
          maximize: bool = False, master_params: OptArrays = None,
          max_grad_norm: Optional[float] = None, grad_scale: Optional[float] = None,
          found_inf: Optional[np.ndarray] = None) -> StepResult:
    hypers = dict(lr=lr, betas=betas, weight_decay=weight_decay, maximize=maximize)
    return _step(LION, params, grads, [exp_avgs], hypers, master_params=master_params,
                 max_grad_norm=max_grad_norm, grad_scale=grad_scale, found_inf=found_inf)


@_documented(LAMB, "LAMB (You et al., 2020).",
             "Two passes over memory: the first updates m and v and sums ``||p||^2`` and ``||u||^2``\n"
             "per tensor (in float64, fixed blocks: bitwise identical for any thread count); the second\n"
             "recomputes u from m, v, p and moves p. (A third, read-only pass with ``max_grad_norm``.)")
def lamb_(params: Arrays, grads: Arrays, exp_avgs: Arrays, exp_avg_sqs: Arrays, *, step: Steps,
          lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-6,
          weight_decay: float = 0.0, bias_correction: bool = True, maximize: bool = False,
          master_params: OptArrays = None, max_grad_norm: Optional[float] = None,
          grad_scale: Optional[float] = None, found_inf: Optional[np.ndarray] = None) -> StepResult:
    hypers = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, bias_correction=bias_correction,
                  maximize=maximize)
    return _step(LAMB, params, grads, [exp_avgs, exp_avg_sqs], hypers, step=step, master_params=master_params,
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
    return float(_core.clip_grad_norm_(grads, float(scalar(max_norm)), float(scalar(norm_type)),
                                       bool(error_if_nonfinite)))

