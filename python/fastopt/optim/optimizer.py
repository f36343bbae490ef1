"""The base class of fastopt's optimizers over NumPy arrays, shaped like ``torch.optim.Optimizer``.

* ``param_groups``: a list of dicts, each with ``'params'`` (a list of ndarrays) and the
  group's hyper-parameters (the constructor's arguments fill in what a group leaves out);
  ``defaults`` holds those arguments; ``add_param_group`` appends a group.
* ``state``: per-param state, indexed by the param array itself (``opt.state[p]['exp_avg']``),
  as torch's; a param without state yet gives an empty dict.
* ``step(grads)``: ``grads`` is a list parallel to the params of all groups in order
  (``None`` where a param has no grad: it is skipped, its state untouched, as torch skips a
  param whose ``.grad`` is None). One call of the fused multi-tensor step
  (``fastopt.functional.<name>_``) per param group (per param dtype within a group when a
  group mixes dtypes). Returns the list of :class:`fastopt.StepResult` of those calls.
* ``state_dict()`` / ``load_state_dict()``: torch's layout (state keyed by the param's index
  over all groups in order, groups with ``'params'`` as index lists). ``state_dict()`` returns
  copies, so it is a snapshot; loading copies into new arrays of the right dtypes. The round
  trip is exact, and ``save_state_dict(path, sd)`` / ``load_state_dict_file(path)`` store it
  in one ``.npz`` file (arrays as arrays, the rest as JSON; no pickle). The keys are torch's:
  the checkpoint loads into fastopt.torch as it is, and into torch.optim through
  ``fastopt.torch.to_torch_state_dict`` (torch.optim takes tensors, not NumPy arrays).

Params are updated in place, so each must be a C-contiguous, aligned, writeable ndarray of
float32 or float64, or a low-precision array (bfloat16 as a ``uint16`` view or
``ml_dtypes.bfloat16``, or float16): those get a float32 master copy in
``state[p]['master_param']`` that the step updates and rounds back into the param. The state
of a low-precision param is float32.
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any, Dict, Iterable, Iterator, List, Optional, Union

import numpy as np

from .. import _hyper
from .._optim_specs import OptimSpec, spec_for_group
from .._step_result import StepResult
from ..functional._optim import _step

__all__ = ["Optimizer", "load_state_dict_file", "save_state_dict"]

# What a constructor takes: the arrays, or dicts of param groups (``{"params": [...], "lr": ...}``)
Params = Iterable[Union[np.ndarray, Dict[str, Any]]]

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)


def _sum_squares(g: np.ndarray) -> float:
    """sum(g**2) in float64 (bfloat16 grads arrive as uint16 views)."""
    if g.dtype == np.uint16:
        g = (g.astype(np.uint32) << 16).view(np.float32)
    g64 = np.asarray(g, dtype=np.float64).ravel()
    return float(np.dot(g64, g64))


def _is_low(dt: np.dtype) -> bool:
    """bfloat16 (uint16 bits or ml_dtypes.bfloat16) or float16."""
    return dt == np.dtype(np.uint16) or dt.name == "bfloat16" or dt == np.dtype(np.float16)


def _dtype_key(dt: np.dtype) -> str:
    if dt == np.dtype(np.uint16) or dt.name == "bfloat16":
        return "bfloat16"
    return dt.name


def _bits_to_f32(p: np.ndarray) -> np.ndarray:
    if p.dtype == np.dtype(np.float16):
        return p.astype(np.float32)
    bits = p.view(np.uint16)
    return (bits.astype(np.uint32) << np.uint32(16)).view(np.float32).copy()


class _ParamState:
    """``state[p]``: a dict per param array, keyed by the array's identity (ndarrays are not
    hashable). Missing params give a new empty dict, like torch's ``defaultdict(dict)``."""

    def __init__(self) -> None:
        self._state: Dict[int, Dict[str, Any]] = {}
        self._params: Dict[int, np.ndarray] = {}

    def __getitem__(self, p: np.ndarray) -> Dict[str, Any]:
        k = id(p)
        if k not in self._state:
            self._state[k] = {}
            self._params[k] = p
        return self._state[k]

    def __setitem__(self, p: np.ndarray, value: Dict[str, Any]) -> None:
        self._state[id(p)] = value
        self._params[id(p)] = p

    def __delitem__(self, p: np.ndarray) -> None:
        del self._state[id(p)]
        del self._params[id(p)]

    def __contains__(self, p) -> bool:
        return id(p) in self._state

    def __len__(self) -> int:
        return len(self._state)

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(list(self._params.values()))

    def items(self):
        return [(self._params[k], v) for k, v in self._state.items()]

    def values(self):
        return list(self._state.values())

    def keys(self):
        return list(self._params.values())

    def get(self, p, default=None):
        return self._state.get(id(p), default)

    def clear(self) -> None:
        self._state.clear()
        self._params.clear()


