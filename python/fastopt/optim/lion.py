"""Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms")."""

from __future__ import annotations

from typing import Optional, Tuple

from .. import _optim_specs
from .optimizer import Optimizer, Params

__all__ = ["Lion"]


class Lion(Optimizer):
    __doc__ = _optim_specs.class_doc(
        _optim_specs.LION,
        "Lion over NumPy arrays: one fused ``fastopt.functional.lion_`` call per param group.",
        example="""
>>> import numpy as np
>>> from fastopt.optim import Lion
>>> w = np.array([1.0, -2.0], np.float32)
>>> opt = Lion([w], lr=0.1)
>>> for _ in range(3):
...     results = opt.step([2 * w])  # the grad of sum(w**2): each step moves lr against its sign
>>> w.round(4), sorted(opt.state[w])
(array([ 0.7, -1.7], dtype=float32), ['exp_avg'])
""", notes="Hyper-parameters are checked as torch's Adam checks them (lr, betas, weight_decay).")

    _spec = _optim_specs.LION

    def __init__(self, params: Params, lr: float = 1e-4, betas: Tuple[float, float] = (0.9, 0.99),
                 weight_decay: float = 0.0, *, maximize: bool = False, max_grad_norm: Optional[float] = None) -> None:
        super().__init__(params, self._defaults(self._spec, locals()))
