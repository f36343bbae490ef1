"""The activation cases of the benchmark: fastopt vs idiomatic NumPy vs torch's CPU ops."""

from __future__ import annotations

from typing import Any, List

from . import Case, _compile

PRELU_CHANNELS = 64

_K = "0.7978845608028654"  # sqrt(2 / pi)
_GELU_TANH_NP = f"0.5 * x * (1 + np.tanh({_K} * (x + 0.044715 * x**3)))"
_GELU_TANH_BACKWARD_NP = (
    f"gy * (0.5 * (1 + (t := np.tanh({_K} * (x + 0.044715 * x**3))))"
    f" + 0.5 * x * (1 - t * t) * {_K} * (1 + 0.134145 * x * x))"
)
_GELU_NP = "x * 0.5 * (1 + erf(x * 0.7071067811865476))"  # erf: scipy.special.erf
_GELU_BACKWARD_NP = (
    "gy * (0.5 * (1 + erf(x * 0.7071067811865476)) + x * np.exp(-0.5 * x * x) * 0.3989422804014327)"
)
_NO_ERF = "  # tanh form: NumPy has no erf (scipy not installed)"

# name, fastopt call, NumPy (what a user writes), torch CPU (the function F.* calls, with out=;
# backward: the aten op autograd calls, .grad_input overload). In the backward rows y is the
# forward's output (sigmoid, tanh), x its input; w is prelu's per-channel weight, x is (N, 64);
# w1 a single weight shared by all channels.
ACTIVATIONS = [
    ("sigmoid", "fo.sigmoid(x, out=out)", "1 / (1 + np.exp(-x))", "torch.sigmoid(x, out=out)"),
    ("sigmoid_backward", "fo.sigmoid_backward(gy, y, out=out)", "gy * y * (1 - y)",
     "aten.sigmoid_backward.grad_input(gy, y, grad_input=out)"),
    ("tanh", "fo.tanh(x, out=out)", "np.tanh(x, out=out)", "torch.tanh(x, out=out)"),
    ("tanh_backward", "fo.tanh_backward(gy, y, out=out)", "gy * (1 - y * y)",
     "aten.tanh_backward.grad_input(gy, y, grad_input=out)"),
    ("relu", "fo.relu(x, out=out)", "np.maximum(x, 0, out=out)",
     "torch.clamp_min(x, 0, out=out)  # = F.relu on CPU; torch.relu has no out="),
    ("relu_backward", "fo.relu_backward(gy, x, out=out)", "np.where(x > 0, gy, 0)",
     "aten.threshold_backward.grad_input(gy, x, 0, grad_input=out)"),
    ("leaky_relu", "fo.leaky_relu(x, 0.01, out=out)", "np.where(x > 0, x, 0.01 * x)",
     "torch._C._nn.leaky_relu(x, 0.01, out=out)"),
    ("leaky_relu_backward", "fo.leaky_relu_backward(gy, x, 0.01, out=out)",
     "np.where(x > 0, gy, 0.01 * gy)",
     "aten.leaky_relu_backward.grad_input(gy, x, 0.01, False, grad_input=out)"),
    ("prelu", "fo.prelu(x, w, out=out)", "np.where(x > 0, x, w * x)", "F.prelu(x, w)"),
    ("prelu_shared", "fo.prelu(x, w1, out=out)", "np.where(x > 0, x, w1 * x)",
     "F.prelu(x, w1)  # one weight for every channel: nn.PReLU()'s default"),
    ("prelu_backward", "fo.prelu_backward(gy, x, w, out=out)",
     "(np.where(x > 0, gy, w * gy), np.where(x > 0, 0, x * gy).sum(axis=0))",
     "((r := aten._prelu_kernel_backward(gy, x, w.view(1, -1)))[0], r[1].sum(0))"
     "  # full-size grad_weight, then the reduction autograd does"),
    ("softplus", "fo.softplus(x, out=out)", "np.logaddexp(0, x)",
     "torch._C._nn.softplus(x, 1, 20, out=out)"),
    ("softplus_backward", "fo.softplus_backward(gy, x, out=out)", "gy / (1 + np.exp(-x))",
     "aten.softplus_backward.grad_input(gy, x, 1, 20, grad_input=out)"),
    ("elu", "fo.elu(x, out=out)", "np.where(x > 0, x, np.expm1(x))", "torch._C._nn.elu(x, out=out)"),
    ("elu_backward", "fo.elu_backward(gy, x, out=out)", "np.where(x > 0, gy, gy * np.exp(x))",
     "aten.elu_backward.grad_input(gy, 1, 1, 1, False, x, grad_input=out)"),
    ("gelu", "fo.gelu(x, out=out)", _GELU_NP, "torch._C._nn.gelu(x, out=out)"),
    ("gelu_backward", "fo.gelu_backward(gy, x, out=out)", _GELU_BACKWARD_NP,
     "aten.gelu_backward.grad_input(gy, x, grad_input=out)"),
    ("gelu_tanh", "fo.gelu(x, 'tanh', out=out)", _GELU_TANH_NP,
     "torch._C._nn.gelu(x, approximate='tanh', out=out)"),
    ("gelu_tanh_backward", "fo.gelu_backward(gy, x, 'tanh', out=out)", _GELU_TANH_BACKWARD_NP,
     "aten.gelu_backward.grad_input(gy, x, approximate='tanh', grad_input=out)"),
    ("silu", "fo.silu(x, out=out)", "x / (1 + np.exp(-x))", "torch._C._nn.silu(x, out=out)"),
    ("silu_backward", "fo.silu_backward(gy, x, out=out)",
     "gy * (s := 1 / (1 + np.exp(-x))) * (1 + x * (1 - s))",
     "aten.silu_backward.grad_input(gy, x, grad_input=out)"),
]


