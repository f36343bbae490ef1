"""A user's script over fastopt's public API, type-checked by tests/test_typing.py with
``mypy --strict`` (and run by it, so it stays a real program). Each annotation is what a
user may rely on; mypy fails if the API's types stop saying so."""

from __future__ import annotations

from typing import List, Tuple, Union

import numpy as np

import fastopt
import fastopt.functional as F
from fastopt import StepResult
from fastopt.optim import SGD, Adagrad, Adam, AdamW, Lion, RMSprop
from fastopt.optim.lr_scheduler import CosineAnnealingLR

Loss = Union[np.floating, np.ndarray]

rng = np.random.default_rng(0)
x = rng.standard_normal((64, 10), dtype=np.float32)
t = rng.integers(0, 10, 64)

# Losses return (loss, grad) by default, the loss alone with grad=False.
loss, g = fastopt.cross_entropy(x, t)
pair: Tuple[Loss, np.ndarray] = fastopt.cross_entropy(x, t, label_smoothing=0.1)
only: Loss = fastopt.cross_entropy(x, t, grad=False)
mse, gm = fastopt.mse_loss(x, x, reduction="sum")
bce: Loss = fastopt.binary_cross_entropy_with_logits(x, np.zeros_like(x), grad=False)
value: float = float(loss) + float(only) + float(mse) + float(bce)

# Activations, softmax, dropout.
y: np.ndarray = fastopt.gelu(x, approximate="tanh")
gx: np.ndarray = fastopt.gelu_backward(np.ones_like(x), x)
gx2, gw = fastopt.prelu_backward(np.ones_like(x), x, np.full(10, 0.25, np.float32))
probs: np.ndarray = fastopt.softmax(x, axis=-1)
kept, mask = fastopt.dropout(x, 0.5, seed=1)

# Optimizer classes over NumPy arrays, with a scheduler.
params: List[np.ndarray] = [np.zeros(10, np.float32), np.zeros((4, 3), np.float32)]
for opt in (SGD(params, lr=0.1, momentum=0.9, nesterov=True), Adagrad(params), RMSprop(params),
            Adam(params, lr=1e-3, amsgrad=True), AdamW(params, max_grad_norm=1.0), Lion(params)):
    sched = CosineAnnealingLR(opt, T_max=10)
    opt.zero_grad()
    opt.step([np.ones_like(p) for p in params])
    sched.step()

# The functional, multi-tensor steps.
m = [np.zeros_like(p) for p in params]
v = [np.zeros_like(p) for p in params]
r: StepResult = F.adamw_(params, [np.ones_like(p) for p in params], m, v, step=1, lr=1e-3)
norm: float = F.clip_grad_norm_([np.ones_like(p) for p in params], 1.0)

fastopt.set_num_threads(fastopt.get_num_threads())
isa: str = fastopt.info()["isa"]
version: str = fastopt.__version__
print(value, r.grad_norm, norm, isa, version, y.shape, gx.shape, gx2.shape, gw.shape, probs.shape,
      kept.shape, mask.dtype, g.shape, gm.shape, pair[1].shape)
