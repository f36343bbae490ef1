"""Adagrad (torch.optim.Adagrad)."""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .._hyper import check_adagrad, check_max_grad_norm
from .optimizer import Optimizer, _check_unsupported, _is_low, _bits_to_f32, _state_dtype

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """torch.optim.Adagrad over NumPy arrays; one ``fastopt.functional.adagrad_`` call per group.

    State (created at construction, as torch's): ``step``, ``sum`` (filled with
    ``initial_accumulator_value``).
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None, max_grad_norm=None):
        _check_unsupported(differentiable=differentiable, fused=fused)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, maximize=maximize,
                        max_grad_norm=max_grad_norm)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                st = self.state[p]
                if len(st) == 0:
                    self._init_state(p, group, st)
                    if _is_low(p.dtype):
                        st["master_param"] = _bits_to_f32(p)

    def _validate(self, group):
        check_adagrad(lr=group["lr"], lr_decay=group["lr_decay"], weight_decay=group["weight_decay"],
                      initial_accumulator_value=group["initial_accumulator_value"], eps=group["eps"])
        check_max_grad_norm("", group["max_grad_norm"])

    def _init_state(self, p, group, state):
        state["step"] = 0
        state["sum"] = np.full(p.shape, group["initial_accumulator_value"], dtype=_state_dtype(p))

    def _fused_step(self, group, params, grads, states, common):
        return F.adagrad_(params, grads, [st["sum"] for st in states], step=[st["step"] for st in states],
                          lr=group["lr"], lr_decay=group["lr_decay"], weight_decay=group["weight_decay"],
                          eps=group["eps"], maximize=group["maximize"], **common)
