"""``python -m fastopt info`` prints what runs here; ``python -m fastopt bench`` measures it."""

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
    parser = argparse.ArgumentParser(prog="python -m fastopt", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="version, ISA, threads, compiler and flags")
    bench = sub.add_parser("bench", help="benchmark the kernels against NumPy and PyTorch")
    from .bench import add_arguments

    add_arguments(bench)
    args = parser.parse_args(argv)
    if args.command == "info":
        _print_info()
        return 0
    from .bench import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
