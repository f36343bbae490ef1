"""fastopt.torch: drop-in ``torch.optim`` optimizers for CPU tensors, stepped by fastopt's kernels.

``SGD``, ``Adagrad``, ``RMSprop``, ``Adam``, ``AdamW``, ``Adamax`` take torch's constructor signatures and
defaults; ``Lion`` and ``LAMB`` those of ``fastopt.functional.lion_`` / ``lamb_``. Each step is
one fused multi-tensor kernel call per param group, in place on the tensors' memory (zero
copy). ``state_dict()`` has torch's keys and layout: checkpoints move between
``torch.optim.AdamW`` and ``fastopt.torch.AdamW`` both ways. They work with torch's lr
schedulers and with ``torch.distributed`` (``ZeroRedundancyOptimizer(optimizer_class=...)``,
DDP). See docs/embedding.md.

``to_torch_state_dict(sd)`` gives a ``fastopt.optim`` checkpoint (NumPy arrays) the tensors that
``torch.optim.X.load_state_dict`` needs; fastopt.torch's classes load one as it is.

This is the only fastopt module that imports torch.
"""

from ._optim import LAMB, SGD, Adagrad, Adam, Adamax, AdamW, Lion, RMSprop, to_torch_state_dict

__all__ = ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "Adamax", "Lion", "LAMB", "to_torch_state_dict"]
