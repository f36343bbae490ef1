"""Stepping each param during backward, as soon as its grad is complete, then freeing the grad.

After ``loss.backward()`` a whole model's grads are alive at once, as large as its params; when
each param is stepped the moment autograd has accumulated its grad (torch's
``register_post_accumulate_grad_hook``), only the grads of the layers still in flight are, so
peak memory drops by about the grads' size. The step is the optimizer's own path (one kernel
call for the one tensor, with the optimizer's group options, state and step counter), so lr
schedulers, ``state_dict()`` and ``load_state_dict()`` on the optimizer work as they do with
``optimizer.step()``; the numbers are those of ``optimizer.step()`` after backward.
"""

from __future__ import annotations

import contextlib
from typing import Iterable, Iterator, List, Union

import torch

from ._optim import _NO_CLIP_IN_BACKWARD, _FastoptOptimizer

__all__ = ["step_in_backward", "StepInBackward"]


class StepInBackward:
    """The hooks ``step_in_backward`` registered: ``remove()`` takes them off (the optimizer
    then steps only through ``optimizer.step()`` again); ``no_step()`` is a context in which
    backward passes accumulate grads instead of stepping (gradient accumulation)."""

    def __init__(self, params: List[torch.Tensor], optimizer: _FastoptOptimizer) -> None:
        self.optimizer = optimizer
        self._paused = 0
        self._hooks = [p.register_post_accumulate_grad_hook(self._hook) for p in params]

    def _hook(self, p: torch.Tensor) -> None:
        if self._paused:
            return
        self.optimizer._step_param(p)
        p.grad = None

    @contextlib.contextmanager
    def no_step(self) -> Iterator[None]:
        """Backward passes inside accumulate into ``.grad`` as usual, without stepping; the next
        backward outside adds its grads and steps each param with the sum, then frees it.
        Accumulating ``n`` micro-batches::

            for i, (x, y) in enumerate(batches):
                with handle.no_step() if (i + 1) % n else contextlib.nullcontext():
                    loss_fn(model(x), y).backward()

        (scale each loss by ``1 / n`` for the mean, as with ``optimizer.step()`` every n-th)."""
        self._paused += 1
        try:
            yield
        finally:
            self._paused -= 1

    def remove(self) -> None:
        """Remove the hooks (idempotent)."""
        for h in self._hooks:
            h.remove()
        self._hooks = []


def step_in_backward(model_or_params: Union[torch.nn.Module, Iterable[torch.Tensor]],
                     optimizer: _FastoptOptimizer) -> StepInBackward:
    """Step every param of ``model_or_params`` (a module's ``parameters()``, or tensors) that
    requires grad during backward, as soon as its grad is accumulated, and free the grad
    (``p.grad = None``), instead of ``optimizer.step()`` after backward. Returns the handle
    (``.remove()``, ``.no_step()``). Each param must be in ``optimizer`` (a fastopt.torch
    optimizer); do not call ``optimizer.step()`` or ``zero_grad()`` in the loop (the grads are
    gone after each backward; ``zero_grad`` does no harm).

    ``max_grad_norm`` is refused (``ValueError``): clipping by the global norm needs every
    grad first. Clipping each param by its own norm would be a different update; to clip, step
    after backward. Not for DDP or FSDP models: they reduce the grads across ranks after this
    hook has run, so a param would step on its local grad. torch's optimizer step hooks
    (``register_step_pre_hook`` / ``post_hook``) do not run for these steps, and
    ``optimizer.last_step`` is not updated.
    """
    if not isinstance(optimizer, _FastoptOptimizer):
        raise TypeError(f"fastopt.torch.step_in_backward: the optimizer must be a fastopt.torch optimizer, "
                        f"got {type(optimizer).__name__}")
    params = list(model_or_params.parameters() if isinstance(model_or_params, torch.nn.Module)
                  else model_or_params)
    params = [p for p in params if p.requires_grad]
    known = {id(p) for g in optimizer.param_groups for p in g["params"]}
    for i, p in enumerate(params):
        if id(p) not in known:
            raise ValueError(f"fastopt.torch.step_in_backward: param {i} (shape {tuple(p.shape)}) is not "
                             f"in the optimizer's param groups")
    if any(g.get("max_grad_norm") is not None for g in optimizer.param_groups):
        raise ValueError(_NO_CLIP_IN_BACKWARD)
    return StepInBackward(params, optimizer)
