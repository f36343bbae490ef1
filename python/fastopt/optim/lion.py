"""Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms")."""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .._hyper import check_lion, check_max_grad_norm
from .optimizer import Optimizer, _pair, _state_dtype

__all__ = ["Lion"]


class Lion(Optimizer):
    """Lion over NumPy arrays; one ``fastopt.functional.lion_`` call per group::

        c = b1*m + (1-b1)*g;  p = p*(1 - lr*wd) - lr*sign(c);  m = b2*m + (1-b2)*g

    State: ``exp_avg``. Validation as torch's Adam (lr, betas, weight_decay).
    """

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, *, maximize=False, max_grad_norm=None):
        defaults = dict(lr=lr, betas=_pair(betas), weight_decay=weight_decay, maximize=maximize,
                        max_grad_norm=max_grad_norm)
        super().__init__(params, defaults)

    def _validate(self, group):
        check_lion(lr=group["lr"], betas=group["betas"], weight_decay=group["weight_decay"])
        check_max_grad_norm("", group["max_grad_norm"])

    def _init_state(self, p, group, state):
        state["exp_avg"] = np.zeros(p.shape, dtype=_state_dtype(p))

    def _fused_step(self, group, params, grads, states, common):
        return F.lion_(params, grads, [st["exp_avg"] for st in states], lr=group["lr"], betas=tuple(group["betas"]),
                       weight_decay=group["weight_decay"], maximize=group["maximize"], **common)
