"""The optimizer cases of the benchmark: in-place steps against the in-place-update ceiling.

Contenders per case: fastopt's multi-tensor step; the NumPy code a careful user writes
(in place, one preallocated temporary: ``numpy_adam`` and friends below; the ``adam_textbook``
row uses the textbook expressions with their temporaries instead); torch.optim with its best
CPU implementation (``fused=True`` for Adam, AdamW, SGD and Adagrad; ``foreach=True`` for
RMSprop, which has no fused kernel; Lion and LAMB are not in torch). Every contender steps its
own copy of the same arrays; the steps repeat with the same grads, as a training loop would
with new ones. Bytes: what the update must read and write once (Adam 7 arrays, SGD with
momentum, Adagrad, RMSprop and Lion 5), plus one read of the grads where a norm is needed.
"""

from __future__ import annotations

from typing import Any, Callable, List, Optional

from . import Case

LR, B1, B2, EPS, STEP = 1e-3, 0.9, 0.999, 1e-8, 10

OPTIMIZER_NAMES = ("adam", "adamw", "adam_textbook", "adam_200_tensors", "adam_clip", "sgd_momentum",
                   "adagrad", "rmsprop", "adamax", "lion", "lamb", "grad_norm")


# ---- the NumPy a user writes ----------------------------------------------------------------


def numpy_adam(p, g, m, v, tmp, step=STEP, lr=LR, b1=B1, b2=B2, eps=EPS, wd=0.0, decoupled=False):
    """Adam in place with one temporary: 9 passes over memory."""
    import numpy as np

    if decoupled:
        p *= 1 - lr * wd
    m *= b1
    np.multiply(g, 1 - b1, out=tmp)
    m += tmp
    v *= b2
    np.multiply(g, g, out=tmp)
    tmp *= 1 - b2
    v += tmp
    np.sqrt(v, out=tmp)
    tmp *= 1 / (1 - b2**step) ** 0.5
    tmp += eps
    np.divide(m, tmp, out=tmp)
    tmp *= -lr / (1 - b1**step)
    p += tmp


def numpy_adam_textbook(p, g, m, v, step=STEP, lr=LR, b1=B1, b2=B2, eps=EPS):
    """Adam as the paper writes it, a temporary per operator (m, v rebound, then copied back)."""
    import numpy as np

    m_new = b1 * m + (1 - b1) * g
    v_new = b2 * v + (1 - b2) * g * g
    m_hat = m_new / (1 - b1**step)
    v_hat = v_new / (1 - b2**step)
    p -= lr * m_hat / (np.sqrt(v_hat) + eps)
    m[...] = m_new
    v[...] = v_new


def numpy_sgd_momentum(p, g, buf, lr=LR, momentum=0.9):
    buf *= momentum
    buf += g
    p -= lr * buf  # one temporary


def numpy_adagrad(p, g, s, tmp, lr=LR, eps=1e-10):
    import numpy as np

    np.multiply(g, g, out=tmp)
    s += tmp
    np.sqrt(s, out=tmp)
    tmp += eps
    np.divide(g, tmp, out=tmp)
    tmp *= -lr
    p += tmp


def numpy_rmsprop(p, g, sq, tmp, lr=LR, alpha=0.99, eps=1e-8):
    import numpy as np

    sq *= alpha
    np.multiply(g, g, out=tmp)
    tmp *= 1 - alpha
    sq += tmp
    np.sqrt(sq, out=tmp)
    tmp += eps
    np.divide(g, tmp, out=tmp)
    tmp *= -lr
    p += tmp


def numpy_adamax(p, g, m, u, tmp, lr=LR, b1=0.9, b2=0.999, eps=1e-8, step=STEP):
    import numpy as np

    m *= b1
    m += (1 - b1) * g
    u *= b2
    np.abs(g, out=tmp)
    tmp += eps
    np.maximum(u, tmp, out=u)
    np.divide(m, u, out=tmp)
    tmp *= -lr / (1 - b1**step)
    p += tmp


def numpy_lion(p, g, m, tmp, lr=LR, b1=0.9, b2=0.99):
    import numpy as np

    np.multiply(m, b1, out=tmp)
    tmp += (1 - b1) * g
    np.sign(tmp, out=tmp)
    tmp *= -lr
    p += tmp
    m *= b2
    m += (1 - b2) * g


def _mixed_sizes(total: int, count: int, rng) -> List[int]:
    """`count` sizes, log-uniform over a 64x range, summing to `total` (a model's tensors)."""
    import numpy as np

    raw = np.exp(rng.uniform(np.log(1), np.log(64), count))
    sizes = np.maximum(1, np.floor(raw / raw.sum() * total)).astype(int)
    sizes[0] += total - sizes.sum()
    return [int(s) for s in sizes]


