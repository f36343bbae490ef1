"""The optimizers under test, from their specs (fastopt._optim_specs): one row per optimizer,
and the domain each hyper-parameter is drawn from. A new optimizer's spec puts it in every test
that reads this table; a hyper-parameter with no domain here fails `random_options` loudly."""

from __future__ import annotations

import inspect
from typing import Any, Callable, Dict, List

import fastopt.optim

from fastopt._optim_specs import SPECS, OptimSpec

NAMES: List[str] = sorted(SPECS)  # the kernels: "adam", ...


def state_lists(name: str) -> List[str]:
    """The step's state list arguments, in order (``exp_avgs``, ...)."""
    return [s.arg for s in SPECS[name].states]


def takes_step(name: str) -> bool:
    return SPECS[name].takes_step


def first_step_flag(name: str) -> bool:
    """The step takes ``first_step`` (a state that starts from the first grad, SGD's buffer)."""
    return any(s.from_grad for s in SPECS[name].states)


def every_state_options(name: str) -> Dict[str, Any]:
    """Options under which every state entry of ``name`` exists (amsgrad=True, momentum=0.9, ...),
    plus ``step=1`` where the step takes one."""
    opts: Dict[str, Any] = {"step": 1} if takes_step(name) else {}
    for s in SPECS[name].states:
        if s.when is not None:
            hyper, _, test = s.when.partition(" ")
            opts[hyper] = True if not test else 0.9
    return opts


# State lists that hold non-negative values (second moments, sums of squares, infinity norms):
# tests fill them with |random| values. A new optimizer's such state belongs here.
NONNEGATIVE_STATES = {"state_sums", "square_avgs", "exp_avg_sqs", "max_exp_avg_sqs", "exp_infs"}


def call_options(name: str) -> Dict[str, Any]:
    """Options for one call of ``name``'s step that use every state list, with a nonzero
    weight decay and a learning rate."""
    opts = dict(every_state_options(name), lr=0.01)
    if "weight_decay" in SPECS[name].hypers:
        opts["weight_decay"] = 0.01
    if opts.get("nesterov") is None and "nesterov" in SPECS[name].hypers:
        opts["nesterov"] = True  # with momentum 0.9 and no dampening: torch's rule holds
    return opts


def option_sets(name: str) -> List[Dict[str, Any]]:
    """Class options that make each conditional state entry exist, alone and all together
    (and none), plus each boolean class option flipped (Adam's decoupled_weight_decay)."""
    spec = SPECS[name]
    singles = []
    for s in spec.states:
        if s.when is not None:
            hyper, _, test = s.when.partition(" ")
            singles.append({hyper: True if not test else 0.5})
    sets: List[Dict[str, Any]] = [{}] + singles
    if len(singles) > 1:
        sets.append({k: v for d in singles for k, v in d.items()})
    takes = inspect.signature(getattr(fastopt.optim, spec.cls)).parameters
    sets += [{k: not v} for k, v in spec.class_hypers.items() if isinstance(v, bool) and k in takes]
    return sets


def real_hypers(name: str) -> List[str]:
    """The real-valued hyper-parameters of ``name`` (not betas, not the flags)."""
    return [h for h, v in SPECS[name].hypers.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]


def _pair(rng, lo0, hi0, lo1, hi1):
    return (float(rng.uniform(lo0, hi0)), float(rng.uniform(lo1, hi1)))


# hyper-parameter -> rng -> a value worth testing (lr is chosen per optimizer: LR below)
DOMAINS: Dict[str, Callable[[Any], Any]] = {
    "weight_decay": lambda rng: float(rng.choice([0.0, 10 ** rng.uniform(-4, -1)])),
    "maximize": lambda rng: bool(rng.integers(2)),
    "momentum": lambda rng: float(rng.choice([0.0, rng.uniform(0.1, 0.95)])),
    "dampening": lambda rng: float(rng.uniform(0, 0.5)),
    "nesterov": lambda rng: bool(rng.integers(2)),
    "lr_decay": lambda rng: float(rng.uniform(0, 0.1)),
    "eps": lambda rng: float(10 ** rng.uniform(-8, -4)),
    "alpha": lambda rng: float(rng.uniform(0.8, 0.999)),
    "centered": lambda rng: bool(rng.integers(2)),
    "betas": lambda rng: _pair(rng, 0.5, 0.99, 0.9, 0.9999),
    "amsgrad": lambda rng: bool(rng.integers(2)),
    "bias_correction": lambda rng: bool(rng.integers(2)),
}
LR = {"lion": 1e-3, "adagrad": 0.05}  # else 0.01
# Per-optimizer narrowings of a domain (Lion's betas: beta1 < beta2 as its paper uses them).
OVERRIDES: Dict[str, Dict[str, Callable[[Any], Any]]] = {
    "lion": {"betas": lambda rng: _pair(rng, 0.8, 0.95, 0.95, 0.999)},
}


def random_options(name: str, rng) -> Dict[str, Any]:
    """Random hyper-parameters for ``name``'s functional step, every option of its spec drawn
    from its domain (torch's rules kept: Nesterov needs momentum > 0 and no dampening)."""
    spec: OptimSpec = SPECS[name]
    opts: Dict[str, Any] = {"lr": LR.get(name, 0.01)}
    for hyper in spec.hypers:
        if hyper == "lr":
            continue
        draw = OVERRIDES.get(name, {}).get(hyper) or DOMAINS.get(hyper)
        if draw is None:
            raise KeyError(f"tests/_optim_table.py: no domain for {name}'s hyper-parameter {hyper!r}")
        opts[hyper] = draw(rng)
    if opts.get("nesterov"):
        if opts.get("momentum", 0) == 0:
            opts["momentum"] = 0.9
        opts["dampening"] = 0.0
    return opts
