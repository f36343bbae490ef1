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

import inspect
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .. import _core, _hyper
from .._optim_specs import (ADAGRAD, ADAM, ADAMAX, ADAMW, LAMB, LION, RMSPROP, SGD, OptimSpec, doc_head,
                            doc_section, param_doc, scalar, state_doc)
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


# The parameters every step shares, besides the spec's hyper-parameters (PARAM_DOCS) and state
# lists (state_doc): (type, text).
_STEP_DOCS: Dict[str, Tuple[str, str]] = {
    "params": ("ndarray or sequence of ndarray",
               "The params, updated in place: float32 or float64, or bfloat16 (a ``uint16`` view or "
               "``ml_dtypes.bfloat16``) or float16 with ``master_params``; C-contiguous, aligned, "
               "writeable."),
    "grads": ("ndarray or sequence of ndarray",
              "One grad per param, of its shape: the params' dtype, or, for float32 and low-precision "
              "params, float32, bfloat16 or float16. Read, never written; C-contiguous and aligned."),
    "step": ("int or sequence of int",
             "The 1-based number of this update (torch's ``state['step']`` after its increment): "
             "one for every tensor, or one per tensor."),
    "master_params": ("sequence of ndarray",
                      "float32 master copies of bfloat16/float16 params, one per param: the step "
                      "updates them and rewrites the params from them in the same pass, rounded to "
                      "nearest even. None for float32/float64 params."),
    "max_grad_norm": param_doc("max_grad_norm"),
    "grad_scale": ("float",
                   "The grads are divided by it as they are read (AMP unscaling): positive and "
                   "finite; None: 1."),
    "found_inf": ("ndarray",
                  "A float32 array of one element. If it is nonzero on entry, or any grad is inf or "
                  "NaN after unscaling, it is set to 1 and the step changes nothing (the rule of "
                  "torch's fused optimizers). None: non-finite grads propagate, as in torch."),
}

_STEP_RETURNS = (
    ("StepResult",
     "``(grad_norm, found_inf, skipped)``: the grads' global L2 norm when ``max_grad_norm`` is "
     "given (else None), whether a grad was inf or NaN, and whether the step was skipped; see "
     ":class:`fastopt.StepResult`."),
)
_STEP_RAISES = (
    ("TypeError, ValueError",
     "A hyper-parameter out of range (torch.optim's rules and messages, prefixed with the "
     "function's name), a state list that the options need left out, or an array of the wrong "
     "dtype, shape or layout, or sharing memory with another. Raised before anything is "
     "written."),
)
_STEP_NOTES = ("Results are bitwise identical for any thread count. The contract every step shares "
               "(lists of arrays, dtypes, mixed precision, AMP) is the documentation's page "
               "\"The multi-tensor optimizer step API\".")


def _documented(spec: OptimSpec, summary: str, example: str, notes: str = "",
                params: Optional[Mapping[str, Tuple[str, str]]] = None) -> Callable:
    """Set a step's docstring: ``summary``; the spec's formula; a Parameters section with one
    row per parameter of the step's signature (its default, and the text of ``params``, of
    ``_STEP_DOCS``, of the spec's state entry or ``param_doc``'s, first found); Returns and
    Raises (``_STEP_RETURNS``, ``_STEP_RAISES``); ``notes``; and ``example`` (doctest lines)."""
    states = {s.arg: s for s in spec.states}

    def row(name: str, default: Any) -> Tuple[str, str]:
        if params is not None and name in params:
            kind, text = params[name]
        elif name in _STEP_DOCS:
            kind, text = _STEP_DOCS[name]
        elif name in states:
            s = states[name]
            kind = "ndarray or sequence of ndarray"
            text = (f"torch's ``{s.key}`` state of each param, updated in place: the params' dtype "
                    f"(float32 for bfloat16/float16 params), C-contiguous, aligned, writeable; "
                    f"{state_doc(s)}.")
            if s.when is not None:
                text += f" Required when ``{s.when}``, else not read."
        else:
            kind, text = param_doc(name)
        return doc_head(name, kind, default), text

    def set_doc(fn: Callable) -> Callable:
        rows = [row(n, p.default) for n, p in inspect.signature(fn).parameters.items()]
        parts = [summary, spec.formula, doc_section("Parameters", rows), doc_section("Returns", _STEP_RETURNS),
                 doc_section("Raises", _STEP_RAISES),
                 doc_section("Notes", [(None, t) for t in (notes, _STEP_NOTES) if t]),
                 doc_section("Examples", []) + "\n" + example.strip("\n")]
        fn.__doc__ = "\n\n".join(parts)
        return fn

    return set_doc