def _check_param(p, where: str) -> None:
    if not isinstance(p, np.ndarray):
        raise TypeError(f"optimizer can only optimize numpy arrays, but one of the params is {type(p).__name__} ({where})")
    if p.dtype not in (_F32, _F64) and not _is_low(p.dtype):
        raise TypeError(
            f"{where} has dtype {p.dtype}; accepted: float32, float64, bfloat16 (uint16 view or "
            "ml_dtypes.bfloat16), float16"
        )
    if not p.flags.c_contiguous or not p.flags.aligned:
        raise ValueError(f"{where} must be C-contiguous and aligned (it is updated in place; a copy would lose the update)")
    if not p.flags.writeable:
        raise ValueError(f"{where} is read-only (it is updated in place)")


class Optimizer:
    """Base class of fastopt.optim's optimizers: param groups, per-param state, state_dict, and
    the loop that calls one fused step per group.

    A subclass names its optimizer's spec (``_spec``, from ``fastopt._optim_specs``), which
    gives the groups' checks, the state and the fused step, and passes its constructor's
    arguments as ``defaults`` (``_defaults``); LBFGS has no spec and its own ``step``. The
    API (param groups, ``state``, ``step(grads)``, ``state_dict``) is the module's, above.

    Parameters
    ----------
    params : iterable of ndarray, or of dict
        The arrays to optimize (updated in place), or param groups: dicts with ``'params'``
        and any hyper-parameters that override ``defaults``.
    defaults : dict
        The hyper-parameters of every group that does not set its own.

    Raises
    ------
    TypeError, ValueError
        An empty or ill-formed params list, a param that is not a C-contiguous, aligned,
        writeable ndarray of an accepted dtype, a param in two groups, or a hyper-parameter
        out of range (torch.optim's messages).

    Examples
    --------
    Param groups, a step with a skipped param, and a checkpoint saved to one file:

    >>> import numpy as np, os, tempfile
    >>> from fastopt.optim import SGD, save_state_dict, load_state_dict_file
    >>> w, b = np.ones(3, np.float32), np.zeros(1, np.float32)
    >>> opt = SGD([{"params": [w]}, {"params": [b], "momentum": 0.9}], lr=0.5)
    >>> [g["momentum"] for g in opt.param_groups]
    [0, 0.9]
    >>> results = opt.step([np.ones(3, np.float32), None])  # b has no grad: skipped
    >>> w, b
    (array([0.5, 0.5, 0.5], dtype=float32), array([0.], dtype=float32))
    >>> with tempfile.TemporaryDirectory() as d:
    ...     save_state_dict(os.path.join(d, "opt.npz"), opt.state_dict())
    ...     opt.load_state_dict(load_state_dict_file(os.path.join(d, "opt.npz")))
    >>> opt.param_groups[1]["lr"]
    0.5
    """

    _spec: Optional[OptimSpec] = None

    def __init__(self, params, defaults: Dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.state = _ParamState()
        self.param_groups: List[Dict[str, Any]] = []
        if isinstance(params, np.ndarray):
            raise TypeError("params argument given to the optimizer should be an iterable of arrays or dicts, but got an ndarray")
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)
        if self._spec is not None and self._spec.eager_state:  # torch's Adagrad
            for group in self.param_groups:
                for p in group["params"]:
                    self._param_state(p, group)

    @staticmethod
    def _defaults(spec: OptimSpec, args: Dict[str, Any]) -> Dict[str, Any]:
        """A class's ``defaults`` from its constructor's arguments (``locals()``): the spec's
        group hyper-parameters and ``max_grad_norm``; ``betas`` as a tuple."""
        defaults = {name: args[name] for name in spec.group_defaults()}
        defaults["max_grad_norm"] = args["max_grad_norm"]
        if "betas" in defaults:
            defaults["betas"] = _pair(defaults["betas"])
        return defaults

    # ---------------------------------------------------------------------------- groups

    def _validate(self, group: Dict[str, Any]) -> None:
        """The spec's checks of a group (torch's messages), and of ``max_grad_norm``."""
        if self._spec is not None:
            self._spec.validate("", group)
            _hyper.check_max_grad_norm("", group["max_grad_norm"])

    def add_param_group(self, param_group: Dict[str, Any]) -> None:
        """Add a group: a dict with ``'params'`` (an ndarray or a list of them) and any
        hyper-parameters to override; the others come from ``defaults``. The group is
        checked before it is added."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, np.ndarray):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering of tensors in sets will change between runs. Please use a list instead.")
        else:
            params = list(params)
        for i, p in enumerate(params):
            _check_param(p, f"params[{i}]")
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids):
            raise ValueError("optimizer contains a parameter group with duplicate parameters")
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if existing & set(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        group = dict(param_group)
        group["params"] = params
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        self._validate(group)
        self.param_groups.append(group)

    def _all_params(self) -> List[np.ndarray]:
        return [p for g in self.param_groups for p in g["params"]]

    # ---------------------------------------------------------------------------- step

    def _param_state(self, p: np.ndarray, group: Dict[str, Any]) -> Dict[str, Any]:
        """``state[p]``, made if it is empty: ``step`` 0 and the spec's entries that exist for
        the group (at their initial value, in the param's state dtype; an entry set from the
        first grad is None until then), and a float32 master copy of a low-precision param."""
        st = self.state[p]
        if len(st) == 0:
            spec = self._spec
            if spec.step:
                st["step"] = 0
            for s in spec.states:
                if s.exists(group):
                    st[s.key] = None if s.from_grad else np.full(p.shape, s.initial(group), dtype=_state_dtype(p))
            if _is_low(p.dtype):
                st["master_param"] = _bits_to_f32(p)
        return st

    def _fused_step(self, group, params, grads, states, common) -> Any:
        """One call of the spec's step (``fastopt.functional``'s path) for ``params``. An entry
        set from the first grad gets zeros and ``first_step`` where it is None; if the call
        raises, those are None again."""
        spec = spec_for_group(self._spec, group)
        lists: List[Optional[list]] = []
        first: Any = False
        made: List[tuple] = []
        for s in spec.states:
            if not s.exists(group):
                lists.append(None)
                continue
            if s.from_grad:
                first = [st.get(s.key) is None for st in states]
                for p, st, f in zip(params, states, first):
                    if f:
                        st[s.key] = np.zeros(p.shape, dtype=_state_dtype(p))
                        made.append((st, s.key))
            lists.append([st[s.key] for st in states])
        step = [st["step"] for st in states] if spec.takes_step else 1
        try:
            return _step(spec, params, grads, lists, group, step=step, first=first, **common)
        except BaseException:
            for st, key in made:
                st[key] = None
            raise

    def _split_grads(self, grads) -> List[List[Optional[np.ndarray]]]:
        n = sum(len(g["params"]) for g in self.param_groups)
        if isinstance(grads, np.ndarray):
            grads = [grads]
        grads = list(grads)
        if len(grads) != n:
            raise ValueError(f"step() got {len(grads)} grads for {n} params (one per param of all groups, in order; None to skip)")
        out, k = [], 0
        for g in self.param_groups:
            out.append(grads[k:k + len(g["params"])])
            k += len(g["params"])
        for gi, (group, gg) in enumerate(zip(self.param_groups, out)):
            for pi, (p, g) in enumerate(zip(group["params"], gg)):
                if g is None:
                    continue
                if not isinstance(g, np.ndarray):
                    raise TypeError(f"grad of param_groups[{gi}]['params'][{pi}] must be an ndarray or None, got {type(g).__name__}")
                if g.shape != p.shape:
                    raise ValueError(f"grad of param_groups[{gi}]['params'][{pi}] has shape {g.shape}, the param has {p.shape}")
        return out

    def step(self, grads, *, grad_scale: Optional[float] = None, found_inf: Optional[np.ndarray] = None):
        """Apply one update.

        Parameters
        ----------
        grads : ndarray or sequence of ndarray or None
            One grad per param over all groups in order, of its param's shape (None: that
            param is skipped, its state untouched).
        grad_scale : float, optional
            Passed to every fused call: the grads are divided by it as they are read (AMP).
        found_inf : ndarray, optional
            Passed to every fused call: a one-element float32 array; a call that finds it
            nonzero or meets an inf/NaN grad sets it to 1 and changes nothing, and its params'
            step counts are not advanced. See the documentation's page "The multi-tensor
            optimizer step API".

        Returns
        -------
        list of StepResult
            One per fused call (per group, and per param dtype within a group).
        """
        per_group = self._split_grads(grads)
        calls = []  # (group, params, grads): one fused call per group and param dtype
        for group, gg in zip(self.param_groups, per_group):
            by_dtype: Dict[str, list] = {}
            for p, g in zip(group["params"], gg):
                if g is not None:
                    by_dtype.setdefault(_dtype_key(p.dtype), []).append((p, g))
            calls.extend((group, [p for p, _ in chunk], [g for _, g in chunk]) for chunk in by_dtype.values())
        clip = self._clip_plan(calls, grad_scale)
        results = []
        for (group, params, grads_), (common, norm) in zip(calls, clip):
            if found_inf is not None:
                common["found_inf"] = found_inf
            res = self._fused_call(group, params, grads_, common)
            if res is not None and norm is not None:
                res = StepResult(norm, res.found_inf, res.skipped)
            results.append(res)
        return results

    def _clip_plan(self, calls, grad_scale):
        """Each call's clipping and scaling (``max_grad_norm`` / ``grad_scale`` for ``_step``), and
        the global norm to report (None: the call's own). ``max_grad_norm`` clips by the norm of
        all grads the step reads, as ``torch.nn.utils.clip_grad_norm_(all params)``: with one call
        the kernel's fused norm pass does it; with several (groups, or param dtypes in a group)
        the norm comes first, read-only, and each call divides its grads by ``grad_scale /
        coefficient`` as it reads them. A non-finite norm clips each call by its own norm (the
        params whose grads hold the inf or NaN become NaN, as with torch)."""
        base = {} if grad_scale is None else {"grad_scale": grad_scale}
        limits = [group.get("max_grad_norm") for group, _, _ in calls]
        for limit in limits:
            _hyper.check_max_grad_norm("", limit)
        if len(calls) <= 1 or all(limit is None for limit in limits):
            return [(dict(base, max_grad_norm=limit), None) for limit in limits]
        _hyper.check_grad_scale("", grad_scale)
        scale = 1.0 if grad_scale is None else float(grad_scale)
        norm = math.sqrt(sum(_sum_squares(g) for _, _, gs in calls for g in gs)) / scale
        plan = []
        for limit in limits:
            if limit is not None and not math.isfinite(norm):
                plan.append((dict(base, max_grad_norm=limit), norm))
                continue
            coef = 1.0 if limit is None else min(1.0, float(limit) / (norm + _hyper.CLIP_EPS))
            plan.append(({"grad_scale": scale / coef} if coef != 1.0 or grad_scale is not None else {}, norm))
        return plan

    def _fused_call(self, group, params, grads, common):
        """One fused call over ``params`` (one dtype) with their state; a call that raises, or
        is skipped (found_inf), leaves the state and step counts as they were."""
        new = [p for p in params if len(self.state.get(p) or {}) == 0]
        saved_steps = {id(p): self.state[p].get("step") for p in params}
        try:
            for p in params:
                st = self._param_state(p, group)
                if "step" in st:
                    st["step"] += 1
            states = [self.state[p] for p in params]
            if any(_is_low(p.dtype) for p in params):
                common["master_params"] = [s.get("master_param") for s in states]
            res = self._fused_step(group, params, grads, states, common)
        except BaseException:
            for p in params:  # a call that raises changes nothing
                if any(p is q for q in new):
                    del self.state[p]
                elif saved_steps[id(p)] is not None:
                    self.state[p]["step"] = saved_steps[id(p)]
            raise
        if res is not None and res.skipped:
            for p in params:
                if saved_steps[id(p)] is not None:
                    self.state[p]["step"] = saved_steps[id(p)]
        return res

    # ---------------------------------------------------------------------------- state_dict

    def state_dict(self) -> Dict[str, Any]:
        """``{'state': {index: {name: value}}, 'param_groups': [{..., 'params': [index, ...]}]}``
        with copies of every array (a snapshot). fastopt.torch's classes load it as it is;
        ``torch.optim``'s take tensors: load ``fastopt.torch.to_torch_state_dict(sd)`` there."""
        index: Dict[int, int] = {}
        groups = []
        k = 0
        for g in self.param_groups:
            packed = {name: copy.deepcopy(v) for name, v in g.items() if name != "params"}
            packed["params"] = list(range(k, k + len(g["params"])))
            for p in g["params"]:
                index[id(p)] = k
                k += 1
            groups.append(packed)
        state = {}
        for p, s in self.state.items():
            if id(p) in index and len(s):
                state[index[id(p)]] = {name: (v.copy() if isinstance(v, np.ndarray) else copy.deepcopy(v)) for name, v in s.items()}
        return {"state": dict(sorted(state.items())), "param_groups": groups}

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        """Load a ``state_dict()`` (or ``load_state_dict_file``) into this optimizer, whose
        groups must have the same sizes. Everything is checked before anything changes.
        A torch.optim state_dict of the same optimizer loads too (its tensors are converted)."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(self.param_groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match the size of optimizer's group")
        id_map: Dict[int, np.ndarray] = {}
        for g, s in zip(self.param_groups, saved_groups):
            for idx, p in zip(s["params"], g["params"]):
                id_map[int(idx)] = p
        new_state = {}
        for idx, s in state_dict["state"].items():
            idx = int(idx)
            if idx not in id_map:
                raise ValueError(f"state dict has state for param index {idx}, which no group lists")
            p = id_map[idx]
            st = {}
            for name, v in s.items():
                if hasattr(v, "detach") and hasattr(v, "numpy"):  # a torch.Tensor (torch's state_dict)
                    v = v.detach().cpu().numpy()
                if isinstance(v, np.ndarray) and name != "step":
                    want = _F32 if (_is_low(p.dtype) or name == "master_param") else p.dtype
                    if v.shape != p.shape:
                        raise ValueError(f"state[{idx}][{name!r}] has shape {v.shape}, the param has {p.shape}")
                    st[name] = np.array(v, dtype=want, copy=True, order="C")
                elif name == "step":
                    st[name] = int(v)
                else:
                    st[name] = copy.deepcopy(v)
            new_state[idx] = (p, st)
        new_groups = []
        for g, s in zip(self.param_groups, saved_groups):
            ng = {name: copy.deepcopy(v) for name, v in s.items() if name != "params"}
            for name, default in self.defaults.items():  # e.g. max_grad_norm, absent from torch's
                ng.setdefault(name, default)
            ng["params"] = g["params"]
            new_groups.append(ng)
        self.state.clear()
        for p, st in new_state.values():
            self.state[p] = st
        self.param_groups = new_groups

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Nothing to do: grads are passed to ``step``. Kept for torch-shaped training loops."""

    def __repr__(self) -> str:
        lines = [self.__class__.__name__ + " ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(g):
                if k != "params":
                    lines.append(f"    {k}: {g[k]}")
        lines.append(")")
        return "\n".join(lines)


# -------------------------------------------------------------------------------- npz files


def _encode(obj):
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v) for v in obj]
    if isinstance(obj, dict):
        return {"__dict__": [[_encode(k), _encode(v)] for k, v in obj.items()]}
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, float) and not np.isfinite(obj):
        return {"__float__": repr(obj)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot save a value of type {type(obj).__name__} in a state dict file")


def _decode(obj):
    if isinstance(obj, list):
        return [_decode(v) for v in obj]
    if isinstance(obj, dict):
        if "__tuple__" in obj:
            return tuple(_decode(v) for v in obj["__tuple__"])
        if "__float__" in obj:
            return float(obj["__float__"])
        if "__dict__" in obj:
            return {_decode(k): _decode(v) for k, v in obj["__dict__"]}
    return obj


def save_state_dict(path, state_dict: Dict[str, Any]) -> None:
    """Save an optimizer's or scheduler's ``state_dict()`` to ``path`` with ``np.savez``.

    Arrays in ``state`` are stored as ``state/<index>/<name>`` entries (exact bits, any dtype;
    a list of arrays, as LBFGS's history, as ``state/<index>/<name>/<j>``);
    everything else (param groups, step counts, scheduler fields) as one JSON string, so the
    file loads with ``allow_pickle=False``. ``load_state_dict_file(path)`` gives it back.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write (``np.savez`` adds ``.npz`` when the name lacks it).
    state_dict : dict
        What an optimizer's or lr scheduler's ``state_dict()`` returned.

    Raises
    ------
    TypeError
        A value that is neither an array nor JSON-representable (numbers, strings, None,
        tuples, lists, dicts).

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from fastopt.optim import Adam, save_state_dict, load_state_dict_file
    >>> w = np.ones(2, np.float32)
    >>> opt = Adam([w])
    >>> results = opt.step([np.ones(2, np.float32)])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     save_state_dict(os.path.join(d, "adam.npz"), opt.state_dict())
    ...     sd = load_state_dict_file(os.path.join(d, "adam.npz"))
    >>> sd["state"][0]["step"], sd["state"][0]["exp_avg"].dtype
    (1, dtype('float32'))
    """
    arrays: Dict[str, np.ndarray] = {}
    meta_state = {}
    for idx, s in state_dict.get("state", {}).items() if isinstance(state_dict.get("state"), dict) else []:
        entry = {}
        for name, v in s.items():
            if isinstance(v, np.ndarray):
                key = f"state/{int(idx)}/{name}"
                arrays[key] = v
                entry[name] = {"__array__": key}
            elif isinstance(v, list) and v and all(isinstance(a, np.ndarray) for a in v):
                keys = [f"state/{int(idx)}/{name}/{j}" for j in range(len(v))]
                arrays.update(zip(keys, v))
                entry[name] = {"__array_list__": keys}
            else:
                entry[name] = _encode(v)
        meta_state[str(int(idx))] = entry
    rest = {k: v for k, v in state_dict.items() if k != "state"}
    meta = {"state": meta_state if "state" in state_dict else None, "rest": _encode(rest)}
    np.savez(path, __meta__=np.array(json.dumps(meta)), **arrays)


def load_state_dict_file(path) -> Dict[str, Any]:
    """Load what ``save_state_dict`` wrote; the result goes to ``load_state_dict``.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :func:`save_state_dict` (read with ``allow_pickle=False``).

    Returns
    -------
    dict
        The state dict, arrays as ndarrays of their saved dtypes.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from fastopt.optim import SGD, save_state_dict, load_state_dict_file
    >>> opt = SGD([np.ones(2)], lr=0.1, momentum=0.9)
    >>> results = opt.step([np.ones(2)])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     save_state_dict(os.path.join(d, "sgd.npz"), opt.state_dict())
    ...     sd = load_state_dict_file(os.path.join(d, "sgd.npz"))
    >>> sd["state"][0]["momentum_buffer"]
    array([1., 1.])
    """
    with np.load(path, allow_pickle=False) as f:
        meta = json.loads(str(f["__meta__"]))
        out = _decode(meta["rest"])
        if meta["state"] is not None:
            state = {}
            for idx, entry in meta["state"].items():
                st = {}
                for name, v in entry.items():
                    if isinstance(v, dict) and "__array__" in v:
                        st[name] = np.array(f[v["__array__"]])
                    elif isinstance(v, dict) and "__array_list__" in v:
                        st[name] = [np.array(f[k]) for k in v["__array_list__"]]
                    else:
                        st[name] = _decode(v)
                state[int(idx)] = st
            out["state"] = state
    return out


# -------------------------------------------------------------------------------- validation
# The hyper-parameter checks (torch.optim's rules and messages) are in fastopt._hyper, shared
# with fastopt.functional and fastopt.torch; these are the classes' own.


def _pair(betas):
    """``betas`` as a tuple when it is a sequence; anything else is left for the check to refuse
    by name (``tuple(0.9)`` would be a bare "not iterable", ``tuple("ab")`` a pair of strings)."""
    if isinstance(betas, (str, bytes)):
        return betas
    try:
        return tuple(betas)
    except TypeError:
        return betas


def _check_unsupported(differentiable=False, capturable=False, fused=None) -> None:
    if differentiable:
        raise ValueError("differentiable=True is not supported by fastopt.optim (NumPy arrays have no autograd)")
    if capturable:
        raise ValueError("capturable=True is not supported by fastopt.optim (CPU only)")
    if fused:
        raise ValueError("fused=True is torch's device kernel; fastopt.optim always runs its fused CPU step")


def _state_dtype(p: np.ndarray) -> np.dtype:
    """float32 for low-precision params (their state lives beside the float32 master)."""
    return _F32 if _is_low(p.dtype) else p.dtype
