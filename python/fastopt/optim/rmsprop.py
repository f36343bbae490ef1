"""RMSprop (torch.optim.RMSprop)."""

from __future__ import annotations

from typing import Optional

from .. import _optim_specs
from .optimizer import Optimizer, Params, _check_unsupported

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """torch.optim.RMSprop over NumPy arrays; one ``fastopt.functional.rmsprop_`` call per group.

    State: ``step``, ``square_avg``, ``grad_avg`` (centered), ``momentum_buffer`` (momentum > 0).
    """

    _spec = _optim_specs.RMSPROP

    def __init__(self, params: Params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, capturable: bool = False,
                 foreach: Optional[bool] = None, maximize: bool = False, differentiable: bool = False,
                 max_grad_norm: Optional[float] = None) -> None:
        _check_unsupported(differentiable=differentiable, capturable=capturable)
        super().__init__(params, self._defaults(self._spec, locals()))
