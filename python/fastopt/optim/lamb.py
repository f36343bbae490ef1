"""LAMB (You et al. 2019, "Large Batch Optimization for Deep Learning")."""

from __future__ import annotations

from typing import Optional, Tuple

from .. import _optim_specs
from .optimizer import Optimizer, Params

__all__ = ["LAMB"]


class LAMB(Optimizer):
    """LAMB over NumPy arrays; one ``fastopt.functional.lamb_`` call per group.

    Adam's moments, then per tensor ``u = m_hat / (sqrt(v_hat) + eps) + wd*p``,
    ``r = ||p|| / ||u||`` (1 if either is 0), ``p -= lr * r * u``.
    State: ``step``, ``exp_avg``, ``exp_avg_sq``.
    """

    _spec = _optim_specs.LAMB

    def __init__(self, params: Params, lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-6, weight_decay: float = 0.0, bias_correction: bool = True, *,
                 maximize: bool = False, max_grad_norm: Optional[float] = None) -> None:
        super().__init__(params, self._defaults(self._spec, locals()))
