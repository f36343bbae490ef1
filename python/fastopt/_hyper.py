"""Hyper-parameter checks of the optimizers: one function per optimizer, shared by every layer.

Each optimizer's spec (``fastopt._optim_specs``) names its check, and fastopt.functional (the
``*_`` steps), fastopt.optim (the NumPy classes) and fastopt.torch (the torch.optim subclasses)
all call it through the spec, so a rule and its message live in one place.
Each ``check_*`` raises (``ValueError`` for a bad value, ``TypeError`` for a wrong type)
or returns None; it never converts or writes anything.

Rules and messages are torch.optim 2.13's, word for word and in torch's order, so the first
error is the one torch would raise. ``where`` is prefixed to every message
(``check_adam("fastopt.functional.adam_", lr=-0.1, ...)`` raises
``"fastopt.functional.adam_: Invalid learning rate: -0.1"``); with ``where=""`` the message
is exactly torch's.

Where we go beyond torch (all before anything is written, none loosening torch's rules):

* Types: every real hyper-parameter must be a real number or a 1-element array/tensor
  (torch allows a 1-element Tensor ``lr`` and betas); anything else is a ``TypeError``
  naming it, not a bare comparison error.
* ``betas`` must be a pair: torch indexes ``betas[0]``/``betas[1]`` (a 1-tuple is an
  ``IndexError``, a 3-tuple passes and fails at the first step).
* NaN: torch's checks are written ``not 0.0 <= x``, which refuses NaN, except SGD's
  (``lr < 0.0``, ``momentum < 0.0``, ``weight_decay < 0.0``), which let it through, and no
  optimizer checks SGD's ``dampening``. So ``check_sgd`` alone takes ``reject_nan``: the
  classes follow torch (False); fastopt.functional passes True, so a NaN hyper-parameter is
  refused there too, with the same message (``Invalid learning rate: nan``):
  a functional step is the last line before the kernel, and a NaN ``lr`` or ``momentum``
  would silently turn every param into NaN.
* ``torch_beta_types=True`` (for fastopt.torch) adds torch Adam's rule that the betas be both
  Python floats or both Tensors; the NumPy layers accept ints and NumPy scalars.
* Lion and LAMB are not in torch: their checks are Adam's (lr, eps, betas in ``[0, 1)``,
  weight_decay, in that order; Lion has no eps), as fastopt.optim has always done.
* ``max_grad_norm`` / ``grad_scale`` (fastopt's own arguments) and ``clip_grad_norm_``'s
  ``max_norm`` (which torch never checks: a negative one flips every grad's sign, a NaN one
  makes them all NaN) are checked here too; ``norm_type`` is checked by the C++ binding.
  The ``step`` argument (int >= 1, or one per tensor) is checked by the C++ binding as well,
  before anything is written.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

__all__ = [
    "check_sgd",
    "check_adagrad",
    "check_rmsprop",
    "check_adam",
    "check_adamax",
    "check_lion",
    "check_lamb",
    "check_lr",
    "check_max_grad_norm",
    "check_grad_scale",
    "check_clip_grad_norm",
]


# torch.nn.utils.clip_grad_norm_'s coefficient is max_norm / (norm + CLIP_EPS) (kClipEps in C++).
CLIP_EPS = 1e-6


def _fail(where: str, msg: str, exc=ValueError):
    raise exc(f"{where}: {msg}" if where else msg)


def _is_tensor(x: Any) -> bool:
    return type(x).__module__.startswith("torch") and callable(getattr(x, "numel", None))


def _real(where: str, name: str, x: Any) -> None:
    """A real number, or a 1-element array / torch Tensor of real dtype."""
    if isinstance(x, numbers.Real):
        return
    if _is_tensor(x):
        if x.numel() != 1:
            _fail(where, f"Tensor {name} must be 1-element")
        if not x.is_complex():
            return
    elif hasattr(x, "dtype") and hasattr(x, "size") and hasattr(x, "shape"):  # an ndarray
        if x.dtype.kind in "biuf":
            if x.size != 1:
                _fail(where, f"{name} must be a real number or a 1-element array, got an array of shape {x.shape}")
            return
    _fail(where, f"{name} must be a real number, got {type(x).__name__} {x!r}", TypeError)


def _isnan(x: Any) -> bool:
    return bool(x != x)


def _min0(where: str, name: str, x: Any, msg: str, nan_ok: bool = False) -> None:
    """torch's ``not 0.0 <= x`` (NaN refused), or with ``nan_ok`` its ``x < 0.0`` (NaN passes)."""
    _real(where, name, x)
    if x < 0.0 or (not nan_ok and _isnan(x)):
        _fail(where, msg.format(x))


