"""SGD with momentum, dampening, Nesterov and weight decay (torch.optim.SGD)."""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .._hyper import check_max_grad_norm, check_sgd
from .optimizer import Optimizer, _check_unsupported, _state_dtype

__all__ = ["SGD"]


class SGD(Optimizer):
    """torch.optim.SGD over NumPy arrays; one ``fastopt.functional.sgd_`` call per group.

    State: ``momentum_buffer`` (when momentum != 0), set to the first (decayed) grad on the
    first step as torch's clone. ``foreach`` is accepted and ignored.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None, max_grad_norm=None):
        _check_unsupported(differentiable=differentiable, fused=fused)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, max_grad_norm=max_grad_norm)
        super().__init__(params, defaults)

    def _validate(self, group):
        check_sgd(lr=group["lr"], momentum=group["momentum"], dampening=group["dampening"],
                  weight_decay=group["weight_decay"], nesterov=group["nesterov"])
        check_max_grad_norm("", group["max_grad_norm"])

    def _init_state(self, p, group, state):
        if group["momentum"] != 0:
            state["momentum_buffer"] = None

    def _fused_step(self, group, params, grads, states, common):
        bufs = None
        first = False
        if group["momentum"] != 0:
            first = []
            for p, st in zip(params, states):
                if st.get("momentum_buffer") is None:
                    st["momentum_buffer"] = np.zeros(p.shape, dtype=_state_dtype(p))
                    first.append(True)
                else:
                    first.append(False)
            bufs = [st["momentum_buffer"] for st in states]
        try:
            return F.sgd_(params, grads, bufs, lr=group["lr"], momentum=group["momentum"],
                          dampening=group["dampening"], nesterov=group["nesterov"],
                          weight_decay=group["weight_decay"], maximize=group["maximize"],
                          first_step=first, **common)
        except BaseException:
            if bufs is not None:
                for st, f in zip(states, first):
                    if f:
                        st["momentum_buffer"] = None
            raise
