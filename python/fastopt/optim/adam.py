"""Adam and AdamW (torch.optim.Adam, torch.optim.AdamW)."""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .._hyper import check_adam, check_max_grad_norm
from .optimizer import Optimizer, _check_unsupported, _pair, _state_dtype

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """torch.optim.Adam over NumPy arrays; one ``fastopt.functional.adam_`` call per group
    (``adamw_`` with ``decoupled_weight_decay=True``).

    State: ``step``, ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq`` (amsgrad).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False, max_grad_norm=None):
        _check_unsupported(differentiable=differentiable, capturable=capturable, fused=fused)
        defaults = dict(lr=lr, betas=_pair(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, decoupled_weight_decay=decoupled_weight_decay,
                        max_grad_norm=max_grad_norm)
        super().__init__(params, defaults)

    def _validate(self, group):
        check_adam(lr=group["lr"], betas=group["betas"], eps=group["eps"], weight_decay=group["weight_decay"])
        check_max_grad_norm("", group["max_grad_norm"])

    def _init_state(self, p, group, state):
        dt = _state_dtype(p)
        state["step"] = 0
        state["exp_avg"] = np.zeros(p.shape, dtype=dt)
        state["exp_avg_sq"] = np.zeros(p.shape, dtype=dt)
        if group.get("amsgrad", False):  # LAMB shares this, without amsgrad
            state["max_exp_avg_sq"] = np.zeros(p.shape, dtype=dt)

    def _fused_step(self, group, params, grads, states, common):
        step = F.adamw_ if group.get("decoupled_weight_decay") else F.adam_
        maxs = [st["max_exp_avg_sq"] for st in states] if group["amsgrad"] else None
        return step(params, grads, [st["exp_avg"] for st in states], [st["exp_avg_sq"] for st in states], maxs,
                    step=[st["step"] for st in states], lr=group["lr"], betas=tuple(group["betas"]),
                    eps=group["eps"], weight_decay=group["weight_decay"], amsgrad=group["amsgrad"],
                    maximize=group["maximize"], **common)


class AdamW(Adam):
    """torch.optim.AdamW: Adam with decoupled weight decay (default 1e-2)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None,
                 max_grad_norm=None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         foreach=foreach, maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused, decoupled_weight_decay=True,
                         max_grad_norm=max_grad_norm)
