"""Learning-rate schedules equal to torch.optim.lr_scheduler's.

Each scheduler changes ``group['lr']`` of an optimizer's ``param_groups`` (any object with a
``param_groups`` list of dicts works, fastopt's or torch's). They follow torch's recursive
("chainable") forms: each ``step()`` derives the new lr from the group's current lr, as
torch's ``get_lr`` does, so the values match torch's to the last bit on the same sequence of
calls, and schedulers can be chained on one optimizer the way torch's can.

Like torch: constructing a scheduler sets ``group['initial_lr']`` (``base_lrs``) and takes
the initial step (``last_epoch`` 0); call ``step()`` after each optimizer step;
``get_last_lr()`` gives the lrs it set last; ``state_dict()`` is every field except the
optimizer (``save_state_dict`` from ``fastopt.optim`` writes it to an ``.npz``).
Not ported: torch's warning about calling ``step()`` before ``optimizer.step()``.
"""

from __future__ import annotations

import math
import warnings
from bisect import bisect_right
from collections import Counter
from typing import Any, Dict, List, Optional

__all__ = [
    "CosineAnnealingLR",
    "ExponentialLR",
    "LRScheduler",
    "LinearLR",
    "MultiStepLR",
    "OneCycleLR",
    "ReduceLROnPlateau",
    "StepLR",
]

_EPOCH_DEPRECATION = (
    "The epoch parameter in `scheduler.step()` was not necessary and is being deprecated where "
    "possible. Please use `scheduler.step()` to step the scheduler. During the deprecation, if "
    "epoch is different from None, the closed form is used instead of the new chainable form, "
    "where available. Please open an issue if you are unable to replicate your use case: "
    "https://github.com/pytorch/pytorch/issues/new/choose."
)


def _check_optimizer(optimizer) -> None:
    groups = getattr(optimizer, "param_groups", None)
    if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
        raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")


def _lrs(optimizer) -> List[float]:
    return [group["lr"] for group in optimizer.param_groups]


def _format_param(name: str, optimizer, param) -> list:
    if isinstance(param, (list, tuple)):
        if len(param) != len(optimizer.param_groups):
            raise ValueError(
                f"{name} must have the same length as optimizer.param_groups. "
                f"{name} has {len(param)} values, param_groups has {len(optimizer.param_groups)}."
            )
        return list(param)
    return [param] * len(optimizer.param_groups)


