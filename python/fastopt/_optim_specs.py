"""One spec per optimizer: everything the Python layers know about it, defined once.

``fastopt.functional`` (the ``*_`` steps), ``fastopt.optim`` (the classes over NumPy arrays) and
``fastopt.torch`` (the torch.optim subclasses) all read these specs: the kernel's name, the
hyper-parameters and their defaults (torch.optim 2.13's for the optimizers torch has), the state
entries with torch's ``state_dict`` keys, when each exists and how it starts, the hyper-parameter
check (``fastopt._hyper``), how a param group becomes the kernel's hyper dict, and the formula
the docstrings show. Adding an optimizer is one C++ rule, one ``OptimSpec`` entry here, and a
functional step and a class per layer that name the spec (tests/test_optim_specs.py checks
that each layer agrees with it).

A *group* below is any mapping from hyper-parameter names to values: a param group of a class,
or the keyword arguments of a functional step.
"""

from __future__ import annotations

import inspect
import numbers
import textwrap
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from . import _hyper

__all__ = ["State", "OptimSpec", "SPECS", "SGD", "ADAGRAD", "RMSPROP", "ADAM", "ADAMW", "ADAMAX", "LION", "LAMB",
           "spec_for_group", "scalar"]

_PLAIN = (float, int, bool)


def scalar(x: Any) -> Any:
    """A checked hyper-parameter as a Python scalar (a 1-element array or tensor by ``.item()``)."""
    if type(x) in _PLAIN or isinstance(x, numbers.Number) or not hasattr(x, "item"):
        return x
    return x.item()


# A state entry's condition: "<hyper>" (true), "<hyper> != 0" or "<hyper> > 0".
_TESTS: Dict[str, Callable[[Any], bool]] = {"": bool, "!= 0": lambda v: v != 0, "> 0": lambda v: v > 0}


