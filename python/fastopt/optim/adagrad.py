"""Adagrad (torch.optim.Adagrad)."""

from __future__ import annotations

from typing import Optional

from .. import _optim_specs
from .optimizer import Optimizer, Params, _check_unsupported

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    __doc__ = _optim_specs.class_doc(
        _optim_specs.ADAGRAD,
        "torch.optim.Adagrad over NumPy arrays: one fused ``fastopt.functional.adagrad_`` call per param group.",
        example="""
>>> import numpy as np
>>> from fastopt.optim import Adagrad
>>> w = np.array([1.0, -2.0], np.float32)
>>> opt = Adagrad([w], lr=0.5)
>>> sorted(opt.state[w])  # made at construction
['step', 'sum']
>>> for _ in range(3):
...     results = opt.step([2 * w])  # the grad of sum(w**2)
>>> w.round(4), opt.state[w]["step"]
(array([ 0.1564, -0.9836], dtype=float32), 3)
""")

    _spec = _optim_specs.ADAGRAD

    def __init__(self, params: Params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, foreach: Optional[bool] = None, *,
                 maximize: bool = False, differentiable: bool = False, fused: Optional[bool] = None,
                 max_grad_norm: Optional[float] = None) -> None:
        _check_unsupported(differentiable=differentiable, fused=fused)
        super().__init__(params, self._defaults(self._spec, locals()))
