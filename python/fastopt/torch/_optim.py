"""torch.optim.Optimizer subclasses whose step is one fastopt multi-tensor kernel call per group.

The params are updated in place through zero-copy NumPy views of the CPU tensors (the
same memory; nothing is copied); a param dense in another order than C's (channels_last, a
transpose) through a view in storage order, its grad and state viewed in the same order. The state lives in ``self.state`` under torch's keys and
with torch's layout (``state['step']`` a float32 scalar tensor, ``exp_avg``, ...), so a
checkpoint moves between ``torch.optim.X`` and ``fastopt.torch.X`` both ways and torch's
lr schedulers, hooks and ``torch.distributed`` wrappers (ZeroRedundancyOptimizer, DDP)
work unchanged.

Per step the Python work is a few identity and pointer checks per tensor: the NumPy views of
the params, state and grads and the lists handed to the kernel are cached per param group and
used only while what they were made from is unchanged (see "the cache" below: the group, the
state dicts, which count their own changes, and the storage of every tensor, so that
``t.data = ...``, ``t.set_(...)``, ``opt.state.clear()`` or ``opt.state[p]["exp_avg"] = t``
between steps are all seen, as torch.optim sees them). The ``step`` counters of a group's
params are 0-d views into one float32 tensor, so incrementing them is one NumPy operation
(they are still separate float32 scalar tensors in ``state_dict()``).
"""

from __future__ import annotations

import functools
import math
import operator
from collections import defaultdict
from typing import Any, Callable, Dict, List, Optional

import numpy as np
import torch
from torch.optim import Optimizer

from .. import _hyper, _optim_specs
from .._optim_specs import OptimSpec, scalar, spec_for_group
from .._step_result import StepResult
from ..functional._optim import _run

__all__ = ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "Adamax", "Lion", "LAMB", "to_torch_state_dict"]

_is = operator.is_
_data_ptr = torch.Tensor.data_ptr
_numpy = torch.Tensor.numpy
_LOWP = (torch.bfloat16, torch.float16)
_DTYPES = (torch.float32, torch.float64) + _LOWP
_MASTER = "master_param"  # float32 copy of a bfloat16/float16 param (fastopt's own key)


_ALIGN = 16  # elements: each state tensor fastopt allocates starts on a 64-byte boundary


def _state_dtype(p: torch.Tensor) -> torch.dtype:
    """State is float32 for bfloat16/float16 params (as the master copy), else the param's dtype."""
    return torch.float32 if p.dtype in _LOWP else p.dtype


def _view(t: torch.Tensor) -> np.ndarray:
    """A NumPy view of a CPU tensor's memory (bfloat16 as uint16, which the kernels read as bf16)."""
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(np.uint16)
    return t.numpy()


def _norm64(g: torch.Tensor) -> torch.Tensor:
    """The L2 norm of a grad, accumulated in float64 (as the kernel's norm pass; torch's own
    norm of a bfloat16 tensor is bfloat16)."""
    return torch.linalg.vector_norm(g, dtype=torch.float64)


def _gpu_alternative(opt: str) -> str:
    """torch's own optimizer for GPU params: its fused kernel where it has one."""
    if opt not in _optim_specs.SPECS_BY_CLASS or not _optim_specs.SPECS_BY_CLASS[opt].in_torch:
        return "torch.optim.AdamW(..., fused=True)"
    fused = "fused" in _optim_specs.SPECS_BY_CLASS[opt].torch_options
    return f"torch.optim.{opt}(..., fused=True)" if fused else f"torch.optim.{opt}"


def _check_param(opt: str, p: torch.Tensor, index: int) -> None:
    where = f"fastopt.torch.{opt}: param {index} (shape {tuple(p.shape)})"
    if not isinstance(p, torch.Tensor):
        raise TypeError(f"fastopt.torch.{opt}: params must be tensors, got {type(p).__name__}")
    if p.device.type != "cpu":
        raise ValueError(
            f"{where} is on {p.device}; fastopt.torch steps CPU tensors only. For GPU params use "
            f"{_gpu_alternative(opt)}, or keep a CPU copy of the params for the optimizer step (CPU "
            f"offload: see the documentation's page 'Embedding fastopt in existing trainers')")
    if p.is_sparse or p.layout != torch.strided:
        raise ValueError(f"{where} has layout {p.layout}; fastopt.torch needs dense (strided) CPU tensors")
    if p.dtype not in _DTYPES:
        raise TypeError(f"{where} has dtype {p.dtype}; fastopt.torch accepts float32, float64, "
                        f"bfloat16 and float16 params")
    if _storage_order(p) is False:
        alt = f"torch.optim.{opt}" if opt not in ("Lion", "LAMB") else "an optimizer that accepts strided params"
        raise ValueError(
            f"{where} is not contiguous (strides {p.stride()}) and its elements do not fill one dense "
            f"block of memory either (they overlap or leave gaps); fastopt updates params in place and "
            f"never copies them. Make the params contiguous first (e.g. `p.data = p.data.contiguous()`, "
            f"or model.to(memory_format=torch.contiguous_format)), or use {alt}")


def _storage_order(t: torch.Tensor) -> Any:
    """How a tensor's elements lie in memory: None when it is C-contiguous; the permutation of
    its dims that makes it C-contiguous (dims by decreasing stride) when its elements fill one
    dense block in another order (channels_last, a transpose); False when they overlap or leave
    gaps. Elementwise kernels can step a dense tensor through the permuted view (in storage
    order) as long as its grad and state lie in the same order."""
    if t.is_contiguous():
        return None
    strides = t.stride()
    perm = tuple(sorted(range(t.dim()), key=lambda d: -strides[d]))
    return perm if t.permute(perm).is_contiguous() else False


