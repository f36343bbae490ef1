"""LAMB (You et al. 2019, "Large Batch Optimization for Deep Learning")."""

from __future__ import annotations

from typing import Optional, Tuple

from .. import _optim_specs
from .optimizer import Optimizer, Params

__all__ = ["LAMB"]


class LAMB(Optimizer):
    __doc__ = _optim_specs.class_doc(
        _optim_specs.LAMB,
        "LAMB over NumPy arrays: one fused ``fastopt.functional.lamb_`` call per param group.",
        example="""
>>> import numpy as np
>>> from fastopt.optim import LAMB
>>> w = np.array([1.0, -2.0], np.float32)
>>> opt = LAMB([w], lr=0.1)
>>> for _ in range(3):
...     results = opt.step([2 * w])  # the grad of sum(w**2)
>>> w.round(4), sorted(opt.state[w])
(array([ 0.5702, -1.5675], dtype=float32), ['exp_avg', 'exp_avg_sq', 'step'])
""")

    _spec = _optim_specs.LAMB

    def __init__(self, params: Params, lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-6, weight_decay: float = 0.0, bias_correction: bool = True, *,
                 maximize: bool = False, max_grad_norm: Optional[float] = None) -> None:
        super().__init__(params, self._defaults(self._spec, locals()))