@_documented(SGD, "SGD with momentum, dampening, Nesterov and L2 weight decay, as ``torch.optim.SGD``.",
             """
>>> import numpy as np
>>> from fastopt import functional as F
>>> params = [np.array([1.0, -2.0], np.float32), np.array([[0.5]], np.float32)]
>>> grads = [np.array([0.5, 0.5], np.float32), np.array([[-1.0]], np.float32)]
>>> bufs = [np.zeros_like(p) for p in params]
>>> F.sgd_(params, grads, bufs, lr=0.1, momentum=0.9, first_step=True)
StepResult(grad_norm=None, found_inf=False, skipped=False)
>>> params[0].round(4), bufs[1]
(array([ 0.95, -2.05], dtype=float32), array([[-1.]], dtype=float32))
""",
             params={"first_step": ("bool or sequence of bool",
                                    "Marks buffers with no history yet (one flag, or one per tensor): "
                                    "their contents are ignored and they are set from the grad "
                                    "(torch's ``momentum_buffer is None``).")})
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


@_documented(ADAGRAD, "Adagrad, as ``torch.optim.Adagrad``.", """
>>> import numpy as np
>>> from fastopt import functional as F
>>> p, g = np.array([1.0, -2.0], np.float32), np.array([0.5, 0.5], np.float32)
>>> sums = np.zeros_like(p)  # np.full_like(p, initial_accumulator_value)
>>> F.adagrad_(p, g, sums, step=1, lr=0.1).skipped
False
>>> p.round(4), sums
(array([ 0.9, -2.1], dtype=float32), array([0.25, 0.25], dtype=float32))
""", "``initial_accumulator_value`` (torch's constructor argument) is how ``state_sums`` start: the "
     "caller fills them.")
def adagrad_(params: Arrays, grads: Arrays, state_sums: Arrays, *, step: Steps, lr: float = 1e-2,
             lr_decay: float = 0.0, weight_decay: float = 0.0, eps: float = 1e-10,
             maximize: bool = False, master_params: OptArrays = None,
             max_grad_norm: Optional[float] = None, grad_scale: Optional[float] = None,
             found_inf: Optional[np.ndarray] = None) -> StepResult:
    hypers = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, eps=eps, maximize=maximize)
    return _step(ADAGRAD, params, grads, [state_sums], hypers, step=step, master_params=master_params,
                 max_grad_norm=max_grad_norm, grad_scale=grad_scale, found_inf=found_inf)


@_documented(RMSPROP, "RMSprop, as ``torch.optim.RMSprop``.", """
>>> import numpy as np
>>> from fastopt import functional as F
>>> p, g = np.array([1.0, -2.0], np.float32), np.array([0.5, 0.5], np.float32)
>>> square_avg, grad_avg = np.zeros_like(p), np.zeros_like(p)
>>> F.rmsprop_(p, g, square_avg, grad_avg, lr=0.01, centered=True).skipped
False
>>> p.round(4), square_avg.round(4)
(array([ 0.8995, -2.1005], dtype=float32), array([0.0025, 0.0025], dtype=float32))
""", "The state starts at zero, as torch's.")
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


