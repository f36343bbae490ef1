# TEMPORARY: replaced by the compiled steps at merge
"""The multi-tensor optimizer steps (docs/optimizer-api.md).

Temporary stand-in: every step forwards to the NumPy reference (``fastopt.reference``) so that
``fastopt.optim`` runs before the compiled kernels land. Same signatures as the compiled steps.
"""

from __future__ import annotations

from ..reference import _optim as _ref

__all__ = ["adagrad_", "adam_", "adamw_", "clip_grad_norm_", "lamb_", "lion_", "rmsprop_", "sgd_"]

sgd_ = _ref.sgd_
adagrad_ = _ref.adagrad_
rmsprop_ = _ref.rmsprop_
adam_ = _ref.adam_
adamw_ = _ref.adamw_
lion_ = _ref.lion_
lamb_ = _ref.lamb_
clip_grad_norm_ = _ref.clip_grad_norm_
