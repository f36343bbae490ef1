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
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:  # the benchmark's module (and its options) load only when asked
        from . import bench

        parser = argparse.ArgumentParser(prog="python -m fastopt bench", description=bench.__doc__)
        bench.add_arguments(parser)
        return bench.run(parser.parse_args(argv[1:]))
    parser = argparse.ArgumentParser(prog="python -m fastopt", description=__doc__)
    parser.add_argument("command", choices=["info", "bench"], help="info, or bench (see bench --help)")
    args = parser.parse_args(argv)
    if args.command == "info":
        _print_info()
    return 0


if __name__ == "__main__":
    sys.exit(main())
