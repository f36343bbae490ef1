"""Adam and AdamW (torch.optim.Adam, torch.optim.AdamW)."""

from __future__ import annotations

from typing import Optional, Tuple

from .. import _optim_specs
from .optimizer import Optimizer, Params, _check_unsupported

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """torch.optim.Adam over NumPy arrays; one ``fastopt.functional.adam_`` call per group
    (``adamw_`` with ``decoupled_weight_decay=True``).

    State: ``step``, ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq`` (amsgrad).
    """

    _spec = _optim_specs.ADAM

    def __init__(self, params: Params, lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: Optional[bool] = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: Optional[bool] = None, decoupled_weight_decay: bool = False,
                 max_grad_norm: Optional[float] = None) -> None:
        _check_unsupported(differentiable=differentiable, capturable=capturable, fused=fused)
        super().__init__(params, self._defaults(self._spec, locals()))


class AdamW(Adam):
    """torch.optim.AdamW: Adam with decoupled weight decay (default 1e-2); one
    ``fastopt.functional.adamw_`` call per group."""

    _spec = _optim_specs.ADAMW

    def __init__(self, params: Params, lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False,
                 foreach: Optional[bool] = None, capturable: bool = False, differentiable: bool = False,
                 fused: Optional[bool] = None, max_grad_norm: Optional[float] = None) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         foreach=foreach, maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused, decoupled_weight_decay=True,
                         max_grad_norm=max_grad_norm)
