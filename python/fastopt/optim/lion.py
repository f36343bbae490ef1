"""Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms")."""

from __future__ import annotations

from typing import Optional, Tuple

from .. import _optim_specs
from .optimizer import Optimizer, Params

__all__ = ["Lion"]


class Lion(Optimizer):
    """Lion over NumPy arrays; one ``fastopt.functional.lion_`` call per group::

        c = b1*m + (1-b1)*g;  p = p*(1 - lr*wd) - lr*sign(c);  m = b2*m + (1-b2)*g

    State: ``exp_avg``. Validation as torch's Adam (lr, betas, weight_decay).
    """

    _spec = _optim_specs.LION

    def __init__(self, params: Params, lr: float = 1e-4, betas: Tuple[float, float] = (0.9, 0.99),
                 weight_decay: float = 0.0, *, maximize: bool = False, max_grad_norm: Optional[float] = None) -> None:
        super().__init__(params, self._defaults(self._spec, locals()))
