"""The kernel registry (the rows of cpp/include/fastopt/*.def, via _core.kernels()) against the
Python layers: every registered kernel is a public function of its family's module (with a
top-level export, except the in-place optimizer steps), a definition in fastopt.reference, a
binding and a stub, with matching signatures; and every public kernel function is registered."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import fastopt
from fastopt import _core, functional, reference

REGISTRY = list(_core.kernels())
KERNELS = [name for name, _ in REGISTRY]
FAMILY = dict(REGISTRY)

# The fastopt.functional module of each family; the optimizer steps and clip_grad_norm_ update
# their arguments in place and are public through fastopt.functional only.
MODULE_OF_FAMILY = {
    "activation": functional._activations,
    "softmax": functional._losses,
    "loss": functional._losses,
    "dropout": functional._losses,
    "optimizer": functional._optim,
    "clip": functional._optim,
}
WITH_OUT = [k for k in KERNELS if FAMILY[k] not in ("optimizer", "clip")]  # NumPy-style out=
IN_PLACE = [k for k in KERNELS if FAMILY[k] in ("optimizer", "clip")]
WITH_BACKWARD = ("activation", "softmax", "dropout")


def test_kernels_listed():
    assert KERNELS, "no kernels registered"
    assert all(isinstance(e, tuple) and len(e) == 2 for e in REGISTRY), REGISTRY
    assert len(KERNELS) == len(set(KERNELS)), "a kernel is registered twice"
    assert all(isinstance(k, str) and k.isidentifier() for k in KERNELS)
    assert set(FAMILY.values()) == set(MODULE_OF_FAMILY), "a family without its module, or one unused"
    for forward in [k for k in KERNELS if FAMILY[k] in WITH_BACKWARD and not k.endswith("_backward")]:
        assert FAMILY.get(forward + "_backward") == FAMILY[forward], f"{forward} has no backward"
    assert not [k for k in KERNELS if k.endswith("_backward") and FAMILY[k] not in WITH_BACKWARD]
    assert all(k.endswith("_") for k in IN_PLACE), "in-place kernels are named with a trailing _"


@pytest.mark.parametrize("name", KERNELS)
def test_kernel_has_every_layer(name):
    assert callable(getattr(functional, name, None)), f"fastopt.functional.{name} missing"
    assert callable(getattr(reference, name, None)), f"fastopt.reference.{name} missing"
    assert name in functional.__all__ and name in reference.__all__
    assert name in MODULE_OF_FAMILY[FAMILY[name]].__all__, f"{name} is not in its family's module"
    if name in IN_PLACE:
        assert name not in fastopt.__all__
        return
    assert getattr(fastopt, name, None) is getattr(functional, name), f"fastopt.{name} is not exported"
    assert name in fastopt.__all__ and name in dir(fastopt)


@pytest.mark.parametrize("name", KERNELS)
def test_kernel_is_bound(name):
    """Each registry row is bound in _core: under its own name, or (an optimizer) as a name that
    _core.optimizer_step accepts; an empty list of params is a step that does nothing."""
    if FAMILY[name] == "optimizer":
        result = _core.optimizer_step(name[:-1], [], [], [], None, 1, False, {}, 1.0, None, None)
        assert result == (None, False, False)
    else:
        assert callable(getattr(_core, name, None)), f"_core.{name} missing"


def test_optimizer_step_rejects_unregistered_names():
    with pytest.raises(ValueError, match="unknown optimizer not_an_optimizer"):
        _core.optimizer_step("not_an_optimizer", [], [], [], None, 1, False, {}, 1.0, None, None)


@pytest.mark.parametrize("name", WITH_OUT)
def test_signatures_match(name):
    """reference signature == functional signature without ``out`` (names, order, defaults)."""
    fsig = inspect.signature(getattr(functional, name))
    rsig = inspect.signature(getattr(reference, name))
    fparams = list(fsig.parameters.values())
    assert fparams[-1].name == "out" and fparams[-1].default is None, fsig
    fparams = fparams[:-1]
    rparams = list(rsig.parameters.values())
    assert [p.name for p in fparams] == [p.name for p in rparams], (fsig, rsig)
    assert [p.default for p in fparams] == [p.default for p in rparams], (fsig, rsig)
    assert [p.kind for p in fparams] == [p.kind for p in rparams], (fsig, rsig)


@pytest.mark.parametrize("name", KERNELS)
def test_docstrings(name):
    assert (getattr(functional, name).__doc__ or "").strip(), f"functional.{name} has no docstring"
    assert (getattr(reference, name).__doc__ or "").strip(), f"reference.{name} has no docstring"


def test_no_unregistered_functions():
    """Every public function of fastopt.functional is a registered kernel of the family its
    module holds (nothing un-registered), and has its reference twin."""
    assert sorted(functional.__all__) == sorted(KERNELS)
    for family, module in MODULE_OF_FAMILY.items():
        in_module = {k for k in KERNELS if MODULE_OF_FAMILY[FAMILY[k]] is module}
        assert set(module.__all__) == in_module, family
    assert set(reference._activations.__all__) == {k for k in KERNELS if FAMILY[k] == "activation"}
    assert set(functional.__all__) == set(reference.__all__)
    public = {n for n in fastopt.__all__ if n in reference.__all__}
    assert public == set(WITH_OUT), "a top-level kernel that is not registered, or one not exported"


@pytest.mark.parametrize("name", IN_PLACE)
def test_optimizer_signatures_match_reference(name):
    """The compiled steps and the NumPy reference take the same arguments (names, order,
    defaults, kinds): the contract of docs/optimizer-api.md."""
    fsig = inspect.signature(getattr(functional, name))
    rsig = inspect.signature(getattr(reference, name))
    strip = lambda sig: [(p.name, p.default, p.kind) for p in sig.parameters.values()]  # noqa: E731
    assert strip(fsig) == strip(rsig), (fsig, rsig)
    assert (getattr(functional, name).__doc__ or "").strip()


def test_stub_lists_every_kernel():
    stub = Path(fastopt.__file__).with_name("_core.pyi")
    if not stub.exists():
        pytest.skip("no _core.pyi next to the package")
    text = stub.read_text()
    missing = [k for k in KERNELS if FAMILY[k] != "optimizer" and f"def {k}(" not in text]
    assert not missing, f"_core.pyi lacks {missing}"
    assert "def optimizer_step(" in text and "def kernels() -> List[Tuple[str, str]]" in text


def test_reference_module_doc():
    assert reference.__doc__.startswith("fastopt.reference: the plain NumPy definitions")


def test_reliability_calls_cover_every_public_kernel():
    """The reliability tests (FP environment, fork, leaks, threads, torch coexistence) run one
    call of each case in reliability_calls.CASES: a public kernel missing there is silently
    left out of all of them."""
    from reliability_calls import CASES

    names = {c.name for c in CASES}
    variants = {"gelu_tanh", "gelu_tanh_backward"}  # gelu(approximate="tanh"): its own C++ kernel
    assert set(functional.__all__) - names == set(), "missing from reliability_calls.CASES"
    assert names - set(functional.__all__) == variants
