"""RMSprop (torch.optim.RMSprop)."""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .optimizer import Optimizer, _check_eps, _check_lr, _check_max_grad_norm, _check_unsupported, _check_weight_decay, _state_dtype

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
        _check_lr(group["lr"])
        _check_eps(group["eps"])
        if not 0.0 <= group["momentum"]:
            raise ValueError(f"Invalid momentum value: {group['momentum']}")
        _check_weight_decay(group["weight_decay"])
        if not 0.0 <= group["alpha"]:
            raise ValueError(f"Invalid alpha value: {group['alpha']}")
        _check_max_grad_norm(group["max_grad_norm"])

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
