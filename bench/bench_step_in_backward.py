"""Training-step time and peak memory: stepping after backward vs stepping in backward.

Three ways to train the same MLP stack (``--layers`` square Linear layers with ReLU, about
``--params`` parameters in all, float32) with AdamW on the CPU:

* ``after``: ``fastopt.torch.AdamW``, ``loss.backward()`` then ``optimizer.step()`` (all grads
  alive at the step);
* ``in-backward``: ``fastopt.torch.step_in_backward(model, optimizer)``: each param stepped as
  soon as its grad is accumulated, its grad then freed (one layer's grads alive at a time);
* ``torch-fused``: ``torch.optim.AdamW(fused=True)``, backward then step.

Each variant runs in its own child process (one at a time), so that its peak resident memory
(``ru_maxrss``) is its own: the child reports the RSS after building the model and optimizer,
the peak over the training steps, and the median time of a whole step (forward, backward,
update) after warm-up. Expected peak differences: the grads (4 bytes a param) for
``in-backward`` against ``after``; the timing differences are the update's (forward and
backward are torch's in all three). Absolute numbers on a shared machine are noisy.

The children run with glibc's ``MALLOC_MMAP_THRESHOLD_=131072`` (unless set already): by
default glibc raises its mmap threshold to the size of the last large block freed, after which
freed tensors stay in the heap, and RSS then counts memory no tensor holds (measured here: a
stepped-in-backward 122 MiB MLP kept about 120 MiB of freed grads resident). With the threshold
fixed every tensor above 128 KiB is its own mapping, returned on free, so the peak RSS follows
the tensors alive at once.

    python bench/bench_step_in_backward.py [--params 100e6] [--layers 16] [--batch 16]
                                           [--steps 5] [--threads N] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time

from _bench_env import fix_env

VARIANTS = ("after", "in-backward", "torch-fused")


def rss_mib() -> float:
    """The current resident set size (Linux /proc), in MiB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def child(variant: str, params: float, layers: int, batch: int, steps: int) -> dict:
    import torch

    import fastopt.torch as ft

    width = int(math.sqrt(params / layers))
    torch.manual_seed(0)
    mods = []
    for _ in range(layers):
        mods += [torch.nn.Linear(width, width), torch.nn.ReLU()]
    model = torch.nn.Sequential(*mods[:-1])
    n_params = sum(p.numel() for p in model.parameters())
    x = torch.randn(batch, width)
    y = torch.randn(batch, width)
    kw = dict(lr=1e-4, weight_decay=1e-2)
    if variant == "torch-fused":
        opt = torch.optim.AdamW(model.parameters(), **kw, fused=True)
    else:
        opt = ft.AdamW(model.parameters(), **kw)
    if variant == "in-backward":
        ft.step_in_backward(model, opt)

    def train_step():
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        if variant != "in-backward":
            opt.step()
            opt.zero_grad(set_to_none=True)

    base = rss_mib()
    times = []
    for i in range(steps + 2):
        t0 = time.perf_counter()
        train_step()
        if i >= 2:
            times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return dict(variant=variant, params=n_params, width=width, layers=layers, batch=batch,
                threads=torch.get_num_threads(), rss_before_mib=base, peak_rss_mib=peak,
                step_ms=1e3 * statistics.median(times), step_ms_all=[1e3 * t for t in times])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--params", type=float, default=100e6)
    ap.add_argument("--layers", type=int, default=16)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.threads is not None:
        import torch

        import fastopt

        torch.set_num_threads(args.threads)
        fastopt.set_num_threads(args.threads)
    if args.child:
        print(json.dumps(child(args.child, args.params, args.layers, args.batch, args.steps)))
        return
    fix_env()
    results = []
    for variant in VARIANTS:
        cmd = [sys.executable, os.path.abspath(__file__), "--child", variant, "--params", str(args.params),
               "--layers", str(args.layers), "--batch", str(args.batch), "--steps", str(args.steps)]
        if args.threads is not None:
            cmd += ["--threads", str(args.threads)]
        env = {"MALLOC_MMAP_THRESHOLD_": "131072", **os.environ}
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    r0 = results[0]
    print(f"MLP {r0['layers']} x Linear({r0['width']}, {r0['width']}): {r0['params'] / 1e6:.1f}M params, "
          f"batch {r0['batch']}, AdamW, {r0['threads']} threads, median of {args.steps} steps")
    print(f"  {'variant':<14}{'step':>12}{'RSS before':>14}{'peak RSS':>12}{'peak - before':>16}")
    for r in results:
        print(f"  {r['variant']:<14}{r['step_ms']:>9.1f} ms{r['rss_before_mib']:>10.0f} MiB"
              f"{r['peak_rss_mib']:>8.0f} MiB{r['peak_rss_mib'] - r['rss_before_mib']:>12.0f} MiB")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