def optimizer_cases(size: int, dtype: str, torch: Any = None) -> List[Case]:
    import numpy as np

    from .. import functional as F

    rng = np.random.default_rng(0)
    item = np.dtype(dtype).itemsize
    cases: List[Case] = []

    def arrays(k: int, sizes: Optional[List[int]] = None):
        """k float arrays of `size` elements (or lists of arrays of `sizes`), p random."""
        shapes = sizes or [size]
        out = [[(rng.standard_normal(n) if j < 2 else np.zeros(n)).astype(dtype) for n in shapes]
               for j in range(k)]
        return out if sizes else [a[0] for a in out]

    def torch_step(cls_name: str, kw: dict, params, grads) -> Optional[Callable[[], Any]]:
        if torch is None:
            return None
        ps = params if isinstance(params, list) else [params]
        gs = grads if isinstance(grads, list) else [grads]
        tps = [torch.tensor(p.copy(), requires_grad=True) for p in ps]
        for tp, g in zip(tps, gs):
            tp.grad = torch.from_numpy(g)
        opt = getattr(torch.optim, cls_name)(tps, **kw)
        return opt.step

    def add(name, nbytes, fo, np_fn, t_fn, fo_code, np_code, t_code, note=""):
        cases.append(Case(name=name, family="optimizers", size=size, dtype=str(np.dtype(dtype)),
                          bytes=nbytes, fastopt=fo, numpy=np_fn, torch=t_fn, numpy_code=np_code,
                          torch_code=t_code if torch is not None else "", fastopt_code=fo_code,
                          ceiling="inplace", check=False, note=note))

    # Adam and AdamW: 7 arrays.
    for name, fn, cls, wd, decoupled in (("adam", F.adam_, "Adam", 0.0, False),
                                          ("adamw", F.adamw_, "AdamW", 1e-2, True)):
        p, g, m, v = arrays(4)
        p2, m2, v2, tmp = p.copy(), m.copy(), v.copy(), np.empty_like(p)
        add(name, 7 * size * item,
            lambda fn=fn, p=p, g=g, m=m, v=v, wd=wd: fn(p, g, m, v, step=STEP, lr=LR, weight_decay=wd),
            lambda p2=p2, g=g, m2=m2, v2=v2, tmp=tmp, wd=wd, d=decoupled: numpy_adam(p2, g, m2, v2, tmp, wd=wd,
                                                                                     decoupled=d),
            torch_step(cls, dict(lr=LR, weight_decay=wd, fused=True), p, g),
            f"F.{name}_(p, g, m, v, step=10, lr=1e-3)", "numpy_adam (in place, 1 temporary)",
            f"torch.optim.{cls}(fused=True).step()")
    p, g, m, v = arrays(4)
    add("adam_textbook", 7 * size * item, lambda: F.adam_(p, g, m, v, step=STEP, lr=LR),
        lambda p2=p.copy(), m2=m.copy(), v2=v.copy(): numpy_adam_textbook(p2, g, m2, v2), None,
        "F.adam_(p, g, m, v, step=10, lr=1e-3)", "numpy_adam_textbook (a temporary per operator)", "-")

    # A model: 200 tensors of mixed sizes with the same total, one call.
    sizes = _mixed_sizes(size, 200, rng) if size >= 200 * 64 else None
    if sizes:
        P, G, M, V = arrays(4, sizes)
        add("adam_200_tensors", 7 * size * item, lambda: F.adam_(P, G, M, V, step=STEP, lr=LR), None,
            torch_step("Adam", dict(lr=LR, fused=True), P, G),
            "F.adam_(200 params, 200 grads, ...) in one call", "-", "torch.optim.Adam(fused=True) on the 200",
            note=f"200 tensors of {min(sizes)} to {max(sizes)} elements, {size} in all: compare with the adam row")

    # Clipping folded into the step: torch needs clip_grad_norm_ (2 passes) then the step.
    p, g, m, v = arrays(4)
    g *= 1e3 / max(1.0, float(np.sqrt(size)))  # norm ~ 1e3: the clip always scales
    t_fn = None
    if torch is not None:
        tp = torch.tensor(p.copy(), requires_grad=True)
        tg = torch.from_numpy(g.copy())
        opt = torch.optim.Adam([tp], lr=LR, fused=True)

        def t_fn(tp=tp, tg=tg, opt=opt):
            tp.grad = tg  # clip_grad_norm_ scales it in place: later calls find norm <= 1
            torch.nn.utils.clip_grad_norm_([tp], 1.0, foreach=True)
            opt.step()
    g_np, p2, m2, v2, tmp = g.copy(), p.copy(), m.copy(), v.copy(), np.empty_like(p)

    def np_clip():
        norm = float(np.linalg.norm(g_np))
        if norm > 1.0:
            g_np[...] *= 1.0 / (norm + 1e-6)
        numpy_adam(p2, g_np, m2, v2, tmp)

    add("adam_clip", 8 * size * item, lambda: F.adam_(p, g, m, v, step=STEP, lr=LR, max_grad_norm=1.0),
        np_clip, t_fn, "F.adam_(..., max_grad_norm=1.0)", "np.linalg.norm, scale g, numpy_adam",
        "clip_grad_norm_(foreach=True) + Adam(fused=True).step()",
        note="bytes: one read of the grads for the norm + Adam's 7 arrays")

    # SGD with momentum, Adagrad, RMSprop, Lion: 5 arrays.
    p, g, b = arrays(3)
    add("sgd_momentum", 5 * size * item, lambda: F.sgd_(p, g, b, lr=LR, momentum=0.9),
        lambda p2=p.copy(), b2=b.copy(): numpy_sgd_momentum(p2, g, b2),
        torch_step("SGD", dict(lr=LR, momentum=0.9, fused=True), p, g),
        "F.sgd_(p, g, buf, lr=1e-3, momentum=0.9)", "numpy_sgd_momentum", "torch.optim.SGD(momentum=0.9, fused=True)")
    p, g, s = arrays(3)
    add("adagrad", 5 * size * item, lambda: F.adagrad_(p, g, s, step=STEP, lr=LR),
        lambda p2=p.copy(), s2=s.copy(), tmp=np.empty_like(p): numpy_adagrad(p2, g, s2, tmp),
        torch_step("Adagrad", dict(lr=LR, fused=True), p, g),
        "F.adagrad_(p, g, sums, step=10, lr=1e-3)", "numpy_adagrad", "torch.optim.Adagrad(fused=True)")
    p, g, sq = arrays(3)
    add("rmsprop", 5 * size * item, lambda: F.rmsprop_(p, g, sq, lr=LR),
        lambda p2=p.copy(), sq2=sq.copy(), tmp=np.empty_like(p): numpy_rmsprop(p2, g, sq2, tmp),
        torch_step("RMSprop", dict(lr=LR, foreach=True), p, g),
        "F.rmsprop_(p, g, square_avgs, lr=1e-3)", "numpy_rmsprop", "torch.optim.RMSprop(foreach=True)")
    p, g, m, u = arrays(4)
    add("adamax", 7 * size * item, lambda: F.adamax_(p, g, m, u, step=STEP, lr=LR),
        lambda p2=p.copy(), m2=m.copy(), u2=u.copy(), tmp=np.empty_like(p): numpy_adamax(p2, g, m2, u2, tmp),
        torch_step("Adamax", dict(lr=LR, foreach=True), p, g),
        "F.adamax_(p, g, m, u, step=10, lr=1e-3)", "numpy_adamax", "torch.optim.Adamax(foreach=True)")
    p, g, m = arrays(3)
    add("lion", 5 * size * item, lambda: F.lion_(p, g, m, lr=LR),
        lambda p2=p.copy(), m2=m.copy(), tmp=np.empty_like(p): numpy_lion(p2, g, m2, tmp), None,
        "F.lion_(p, g, m, lr=1e-3)", "numpy_lion", "-")
    p, g, m, v = arrays(4)
    add("lamb", 7 * size * item, lambda: F.lamb_(p, g, m, v, step=STEP, lr=LR), None, None,
        "F.lamb_(p, g, m, v, step=10, lr=1e-3)", "-", "-",
        note="two passes (moments + norms, then the update): 11 arrays moved, counted as Adam's 7")

    # The global grad norm alone (clip_grad_norm_ with a max_norm that never clips): read-only.
    g = arrays(1)[0]
    cases.append(Case(
        name="grad_norm", family="optimizers", size=size, dtype=str(np.dtype(dtype)), bytes=size * item,
        fastopt=lambda: F.clip_grad_norm_(g, 1e30), numpy=lambda: np.linalg.norm(g),
        torch=(lambda tg=torch.from_numpy(g): torch.linalg.vector_norm(tg)) if torch is not None else None,
        fastopt_code="F.clip_grad_norm_(g, 1e30)  # never clips: the norm pass only",
        numpy_code="np.linalg.norm(g)", torch_code="torch.linalg.vector_norm(g)" if torch is not None else "",
        ceiling="read", check=False))
    return cases