def _state_format(p: torch.Tensor) -> torch.memory_format:
    """The memory format of the state of ``p``: its own layout where it is dense (torch's
    preserve_format), contiguous otherwise (a refused param)."""
    return torch.preserve_format if _storage_order(p) is not False else torch.contiguous_format


def _in_order(t: torch.Tensor, perm: Optional[tuple]) -> torch.Tensor:
    """``t`` with its dims in ``perm``'s order (storage order for a tensor laid out as the param)."""
    return t if perm is None else t.permute(perm)


def _same_layout(t: torch.Tensor, perm: Optional[tuple]) -> bool:
    """Whether ``t`` lies in memory in the order of a param with storage order ``perm``."""
    return t.is_contiguous() if perm is None else t.permute(perm).is_contiguous()


def _as_tensors(value: Any) -> Any:
    """``value`` with each ndarray in it (in dicts, lists, tuples) a tensor holding a copy."""
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value, copy=True))
    if isinstance(value, dict):
        return {k: _as_tensors(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_as_tensors(v) for v in value)
    return value


def to_torch_state_dict(state_dict: Dict[str, Any]) -> Dict[str, Any]:
    """A ``fastopt.optim`` state_dict (from ``state_dict()`` or ``load_state_dict_file``) with
    torch's value types, for ``torch.optim.<X>(params).load_state_dict(...)``: each NumPy array
    a tensor (a copy), each ``step`` count a float32 scalar tensor. torch.optim takes tensors
    only (it fails on an ndarray with a TypeError about a generator); fastopt.torch's classes
    convert on load themselves. Tensors and other values are kept as they are; the param
    groups are torch's already (fastopt's own ``max_grad_norm`` stays in them and torch.optim
    ignores it: clip with ``torch.nn.utils.clip_grad_norm_`` there)."""
    state = {}
    for index, st in state_dict["state"].items():
        st = _as_tensors(st)
        if "step" in st and not isinstance(st["step"], torch.Tensor):
            st["step"] = torch.tensor(float(st["step"]), dtype=torch.float32)
        state[index] = st
    return {**state_dict, "state": state}


class _ParamState(dict):
    """One param's state dict (``optimizer.state[p]``) that counts its own changes, so a step
    sees in O(1) per param whether the tensors the cached views stand for are still the
    state's (``state[p]["exp_avg"] = t``, ``state[p].update(...)``, ``del``, ``clear()``, ...).
    Pickles, copies and deep-copies as a plain dict, as torch's state does."""

    __slots__ = ("version",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.version = 0

    def __reduce__(self):
        return (dict, (), None, None, iter(self.items()))


class _State(defaultdict):
    """``optimizer.state`` (torch's ``defaultdict(dict)``) that counts its changes (assignment,
    deletion, ``clear``, ``pop``, ``popitem``, ``update``, ``setdefault``, ``|=``) so a step sees
    in O(1) whether the cached views are still the state's (``ZeroRedundancyOptimizer``'s
    load_state_dict assigns ``optim.state[param] = ...``). New per-param dicts are
    :class:`_ParamState`. Pickles (and deep-copies) as torch's plain ``defaultdict(dict)``."""

    __slots__ = ("version",)

    def __init__(self, *args, **kwargs):
        super().__init__(_ParamState, *args, **kwargs)
        self.version = 0

    def __reduce__(self):
        return (defaultdict, (dict,), None, None, iter(self.items()))


# Changes to any optimizer's state or per-param state dict, all optimizers together: while it
# is unchanged, no cache needs to look at its dicts' own counts.
_changes = [0]


def _counting(cls, methods):
    """Wrap ``methods`` of the dict type ``cls`` so that each call bumps ``self.version``."""
    def wrap(name):
        base = getattr(dict, name)

        def method(self, *args, **kwargs):
            self.version += 1
            _changes[0] += 1
            return base(self, *args, **kwargs)

        method.__name__ = name
        return method

    for name in methods:
        setattr(cls, name, wrap(name))


_MUTATORS = ("__setitem__", "__delitem__", "__ior__", "clear", "pop", "popitem", "update", "setdefault")
_counting(_ParamState, _MUTATORS)
_counting(_State, _MUTATORS)
_version = operator.attrgetter("version")
# The number of tensors that hold a storage (torch's private accessor; without it every
# tensor's data_ptr is compared instead).
_use_count = getattr(torch._C, "_storage_Use_Count", None)


def _same_entries(d: dict, saved: dict) -> bool:
    """Whether the dict ``d`` holds the same objects under the same keys as ``saved``."""
    return d.keys() == saved.keys() and all(d[k] is v for k, v in saved.items())


def _own_state_dicts(state: "_State") -> None:
    """Make the per-param dicts that torch just created (load_state_dict, unpickling) counting
    ones. Only for dicts no caller can hold yet: a dict a user assigned stays theirs, and is
    checked entry by entry instead."""
    for p, st in list(state.items()):
        if type(st) is dict:
            dict.__setitem__(state, p, _ParamState(st))


class _Group:
    """The cached kernel arguments of one param group, and what they were built from: a step
    uses them only while all of that is unchanged (``_valid``)."""

    __slots__ = ("group", "params_list", "nparams", "keys", "active", "perms", "grads", "gptrs", "gviews",
                 "seen", "version", "dicts", "dict_versions", "plain", "watch", "watch_ptrs", "shared", "shared_ids", "shared_counts", "parts")


class _Part:
    """The params of one dtype within a group: one kernel call."""

    __slots__ = ("idx", "pviews", "gviews", "master", "states", "steps", "steps_np", "uniform",
                 "first", "first_any")


try:  # torch's step-hook registries and profiler flag (private names: fall back to torch's wrapper)
    from torch.autograd.profiler import _is_profiler_enabled  # noqa: F401
    from torch.optim.optimizer import _global_optimizer_post_hooks, _global_optimizer_pre_hooks

    def _profiling() -> bool:
        return torch.autograd.profiler._is_profiler_enabled
except ImportError:  # pragma: no cover
    _global_optimizer_pre_hooks = _global_optimizer_post_hooks = None


class _FastoptOptimizer(Optimizer):
    """The base of fastopt.torch's optimizers: a subclass names its spec (``_spec``, from
    ``fastopt._optim_specs``: state keys, hyper-parameters, checks) and passes its constructor's
    arguments as ``defaults`` (``_defaults``) and its ``max_grad_norm``.

    ``max_grad_norm`` (fastopt's own group option, None: no clipping) clips the grads by their
    global L2 norm inside the step, as ``torch.nn.utils.clip_grad_norm_(all params,
    max_grad_norm)`` before ``step()`` would (the grads themselves are not modified). The norm
    is over the grads of all groups; a group's own ``max_grad_norm`` gives its coefficient
    ``min(1, max_grad_norm / (norm + 1e-6))`` (None or absent: that group is not clipped). A
    group holds it when it is not None (the constructor's value fills the groups that do not
    set it), and so does ``state_dict()``'s: without clipping, ``param_groups``, ``defaults``
    and checkpoints are exactly torch.optim's. torch.optim ignores the key when it loads such a
    checkpoint; a torch.optim checkpoint's groups get the constructor's value on loading.

    ``last_step``: the :class:`fastopt.StepResult` of the last ``step()`` (None before the
    first): ``grad_norm`` the global norm (None when no group clips), ``found_inf`` whether a
    grad held an inf or NaN, ``skipped`` False (a step that runs always updates).
    """

    _spec: OptimSpec
    last_step: Optional[StepResult] = None

    @staticmethod
    def profile_hook_step(func):
        """torch's step wrapper (profiler range, step pre/post hooks), entered only when it has
        something to do: the profiler is on or a step hook is registered. Entering its
        record_function range costs more than the rest of a small model's step."""
        torch_wrapper = Optimizer.profile_hook_step(func)
        if _global_optimizer_pre_hooks is None:  # pragma: no cover
            return torch_wrapper

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            self = args[0]
            if (_profiling() or _global_optimizer_pre_hooks or _global_optimizer_post_hooks
                    or self._optimizer_step_pre_hooks or self._optimizer_step_post_hooks):
                return torch_wrapper(*args, **kwargs)
            out = func(*args, **kwargs)
            self._optimizer_step_code()
            return out

        return wrapper

    @staticmethod
    def _defaults(spec: OptimSpec, args: Dict[str, Any]) -> Dict[str, Any]:
        """A class's ``defaults`` from its constructor's arguments (``locals()``): the spec's
        group hyper-parameters and torch's options, as torch.optim's class keeps them."""
        return {name: args[name] for name in spec.torch_defaults()}

    def __init__(self, params, defaults: Dict[str, Any], max_grad_norm: Optional[float] = None) -> None:
        # torch.optim checks the constructor's values only (not added groups), before anything else
        self._spec.validate("", defaults, torch_beta_types=True)
        _hyper.check_max_grad_norm("", max_grad_norm)
        self._fo_max_grad_norm = max_grad_norm  # each group's default (add_param_group)
        if defaults.get("differentiable"):
            raise ValueError(f"fastopt.torch.{type(self).__name__}: differentiable=True is not supported "
                             f"(use torch.optim.{type(self).__name__})")
        if defaults.get("capturable"):
            raise ValueError(f"fastopt.torch.{type(self).__name__}: capturable=True is for CUDA graphs; "
                             f"fastopt steps CPU tensors (use torch.optim.{type(self).__name__})")
        self._fo_cache: Optional[List[Optional[_Group]]] = None
        super().__init__(params, defaults)
        self.state = _State(self.state)
        if self._spec.eager_state:  # torch's Adagrad makes its state here
            self._eager_state()

    def _eager_state(self) -> None:
        spec = self._spec
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                if spec.step:
                    state["step"] = torch.tensor(0.0, dtype=torch.float32)
                for s in spec.states:
                    if s.exists(group):
                        state[s.key] = torch.full_like(p.detach(), s.initial(group), dtype=_state_dtype(p),
                                                       memory_format=_state_format(p))

    # ---- torch.optim.Optimizer hooks that change what the cache describes -------------------
    def add_param_group(self, param_group: Dict[str, Any]) -> None:
        """torch's add_param_group; the group's ``max_grad_norm`` (the constructor's by default)
        is checked first, as fastopt.optim checks it."""
        if isinstance(param_group, dict):
            _hyper.check_max_grad_norm("", param_group.get("max_grad_norm"))
            if self._fo_max_grad_norm is not None:
                param_group.setdefault("max_grad_norm", self._fo_max_grad_norm)
        super().add_param_group(param_group)
        name = type(self).__name__
        for i, p in enumerate(self.param_groups[-1]["params"]):
            _check_param(name, p, i)
        self._fo_cache = None

    def state_dict(self) -> Dict[str, Any]:
        """torch's state_dict, with each param's state a plain dict (as torch's), so that
        ``torch.load(..., weights_only=True)`` reads a saved checkpoint."""
        sd = super().state_dict()
        sd["state"] = {k: dict(v) if type(v) is _ParamState else v for k, v in sd["state"].items()}
        return sd

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        """torch's load_state_dict, except that the float32 state of bfloat16/float16 params
        (the master copy, the moments) stays float32: torch would cast it to the param's dtype.
        A ``fastopt.optim`` state_dict (NumPy arrays) loads too (``to_torch_state_dict``)."""
        self._fo_cache = None
        state_dict = to_torch_state_dict(state_dict)
        keep = {}
        saved_ids = [i for g in state_dict.get("param_groups", ()) for i in g["params"]]
        params = [p for g in self.param_groups for p in g["params"]]
        if len(saved_ids) == len(params):
            for i, p in zip(saved_ids, params):
                st = state_dict.get("state", {}).get(i)
                if p.dtype in _LOWP and isinstance(st, dict):
                    keep[p] = {k: v for k, v in st.items()
                               if k != "step" and isinstance(v, torch.Tensor) and v.dtype == torch.float32}
        super().load_state_dict(state_dict)  # calls __setstate__, which owns the new dicts
        for p, saved in keep.items():
            for k, v in saved.items():
                self.state[p][k] = v.detach().to("cpu", copy=True)
        self._fo_cache = None

    def __getstate__(self) -> Dict[str, Any]:
        return {**super().__getstate__(), "_fo_max_grad_norm": self._fo_max_grad_norm}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        # unpickling gives the constructor's max_grad_norm; load_state_dict keeps this one's
        if "_fo_max_grad_norm" in state:
            state = dict(state)
            self._fo_max_grad_norm = state.pop("_fo_max_grad_norm")
        super().__setstate__(state)
        for group in self.param_groups:  # groups saved by an older torch lack the newer options
            for name, default in self._spec.torch_defaults().items():
                group.setdefault(name, default)
            if self._fo_max_grad_norm is not None:  # torch.optim's groups lack it
                group.setdefault("max_grad_norm", self._fo_max_grad_norm)
        if not isinstance(self.state, _State):
            self.state = _State(self.state)
        _own_state_dicts(self.state)
        self._fo_cache = None

    def zero_grad(self, set_to_none: bool = True) -> None:
        # Drop the cached grad views first, so that set_to_none frees the grads' memory.
        if self._fo_cache is not None:
            for c in self._fo_cache:
                if c is not None:
                    c.grads, c.gptrs, c.gviews = [], [], []
                    for part in c.parts:
                        part.gviews = []
        super().zero_grad(set_to_none)

    # ---- the cache ---------------------------------------------------------------------------
    #
    # A step uses a group's cached views only while everything they were made from is
    # unchanged: the group and its params list, the state keys its options need, the state
    # object and each param's state dict (their change counts; a plain dict a user assigned is
    # compared entry by entry), the storage of every param, state tensor and master copy
    # (data_ptr: catches ``t.data = ...`` and ``t.set_(...)``; the step counters by their shared
    # storage's use count, see _record), and the grads (identity and storage). Anything else is rebuilt, so a step never writes memory the optimizer no
    # longer owns, and ``state_dict()`` always shows the state the step used.

    def _fresh_state(self, group, active, perms, keys, state) -> List[Dict[int, torch.Tensor]]:
        """New state for each param (by index: key index -> tensor) whose state lacks a key:
        views of one buffer per key and state dtype, each starting on a 64-byte boundary and
        laid out as its param (``perms``: storage orders, see ``_storage_order``). One
        large allocation per key instead of one per param: measured 4-5% faster steps at 1M
        params in 200 tensors (bench/RESULTS.md). As with any views, ``torch.save`` of a single
        state tensor writes its whole buffer; ``state_dict()`` saves each buffer once."""
        fresh: List[Dict[int, torch.Tensor]] = [{} for _ in active]
        for k, key in enumerate(keys):
            if key is None:
                continue
            by_dtype: Dict[Any, List[int]] = {}
            for i, p in enumerate(active):
                st = state.get(p)
                if st is None or st.get(key) is None:
                    by_dtype.setdefault(_state_dtype(p), []).append(i)
            for dtype, idx in by_dtype.items():
                sizes = [active[i].numel() for i in idx]
                starts = [0]
                for n in sizes:
                    starts.append(starts[-1] + -(-n // _ALIGN) * _ALIGN)
                # torch's lazy init (a param added later, a cleared state) reads the defaults
                buf = torch.full((starts[-1],), self._spec.states[k].initial(self.defaults), dtype=dtype)
                for i, n, b in zip(idx, sizes, starts):
                    p = active[i]
                    fresh[i][k] = (buf[b:b + n].view(p.shape) if perms[i] is None
                                   else buf[b:b + n].as_strided(p.shape, p.stride()))
        return fresh

    def _param_state(self, p, perm, st, keys, lists, fresh) -> bool:
        """Fill ``lists`` with the NumPy views (in storage order ``perm``) of ``p``'s state
        tensors, taking the new ones from ``fresh`` (key index -> tensor) and converting others
        as torch would, into ``p``'s layout; return whether an entry set from the first grad
        (SGD's momentum buffer) is new (its first step)."""
        pd = p.detach()
        sdtype = _state_dtype(pd)
        is_first = False
        for k, key in enumerate(keys):
            if key is None:
                continue
            buf = st.get(key)
            if buf is None:
                is_first = is_first or self._spec.states[k].from_grad
                buf = fresh[k]
                st[key] = buf
            elif (not isinstance(buf, torch.Tensor) or buf.dtype != sdtype or buf.device.type != "cpu"
                  or buf.shape != pd.shape or not _same_layout(buf, perm)):
                value = torch.as_tensor(buf).to(device="cpu", dtype=sdtype).reshape(pd.shape)
                buf = torch.empty_like(pd, dtype=sdtype, memory_format=torch.preserve_format).copy_(value)
                st[key] = buf
            lists[k].append(_in_order(buf, perm).numpy())
        return is_first

    @staticmethod
    def _master(p: torch.Tensor, perm: Optional[tuple], st: Dict[str, Any]) -> np.ndarray:
        """The NumPy view (in storage order ``perm``) of the float32 master copy of a
        bfloat16/float16 param, laid out as the param (made from the param if missing)."""
        m = st.get(_MASTER)
        if not (isinstance(m, torch.Tensor) and m.dtype == torch.float32 and m.shape == p.shape
                and m.device.type == "cpu" and _same_layout(m, perm)):
            m = p.detach().to(torch.float32, memory_format=torch.preserve_format)
            st[_MASTER] = m
        return _in_order(m, perm).numpy()

    def _build(self, group: Dict[str, Any], grads: list, params: list) -> _Group:
        """The kernel arguments for ``params`` (the group's, or one of them: step_in_backward)."""
        name = type(self).__name__
        c = _Group()
        c.group, c.params_list, c.nparams = group, params, len(params)
        c.active = active = [p for p, g in zip(params, grads) if g is not None]
        c.keys = keys = self._spec.state_keys(group)
        state = self.state
        pviews, masters, lists = [], [], [[] for _ in keys]
        steps, first, kinds, dicts = [], [], [], []
        stateless = not self._spec.step and all(k is None for k in keys)
        for i, p in enumerate(active):
            _check_param(name, p, i)
        perms = [_storage_order(p) for p in active]
        c.perms = perms if any(q is not None for q in perms) else None
        fresh = self._fresh_state(group, active, perms, keys, state)
        for i, p in enumerate(active):
            perm = perms[i]
            is_lowp = p.dtype in _LOWP
            # torch creates no state for a stateless step (SGD without momentum)
            st = state[p] if not stateless or is_lowp else None
            dicts.append(st)
            kinds.append(p.dtype)
            masters.append(self._master(p, perm, st) if is_lowp else None)
            pviews.append(_view(_in_order(p.detach(), perm)))
            first.append(self._param_state(p, perm, st, keys, lists, fresh[i]) if st is not None else False)
            if self._spec.step:
                s = st.get("step")
                steps.append(float(s) if s is not None else 0.0)
        # One kernel call per param dtype (torch groups by dtype the same way).
        order: Dict[Any, List[int]] = {}
        for i, kind in enumerate(kinds):
            order.setdefault(kind, []).append(i)
        c.parts = [self._part(group, idx, active, pviews, masters, lists, keys, first, steps)
                   for idx in order.values()]
        self._record(c, active, dicts)
        c.grads, c.gptrs, c.gviews = [], [], []
        return c

    def _part(self, group, idx, active, pviews, masters, lists, keys, first, steps) -> _Part:
        """The kernel arguments of the params ``idx`` (one dtype) of a group."""
        part = _Part()
        single = len(idx) == len(active)
        pick = (lambda xs: xs) if single else (lambda xs: [xs[i] for i in idx])
        part.idx = None if single else idx
        part.pviews = pick(pviews)
        part.master = pick(masters) if masters[idx[0]] is not None else None
        part.states = self._spec.kernel_states(group, [pick(lst) if key is not None else None
                                                       for lst, key in zip(lists, keys)])
        part.first = pick(first)
        part.first_any = any(part.first)
        part.gviews = []
        # The step counters: 0-d float32 views into one tensor, incremented by one operation.
        if self._spec.step:
            packed = torch.tensor(pick(steps), dtype=torch.float32)
            for k, i in enumerate(idx):
                self.state[active[i]]["step"] = packed[k]
            part.steps = packed
            part.steps_np = packed.numpy()
            part.uniform = bool((part.steps_np == part.steps_np[0]).all())
        else:
            part.steps = part.steps_np = None
            part.uniform = True
        return part

    def _record(self, c: _Group, active: list, dicts: list) -> None:
        """Note what the views of ``c`` stand for (after the build's own writes to the state)."""
        dicts = [d for d in dicts if d is not None]
        c.seen, c.version = _changes[0], self.state.version
        c.dicts = [d for d in dicts if type(d) is _ParamState]
        c.dict_versions = list(map(_version, c.dicts))
        # dicts without a change count (assigned by a caller): every entry is compared instead
        c.plain = [(d, dict(d)) for d in dicts if type(d) is not _ParamState]
        # Storage checks: each tensor's data_ptr; for the step counters, 0-d views into one
        # tensor per part, the use count of that storage (one call for all of them):
        # ``s.data = t`` or ``s.set_(t)`` on a counter drops it by one. (It would miss a counter
        # swapped between two steps in which a caller also made a new view of another counter.)
        watch, shared = list(active), {}
        for d in dicts:
            for k, v in d.items():
                if isinstance(v, torch.Tensor) and (k in c.keys or k in ("step", _MASTER)):
                    base = v._base if k == "step" and _use_count is not None else None
                    if base is None:
                        watch.append(v)
                    else:
                        shared.setdefault(id(base), base)
        c.watch, c.watch_ptrs = watch, list(map(_data_ptr, watch))
        c.shared = list(shared.values())  # keeps the storages, and so their ids, alive
        c.shared_ids = [b.untyped_storage()._cdata for b in c.shared]
        c.shared_counts = list(map(_use_count, c.shared_ids)) if c.shared else []

    def _valid(self, c: _Group, group: Dict[str, Any], params: list) -> bool:
        """Whether the cached views of ``c`` still stand for the group's memory (see above)."""
        return (c.group is group and c.params_list is params and c.nparams == len(params)
                and self._spec.state_keys(group) == c.keys
                and (c.seen == _changes[0] or self._dicts_unchanged(c))
                and all(_same_entries(d, saved) for d, saved in c.plain)
                and list(map(_data_ptr, c.watch)) == c.watch_ptrs
                and list(map(_use_count, c.shared_ids)) == c.shared_counts)

    def _dicts_unchanged(self, c: _Group) -> bool:
        """After a change somewhere: whether it left this group's state dicts alone."""
        if c.version != self.state.version or list(map(_version, c.dicts)) != c.dict_versions:
            return False
        c.seen = _changes[0]
        return True

    def _grad_views(self, c: _Group, grads: list) -> None:
        """Views of the grads that changed since the last step (all of them after
        ``zero_grad(set_to_none=True)`` + backward; a grad whose storage was swapped by
        ``g.data = ...`` or ``g.set_(...)`` is a change too). The fast path only makes the views
        (about 0.5 us a tensor): the kernel checks every dtype, shape and layout before it
        writes, and when it refuses, ``_checked_grad_views`` rebuilds them with torch-level
        messages. Params stepped in storage order (``c.perms``) get views of their grads in the
        same order; a grad laid out otherwise is refused by the kernel and then read through a
        copy in that order (``_checked_grad_views``)."""
        old_g, old_p, old_v = c.grads, c.gptrs, c.gviews
        try:
            ptrs = list(map(_data_ptr, grads))
            if c.perms is not None:
                c.gviews = [_view(_in_order(g, q)) for g, q in zip(grads, c.perms)]
            elif len(old_g) == len(grads):
                c.gviews = [v if g is o and q == r else _view(g)
                            for g, o, q, r, v in zip(grads, old_g, ptrs, old_p, old_v)]
            elif all(part.master is None for part in c.parts):
                c.gviews = list(map(_numpy, grads))
            else:
                c.gviews = list(map(_view, grads))
        except (TypeError, RuntimeError):  # not a CPU dense tensor, or requires grad
            c.gviews = self._checked_grad_views(c, grads)
            ptrs = list(map(_data_ptr, grads))
        c.grads, c.gptrs = grads, ptrs
        self._split_grad_views(c)

    @staticmethod
    def _split_grad_views(c: _Group) -> None:
        for part in c.parts:
            part.gviews = c.gviews if part.idx is None else [c.gviews[i] for i in part.idx]

    def _checked_grad_views(self, c: _Group, grads: list) -> list:
        name = type(self).__name__
        views = []
        perms = c.perms or [None] * len(grads)
        for i, (p, g, perm) in enumerate(zip(c.active, grads, perms)):
            if g.is_sparse:
                raise RuntimeError(f"fastopt.torch.{name} does not support sparse gradients")
            if g.device.type != "cpu":
                raise ValueError(f"fastopt.torch.{name}: the grad of param {i} is on {g.device}; "
                                 f"fastopt steps CPU tensors only")
            if g.shape != p.shape:
                raise ValueError(f"fastopt.torch.{name}: the grad of param {i} has shape {tuple(g.shape)}, "
                                 f"the param {tuple(p.shape)}")
            gd = g.detach()
            want = p.dtype
            if gd.dtype != want and not (gd.dtype in (torch.float32,) + _LOWP and want in (torch.float32,) + _LOWP):
                raise TypeError(f"fastopt.torch.{name}: the grad of param {i} is {gd.dtype}, the param "
                                f"{p.dtype}")
            gd = _in_order(gd, perm)  # the param's storage order
            if not gd.is_contiguous():
                gd = gd.contiguous()  # grads are only read: a copy is safe
            views.append(_view(gd))
        return views

    def _caches(self) -> List[Optional[_Group]]:
        """The per-group caches (and ``_fo_single``, step_in_backward's per-param ones), emptied
        when the groups or the state object were replaced."""
        caches = self._fo_cache
        if not isinstance(self.state, _State):  # replaced by someone: keep counting changes
            self.state = _State(self.state)
            _own_state_dicts(self.state)
        if (caches is None or len(caches) != len(self.param_groups) or self._fo_groups is not self.param_groups
                or self._fo_state is not self.state):
            caches = self._fo_cache = [None] * len(self.param_groups)
            self._fo_groups = self.param_groups
            self._fo_state = self.state
            self._fo_single: Dict[int, list] = {}
        return caches

    def _group_cache(self, index: int, group: Dict[str, Any]) -> Optional[_Group]:
        caches = self._caches()
        c = caches[index] = self._cached(caches[index], group, group["params"])
        return c if c.active else None

    def _cached(self, c: Optional[_Group], group: Dict[str, Any], params: list) -> _Group:
        """``c`` if it still describes ``params`` (of ``group``) and their grads, else a new
        cache; its grad views made for the current grads."""
        grads_all = [p.grad for p in params]
        if c is not None and not self._valid(c, group, params):
            c = None
        if c is not None and not (len(c.active) == c.nparams and len(c.grads) == c.nparams
                                  and all(map(_is, grads_all, c.grads))):
            # the grads changed (the common case is above: the same grad tensors as last step)
            active = [p for p, g in zip(params, grads_all) if g is not None]
            if len(active) != len(c.active) or not all(map(_is, active, c.active)):
                c = None
        if c is None:
            with torch.no_grad():
                c = self._build(group, grads_all, params)
        if not c.active:
            return c
        grads = grads_all if len(c.active) == c.nparams else [g for g in grads_all if g is not None]
        if (len(c.grads) != len(grads) or not all(map(_is, grads, c.grads))
                or list(map(_data_ptr, grads)) != c.gptrs):
            self._grad_views(c, grads)
        return c

    # ---- the step ----------------------------------------------------------------------------
    def step(self, closure: Optional[Callable[[], float]] = None):
        """Perform a single optimization step (one fastopt kernel call per param group and
        param dtype), clipping by the global grad norm where a group has ``max_grad_norm``.
        Its by-products are in ``last_step``.

        closure: a closure that re-evaluates the model and returns the loss (optional).
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        groups = self.param_groups
        if any(group.get("max_grad_norm") is not None for group in groups):
            self.last_step = self._clipped_step(groups)
            return loss
        found_inf = False
        for index, group in enumerate(groups):
            c = self._group_cache(index, group)
            if c is None:
                continue
            spec = spec_for_group(self._spec, group)
            for part in c.parts:
                found_inf |= self._step_part(c, part, spec, group).found_inf
        self.last_step = StepResult(None, found_inf, False)
        return loss

    def _clipped_step(self, groups: List[Dict[str, Any]]) -> StepResult:
        """A step clipping by the global norm of all grads. One kernel call in all (one group,
        one dtype): the kernel's fused norm pass and clip. Several: the norm first (read-only,
        in float64 as the kernel's), then each call divides its grads by ``1 / coefficient``
        as it reads them (its ``grad_scale``), which rounds as torch's multiplication by the
        coefficient does to within an ulp. A non-finite global norm clips each call by its own
        norm instead, so the params whose grads hold the inf or NaN become NaN (as with
        torch's clip_grad_norm_) and the others are clipped by their own finite norm (torch
        would zero their grads); a GradScaler skips such steps before they reach here."""
        for group in groups:
            _hyper.check_max_grad_norm("", group.get("max_grad_norm"))
        calls = []
        for index, group in enumerate(groups):
            c = self._group_cache(index, group)
            if c is not None:
                spec = spec_for_group(self._spec, group)
                calls.extend((c, part, spec, group) for part in c.parts)
        if not calls:
            return StepResult(0.0, False, False)
        if len(calls) == 1:
            c, part, spec, group = calls[0]
            return self._step_part(c, part, spec, group, max_grad_norm=group["max_grad_norm"])
        grads = [g for c in dict.fromkeys(k[0] for k in calls) for g in c.grads]
        norm = float(torch.linalg.vector_norm(torch.stack([_norm64(g) for g in grads])))
        found_inf = False
        for c, part, spec, group in calls:
            limit = group.get("max_grad_norm")
            if limit is not None and not math.isfinite(norm):
                res = self._step_part(c, part, spec, group, max_grad_norm=limit)
            else:
                coef = 1.0 if limit is None else min(1.0, float(scalar(limit)) / (norm + _hyper.CLIP_EPS))
                res = self._step_part(c, part, spec, group, grad_scale=None if coef == 1.0 else 1.0 / coef)
            found_inf |= res.found_inf
        return StepResult(norm, found_inf, False)

    def _step_part(self, c: _Group, part: _Part, spec: OptimSpec, group: Dict[str, Any],
                   **clip: Any) -> StepResult:
        """One kernel call; ``clip``: ``_run``'s ``max_grad_norm=`` or ``grad_scale=``."""
        step: Any = 1
        if part.steps_np is not None:
            part.steps_np += 1
            step = int(part.steps_np[0]) if part.uniform else part.steps_np.astype(np.int64)
        first = part.first if part.first_any else False
        try:
            res = _run(spec, group, part.pviews, part.gviews, part.states, step=step, first=first,
                       master_params=part.master, **clip)
        except (TypeError, ValueError):
            # Nothing was written. Check the grads at the torch level (a strided grad is
            # copied: grads are only read) and try once more; else undo the step count.
            try:
                c.gviews = self._checked_grad_views(c, c.grads)
                self._split_grad_views(c)
                res = _run(spec, group, part.pviews, part.gviews, part.states, step=step, first=first,
                           master_params=part.master, **clip)
            except Exception:
                if part.steps_np is not None:
                    part.steps_np -= 1
                c.grads, c.gptrs, c.gviews = [], [], []
                raise
        except BaseException:  # e.g. a group missing a hyper-parameter: nothing was written
            if part.steps_np is not None:
                part.steps_np -= 1
            raise
        if part.first_any:
            part.first = [False] * len(part.first)
            part.first_any = False
        return res

    # ---- one param's step, during backward (fastopt.torch.step_in_backward) ------------------------
    def _step_param(self, p: torch.Tensor) -> None:
        """Step ``p`` alone: one kernel call with the group options, state and step counter
        that ``step()`` uses (so lr schedulers, ``state_dict()`` and ``load_state_dict()`` see
        the same optimizer), then drop the cached views of its grad so that the caller can free
        it. ``last_step`` is left as it is (it reports ``step()``)."""
        self._caches()
        entry = self._fo_single.get(id(p))
        if entry is None or entry[0] is not p:
            index = next((i for i, g in enumerate(self.param_groups) if any(q is p for q in g["params"])), None)
            if index is None:
                raise ValueError(f"fastopt.torch.{type(self).__name__}: a param stepped in backward "
                                 f"(shape {tuple(p.shape)}) is not in the optimizer's param groups")
            entry = self._fo_single[id(p)] = [p, [p], index, None]  # (keeps p, and so its id, alive)
        group = self.param_groups[entry[2]]
        if group.get("max_grad_norm") is not None:
            raise ValueError(_NO_CLIP_IN_BACKWARD)
        c = entry[3] = self._cached(entry[3], group, entry[1])
        if not c.active:
            return
        spec = spec_for_group(self._spec, group)
        try:
            for part in c.parts:
                self._step_part(c, part, spec, group)
        finally:
            c.grads, c.gptrs, c.gviews = [], [], []
            for part in c.parts:
                part.gviews = []
        self._opt_called = True  # what torch's lr schedulers check (their wrapper of step() sets it)


_NO_CLIP_IN_BACKWARD = (
    "fastopt.torch.step_in_backward: max_grad_norm clips by the global norm of all grads, which is "
    "known only after the whole backward; a param stepped during backward cannot wait for it. Step "
    "after backward instead (optimizer.step(), which fuses the clipping), or drop max_grad_norm. "
    "(Clipping each param by its own norm would be a different update, so it is not offered.)")


# ---- the optimizers: torch's signatures (and defaults, which the specs hold too) -------------------

class SGD(_FastoptOptimizer):
    """``torch.optim.SGD`` (momentum, dampening, Nesterov, L2 weight decay, maximize), stepped by
    ``fastopt.functional.sgd_``'s path. State: ``momentum_buffer`` when momentum != 0, as torch."""

    _spec = _optim_specs.SGD

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: Optional[bool] = None, differentiable: bool = False,
                 fused: Optional[bool] = None, max_grad_norm: Optional[float] = None) -> None:
        super().__init__(params, self._defaults(self._spec, locals()), max_grad_norm)


class Adagrad(_FastoptOptimizer):
    """``torch.optim.Adagrad``, stepped by ``fastopt.functional.adagrad_``'s path. State (created
    at construction, as torch): ``step``, ``sum``."""

    _spec = _optim_specs.ADAGRAD

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10,
                 foreach: Optional[bool] = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: Optional[bool] = None,
                 max_grad_norm: Optional[float] = None) -> None:
        super().__init__(params, self._defaults(self._spec, locals()), max_grad_norm)


class RMSprop(_FastoptOptimizer):
    """``torch.optim.RMSprop`` (centered, momentum), stepped by ``fastopt.functional.rmsprop_``'s
    path. State: ``step``, ``square_avg``, ``momentum_buffer`` (momentum > 0), ``grad_avg``
    (centered)."""

    _spec = _optim_specs.RMSPROP

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False,
                 capturable: bool = False, foreach: Optional[bool] = None, maximize: bool = False,
                 differentiable: bool = False, *, max_grad_norm: Optional[float] = None) -> None:
        super().__init__(params, self._defaults(self._spec, locals()), max_grad_norm)


class Adam(_FastoptOptimizer):
    """``torch.optim.Adam`` (amsgrad, maximize, decoupled_weight_decay), stepped by
    ``fastopt.functional.adam_``'s path (``adamw_``'s when decoupled). State: ``step``,
    ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq`` (amsgrad)."""

    _spec = _optim_specs.ADAM

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, foreach: Optional[bool] = None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False,
                 fused: Optional[bool] = None, decoupled_weight_decay: bool = False,
                 max_grad_norm: Optional[float] = None) -> None:
        super().__init__(params, self._defaults(self._spec, locals()), max_grad_norm)