class LRScheduler:
    """Base class of the schedulers: ``base_lrs``, ``last_epoch``, ``step()``, ``get_last_lr()``, state_dict.

    Constructing a scheduler sets ``group['initial_lr']`` (``base_lrs``) and takes the initial
    step (``last_epoch`` 0). A subclass defines ``get_lr()``, the lrs of the next epoch from
    the groups' current ones (torch's chainable form).

    Parameters
    ----------
    optimizer : Optimizer
        Whose ``param_groups[i]['lr']`` the scheduler sets: a fastopt.optim or torch.optim
        optimizer (anything with a ``param_groups`` list of dicts).
    last_epoch : int, default -1
        The index of the last epoch, to resume a schedule (the groups must then hold
        ``initial_lr``); -1 starts it.

    Raises
    ------
    TypeError
        ``optimizer`` has no ``param_groups`` list of dicts.
    KeyError
        ``last_epoch >= 0`` and a group has no ``initial_lr``.

    Examples
    --------
    Two schedulers chained on one optimizer, as torch's:

    >>> import numpy as np
    >>> from fastopt.optim import SGD, lr_scheduler
    >>> opt = SGD([np.zeros(2)], lr=1.0)
    >>> warmup = lr_scheduler.LinearLR(opt, start_factor=0.5, total_iters=2)
    >>> decay = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    >>> lrs = []
    >>> for epoch in range(4):
    ...     lrs.append(opt.param_groups[0]["lr"])
    ...     warmup.step()
    ...     decay.step()
    >>> lrs
    [0.5, 0.375, 0.25, 0.125]
    """

    _is_initial: bool = False

    def __init__(self, optimizer, last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"param 'initial_lr' is not specified in param_groups[{i}] when resuming scheduler with last_epoch >= 0."
                    )
        self.base_lrs: List[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> List[float]:  # pragma: no cover - overridden
        """The lrs of the next epoch, one per param group: each scheduler's rule."""
        raise NotImplementedError

    def get_last_lr(self) -> List[float]:
        """The lrs set by the last ``step()``, one per param group."""
        return self._last_lr

    def step(self, epoch: Optional[int] = None) -> None:
        """Advance one epoch and set the groups' lrs.

        Parameters
        ----------
        epoch : int, optional
            Jump to this epoch with the closed form instead (deprecated, with torch's
            warning).
        """
        self._step_count += 1
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            warnings.warn(_EPOCH_DEPRECATION, UserWarning, stacklevel=2)
            self.last_epoch = epoch
            closed = getattr(self, "_get_closed_form_lr", None)
            values = closed() if closed is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = _lrs(self.optimizer)

    def state_dict(self) -> Dict[str, Any]:
        """Every field except the optimizer (copies of the containers)."""
        out = {}
        for key, value in self.__dict__.items():
            if key == "optimizer":
                continue
            if isinstance(value, Counter):
                value = Counter(value)
            elif isinstance(value, list):
                value = [dict(v) if isinstance(v, dict) else v for v in value]
            elif isinstance(value, dict):
                value = dict(value)
            out[key] = value
        return out

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        """Restore what ``state_dict()`` returned (the scheduler's fields)."""
        self.__dict__.update(state_dict)


class StepLR(LRScheduler):
    """Step decay: ``lr *= gamma`` every ``step_size`` epochs.

    Parameters
    ----------
    optimizer : Optimizer
        Whose ``param_groups[i]['lr']`` the scheduler sets: a fastopt.optim or torch.optim
        optimizer (anything with a ``param_groups`` list of dicts).
    step_size : int
        The period of the decay, in epochs.
    gamma : float, default 0.1
        The factor of each decay.
    last_epoch : int, default -1
        The index of the last epoch, to resume a schedule (the groups must then hold
        ``initial_lr``); -1 starts it.

    Examples
    --------
    >>> import numpy as np
    >>> from fastopt.optim import SGD, lr_scheduler
    >>> opt = SGD([np.zeros(2)], lr=1.0)
    >>> sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    >>> lrs = []
    >>> for epoch in range(6):
    ...     lrs.append(round(sched.get_last_lr()[0], 4))
    ...     sched.step()  # after the epoch's optimizer steps
    >>> lrs
    [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    """

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> List[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return _lrs(self.optimizer)
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> List[float]:
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    """``lr *= gamma`` at each milestone (a milestone listed k times multiplies by ``gamma**k``).

    Parameters
    ----------
    optimizer : Optimizer
        Whose ``param_groups[i]['lr']`` the scheduler sets: a fastopt.optim or torch.optim
        optimizer (anything with a ``param_groups`` list of dicts).
    milestones : iterable of int
        The epochs at which the lr decays.
    gamma : float, default 0.1
        The factor of each decay.
    last_epoch : int, default -1
        The index of the last epoch, to resume a schedule (the groups must then hold
        ``initial_lr``); -1 starts it.

    Examples
    --------
    >>> import numpy as np
    >>> from fastopt.optim import SGD, lr_scheduler
    >>> opt = SGD([np.zeros(2)], lr=1.0)
    >>> sched = lr_scheduler.MultiStepLR(opt, milestones=[2, 5], gamma=0.1)
    >>> lrs = []
    >>> for epoch in range(6):
    ...     lrs.append(round(sched.get_last_lr()[0], 4))
    ...     sched.step()  # after the epoch's optimizer steps
    >>> lrs
    [1.0, 1.0, 0.1, 0.1, 0.1, 0.01]
    """

    def __init__(self, optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1) -> None:
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> List[float]:
        if self.last_epoch not in self.milestones:
            return _lrs(self.optimizer)
        return [group["lr"] * self.gamma ** self.milestones[self.last_epoch] for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> List[float]:
        milestones = sorted(Counter(self.milestones).elements())
        return [base_lr * self.gamma ** bisect_right(milestones, self.last_epoch) for base_lr in self.base_lrs]

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self.milestones = Counter({int(k): int(v) for k, v in dict(self.milestones).items()})


class ExponentialLR(LRScheduler):
    """Exponential decay: ``lr *= gamma`` every epoch.

    Parameters
    ----------
    optimizer : Optimizer
        Whose ``param_groups[i]['lr']`` the scheduler sets: a fastopt.optim or torch.optim
        optimizer (anything with a ``param_groups`` list of dicts).
    gamma : float
        The factor of each epoch's decay.
    last_epoch : int, default -1
        The index of the last epoch, to resume a schedule (the groups must then hold
        ``initial_lr``); -1 starts it.

    Examples
    --------
    >>> import numpy as np
    >>> from fastopt.optim import SGD, lr_scheduler
    >>> opt = SGD([np.zeros(2)], lr=1.0)
    >>> sched = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    >>> lrs = []
    >>> for epoch in range(6):
    ...     lrs.append(round(sched.get_last_lr()[0], 4))
    ...     sched.step()  # after the epoch's optimizer steps
    >>> lrs
    [1.0, 0.5, 0.25, 0.125, 0.0625, 0.0312]
    """

    def __init__(self, optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> List[float]:
        if self._is_initial:
            return _lrs(self.optimizer)
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> List[float]:
        return [base_lr * self.gamma ** self.last_epoch for base_lr in self.base_lrs]


class LinearLR(LRScheduler):
    """Linear warm-up (or decay): ``lr = base_lr * factor``, the factor going linearly from
    ``start_factor`` to ``end_factor`` over ``total_iters`` epochs (torch's recursive form).

    Parameters
    ----------
    optimizer : Optimizer
        Whose ``param_groups[i]['lr']`` the scheduler sets: a fastopt.optim or torch.optim
        optimizer (anything with a ``param_groups`` list of dicts).
    start_factor : float, default 1/3
        The factor of the first epoch, in (0, 1].
    end_factor : float, default 1.0
        The factor from epoch ``total_iters`` on, in [0, 1].
    total_iters : int, default 5
        The epochs the factor takes to reach ``end_factor``.
    last_epoch : int, default -1
        The index of the last epoch, to resume a schedule (the groups must then hold
        ``initial_lr``); -1 starts it.

    Raises
    ------
    ValueError
        A factor out of its range.

    Examples
    --------
    >>> import numpy as np
    >>> from fastopt.optim import SGD, lr_scheduler
    >>> opt = SGD([np.zeros(2)], lr=1.0)
    >>> sched = lr_scheduler.LinearLR(opt, start_factor=0.25, total_iters=3)
    >>> lrs = []
    >>> for epoch in range(6):
    ...     lrs.append(round(sched.get_last_lr()[0], 4))
    ...     sched.step()  # after the epoch's optimizer steps
    >>> lrs
    [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    """

    def __init__(self, optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0, total_iters: int = 5,
                 last_epoch: int = -1) -> None:
        if start_factor > 1.0 or start_factor <= 0:
            raise ValueError("Starting multiplicative factor expected to be greater than 0 and less or equal to 1.")
        if end_factor > 1.0 or end_factor < 0:
            raise ValueError("Ending multiplicative factor expected to be between 0 and 1.")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> List[float]:
        if self.last_epoch == 0:
            return [group["lr"] * self.start_factor for group in self.optimizer.param_groups]
        if self._is_initial or self.last_epoch > self.total_iters:
            return _lrs(self.optimizer)
        delta = self.end_factor - self.start_factor
        ratio = 1.0 + delta / (self.total_iters * self.start_factor + (self.last_epoch - 1) * delta)
        return [group["lr"] * ratio for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> List[float]:
        return [
            base_lr * (self.start_factor + (self.end_factor - self.start_factor) * min(self.total_iters, self.last_epoch) / self.total_iters)
            for base_lr in self.base_lrs
        ]


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing: ``eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``.

    In torch's recursive form, which keeps going past T_max, rising again.

    Parameters
    ----------
    optimizer : Optimizer
        Whose ``param_groups[i]['lr']`` the scheduler sets: a fastopt.optim or torch.optim
        optimizer (anything with a ``param_groups`` list of dicts).
    T_max : int
        The epochs of the half period, from ``base_lr`` down to ``eta_min``.
    eta_min : float, default 0.0
        The lowest lr.
    last_epoch : int, default -1
        The index of the last epoch, to resume a schedule (the groups must then hold
        ``initial_lr``); -1 starts it.

    Examples
    --------
    >>> import numpy as np
    >>> from fastopt.optim import SGD, lr_scheduler
    >>> opt = SGD([np.zeros(2)], lr=1.0)
    >>> sched = lr_scheduler.CosineAnnealingLR(opt, T_max=4)
    >>> lrs = []
    >>> for epoch in range(6):
    ...     lrs.append(round(sched.get_last_lr()[0], 4))
    ...     sched.step()  # after the epoch's optimizer steps
    >>> lrs
    [1.0, 0.8536, 0.5, 0.1464, 0.0, 0.1464]
    """

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> List[float]:
        groups = self.optimizer.param_groups
        if self._is_initial:
            return _lrs(self.optimizer)
        if self._step_count == 1 and self.last_epoch > 0:
            return [
                self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(self.last_epoch * math.pi / self.T_max)) / 2
                for base_lr in self.base_lrs
            ]
        if (self.last_epoch - 1 - self.T_max) % (2 * self.T_max) == 0:
            return [
                group["lr"] + (base_lr - self.eta_min) * (1 - math.cos(math.pi / self.T_max)) / 2
                for base_lr, group in zip(self.base_lrs, groups)
            ]
        return [
            (1 + math.cos(math.pi * self.last_epoch / self.T_max))
            / (1 + math.cos(math.pi * (self.last_epoch - 1) / self.T_max))
            * (group["lr"] - self.eta_min)
            + self.eta_min
            for group in groups
        ]

    def _get_closed_form_lr(self) -> List[float]:
        return [
            self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
            for base_lr in self.base_lrs
        ]


class OneCycleLR(LRScheduler):
    """The 1cycle policy, as torch.optim.lr_scheduler.OneCycleLR: up to ``max_lr``, then down.

    lr goes from ``max_lr / div_factor`` (``initial_lr``) up to ``max_lr`` over ``pct_start``
    of ``total_steps``, then down to ``initial_lr / final_div_factor`` (cos or linear
    annealing; ``three_phase`` as torch), with momentum (or beta1) cycled inversely when
    ``cycle_momentum``. Step it after every batch, not every epoch.

    Parameters
    ----------
    optimizer : Optimizer
        Whose ``param_groups[i]['lr']`` the scheduler sets: a fastopt.optim or torch.optim
        optimizer (anything with a ``param_groups`` list of dicts).
    max_lr : float or list of float
        The peak lr, for every group or one per group.
    total_steps : int, optional
        The length of the cycle; None: ``epochs * steps_per_epoch``.
    epochs : int, optional
        With ``steps_per_epoch``, gives ``total_steps`` when it is None.
    steps_per_epoch : int, optional
        See ``epochs``.
    pct_start : float, default 0.3
        The fraction of the cycle spent going up.
    anneal_strategy : {'cos', 'linear'}, default 'cos'
        The shape of each phase.
    cycle_momentum : bool, default True
        Cycle the groups' ``momentum`` (or ``betas[0]``) between ``max_momentum`` and
        ``base_momentum``, inversely to the lr.
    base_momentum : float or list of float, default 0.85
        The momentum at the lr's peak.
    max_momentum : float or list of float, default 0.95
        The momentum at the cycle's ends.
    div_factor : float, default 25.0
        ``initial_lr = max_lr / div_factor``.
    final_div_factor : float, default 1e4
        ``min_lr = initial_lr / final_div_factor``.
    three_phase : bool, default False
        torch's three-phase form: up, back down to ``initial_lr`` symmetrically, then to
        ``min_lr``.
    last_epoch : int, default -1
        The index of the last epoch, to resume a schedule (the groups must then hold
        ``initial_lr``); -1 starts it.

    Raises
    ------
    ValueError
        No way to know ``total_steps``, a ``pct_start`` outside [0, 1], an unknown
        ``anneal_strategy``, ``cycle_momentum`` with an optimizer that has neither momentum
        nor betas, or a step past ``total_steps``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastopt.optim import SGD, lr_scheduler
    >>> opt = SGD([np.zeros(2)], lr=1.0, momentum=0.9)
    >>> sched = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=6)
    >>> lrs = []
    >>> for batch in range(6):
    ...     lrs.append(round(sched.get_last_lr()[0], 4))
    ...     sched.step()  # after each batch's optimizer step
    >>> lrs
    [0.04, 0.9944, 0.8117, 0.4626, 0.1335, 0.0]
    """

    def __init__(self, optimizer, max_lr, total_steps: Optional[int] = None, epochs: Optional[int] = None,
                 steps_per_epoch: Optional[int] = None, pct_start: float = 0.3, anneal_strategy: str = "cos",
                 cycle_momentum: bool = True, base_momentum=0.85, max_momentum=0.95, div_factor: float = 25.0,
                 final_div_factor: float = 1e4, three_phase: bool = False, last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        if total_steps is not None:
            if not isinstance(total_steps, int) or total_steps <= 0:
                raise ValueError(f"Expected positive integer total_steps, but got {total_steps}")
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            if not isinstance(epochs, int) or epochs <= 0:
                raise ValueError(f"Expected positive integer epochs, but got {epochs}")
            if not isinstance(steps_per_epoch, int) or steps_per_epoch <= 0:
                raise ValueError(f"Expected positive integer steps_per_epoch, but got {steps_per_epoch}")
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")
        n = self.total_steps
        if three_phase:
            self._schedule_phases = [
                {"end_step": float(pct_start * n) - 1, "start_lr": "initial_lr", "end_lr": "max_lr",
                 "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
                {"end_step": float(2 * pct_start * n) - 2, "start_lr": "max_lr", "end_lr": "initial_lr",
                 "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
                {"end_step": n - 1, "start_lr": "initial_lr", "end_lr": "min_lr",
                 "start_momentum": "max_momentum", "end_momentum": "max_momentum"},
            ]
        else:
            self._schedule_phases = [
                {"end_step": float(pct_start * n) - 1, "start_lr": "initial_lr", "end_lr": "max_lr",
                 "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
                {"end_step": n - 1, "start_lr": "max_lr", "end_lr": "min_lr",
                 "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
            ]
        if pct_start < 0 or pct_start > 1 or not isinstance(pct_start, float):
            raise ValueError(f"Expected float between 0 and 1 pct_start, but got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        self._anneal_func_type = anneal_strategy
        max_lrs = _format_param("max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for idx, group in enumerate(optimizer.param_groups):
                group["initial_lr"] = max_lrs[idx] / div_factor
                group["max_lr"] = max_lrs[idx]
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            defaults = getattr(optimizer, "defaults", {})
            if "momentum" not in defaults and "betas" not in defaults:
                raise ValueError("optimizer must support momentum or beta1 with `cycle_momentum` option enabled")
            self.use_beta1 = "betas" in defaults
            max_momentums = _format_param("max_momentum", optimizer, max_momentum)
            base_momentums = _format_param("base_momentum", optimizer, base_momentum)
            if last_epoch == -1:
                for m_mom, b_mom, group in zip(max_momentums, base_momentums, optimizer.param_groups):
                    if self.use_beta1:
                        group["betas"] = (m_mom, *group["betas"][1:])
                    else:
                        group["momentum"] = m_mom
                    group["max_momentum"] = m_mom
                    group["base_momentum"] = b_mom
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> List[float]:
        lrs = []
        step_num = self.last_epoch
        if step_num > self.total_steps:
            raise ValueError(f"Tried to step {step_num} times. The specified number of total steps is {self.total_steps}")
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step_num <= end_step or i == len(self._schedule_phases) - 1:
                    pct = (step_num - start_step) / (end_step - start_step)
                    lr = self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct)
                    if self.cycle_momentum:
                        momentum = self._anneal(group[phase["start_momentum"]], group[phase["end_momentum"]], pct)
                    break
                start_step = phase["end_step"]
            lrs.append(lr)
            if self.cycle_momentum:
                if self.use_beta1:
                    group["betas"] = (momentum, *group["betas"][1:])
                else:
                    group["momentum"] = momentum
        return lrs


class ReduceLROnPlateau(LRScheduler):
    """Reduce the lr when a metric stops improving: ``lr = max(lr * factor, min_lr)``.

    The lr is reduced when the metric passed to ``step(metric)`` has not improved (``mode``,
    ``threshold``, ``threshold_mode``) for more than ``patience`` epochs; then ``cooldown``
    epochs pass without counting. Changes smaller than ``eps`` are ignored.

    Parameters
    ----------
    optimizer : Optimizer
        Whose ``param_groups[i]['lr']`` the scheduler sets: a fastopt.optim or torch.optim
        optimizer (anything with a ``param_groups`` list of dicts).
    mode : {'min', 'max'}, default 'min'
        Whether the metric should go down (a loss) or up (an accuracy).
    factor : float, default 0.1
        The factor of each reduction (< 1).
    patience : int, default 10
        The epochs without improvement tolerated before a reduction.
    threshold : float, default 1e-4
        The least change that counts as an improvement.
    threshold_mode : {'rel', 'abs'}, default 'rel'
        'rel': better means below ``best * (1 - threshold)`` (mode 'min') or above
        ``best * (1 + threshold)`` ('max'); 'abs': below ``best - threshold`` or above
        ``best + threshold``.
    cooldown : int, default 0
        The epochs to wait after a reduction before counting again.
    min_lr : float or list of float, default 0
        The lowest lr, for every group or one per group.
    eps : float, default 1e-8
        A reduction smaller than this is skipped.

    Raises
    ------
    ValueError
        ``factor >= 1``, an unknown ``mode`` or ``threshold_mode``, or a ``min_lr`` list of
        the wrong length.

    Examples
    --------
    >>> import numpy as np
    >>> from fastopt.optim import SGD, lr_scheduler
    >>> opt = SGD([np.zeros(2)], lr=1.0)
    >>> sched = lr_scheduler.ReduceLROnPlateau(opt, patience=1, factor=0.5)
    >>> lrs = []
    >>> for val_loss in [1.0, 0.5, 0.5, 0.5, 0.5, 0.5]:
    ...     sched.step(val_loss)
    ...     lrs.append(opt.param_groups[0]["lr"])
    >>> lrs
    [1.0, 1.0, 1.0, 0.5, 0.5, 0.25]
    """

    def __init__(self, optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0, min_lr=0,
                 eps: float = 1e-8) -> None:
        if factor >= 1.0:
            raise ValueError("Factor should be < 1.0.")
        self.factor = factor
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != len(optimizer.param_groups):
                raise ValueError(f"expected {len(optimizer.param_groups)} min_lrs, got {len(min_lr)}")
            self.default_min_lr = None
            self.min_lrs = list(min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = _lrs(optimizer)
        self._init_is_better(mode=mode, threshold=threshold, threshold_mode=threshold_mode)
        self._reset()

    def _reset(self) -> None:
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def step(self, metrics, epoch: Optional[int] = None) -> None:  # type: ignore[override]
        """Record an epoch's metric, and reduce the lrs if it has not improved for too long.

        Parameters
        ----------
        metrics : float
            The epoch's value of the metric (a number or a 1-element array).
        epoch : int, optional
            Set the epoch count instead of adding 1 (deprecated, with torch's warning).
        """
        current = float(metrics)
        if epoch is None:
            epoch = self.last_epoch + 1
        else:
            warnings.warn(_EPOCH_DEPRECATION, UserWarning, stacklevel=2)
        self.last_epoch = epoch
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = _lrs(self.optimizer)

    def _reduce_lr(self) -> None:
        if len(self.optimizer.param_groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(
                    f"The number of param groups in the `optimizer` ({len(self.optimizer.param_groups)}) differs "
                    f"from when `ReduceLROnPlateau` was initialized ({len(self.min_lrs)}), usually due to a new "
                    "param group being added to the optimizer. Please modify the `min_lrs` field to match the "
                    "length of the `optimizer` param groups."
                )
            self.min_lrs = [self.default_min_lr] * len(self.optimizer.param_groups)
        for i, group in enumerate(self.optimizer.param_groups):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, self.min_lrs[i])
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _is_better(self, a: float, best: float) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min" and self.threshold_mode == "abs":
            return a < best - self.threshold
        if self.mode == "max" and self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def _init_is_better(self, mode: str, threshold: float, threshold_mode: str) -> None:
        if mode not in ("min", "max"):
            raise ValueError("mode " + mode + " is unknown!")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError("threshold mode " + threshold_mode + " is unknown!")
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        self.__dict__.update(state_dict)
        self._init_is_better(mode=self.mode, threshold=self.threshold, threshold_mode=self.threshold_mode)