@dataclass(frozen=True)
class State:
    """One per-param state entry, in the kernel's order of state lists.

    ``key``: torch's ``state_dict`` key (``exp_avg``); ``arg``: the functional step's argument
    and the kernel's list name (``exp_avgs``); ``when``: the condition under which it exists
    (``"amsgrad"``, ``"momentum != 0"``, ``"momentum > 0"``; None: always); ``init``: its
    initial value, a number or the name of the hyper-parameter that holds it; ``from_grad``:
    it has no value until the first step, which sets it from the grad (SGD's momentum buffer,
    torch's ``clone``; the kernel is told by ``first_step``).
    """

    key: str
    arg: str
    when: Optional[str] = None
    init: Any = 0.0
    from_grad: bool = False
    _hyper_name: str = field(init=False, repr=False, compare=False)
    _test: Callable[[Any], bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        name, _, test = (self.when or "").partition(" ")
        object.__setattr__(self, "_hyper_name", name)
        object.__setattr__(self, "_test", _TESTS[test])

    def exists(self, group: Mapping[str, Any]) -> bool:
        return self.when is None or self._test(group[self._hyper_name])

    def initial(self, group: Mapping[str, Any]) -> float:
        return group[self.init] if isinstance(self.init, str) else self.init


@dataclass(frozen=True, eq=False)
class OptimSpec:
    """One optimizer, as every layer sees it.

    * ``kernel``: the kernel's name (``fastopt._core.optimizer_step``), and the functional
      step's (``<kernel>_``).
    * ``cls``: the class name in ``fastopt.optim`` and ``fastopt.torch`` (and ``torch.optim``,
      when ``in_torch``).
    * ``hypers``: the step's hyper-parameters with their defaults, in the functional step's
      keyword order; the kernel reads each (``betas`` as ``beta1``, ``beta2``).
    * ``class_hypers``: what a class's param group holds besides (Adagrad's
      ``initial_accumulator_value``, Adam's ``decoupled_weight_decay``), with defaults.
    * ``torch_options``: torch.optim's options that fastopt.torch keeps in its groups
      (``foreach``, ...) with torch's defaults; the kernel reads none of them.
    * ``states``: the state entries, in the kernel's order; ``step``: the state has torch's
      ``step`` counter (``takes_step``: the functional step takes ``step=``).
    * ``eager_state``: the state is made at construction (torch's Adagrad), not at the first step.
    * ``check``: the hyper-parameter check (``fastopt._hyper.check_*``, torch's rules and messages).
    * ``decoupled``: Adam's family only: AdamW's decoupled weight decay (the kernel's flag).
      A group's ``decoupled_weight_decay`` picks the spec with that value (``spec_for_group``).
    * ``formula``: the update, as the docstrings show it.
    """

    kernel: str
    cls: str
    hypers: Dict[str, Any]
    states: Tuple[State, ...]
    check: Callable[..., None]
    formula: str
    step: bool = True
    takes_step: bool = True
    class_hypers: Dict[str, Any] = field(default_factory=dict)
    torch_options: Dict[str, Any] = field(default_factory=dict)
    in_torch: bool = True
    eager_state: bool = False
    decoupled: Optional[bool] = None
    _checked: Tuple[str, ...] = field(init=False, repr=False)
    _options: Tuple[str, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        params = [n for n in inspect.signature(self.check).parameters if n != "where"]
        hypers = self.group_defaults()
        object.__setattr__(self, "_checked", tuple(n for n in params if n in hypers))
        object.__setattr__(self, "_options", tuple(n for n in params if n not in hypers))

    # ---- what a group holds ---------------------------------------------------------------------
    def group_defaults(self) -> Dict[str, Any]:
        """The hyper-parameters of a param group, with their defaults (no torch options)."""
        return {**self.hypers, **self.class_hypers}

    def torch_defaults(self) -> Dict[str, Any]:
        """``torch.optim.<cls>(params).defaults`` (torch 2.13), or fastopt.torch's for Lion/LAMB."""
        return {**self.group_defaults(), **self.torch_options}

    def state_keys(self, group: Mapping[str, Any]) -> List[Optional[str]]:
        """torch's key of each state entry of ``group``, in the kernel's order (None: absent)."""
        return [s.key if s.exists(group) else None for s in self.states]

    # ---- what the kernel gets -------------------------------------------------------------------
    def validate(self, where: str, group: Mapping[str, Any], **options: Any) -> None:
        """The check of ``group``'s hyper-parameters (those it holds), messages prefixed by
        ``where``. ``options``: the check's options, passed where the check has them
        (``reject_nan`` is SGD's, ``torch_beta_types`` Adam's)."""
        self.check(where, **{k: group[k] for k in self._checked if k in group},
                   **{k: v for k, v in options.items() if k in self._options})

    def kernel_hyper(self, group: Mapping[str, Any]) -> Dict[str, Any]:
        """The kernel's hyper dict: each hyper-parameter as a Python scalar, ``betas`` split."""
        h: Dict[str, Any] = {}
        for name in self.hypers:
            v = group[name]
            if name == "betas":
                h["beta1"], h["beta2"] = scalar(v[0]), scalar(v[1])
            else:
                h[name] = scalar(v)
        if self.decoupled is not None:
            h["decoupled"] = self.decoupled
        return h

    def kernel_states(self, group: Mapping[str, Any], lists: Sequence[Any]) -> List[Tuple[str, Any]]:
        """The kernel's state lists: ``(arg, list)`` per entry, the list None where it does not exist."""
        return [(s.arg, lst if s.exists(group) else None) for s, lst in zip(self.states, lists)]


_COMMON_FLAGS = dict(foreach=None, differentiable=False, fused=None)  # SGD's and Adagrad's

SGD = OptimSpec(
    kernel="sgd", cls="SGD",
    hypers=dict(lr=1e-3, momentum=0, dampening=0, nesterov=False, weight_decay=0, maximize=False),
    states=(State("momentum_buffer", "momentum_buffers", when="momentum != 0", from_grad=True),),
    step=False, takes_step=False,
    torch_options=_COMMON_FLAGS,
    check=_hyper.check_sgd,
    formula="``g = -g if maximize; g += weight_decay * p; buf = momentum * buf + (1 - dampening) * g``\n"
            "(``buf = g`` where ``first_step``); ``g = g + momentum * buf`` if nesterov else ``buf``;\n"
            "``p -= lr * g``.",
)

ADAGRAD = OptimSpec(
    kernel="adagrad", cls="Adagrad",
    hypers=dict(lr=1e-2, lr_decay=0, weight_decay=0, eps=1e-10, maximize=False),
    class_hypers=dict(initial_accumulator_value=0),
    states=(State("sum", "state_sums", init="initial_accumulator_value"),),
    eager_state=True,
    torch_options=_COMMON_FLAGS,
    check=_hyper.check_adagrad,
    formula="``g = -g if maximize; g += weight_decay * p; sum += g * g;\n"
            "p -= lr / (1 + (step - 1) * lr_decay) * g / (sqrt(sum) + eps)``.",
)

RMSPROP = OptimSpec(
    kernel="rmsprop", cls="RMSprop",
    hypers=dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, maximize=False),
    states=(State("square_avg", "square_avgs"),
            State("grad_avg", "grad_avgs", when="centered"),
            State("momentum_buffer", "momentum_buffers", when="momentum > 0")),
    takes_step=False,
    torch_options=dict(capturable=False, foreach=None, differentiable=False),
    check=_hyper.check_rmsprop,
    formula="``g = -g if maximize; g += weight_decay * p; sq = alpha * sq + (1 - alpha) * g * g``;\n"
            "centered: ``ga = lerp(ga, g, 1 - alpha); avg = sqrt(sq - ga * ga) + eps``, else\n"
            "``avg = sqrt(sq) + eps``; with momentum ``buf = momentum * buf + g / avg; p -= lr * buf``,\n"
            "else ``p -= lr * g / avg``.",
)

_ADAM_STATES = (State("exp_avg", "exp_avgs"), State("exp_avg_sq", "exp_avg_sqs"),
                State("max_exp_avg_sq", "max_exp_avg_sqs", when="amsgrad"))
_ADAM_OPTIONS = dict(foreach=None, capturable=False, differentiable=False, fused=None)

ADAM = OptimSpec(
    kernel="adam", cls="Adam",
    hypers=dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, maximize=False),
    class_hypers=dict(decoupled_weight_decay=False),
    states=_ADAM_STATES,
    torch_options=_ADAM_OPTIONS,
    check=_hyper.check_adam,
    decoupled=False,
    formula="``g = -g if maximize; g += weight_decay * p; m = lerp(m, g, 1 - beta1);\n"
            "v = beta2 * v + (1 - beta2) * g * g`` (amsgrad: ``v = vmax = max(vmax, v)``);\n"
            "``p -= lr / (1 - beta1**step) * m / (sqrt(v) / sqrt(1 - beta2**step) + eps)``.",
)

