"""fastopt.reference: the plain NumPy definitions that fastopt's kernels are tested against.

One module per kernel family, re-exported here; each module's docstring states its
conventions (``_activations``: float64 evaluation rounded once, torch's branch rules).
"""

from __future__ import annotations

from . import _activations
from ._activations import *  # noqa: F401,F403
from . import _losses
from ._losses import *  # noqa: F401,F403
from . import _optim
from ._optim import *  # noqa: F401,F403

__all__ = [*_activations.__all__, *_losses.__all__, *_optim.__all__]
