"""StepResult: what every multi-tensor optimizer step reports besides updating in place."""

from __future__ import annotations

from typing import NamedTuple, Optional


class StepResult(NamedTuple):
    """The by-products of one optimizer step, a named tuple ``(grad_norm, found_inf, skipped)``.

    Every ``fastopt.functional`` step returns one; ``step()`` of a ``fastopt.optim`` class
    returns a list of them, one per fused call.

    Parameters
    ----------
    grad_norm : float or None
        The global L2 norm of all grads (after dividing by ``grad_scale``), computed in the
        read-only pass that ``max_grad_norm=`` needs; ``None`` when no clipping was asked for.
    found_inf : bool
        True if any grad held an inf or NaN (after unscaling); False when the step was skipped
        because ``found_inf`` was already nonzero on entry (the grads were not read).
    skipped : bool
        True if the step left every array untouched: ``found_inf=`` was given and either held
        a nonzero value on entry or a non-finite grad was found.

    Examples
    --------
    >>> import numpy as np
    >>> from fastopt import functional as F
    >>> p, g = np.ones(4, np.float32), np.full(4, 3.0, np.float32)
    >>> r = F.sgd_(p, g, lr=0.1, max_grad_norm=1.0)
    >>> r
    StepResult(grad_norm=6.0, found_inf=False, skipped=False)
    >>> norm, found_inf, skipped = r  # a tuple
    >>> p.round(4)  # g clipped to norm 1: each element 0.5
    array([0.95, 0.95, 0.95, 0.95], dtype=float32)
    """

    grad_norm: Optional[float]
    found_inf: bool
    skipped: bool
