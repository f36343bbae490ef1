"""Adamax (torch.optim.Adamax)."""

from __future__ import annotations

from typing import Optional, Tuple

from .. import _optim_specs
from .optimizer import Optimizer, Params, _check_unsupported

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """torch.optim.Adamax over NumPy arrays; one ``fastopt.functional.adamax_`` call per group.

    State: ``step``, ``exp_avg``, ``exp_inf``.
    """

    _spec = _optim_specs.ADAMAX

    def __init__(self, params: Params, lr: float = 2e-3, betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, foreach: Optional[bool] = None, *,
                 maximize: bool = False, differentiable: bool = False, capturable: bool = False,
                 max_grad_norm: Optional[float] = None) -> None:
        _check_unsupported(differentiable=differentiable, capturable=capturable)
        super().__init__(params, self._defaults(self._spec, locals()))
