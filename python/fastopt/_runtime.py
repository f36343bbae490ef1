"""Threads, ISA and build information."""

from __future__ import annotations

import platform
from typing import Any, Dict

from . import _core


def get_num_threads() -> int:
    """Number of threads fastopt's kernels use.

    Starts at OpenMP's default, which honours ``OMP_NUM_THREADS``. Inputs below a size
    threshold (about 64 K elements) always run on the calling thread.

    Returns
    -------
    int
        At least 1 (1 in a build without OpenMP).

    Examples
    --------
    >>> import fastopt
    >>> fastopt.get_num_threads() >= 1
    True
    """
    return int(_core.get_num_threads())


def set_num_threads(n: int) -> None:
    """Set the number of threads fastopt's kernels use, for every Python thread.

    In a build without OpenMP the count stays 1. Results are bitwise identical for any
    thread count.

    Parameters
    ----------
    n : int
        The thread count, >= 1.

    Raises
    ------
    TypeError
        ``n`` is not an int.
    ValueError
        ``n < 1``.

    Examples
    --------
    >>> import fastopt
    >>> before = fastopt.get_num_threads()
    >>> fastopt.set_num_threads(1)
    >>> fastopt.get_num_threads()
    1
    >>> fastopt.set_num_threads(before)
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"set_num_threads: n must be an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"set_num_threads: n must be >= 1, got {n}")
    _core.set_num_threads(n)


def info() -> Dict[str, Any]:
    """What runs here: version, ISA in use, ISAs built and supported, threads, compiler, flags.

    Keys: ``version``, ``isa``, ``isas_built``, ``isas_supported``, ``openmp``,
    ``simd_pragmas`` (True when every ISA's kernels were compiled with their ``omp simd``
    pragmas, as they are with OpenMP or, without it, with ``-fopenmp-simd``; False: the
    reductions, softmax and several losses run scalar), ``num_threads``, ``compiler``,
    ``flags`` (per ISA), ``machine``, ``python``, ``numpy``,
    ``parallel_grain_factor`` (4 when OpenMP's pool sleeps between calls, OMP_WAIT_POLICY=passive
    or GOMP_SPINCOUNT < 10000: work is then split across threads only in 4x larger pieces,
    since each parallel call pays a thread wake-up; else 1).

    ``FASTOPT_ISA=generic|avx2`` (set before the import) forces a lower instruction set.
    ``python -m fastopt info`` prints the same.

    Returns
    -------
    dict
        The keys above.

    Examples
    --------
    >>> import fastopt
    >>> d = fastopt.info()
    >>> d["isa"] in d["isas_built"] and d["isa"] in ("generic", "avx2", "avx512")
    True
    >>> d["version"] == fastopt.__version__
    True
    """
    import numpy as np

    build = _core._build_info()
    return {
        "version": build["version"],
        "isa": _core._get_isa(),
        "isas_built": list(build["isas_built"]),
        "isas_supported": list(_core._isas_supported()),
        "openmp": bool(build["openmp"]),
        "simd_pragmas": bool(build["simd_pragmas"]),
        "num_threads": get_num_threads(),
        "parallel_grain_factor": int(build["parallel_grain_factor"]),
        "compiler": build["compiler"],
        "flags": dict(build["flags"]),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