ADAMW = OptimSpec(
    kernel="adamw", cls="AdamW",
    hypers=dict(ADAM.hypers, weight_decay=1e-2),
    class_hypers=dict(decoupled_weight_decay=True),
    states=_ADAM_STATES,
    torch_options=_ADAM_OPTIONS,
    check=_hyper.check_adam,
    decoupled=True,
    formula="``p *= 1 - lr * weight_decay`` first, then Adam's update without the L2 term.",
)

ADAMAX = OptimSpec(
    kernel="adamax", cls="Adamax",
    hypers=dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, maximize=False),
    states=(State("exp_avg", "exp_avgs"), State("exp_inf", "exp_infs")),
    torch_options=dict(foreach=None, differentiable=False, capturable=False),
    check=_hyper.check_adamax,
    formula="``g = -g if maximize; g += weight_decay * p; m = lerp(m, g, 1 - beta1);\n"
            "u = max(beta2 * u, |g| + eps); p -= lr / (1 - beta1**step) * m / u``.",
)

LION = OptimSpec(
    kernel="lion", cls="Lion",
    hypers=dict(lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, maximize=False),
    states=(State("exp_avg", "exp_avgs"),),
    step=False, takes_step=False, in_torch=False,
    check=_hyper.check_lion,
    formula="``c = beta1 * m + (1 - beta1) * g;\n"
            "p = p * (1 - lr * weight_decay) - lr * sign(c); m = beta2 * m + (1 - beta2) * g``.",
)

