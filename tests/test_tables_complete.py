"""Every registered kernel is in every table of kernels under test.

The suites are generated from tables (conftest's activation table, the fuzz families, the
torch oracle's rows, reliability_calls.CASES, the accuracy bounds, the bench's families); a
kernel left out of one of them is silently never checked there, and nothing else fails. This
file lists, per family, which public kernels each table covers and fails on any missing one.
The few deliberate gaps are written out in EXEMPT with the reason.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Callable, Dict, Set

import pytest

from fastopt import _core
from fastopt import functional as F

HERE = Path(__file__).parent

# The registry (_core.kernels(): every public kernel and its family), grouped as the test
# tables are.
GROUPS = {"activations": ("activation",), "losses": ("softmax", "loss", "dropout"), "optimizers": ("optimizer", "clip")}
FAMILIES: Dict[str, Set[str]] = {
    group: {name for name, family in _core.kernels() if family in families} for group, families in GROUPS.items()
}


def _names_in_source(module: str, names: Set[str]) -> Set[str]:
    """The names a test module calls or lists (as ``F.x(``, ``fastopt.x(``, ``"x"``, ``x_``)."""
    text = (HERE / f"{module}.py").read_text()
    return {n for n in names if re.search(rf"(?<![\w.])(?:\w+\.)?{re.escape(n.rstrip('_'))}_?\b", text)}


def _public(name: str) -> str:
    """A table id to its public function: gelu_tanh is gelu(approximate='tanh')."""
    return name.replace("gelu_tanh", "gelu")


def _conftest_table() -> Set[str]:
    from conftest import KERNELS

    return {k.func for k in KERNELS} | {"prelu", "prelu_backward"}  # PReLU: test_activations.PRELU_CASES


def _torch_activation_rows() -> Set[str]:
    """test_torch_parity / test_signed_zero compare each forward with torch and its backward through
    autograd: a forward with a torch row covers both."""
    from conftest import TORCH_FORWARD

    fwd = {_public(n) for n in TORCH_FORWARD}
    return fwd | {n + "_backward" for n in fwd}


def _accuracy_bounds() -> Set[str]:
    mod = importlib.import_module("test_accuracy")
    return {_public(n) for n in mod.ULP_BOUND}


def _fuzz_families() -> Set[str]:
    """The hypothesis contracts: the memory contract's families and the loss contract's (softmax
    family, and the class losses and dropout, which have tests of their own there)."""
    mem = importlib.import_module("test_fuzz_memory_contract")
    loss = importlib.import_module("test_fuzz_loss_contract")
    covered = {f.name for f in mem.ELEMENTWISE + mem.POINTWISE_LOSSES + loss.SOFTMAX} | {s.name for s in mem.STEPS}
    return covered | _names_in_source("test_fuzz_loss_contract", {"cross_entropy", "nll_loss", "dropout",
                                                                  "dropout_backward"})


def _reliability_cases() -> Set[str]:
    from reliability_calls import CASES

    return {_public(c.name) for c in CASES}


def _bad_input_calls() -> Set[str]:
    mod = importlib.import_module("test_bad_input")
    covered = {_public(c.name) for c in mod.CALLS} | _names_in_source("test_losses_bad_input", FAMILIES["losses"])
    covered |= set(importlib.import_module("test_optim_hyper_validation").STEPS)
    return covered | _names_in_source("test_optim_hyper_validation", {"clip_grad_norm_"})


def _reference_parity() -> Set[str]:
    """Kernel vs fastopt.reference: the activation table (test_activations), the loss tests, the
    optimizer tests."""
    covered = _conftest_table()
    covered |= _names_in_source("test_losses", FAMILIES["losses"]) | _names_in_source("test_dropout", FAMILIES["losses"])
    covered |= {n + "_" for n in importlib.import_module("_optim_table").NAMES}  # test_optim_vs_reference's rows
    covered |= _names_in_source("test_optim_steps", FAMILIES["optimizers"])
    return covered


def _torch_parity() -> Set[str]:
    """The torch oracle: activations' torch rows, test_losses_torch, test_optim_reference's and
    test_torch_optim's torch cases (fastopt.torch's classes step through the same kernels)."""
    covered = _torch_activation_rows()
    covered |= _names_in_source("test_losses_torch", FAMILIES["losses"])
    covered |= {name + "_" for name, _, _ in importlib.import_module("test_optim_reference").TORCH_CASES}
    covered |= _names_in_source("test_optim_steps", {"clip_grad_norm_"})
    return covered


def _bench_rows() -> Set[str]:
    """The public functions the bench's cases time (from the code each case shows the user)."""
    from fastopt import bench

    covered: Set[str] = set()
    for _, build in bench.FAMILIES.values():
        for case in build(1 << 10, "float32"):
            covered |= set(re.findall(r"(?:fastopt|fo|F|functional)\.(\w+)\(", case.fastopt_code))
    return covered


TABLES: Dict[str, Callable[[], Set[str]]] = {
    "reference parity": _reference_parity,
    "torch parity": _torch_parity,
    "accuracy (ULP bounds)": _accuracy_bounds,
    "fuzz": _fuzz_families,
    "bad input": _bad_input_calls,
    "reliability (FP env, fork, leaks, threads)": _reliability_cases,
    "bench": _bench_rows,
}

# (table, family) -> {kernel: why it is not there}
EXEMPT: Dict[tuple, Dict[str, str]] = {
    ("torch parity", "activations"): {
        "prelu": "test_activations.py compares prelu with torch in its own cases (weight shapes)",
        "prelu_backward": "as prelu",
    },
    ("torch parity", "optimizers"): {
        "lion_": "torch has no Lion; held to fastopt.reference",
        "lamb_": "torch has no LAMB; held to fastopt.reference",
    },
    ("accuracy (ULP bounds)", "activations"): {
        n: "exact or a product of exact terms; the backward kernels are held to the reference's "
           "tolerance table (conftest.TOLERANCE)" for n in set(F._activations.__all__) if n.endswith("_backward")
    } | {"prelu": "exact (one multiply)"},
    ("fuzz", "activations"): {
        "prelu": "its weight broadcast is fuzzed by test_activations' PReLU cases",
        "prelu_backward": "as prelu",
    },
    ("fuzz", "optimizers"): {
        "clip_grad_norm_": "a norm, fuzzed by its own tests in test_optim_steps",
    },
}

# Families a table does not cover by design.
NOT_APPLICABLE = {
    ("accuracy (ULP bounds)", "losses"): "losses are held to float64 references in test_losses",
    ("accuracy (ULP bounds)", "optimizers"): "elementwise updates, held to the reference in test_optim_*",
}


def test_groups_cover_the_registry():
    assert {f for _, f in _core.kernels()} == {f for fams in GROUPS.values() for f in fams}
    assert FAMILIES["activations"] == set(F._activations.__all__)
    assert FAMILIES["losses"] == set(F._losses.__all__)
    assert FAMILIES["optimizers"] == set(F._optim.__all__)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("table", list(TABLES))
def test_table_covers_every_kernel(table, family):
    if (table, family) in NOT_APPLICABLE:
        pytest.skip(NOT_APPLICABLE[(table, family)])
    if table == "torch parity":
        pytest.importorskip("torch")
    covered = TABLES[table]()
    exempt = EXEMPT.get((table, family), {})
    missing = sorted(FAMILIES[family] - covered - set(exempt))
    assert not missing, f"{table}: no row for {missing}"
    stale = sorted(set(exempt) & covered)
    assert not stale, f"{table}: {stale} are covered now; drop them from EXEMPT"
