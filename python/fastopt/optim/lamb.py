"""LAMB (You et al. 2019, "Large Batch Optimization for Deep Learning")."""

from __future__ import annotations

from .. import functional as F
from .._hyper import check_lamb, check_max_grad_norm
from .adam import Adam
from .optimizer import Optimizer, _pair

__all__ = ["LAMB"]


class LAMB(Optimizer):
    """LAMB over NumPy arrays; one ``fastopt.functional.lamb_`` call per group.

    Adam's moments, then per tensor ``u = m_hat / (sqrt(v_hat) + eps) + wd*p``,
    ``r = ||p|| / ||u||`` (1 if either is 0), ``p -= lr * r * u``.
    State: ``step``, ``exp_avg``, ``exp_avg_sq``.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0, bias_correction=True, *,
                 maximize=False, max_grad_norm=None):
        defaults = dict(lr=lr, betas=_pair(betas), eps=eps, weight_decay=weight_decay,
                        bias_correction=bias_correction, maximize=maximize, max_grad_norm=max_grad_norm)
        super().__init__(params, defaults)

    def _validate(self, group):
        check_lamb(lr=group["lr"], betas=group["betas"], eps=group["eps"], weight_decay=group["weight_decay"])
        check_max_grad_norm("", group["max_grad_norm"])

    # Adam's moments (a LAMB group has no amsgrad)
    _init_state = Adam._init_state

    def _fused_step(self, group, params, grads, states, common):
        return F.lamb_(params, grads, [st["exp_avg"] for st in states], [st["exp_avg_sq"] for st in states],
                       step=[st["step"] for st in states], lr=group["lr"], betas=tuple(group["betas"]),
                       eps=group["eps"], weight_decay=group["weight_decay"],
                       bias_correction=group["bias_correction"], maximize=group["maximize"], **common)