LAMB = OptimSpec(
    kernel="lamb", cls="LAMB",
    hypers=dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0, bias_correction=True,
                maximize=False),
    states=(State("exp_avg", "exp_avgs"), State("exp_avg_sq", "exp_avg_sqs")),
    in_torch=False,
    check=_hyper.check_lamb,
    formula="per tensor: Adam's moments, then\n"
            "``u = m_hat / (sqrt(v_hat) + eps) + weight_decay * p``, ``r = ||p|| / ||u||`` (1 if\n"
            "either is 0), ``p -= lr * r * u``.",
)

SPECS: Dict[str, OptimSpec] = {s.kernel: s for s in (SGD, ADAGRAD, RMSPROP, ADAM, ADAMW, ADAMAX, LION, LAMB)}
SPECS_BY_CLASS: Dict[str, OptimSpec] = {s.cls: s for s in SPECS.values()}


def spec_for_group(spec: OptimSpec, group: Mapping[str, Any]) -> OptimSpec:
    """The spec that steps ``group``: Adam's and AdamW's groups carry ``decoupled_weight_decay``
    (torch's Adam takes it too), which picks AdamW's update or Adam's; any other spec is itself."""
    if spec.decoupled is None:
        return spec
    decoupled = bool(group.get("decoupled_weight_decay", spec.decoupled))
    return spec if decoupled == spec.decoupled else (ADAMW if decoupled else ADAM)


# ---- docstrings ----------------------------------------------------------------------------------
# One text per parameter. fastopt.functional's steps (``_documented``) and fastopt.optim's classes
# (``class_doc``) assemble their numpydoc sections from these, with the defaults of the function
# or the spec, so a text is written once and a default never drifts from the code.

# hyper-parameters (a group's keys and the steps' keywords): (type, text)
PARAM_DOCS: Dict[str, Tuple[str, str]] = {
    "lr": ("float", "Learning rate."),
    "momentum": ("float", "Momentum factor (>= 0)."),
    "dampening": ("float", "Dampening of the momentum: the buffer takes ``(1 - dampening)`` of each grad."),
    "nesterov": ("bool", "Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``)."),
    "weight_decay": ("float", "Weight decay (>= 0), applied as the formula above shows."),
    "maximize": ("bool", "Maximize the objective: step along the gradient instead of against it."),
    "lr_decay": ("float", "Learning-rate decay: step ``t`` uses ``lr / (1 + (t - 1) * lr_decay)``."),
    "eps": ("float", "Added to the denominator, for numerical stability."),
    "alpha": ("float", "Smoothing constant of the running average of squared grads."),
    "centered": ("bool", "Centered RMSprop: normalise by an estimate of the grad's variance "
                         "(``sq - ga * ga``) instead of its second moment."),
    "betas": ("(float, float)", "``(beta1, beta2)``, each in [0, 1): the coefficients of the "
                                "running averages in the formula."),
    "amsgrad": ("bool", "AMSGrad: divide by the running maximum of ``v`` instead of ``v``."),
    "bias_correction": ("bool", "Divide the moments by ``1 - beta1**step`` and ``1 - beta2**step`` "
                                "(``m_hat``, ``v_hat``); False uses ``m`` and ``v`` as they are."),
    "initial_accumulator_value": ("float", "The value the ``sum`` state starts at (>= 0)."),
    "decoupled_weight_decay": ("bool", "AdamW's decoupled weight decay instead of the L2 term "
                                       "(``p *= 1 - lr * weight_decay`` before the update)."),
    "max_grad_norm": ("float", "Clip the grads by their global L2 norm to at most this (as "
                               "``torch.nn.utils.clip_grad_norm_``) inside the step: a read-only "
                               "pass computes the norm, then the update scales each grad as it "
                               "reads it; the grads themselves are not modified. Positive; inf "
                               "computes the norm and clips nothing; None: no clipping."),
}

# fastopt.optim's constructors take torch.optim's options too: (type, text)
OPTION_DOCS: Dict[str, Tuple[str, str]] = {
    "foreach": ("bool", "Accepted for torch.optim compatibility and ignored: every step is one "
                        "fused multi-tensor call."),
    "differentiable": ("bool", "Must be False: NumPy arrays have no autograd (True raises ValueError)."),
    "capturable": ("bool", "Must be False: CPU only (True raises ValueError)."),
    "fused": ("bool", "None or False: the step is always fastopt's fused CPU kernel (True, torch's "
                      "device kernel, raises ValueError)."),
}