class AdamW(Adam):
    """``torch.optim.AdamW`` (decoupled weight decay ``p *= 1 - lr * weight_decay``), stepped by
    ``fastopt.functional.adamw_``'s path. State as torch's: ``step``, ``exp_avg``, ``exp_avg_sq``,
    ``max_exp_avg_sq`` (amsgrad)."""

    _spec = _optim_specs.ADAMW

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False,
                 foreach: Optional[bool] = None, capturable: bool = False, differentiable: bool = False,
                 fused: Optional[bool] = None, max_grad_norm: Optional[float] = None) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         foreach=foreach, maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused, decoupled_weight_decay=True,
                         max_grad_norm=max_grad_norm)


class Adamax(_FastoptOptimizer):
    """``torch.optim.Adamax``, stepped by ``fastopt.functional.adamax_``'s path. State: ``step``,
    ``exp_avg``, ``exp_inf``."""

    _spec = _optim_specs.ADAMAX

    def __init__(self, params, lr: float = 2e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0,
                 foreach: Optional[bool] = None, *, maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        super().__init__(params, self._defaults(self._spec, locals()))


class Lion(_FastoptOptimizer):
    """Lion (Chen et al., 2023), stepped by ``fastopt.functional.lion_``'s path (same defaults).
    State: ``exp_avg``."""

    _spec = _optim_specs.LION

    def __init__(self, params, lr: float = 1e-4, betas=(0.9, 0.99), weight_decay: float = 0.0, *,
                 maximize: bool = False, max_grad_norm: Optional[float] = None) -> None:
        super().__init__(params, self._defaults(self._spec, locals()), max_grad_norm)


class LAMB(_FastoptOptimizer):
    """LAMB (You et al., 2020), stepped by ``fastopt.functional.lamb_``'s path (same defaults).
    State: ``step``, ``exp_avg``, ``exp_avg_sq``."""

    _spec = _optim_specs.LAMB

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-6,
                 weight_decay: float = 0.0, bias_correction: bool = True, *, maximize: bool = False,
                 max_grad_norm: Optional[float] = None) -> None:
        super().__init__(params, self._defaults(self._spec, locals()), max_grad_norm)