@_documented(ADAM, "Adam with L2 weight decay, as ``torch.optim.Adam``.", """
A model's arrays in one call, with clipping and AMP's skip-on-inf:

>>> import numpy as np
>>> from fastopt import functional as F
>>> params = [np.array([1.0, -2.0], np.float32), np.array([[0.5]], np.float32)]
>>> grads = [np.array([0.5, 0.5], np.float32), np.array([[-1.0]], np.float32)]
>>> exp_avgs = [np.zeros_like(p) for p in params]
>>> exp_avg_sqs = [np.zeros_like(p) for p in params]
>>> found_inf = np.zeros(1, np.float32)
>>> r = F.adam_(params, grads, exp_avgs, exp_avg_sqs, step=1, lr=0.1,
...             max_grad_norm=1.0, found_inf=found_inf)
>>> round(r.grad_norm, 4), r.skipped  # sqrt(0.5**2 + 0.5**2 + 1**2)
(1.2247, False)
>>> params[0].round(4), params[1].round(4)
(array([ 0.9, -2.1], dtype=float32), array([[0.6]], dtype=float32))
>>> grads[1] = np.array([[np.inf]], np.float32)
>>> F.adam_(params, grads, exp_avgs, exp_avg_sqs, step=2, lr=0.1, found_inf=found_inf)
StepResult(grad_norm=None, found_inf=True, skipped=True)
>>> params[0].round(4), found_inf
(array([ 0.9, -2.1], dtype=float32), array([1.], dtype=float32))
""", "One pass: reads p, g, m, v and writes p, m, v (28 bytes per float32 element).")
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


@_documented(ADAMW, "AdamW (decoupled weight decay), as ``torch.optim.AdamW``.", """
>>> import numpy as np
>>> from fastopt import functional as F
>>> p, g = np.array([1.0, -2.0], np.float32), np.array([0.5, 0.5], np.float32)
>>> m, v = np.zeros_like(p), np.zeros_like(p)
>>> F.adamw_(p, g, m, v, step=1, lr=0.1).skipped
False
>>> p.round(4)  # (1 - 0.1 * 0.01) * p - 0.1 * sign(g)
array([ 0.899, -2.098], dtype=float32)

bfloat16 params (as ``uint16`` bits) with a float32 master copy:

>>> master = np.array([1.0, -2.0], np.float32)
>>> p16 = (master.view(np.uint32) >> 16).astype(np.uint16)
>>> m, v = np.zeros_like(master), np.zeros_like(master)
>>> _ = F.adamw_(p16, g, m, v, step=1, lr=0.1, master_params=[master])
>>> master.round(4), (p16.astype(np.uint32) << 16).view(np.float32)
(array([ 0.899, -2.098], dtype=float32), array([ 0.8984375, -2.09375  ], dtype=float32))
""")
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


@_documented(ADAMAX, "Adamax (Adam with the infinity norm), as ``torch.optim.Adamax``.", """
>>> import numpy as np
>>> from fastopt import functional as F
>>> p, g = np.array([1.0, -2.0], np.float32), np.array([0.5, -0.5], np.float32)
>>> m, u = np.zeros_like(p), np.zeros_like(p)
>>> F.adamax_(p, g, m, u, step=1, lr=0.1).skipped
False
>>> p.round(4), u.round(4)  # step 1: m / (1 - beta1) = g and u = |g|, so p moves lr * sign(g)
(array([ 0.9, -1.9], dtype=float32), array([0.5, 0.5], dtype=float32))
""", notes="One pass: reads p, g, m, u and writes p, m, u (28 bytes per float32 element).")
def adamax_(params: Arrays, grads: Arrays, exp_avgs: Arrays, exp_infs: Arrays, *, step: Steps,
            lr: float = 2e-3, betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
            weight_decay: float = 0.0, maximize: bool = False, master_params: OptArrays = None,
            max_grad_norm: Optional[float] = None, grad_scale: Optional[float] = None,
            found_inf: Optional[np.ndarray] = None) -> StepResult:
    hypers = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize)
    return _step(ADAMAX, params, grads, [exp_avgs, exp_infs], hypers, step=step, master_params=master_params,
                 max_grad_norm=max_grad_norm, grad_scale=grad_scale, found_inf=found_inf)


