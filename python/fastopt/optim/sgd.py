"""SGD with momentum, dampening, Nesterov and weight decay (torch.optim.SGD)."""

from __future__ import annotations

from typing import Optional

from .. import _optim_specs
from .optimizer import Optimizer, Params, _check_unsupported

__all__ = ["SGD"]


class SGD(Optimizer):
    """torch.optim.SGD over NumPy arrays; one ``fastopt.functional.sgd_`` call per group.

    State: ``momentum_buffer`` (when momentum != 0), set to the first (decayed) grad on the
    first step as torch's clone. ``foreach`` is accepted and ignored.
    """

    _spec = _optim_specs.SGD

    def __init__(self, params: Params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: Optional[bool] = None, differentiable: bool = False, fused: Optional[bool] = None,
                 max_grad_norm: Optional[float] = None) -> None:
        _check_unsupported(differentiable=differentiable, fused=fused)
        super().__init__(params, self._defaults(self._spec, locals()))