def activation_cases(size: int, dtype: str, torch: Any = None) -> List[Case]:
    """The activation cases at one size (inputs shared by all of them, made once)."""
    import numpy as np

    import fastopt as fo

    try:
        from scipy.special import erf
    except ImportError:  # NumPy has no erf: time the tanh form and say so
        erf = None
    rng = np.random.default_rng(0)
    x = (2 * rng.standard_normal(size)).astype(dtype)  # half negative: the branches are random
    gy = rng.standard_normal(size).astype(dtype)
    out = np.empty_like(x)
    ys, yt = fo.sigmoid(x), fo.tanh(x)
    ch = PRELU_CHANNELS if size % PRELU_CHANNELS == 0 else 1
    w = np.linspace(0.05, 0.5, ch).astype(dtype)
    nbytes = size * np.dtype(dtype).itemsize
    cases = []
    for name, fo_code, np_code, torch_code in ACTIVATIONS:
        if erf is None and np_code in (_GELU_NP, _GELU_BACKWARD_NP):
            np_code = (_GELU_TANH_NP if np_code == _GELU_NP else _GELU_TANH_BACKWARD_NP) + _NO_ERF
        arrays = dict(x=x, gy=gy, out=out, y=ys if name.startswith("sigmoid") else yt, w=w, w1=w[:1].copy())
        if name.startswith("prelu"):
            arrays = {k: (v.reshape(-1, ch) if k not in ("w", "w1") else v) for k, v in arrays.items()}
        ns = dict(arrays, fo=fo, np=np, erf=erf)
        tfn = None
        if torch is not None:
            import torch.nn.functional as F

            tns = {k: torch.from_numpy(v) for k, v in arrays.items()}
            tfn = _compile(torch_code, dict(tns, torch=torch, F=F, aten=torch.ops.aten))
        cases.append(Case(
            name=name, family="activations", size=size, dtype=str(np.dtype(dtype)),
            bytes=(3 if name.endswith("_backward") else 2) * nbytes,
            fastopt=_compile(fo_code, ns), numpy=_compile(np_code, ns), torch=tfn,
            numpy_code=np_code, torch_code=torch_code if torch is not None else "",
            fastopt_code=fo_code,
        ))
    return cases
