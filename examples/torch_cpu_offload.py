"""A torch model whose optimizer step runs on the CPU in fastopt.torch.AdamW (CPU offload).

The model computes forward and backward on its device (a GPU when there is one, else the
CPU). The optimizer keeps float32 CPU copies of the params (the "master" weights, as in
ZeRO-Offload) and steps them with fastopt.torch.AdamW: one fused multi-tensor kernel call per
step, in place. After the step the new weights are copied back to the model. On a CPU-only
machine the copies are plain CPU tensors and the pattern still runs end to end.

    python examples/torch_cpu_offload.py            # a ~20M-parameter MLP, 30 steps
    python examples/torch_cpu_offload.py --quick    # seconds (CI)

Prints the loss as it falls and the mean time of the optimizer step, fastopt against
torch.optim.AdamW (foreach and fused) on the same CPU tensors.
"""

from __future__ import annotations

import argparse
import time

import torch

import fastopt.torch as ft


def build(width: int, depth: int, device: torch.device) -> torch.nn.Module:
    torch.manual_seed(0)
    layers = [torch.nn.Linear(64, width), torch.nn.GELU()]
    for _ in range(depth):
        layers += [torch.nn.Linear(width, width), torch.nn.GELU()]
    layers += [torch.nn.Linear(width, 1)]
    return torch.nn.Sequential(*layers).to(device)


class CPUOffload:
    """Float32 CPU master weights stepped by an optimizer class from fastopt.torch."""

    def __init__(self, model: torch.nn.Module, optimizer_class=ft.AdamW, **kwargs):
        self.params = [p for p in model.parameters() if p.requires_grad]
        # pinned memory makes the device<->CPU copies asynchronous where there is a GPU
        pin = torch.cuda.is_available()
        self.master = [torch.empty(p.shape, dtype=torch.float32, pin_memory=pin) for p in self.params]
        for m, p in zip(self.master, self.params):
            m.copy_(p.detach())
            m.grad = torch.zeros_like(m, pin_memory=pin)  # reused every step: cached by the optimizer
        self.optimizer = optimizer_class(self.master, **kwargs)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        for m, p in zip(self.master, self.params):
            m.grad.copy_(p.grad, non_blocking=True)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.optimizer.step()
        for m, p in zip(self.master, self.params):
            p.copy_(m, non_blocking=True)


def time_steps(make_opt, params, repeats: int) -> float:
    opt = make_opt(params)
    opt.step()  # warm-up; creates the state
    t0 = time.perf_counter()
    for _ in range(repeats):
        opt.step()
    return (time.perf_counter() - t0) / repeats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny model, few steps (CI)")
    ap.add_argument("--steps", type=int, default=None)
    args = ap.parse_args()
    width, depth, steps = (256, 2, 20) if args.quick else (1024, 18, 30)
    steps = args.steps or steps
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    model = build(width, depth, device)
    n = sum(p.numel() for p in model.parameters())
    print(f"model: {n / 1e6:.2f}M params in {len(list(model.parameters()))} tensors on {device}; "
          f"optimizer: fastopt.torch.AdamW on float32 CPU copies")
    offload = CPUOffload(model, ft.AdamW, lr=1e-3, weight_decay=0.01)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(512, 64, generator=g).to(device)
    y = (x[:, :8].sin().sum(1, keepdim=True) * 0.5).to(device)
    first = None
    for step in range(1, steps + 1):
        offload.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        offload.step()
        first = first if first is not None else loss.item()
        if step == 1 or step % 5 == 0:
            print(f"step {step:3d}  loss {loss.item():.5f}")
    assert loss.item() < first, "the loss did not fall"

    # the step alone, on the same CPU tensors: fastopt vs torch's CPU implementations
    repeats = 3 if args.quick else 10
    params = [m.detach().clone().requires_grad_() for m in offload.master]
    for p, m in zip(params, offload.master):
        p.grad = m.grad.clone()
    results = {}
    for name, make in [("fastopt.torch.AdamW", lambda ps: ft.AdamW(ps, lr=1e-3)),
                       ("torch AdamW foreach", lambda ps: torch.optim.AdamW(ps, lr=1e-3, foreach=True)),
                       ("torch AdamW fused", lambda ps: torch.optim.AdamW(ps, lr=1e-3, fused=True))]:
        results[name] = time_steps(make, params, repeats)
    base = results["fastopt.torch.AdamW"]
    print(f"optimizer step, {torch.get_num_threads()} threads (shared machine: indicative only):")
    for name, t in results.items():
        print(f"  {name:22s} {t * 1e3:8.2f} ms  ({t / base:.2f}x fastopt's time)")


if __name__ == "__main__":
    main()
