"""python -m fastopt: ``info`` prints what runs here; ``bench`` measures the kernels."""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional


def _print_info() -> None:
    from . import info

    for key, value in info().items():
        if isinstance(value, dict):
            print(f"{key}:")
            for k, v in value.items():
                print(f"  {k}: {v}")
        else:
            print(f"{key}: {value}")


def main(argv: Optional[List[str]] = None) -> int:
    """The command line; `argv` None means this process's own (and then ``bench`` may run the
    program again in the environment it times in: fastopt.bench._env)."""
    own = argv is None
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:  # the benchmark's module (and its options) load only when asked
        from . import bench

        parser = argparse.ArgumentParser(prog="python -m fastopt bench", description=bench.DESCRIPTION)
        bench.add_arguments(parser)
        args = parser.parse_args(argv[1:])
        if own:
            bench._env.reexec_if_needed([sys.executable, "-m", "fastopt"] + argv)
        return bench.run(args)
    from . import __version__

    parser = argparse.ArgumentParser(prog="python -m fastopt", description=__doc__)
    parser.add_argument("--version", action="version", version=f"fastopt {__version__}")
    parser.add_argument("command", choices=["info", "bench"], help="info, or bench (see bench --help)")
    args = parser.parse_args(argv)
    if args.command == "info":
        _print_info()
    return 0


if __name__ == "__main__":
    sys.exit(main())
