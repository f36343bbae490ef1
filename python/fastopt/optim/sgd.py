"""SGD with momentum, dampening, Nesterov and weight decay (torch.optim.SGD)."""

from __future__ import annotations

from typing import Optional

from .. import _optim_specs
from .optimizer import Optimizer, Params, _check_unsupported

__all__ = ["SGD"]


class SGD(Optimizer):
    __doc__ = _optim_specs.class_doc(
        _optim_specs.SGD,
        "torch.optim.SGD over NumPy arrays: one fused ``fastopt.functional.sgd_`` call per param group.",
        example="""
Two param groups, the second with its own learning rate:

>>> import numpy as np
>>> from fastopt.optim import SGD
>>> w, b = np.array([1.0, -2.0], np.float32), np.zeros(1, np.float32)
>>> opt = SGD([{"params": [w]}, {"params": [b], "lr": 0.01}], lr=0.1, momentum=0.9)
>>> for _ in range(3):
...     results = opt.step([2 * w, np.ones(1, np.float32)])  # one grad per param, in order
>>> w.round(4), b.round(4)
(array([ 0.062, -0.124], dtype=float32), array([-0.0561], dtype=float32))
>>> sorted(opt.state[w])
['momentum_buffer']
""")

    _spec = _optim_specs.SGD

    def __init__(self, params: Params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: Optional[bool] = None, differentiable: bool = False, fused: Optional[bool] = None,
                 max_grad_norm: Optional[float] = None) -> None:
        _check_unsupported(differentiable=differentiable, fused=fused)
        super().__init__(params, self._defaults(self._spec, locals()))
