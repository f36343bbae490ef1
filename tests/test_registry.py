"""The kernel registry (kernels.def, via _core.kernels()) against the Python layers: every
registered kernel has a wrapper in fastopt.functional, a definition in fastopt.reference, a
top-level export and a stub, with matching signatures."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import fastopt
from fastopt import _core, functional, reference

KERNELS = list(_core.kernels())


def test_kernels_listed():
    assert KERNELS, "no kernels registered"
    assert len(KERNELS) == len(set(KERNELS)), "a kernel is registered twice"
    assert all(isinstance(k, str) and k.isidentifier() for k in KERNELS)
    for forward in [k for k in KERNELS if not k.endswith("_backward")]:
        assert forward + "_backward" in KERNELS, f"{forward} has no backward"


@pytest.mark.parametrize("name", KERNELS)
def test_kernel_has_every_layer(name):
    assert callable(getattr(functional, name, None)), f"fastopt.functional.{name} missing"
    assert callable(getattr(reference, name, None)), f"fastopt.reference.{name} missing"
    assert getattr(fastopt, name, None) is getattr(functional, name), f"fastopt.{name} is not exported"
    assert name in functional.__all__ and name in reference.__all__ and name in fastopt.__all__
    assert name in dir(fastopt)


@pytest.mark.parametrize("name", KERNELS)
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
    """Every activation functional/reference export is a registered kernel (nothing un-bound),
    and every function of fastopt.functional has its reference twin."""
    assert set(functional._activations.__all__) == set(KERNELS)
    assert set(reference._activations.__all__) == set(KERNELS)
    assert set(functional.__all__) == set(reference.__all__)


@pytest.mark.parametrize("name", sorted(functional._optim.__all__))
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
    missing = [k for k in KERNELS if f"def {k}(" not in text]
    assert not missing, f"_core.pyi lacks {missing}"


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