def _betas(where: str, betas: Any, torch_types: bool = False) -> None:
    """A pair of reals, each in [0, 1) (torch's two messages)."""
    if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or not hasattr(betas, "__getitem__"):
        _fail(where, f"betas must be a pair (beta1, beta2) of real numbers, got {type(betas).__name__} {betas!r}",
              TypeError)
    if len(betas) != 2:
        _fail(where, f"betas must be a pair (beta1, beta2) of real numbers, got {betas!r}")
    for i in (0, 1):
        _real(where, f"betas[{i}]", betas[i])
        if not 0.0 <= betas[i] < 1.0:
            _fail(where, f"Invalid beta parameter at index {i}: {betas[i]}")


def _torch_beta_types(where: str, betas: Any) -> None:
    b0, b1 = betas[0], betas[1]
    if not ((isinstance(b0, float) and isinstance(b1, float)) or (_is_tensor(b0) and _is_tensor(b1))):
        _fail(where, "betas must be either both floats or both Tensors")


def check_lr(where: str, lr: Any, *, nan_ok: bool = False) -> None:
    """``lr``: >= 0 (torch's ``not 0.0 <= lr``; ``nan_ok=True`` is SGD's ``lr < 0.0``); a
    Tensor must have one element. Also LBFGS's only check."""
    if _is_tensor(lr) and lr.numel() != 1:
        _fail(where, "Tensor lr must be 1-element")
    _min0(where, "lr", lr, "Invalid learning rate: {}", nan_ok)


def check_sgd(where: str = "", *, lr: Any, momentum: Any = 0.0, dampening: Any = 0.0, weight_decay: Any = 0.0,
              nesterov: bool = False, reject_nan: bool = False) -> None:
    """torch.optim.SGD: lr, momentum, weight_decay >= 0 (NaN passes unless ``reject_nan``);
    Nesterov needs momentum > 0 and dampening == 0. dampening is not range-checked (torch)."""
    nan_ok = not reject_nan
    check_lr(where, lr, nan_ok=nan_ok)
    _min0(where, "momentum", momentum, "Invalid momentum value: {}", nan_ok)
    _min0(where, "weight_decay", weight_decay, "Invalid weight_decay value: {}", nan_ok)
    _real(where, "dampening", dampening)
    if reject_nan and _isnan(dampening):
        _fail(where, f"Invalid dampening value: {dampening}")
    if nesterov and (momentum <= 0 or dampening != 0):
        _fail(where, "Nesterov momentum requires a momentum and zero dampening")


def check_adagrad(where: str = "", *, lr: Any, lr_decay: Any = 0.0, weight_decay: Any = 0.0,
                  initial_accumulator_value: Any = 0.0, eps: Any = 1e-10) -> None:
    """torch.optim.Adagrad: every argument >= 0 (NaN refused: torch's ``not 0.0 <= x``)."""
    check_lr(where, lr)
    _min0(where, "lr_decay", lr_decay, "Invalid lr_decay value: {}")
    _min0(where, "weight_decay", weight_decay, "Invalid weight_decay value: {}")
    _min0(where, "initial_accumulator_value", initial_accumulator_value,
          "Invalid initial_accumulator_value value: {}")
    _min0(where, "eps", eps, "Invalid epsilon value: {}")


