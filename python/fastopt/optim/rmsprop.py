"""RMSprop (torch.optim.RMSprop)."""

from __future__ import annotations

from typing import Optional

from .. import _optim_specs
from .optimizer import Optimizer, Params, _check_unsupported

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    __doc__ = _optim_specs.class_doc(
        _optim_specs.RMSPROP,
        "torch.optim.RMSprop over NumPy arrays: one fused ``fastopt.functional.rmsprop_`` call per param group.",
        example="""
>>> import numpy as np
>>> from fastopt.optim import RMSprop
>>> w = np.array([1.0, -2.0], np.float32)
>>> opt = RMSprop([w], lr=0.01)
>>> for _ in range(3):
...     results = opt.step([2 * w])  # the grad of sum(w**2)
>>> w.round(4), sorted(opt.state[w])
(array([ 0.78  , -1.7753], dtype=float32), ['square_avg', 'step'])
""")

    _spec = _optim_specs.RMSPROP

    def __init__(self, params: Params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, capturable: bool = False,
                 foreach: Optional[bool] = None, maximize: bool = False, differentiable: bool = False,
                 max_grad_norm: Optional[float] = None) -> None:
        _check_unsupported(differentiable=differentiable, capturable=capturable)
        super().__init__(params, self._defaults(self._spec, locals()))
