"""Adam and AdamW (torch.optim.Adam, torch.optim.AdamW)."""

from __future__ import annotations

from typing import Optional, Tuple

from .. import _optim_specs
from .optimizer import Optimizer, Params, _check_unsupported

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    __doc__ = _optim_specs.class_doc(
        _optim_specs.ADAM,
        "torch.optim.Adam over NumPy arrays: one fused ``fastopt.functional.adam_`` call per param group.",
        notes="A group with ``decoupled_weight_decay=True`` steps with ``fastopt.functional.adamw_``.",
        example="""
Steps, then a checkpoint in torch's layout:

>>> import numpy as np
>>> from fastopt.optim import Adam
>>> w = np.array([1.0, -2.0], np.float32)
>>> opt = Adam([w], lr=0.1)
>>> for _ in range(3):
...     results = opt.step([2 * w])  # the grad of sum(w**2)
>>> w.round(4)
array([ 0.7016, -1.7006], dtype=float32)
>>> sd = opt.state_dict()
>>> sorted(sd["state"][0]), sd["param_groups"][0]["params"]
(['exp_avg', 'exp_avg_sq', 'step'], [0])
>>> opt2 = Adam([w.copy()], lr=0.1)
>>> opt2.load_state_dict(sd)
>>> opt2.state_dict()["state"][0]["step"]
3
""")

    _spec = _optim_specs.ADAM

    def __init__(self, params: Params, lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: Optional[bool] = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: Optional[bool] = None, decoupled_weight_decay: bool = False,
                 max_grad_norm: Optional[float] = None) -> None:
        _check_unsupported(differentiable=differentiable, capturable=capturable, fused=fused)
        super().__init__(params, self._defaults(self._spec, locals()))


class AdamW(Adam):
    __doc__ = _optim_specs.class_doc(
        _optim_specs.ADAMW,
        "torch.optim.AdamW over NumPy arrays: one fused ``fastopt.functional.adamw_`` call per param group.",
        notes="Adam with decoupled weight decay (default 1e-2); a group with "
              "``decoupled_weight_decay=False`` steps with ``fastopt.functional.adam_``.",
        example="""
float16 params, updated through a float32 master copy kept in the state:

>>> import numpy as np
>>> from fastopt.optim import AdamW
>>> w = np.array([1.0, -2.0], np.float16)
>>> opt = AdamW([w], lr=0.1)
>>> for _ in range(3):
...     results = opt.step([(2 * w).astype(np.float32)])  # the grad of sum(w**2)
>>> opt.state[w]["master_param"].round(4), w
(array([ 0.6989, -1.6949], dtype=float32), array([ 0.6987, -1.695 ], dtype=float16))
""", omit=("decoupled_weight_decay",))

    _spec = _optim_specs.ADAMW

    def __init__(self, params: Params, lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False,
                 foreach: Optional[bool] = None, capturable: bool = False, differentiable: bool = False,
                 fused: Optional[bool] = None, max_grad_norm: Optional[float] = None) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         foreach=foreach, maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused, decoupled_weight_decay=True,
                         max_grad_norm=max_grad_norm)