@_documented(LION, "Lion (Chen et al., 2023).", """
>>> import numpy as np
>>> from fastopt import functional as F
>>> p, g = np.array([1.0, -2.0], np.float32), np.array([0.5, -0.5], np.float32)
>>> m = np.zeros_like(p)
>>> F.lion_(p, g, m, lr=0.1).skipped
False
>>> p.round(4), m.round(4)  # p - lr * sign(g); m = 0.01 * g
(array([ 0.9, -1.9], dtype=float32), array([ 0.005, -0.005], dtype=float32))
""")
def lion_(params: Arrays, grads: Arrays, exp_avgs: Arrays, *, lr: float = 1e-4,
          betas: Tuple[float, float] = (0.9, 0.99), weight_decay: float = 0.0,
          maximize: bool = False, master_params: OptArrays = None,
          max_grad_norm: Optional[float] = None, grad_scale: Optional[float] = None,
          found_inf: Optional[np.ndarray] = None) -> StepResult:
    hypers = dict(lr=lr, betas=betas, weight_decay=weight_decay, maximize=maximize)
    return _step(LION, params, grads, [exp_avgs], hypers, master_params=master_params,
                 max_grad_norm=max_grad_norm, grad_scale=grad_scale, found_inf=found_inf)


@_documented(LAMB, "LAMB (You et al., 2020).", """
>>> import numpy as np
>>> from fastopt import functional as F
>>> p, g = np.array([3.0, 4.0], np.float32), np.array([0.5, 0.5], np.float32)
>>> m, v = np.zeros_like(p), np.zeros_like(p)
>>> F.lamb_(p, g, m, v, step=1, lr=0.1).skipped
False
>>> p.round(4)  # u = (1, 1), r = ||p|| / ||u|| = 5 / sqrt(2)
array([2.6464, 3.6464], dtype=float32)
""", "Two passes over memory: the first updates m and v and sums ``||p||^2`` and ``||u||^2`` per "
     "tensor (in float64, fixed blocks: bitwise identical for any thread count); the second "
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

    ``norm = (sum over all arrays of |g|**norm_type) ** (1 / norm_type)`` (``max |g|`` for
    ``inf``), then every grad is multiplied by ``min(1, max_norm / (norm + 1e-6))``.

    Parameters
    ----------
    grads : ndarray or sequence of ndarray
        float32 or float64 grads, scaled in place: C-contiguous, aligned, writeable.
    max_norm : float
        The largest norm allowed, >= 0 and not NaN (torch does not check it: a negative one
        would flip the grads' signs); 0 zeroes the grads, inf never clips.
    norm_type : float, default 2.0
        The p of the p-norm: any p > 0, or ``inf``.
    error_if_nonfinite : bool, default False
        Raise ``RuntimeError`` (torch's message) when the norm is NaN or inf, before anything
        is scaled.

    Returns
    -------
    float
        The global norm of the grads before clipping.

    Raises
    ------
    RuntimeError
        A NaN or inf norm with ``error_if_nonfinite``.
    TypeError, ValueError
        A bad ``max_norm`` or ``norm_type``, or a grad of the wrong dtype or layout.

    Notes
    -----
    One read-only pass computes the norm over all arrays (float64 accumulation over fixed
    blocks: bitwise identical for any thread count); a second scales the grads and is
    skipped when the factor is 1. To clip inside an optimizer step without writing the
    grads, pass ``max_grad_norm`` to the step instead.

    Examples
    --------
    >>> import numpy as np
    >>> from fastopt import functional as F
    >>> grads = [np.array([3.0, 0.0], np.float32), np.array([[4.0]], np.float32)]
    >>> F.clip_grad_norm_(grads, max_norm=1.0)
    5.0
    >>> grads[0].round(4), grads[1].round(4)
    (array([0.6, 0. ], dtype=float32), array([[0.8]], dtype=float32))
    """
    _hyper.check_clip_grad_norm(_where("clip_grad_norm_"), max_norm, norm_type)
    return float(_core.clip_grad_norm_(grads, float(scalar(max_norm)), float(scalar(norm_type)),
                                       bool(error_if_nonfinite)))

