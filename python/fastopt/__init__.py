"""fastopt: fused SIMD + OpenMP CPU kernels for training neural networks.

Activations, softmax, the losses (value and gradient in one call), dropout, their gradients
and the runtime controls are here; ``fastopt.functional`` has every kernel (optimizer steps
included), ``fastopt.optim`` torch.optim-style optimizer classes and lr schedulers over NumPy
arrays, ``fastopt.init`` weight initialisers, ``fastopt.torch`` drop-in ``torch.optim``
optimizers for CPU tensors (the only module that imports torch), and ``fastopt.reference`` the
plain NumPy definitions the kernels are tested against. ``get_include()`` /
``get_cmake_dir()`` locate the header-only C++ kernels.
"""

from __future__ import annotations

from . import functional
from ._runtime import get_num_threads, info, set_num_threads
from ._step_result import StepResult
from .functional import _activations, _losses
from .functional._activations import *  # noqa: F401,F403  (the names in their __all__)
from .functional._losses import *  # noqa: F401,F403

__version__: str = info()["version"]

__all__ = [
    "__version__",
    "StepResult",
    "functional",
    "get_cmake_dir",
    "get_include",
    "get_num_threads",
    "info",
    "set_num_threads",
]
# += of each module's __all__ (not a starred list): type checkers read it as re-exporting them
__all__ += _activations.__all__
__all__ += _losses.__all__


def __dir__() -> list[str]:
    return list(__all__)


def __getattr__(name: str):  # lazy: importing fastopt does not import numpy code it does not need
    if name in ("reference", "optim", "init", "torch"):
        import importlib

        return importlib.import_module("." + name, __name__)
    raise AttributeError(f"module 'fastopt' has no attribute {name!r}")


def get_include() -> str:
    """The directory holding ``fastopt/*.hpp``, the header-only kernels (as ``pybind11.get_include``).

    Add it to a C++ trainer's include path (``-I``) to call the kernels without Python.

    Returns
    -------
    str
        The installed headers' directory (in a source checkout, the checkout's C++ include
        directory).

    Raises
    ------
    FileNotFoundError
        The headers are not installed with this build.

    Examples
    --------
    >>> import os, fastopt
    >>> os.path.isfile(os.path.join(fastopt.get_include(), "fastopt", "config.hpp"))
    True
    """
    from pathlib import Path

    from . import _core

    for base in (Path(_core.__file__).parent, Path(__file__).parent):
        if (base / "include" / "fastopt" / "config.hpp").is_file():
            return str(base / "include")
    source = Path(__file__).resolve().parents[2] / "cpp" / "include"  # a source checkout
    if (source / "fastopt" / "config.hpp").is_file():
        return str(source)
    raise FileNotFoundError("fastopt: the C++ headers are not installed with this build")


def get_cmake_dir() -> str:
    """The directory of ``fastoptConfig.cmake``, for CMake projects that use the C++ kernels.

    Pass it as ``cmake -Dfastopt_DIR=...``; then ``find_package(fastopt CONFIG REQUIRED)``
    gives the target ``fastopt::kernels``.

    Returns
    -------
    str
        The installed CMake package's directory.

    Raises
    ------
    FileNotFoundError
        The CMake package is not installed with this build.

    Examples
    --------
    >>> import os, fastopt
    >>> os.path.isfile(os.path.join(fastopt.get_cmake_dir(), "fastoptConfig.cmake"))
    True
    """
    from pathlib import Path

    from . import _core

    for base in (Path(_core.__file__).parent, Path(__file__).parent):
        d = base / "share" / "cmake" / "fastopt"
        if (d / "fastoptConfig.cmake").is_file():
            return str(d)
    raise FileNotFoundError("fastopt: the CMake package is not installed with this build")