def param_doc(name: str) -> Tuple[str, str]:
    """``(type, text)`` of a hyper-parameter or torch option; ``("", "")`` for a name that has
    no text yet, which leaves its docstring entry bare (the docstring tests refuse that)."""
    return PARAM_DOCS.get(name) or OPTION_DOCS.get(name) or ("", "")


def doc_head(name: str, kind: str, default: Any = inspect.Parameter.empty) -> str:
    """A numpydoc parameter line: ``name : kind``, then ``, optional`` (a None default),
    ``, default <value>`` or nothing (required); the bare name when ``kind`` is empty."""
    if not kind:
        return name
    if default is inspect.Parameter.empty:
        return f"{name} : {kind}"
    return f"{name} : {kind}, optional" if default is None else f"{name} : {kind}, default {default!r}"


def _wrap(text: str, indent: str = "") -> List[str]:
    return textwrap.wrap(text, 92, initial_indent=indent, subsequent_indent=indent,
                         break_long_words=False, break_on_hyphens=False)


def doc_section(title: str, rows: Sequence[Tuple[Optional[str], str]]) -> str:
    """A numpydoc section (``Parameters``, ``Notes``, ...) from ``(head, text)`` rows: the head
    on its line (``name : type``), the text wrapped below it, indented; a row without a head is
    a paragraph of its own."""
    lines = [title, "-" * len(title)]
    for head, text in rows:
        if head is None:
            lines += ([""] if len(lines) > 2 else []) + _wrap(text)
        else:
            lines += [head] + _wrap(text, "    ")
    return "\n".join(lines)


def state_doc(s: State) -> str:
    """How a state entry starts, for the docstrings."""
    if s.from_grad:
        return "set from the first step's (decayed) grad, as torch's clone"
    return f"starts at ``{s.init}``" if isinstance(s.init, str) else f"starts at {s.init:g}"


def class_doc(spec: OptimSpec, summary: str, example: str, notes: str = "", omit: Sequence[str] = ()) -> str:
    """The docstring of ``spec``'s fastopt.optim class: ``summary``, the formula, its
    constructor's parameters (the spec's hyper-parameters and torch options, with the spec's
    defaults, less ``omit``; then ``max_grad_norm``), the state it keeps, ``notes`` and the
    ``example`` (doctest lines)."""
    rows = [("params : iterable of ndarray, or of dict",
             "The arrays to optimize, updated in place (C-contiguous, aligned, writeable float32 or "
             "float64, or bfloat16/float16 with a float32 master copy in the state); or param "
             "groups: dicts with ``'params'`` and any hyper-parameters that override the ones below.")]
    hypers = [(n, d) for n, d in spec.group_defaults().items() if n not in omit]
    for name, default in hypers + list(spec.torch_options.items()):
        kind, text = param_doc(name)
        rows.append((doc_head(name, kind, default), text))
    kind, text = param_doc("max_grad_norm")
    rows.append((doc_head("max_grad_norm", kind, None), text + " A group option: the norm is over the grads of every group the step reads (as "
                 "``clip_grad_norm_(all params)``), and each group's own value sets its coefficient "
                 "(None: that group is not clipped)."))
    entries = (["``step`` (the update count)"] if spec.step else []) + [
        f"``{s.key}`` ({state_doc(s)}" + (f"; exists when ``{s.when}``)" if s.when else ")")
        for s in spec.states]
    made = "at construction, as torch's" if spec.eager_state else "at a param's first step"
    state = (f"State per param (``opt.state[p]``, torch's keys, made {made}): {', '.join(entries)}; "
             "and ``master_param``, the float32 copy of a bfloat16/float16 param.")
    notes_rows = [(None, state)] + ([(None, notes)] if notes else [])
    parts = [summary, spec.formula, doc_section("Parameters", rows), doc_section("Notes", notes_rows),
             doc_section("Examples", []) + "\n" + example.strip("\n")]
    return "\n\n".join(parts)
