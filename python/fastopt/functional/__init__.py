"""fastopt.functional: every kernel, with NumPy-style signatures and docstrings.

One module per kernel family, re-exported here:

* ``_activations``: activations and their gradients (the rules shared by every kernel --
  dtypes, ``out=``, no silent copies, errors before writes -- are in its docstring).
* ``_losses``: softmax/log_softmax and their backward, the losses (value and gradient in one
  call) and dropout.
* ``_optim``: multi-tensor, in-place optimizer steps (``adam_``, ...) and
  ``clip_grad_norm_``; the contract is in its docstring and the documentation's page
  "The multi-tensor optimizer step API".

Each function is a thin wrapper over the compiled ``fastopt._core``; the argument checks, the
threads and the math live in C++, except the optimizers' hyper-parameter checks, which are
``fastopt._hyper``'s (shared with the optimizer classes).
"""

from __future__ import annotations

from . import _activations, _optim
from ._activations import *  # noqa: F401,F403
from . import _losses
from ._losses import *  # noqa: F401,F403
from ._optim import *  # noqa: F401,F403

__all__: list[str] = []  # += of each module's __all__: type checkers read it as re-exporting them
__all__ += _activations.__all__
__all__ += _losses.__all__
__all__ += _optim.__all__
