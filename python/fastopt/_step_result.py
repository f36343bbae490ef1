"""StepResult: what every multi-tensor optimizer step reports besides updating in place."""

from __future__ import annotations

from typing import NamedTuple, Optional


class StepResult(NamedTuple):
    """The by-products of one optimizer step.

    grad_norm
        The global L2 norm of all grads (after dividing by ``grad_scale``), computed in the
        read-only pass that ``max_grad_norm=`` needs; ``None`` when no clipping was asked for.
    found_inf
        True if any grad held an inf or NaN (after unscaling); False when the step was skipped
        because ``found_inf`` was already nonzero on entry (the grads were not read).
    skipped
        True if the step left every array untouched: ``found_inf=`` was given and either held
        a nonzero value on entry or a non-finite grad was found.
    """

    grad_norm: Optional[float]
    found_inf: bool
    skipped: bool
