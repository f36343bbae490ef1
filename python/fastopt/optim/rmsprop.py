"""RMSprop (torch.optim.RMSprop)."""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .._hyper import check_max_grad_norm, check_rmsprop
from .optimizer import Optimizer, _check_unsupported, _state_dtype

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """torch.optim.RMSprop over NumPy arrays; one ``fastopt.functional.rmsprop_`` call per group.

    State: ``step``, ``square_avg``, ``momentum_buffer`` (momentum > 0), ``grad_avg`` (centered).
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False, max_grad_norm=None):
        _check_unsupported(differentiable=differentiable, capturable=capturable)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, maximize=maximize, max_grad_norm=max_grad_norm)
        super().__init__(params, defaults)

    def _validate(self, group):
        check_rmsprop(lr=group["lr"], alpha=group["alpha"], eps=group["eps"], weight_decay=group["weight_decay"],
                      momentum=group["momentum"])
        check_max_grad_norm("", group["max_grad_norm"])

    def _init_state(self, p, group, state):
        dt = _state_dtype(p)
        state["step"] = 0
        state["square_avg"] = np.zeros(p.shape, dtype=dt)
        if group["momentum"] > 0:
            state["momentum_buffer"] = np.zeros(p.shape, dtype=dt)
        if group["centered"]:
            state["grad_avg"] = np.zeros(p.shape, dtype=dt)

    def _fused_step(self, group, params, grads, states, common):
        grad_avgs = [st["grad_avg"] for st in states] if group["centered"] else None
        bufs = [st["momentum_buffer"] for st in states] if group["momentum"] > 0 else None
        return F.rmsprop_(params, grads, [st["square_avg"] for st in states], grad_avgs, bufs,
                          lr=group["lr"], alpha=group["alpha"], eps=group["eps"],
                          weight_decay=group["weight_decay"], momentum=group["momentum"],
                          centered=group["centered"], maximize=group["maximize"], **common)
