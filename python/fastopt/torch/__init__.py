"""fastopt.torch: drop-in ``torch.optim`` optimizers for CPU tensors, stepped by fastopt's kernels.

``SGD``, ``Adagrad``, ``RMSprop``, ``Adam``, ``AdamW``, ``Adamax`` take torch's constructor signatures and
defaults; ``Lion`` and ``LAMB`` those of ``fastopt.functional.lion_`` / ``lamb_``. Each step is
one fused multi-tensor kernel call per param group, in place on the tensors' memory (zero
copy). ``state_dict()`` has torch's keys and layout: checkpoints move between
``torch.optim.AdamW`` and ``fastopt.torch.AdamW`` both ways. They work with torch's lr
schedulers and with ``torch.distributed`` (``ZeroRedundancyOptimizer(optimizer_class=...)``,
DDP). See the documentation's page "Embedding fastopt in existing trainers".

``max_grad_norm=`` clips by the global grad norm inside the step (``last_step`` reports the
norm); torch.amp.GradScaler works as with torch.optim. Dense params in another memory order
(channels_last) are stepped in place in that order. ``step_in_backward(model, optimizer)``
steps each param during backward as soon as its grad is ready, then frees the grad.

``to_torch_state_dict(sd)`` gives a ``fastopt.optim`` checkpoint (NumPy arrays) the tensors that
``torch.optim.X.load_state_dict`` needs; fastopt.torch's classes load one as it is.

This is the only fastopt module that imports torch.
"""

from ._backward import step_in_backward
from ._optim import LAMB, SGD, Adagrad, Adam, Adamax, AdamW, Lion, RMSprop, to_torch_state_dict

__all__ = ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "Adamax", "Lion", "LAMB", "to_torch_state_dict",
           "step_in_backward"]
