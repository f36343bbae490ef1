"""Adagrad (torch.optim.Adagrad)."""

from __future__ import annotations

from typing import Optional

from .. import _optim_specs
from .optimizer import Optimizer, Params, _check_unsupported

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """torch.optim.Adagrad over NumPy arrays; one ``fastopt.functional.adagrad_`` call per group.

    State (created at construction, as torch's): ``step``, ``sum`` (filled with
    ``initial_accumulator_value``).
    """

    _spec = _optim_specs.ADAGRAD

    def __init__(self, params: Params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, foreach: Optional[bool] = None, *,
                 maximize: bool = False, differentiable: bool = False, fused: Optional[bool] = None,
                 max_grad_norm: Optional[float] = None) -> None:
        _check_unsupported(differentiable=differentiable, fused=fused)
        super().__init__(params, self._defaults(self._spec, locals()))
