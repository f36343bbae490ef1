"""fastopt.optim: torch.optim-shaped optimizers over NumPy arrays.

Each class calls one fused multi-tensor step (``fastopt.functional.<name>_``) per param group;
``LBFGS`` is a NumPy port of torch.optim.LBFGS's algorithm; ``lr_scheduler`` holds torch's
schedules. :class:`Optimizer` describes the API they share (param groups, state, state_dict).
"""

from __future__ import annotations

from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .lamb import LAMB
from .lbfgs import LBFGS
from .lion import Lion
from .optimizer import Optimizer, load_state_dict_file, save_state_dict
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = [
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "LAMB",
    "LBFGS",
    "Lion",
    "Optimizer",
    "RMSprop",
    "SGD",
    "load_state_dict_file",
    "lr_scheduler",
    "save_state_dict",
]
