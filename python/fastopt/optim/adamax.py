"""Adamax (torch.optim.Adamax)."""

from __future__ import annotations

from typing import Optional, Tuple

from .. import _optim_specs
from .optimizer import Optimizer, Params, _check_unsupported

__all__ = ["Adamax"]


class Adamax(Optimizer):
    __doc__ = _optim_specs.class_doc(
        _optim_specs.ADAMAX,
        "torch.optim.Adamax over NumPy arrays: one fused ``fastopt.functional.adamax_`` call per param group.",
        example="""
>>> import numpy as np
>>> from fastopt.optim import Adamax
>>> w = np.array([1.0, -2.0], np.float32)
>>> opt = Adamax([w], lr=0.1)
>>> for _ in range(3):
...     results = opt.step([2 * w])  # the grad of sum(w**2)
>>> w.round(4), sorted(opt.state[w])
(array([ 0.7155, -1.7076], dtype=float32), ['exp_avg', 'exp_inf', 'step'])
""")

    _spec = _optim_specs.ADAMAX

    def __init__(self, params: Params, lr: float = 2e-3, betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, foreach: Optional[bool] = None, *,
                 maximize: bool = False, differentiable: bool = False, capturable: bool = False,
                 max_grad_norm: Optional[float] = None) -> None:
        _check_unsupported(differentiable=differentiable, capturable=capturable)
        super().__init__(params, self._defaults(self._spec, locals()))