def check_rmsprop(where: str = "", *, lr: Any, alpha: Any = 0.99, eps: Any = 1e-8, weight_decay: Any = 0.0,
                  momentum: Any = 0.0) -> None:
    """torch.optim.RMSprop: every argument >= 0 (NaN refused); alpha has no upper bound
    (torch's rule)."""
    check_lr(where, lr)
    _min0(where, "eps", eps, "Invalid epsilon value: {}")
    _min0(where, "momentum", momentum, "Invalid momentum value: {}")
    _min0(where, "weight_decay", weight_decay, "Invalid weight_decay value: {}")
    _min0(where, "alpha", alpha, "Invalid alpha value: {}")


def check_adam(where: str = "", *, lr: Any, betas: Any = (0.9, 0.999), eps: Any = 1e-8, weight_decay: Any = 0.0,
               torch_beta_types: bool = False) -> None:
    """torch.optim.Adam / AdamW: lr, eps, weight_decay >= 0, betas a pair in [0, 1) (NaN
    refused). ``torch_beta_types``: also torch's "betas must be either
    both floats or both Tensors" rule (last, as torch's)."""
    check_lr(where, lr)
    _min0(where, "eps", eps, "Invalid epsilon value: {}")
    _betas(where, betas)
    _min0(where, "weight_decay", weight_decay, "Invalid weight_decay value: {}")
    if torch_beta_types:
        _torch_beta_types(where, betas)


def check_adamax(where: str = "", *, lr: Any, betas: Any = (0.9, 0.999), eps: Any = 1e-8,
                 weight_decay: Any = 0.0) -> None:
    """torch.optim.Adamax: Adam's checks, in Adam's order (torch's Adamax has no rule on the
    betas' types)."""
    check_adam(where, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


def check_lion(where: str = "", *, lr: Any, betas: Any = (0.9, 0.99), weight_decay: Any = 0.0) -> None:
    """Lion (not in torch): Adam's checks without eps."""
    check_lr(where, lr)
    _betas(where, betas)
    _min0(where, "weight_decay", weight_decay, "Invalid weight_decay value: {}")


def check_lamb(where: str = "", *, lr: Any, betas: Any = (0.9, 0.999), eps: Any = 1e-6, weight_decay: Any = 0.0) -> None:
    """LAMB (not in torch): Adam's checks."""
    check_adam(where, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


def check_max_grad_norm(where: str, max_grad_norm: Any) -> None:
    """``max_grad_norm``: None (no clipping) or > 0 (inf: the norm is computed, nothing clipped)."""
    if max_grad_norm is None:
        return
    _real(where, "max_grad_norm", max_grad_norm)
    if not max_grad_norm > 0.0:
        _fail(where, f"Invalid max_grad_norm value: {max_grad_norm} (must be > 0, or None for no clipping)")


def check_grad_scale(where: str, grad_scale: Any) -> None:
    """``grad_scale``: None (1) or a positive finite number (the grads are divided by it)."""
    if grad_scale is None:
        return
    _real(where, "grad_scale", grad_scale)
    if not (0.0 < grad_scale < math.inf):  # comparisons, not float(): 1-element arrays too
        _fail(where, f"Invalid grad_scale value: {grad_scale} (must be a positive finite number)")


def check_clip_grad_norm(where: str, max_norm: Any, norm_type: Any) -> None:
    """``clip_grad_norm_``: ``max_norm`` >= 0 and not NaN (0 zeroes the grads, inf never clips);
    ``norm_type`` a real number (its range, p > 0 or inf, is the C++ binding's check)."""
    _real(where, "max_norm", max_norm)
    if not max_norm >= 0.0:
        _fail(where, f"Invalid max_norm value: {max_norm} (must be >= 0)")
    _real(where, "norm_type", norm_type)
