"""fastopt.torch under torch.distributed: ZeroRedundancyOptimizer(optimizer_class=fastopt.torch.AdamW)
and DistributedDataParallel, 2 processes on localhost (gloo, loopback only), checked against a
single-process torch.optim.AdamW run on the same data.

The test starts this file as a script (``python test_torch_distributed.py MODE OUT``), which
spawns the 2 ranks with torch.multiprocessing; the whole run has a time limit.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

STEPS = 6
LR, WD = 0.02, 0.1


def make_model():
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.Tanh(), torch.nn.Linear(32, 16),
                               torch.nn.ReLU(), torch.nn.Linear(16, 1))


def make_data():
    import torch

    g = torch.Generator().manual_seed(1)
    return torch.randn(64, 8, generator=g), torch.randn(64, 1, generator=g)


def reference_params():
    """Single process, full batch, torch.optim.AdamW."""
    import torch

    model = make_model()
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WD, foreach=False)
    x, y = make_data()
    for _ in range(STEPS):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    return [p.detach().clone() for p in model.parameters()]


def worker(rank, world, port, mode, out):
    import torch
    import torch.distributed as dist
    from torch.distributed.optim import ZeroRedundancyOptimizer
    from torch.nn.parallel import DistributedDataParallel as DDP

    import fastopt.torch as ft

    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        model = DDP(make_model())
        if mode == "ddp":
            opt = ft.AdamW(model.parameters(), lr=LR, weight_decay=WD)
        else:
            opt = ZeroRedundancyOptimizer(model.parameters(), optimizer_class=ft.AdamW,
                                          parameters_as_bucket_view=(mode == "zero_bucket"),
                                          lr=LR, weight_decay=WD)
        x, y = make_data()
        shard = slice(rank * 64 // world, (rank + 1) * 64 // world)  # equal shards: DDP's mean = full mean
        for _ in range(STEPS):
            opt.zero_grad()
            torch.nn.functional.mse_loss(model(x[shard]), y[shard]).backward()
            opt.step()
        if mode != "ddp":
            opt.consolidate_state_dict(to=0)
        if rank == 0:
            state = opt.state_dict()
            torch.save({"params": [p.detach().clone() for p in model.module.parameters()],
                        "optim": state}, out)
        dist.barrier()
    except BaseException:
        dist.destroy_process_group()
        raise
    # Leave without tearing the group down: in torch 2.13 the teardown can deadlock (seen in CI:
    # ~Reducer drops the last ProcessGroupGloo with the GIL held, and its destructor joins the
    # gloo runloop thread, which is waiting for the GIL to decref a Python object).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("mode", ["zero", "zero_bucket", "ddp"])
def test_two_ranks_match_single_process_adamw(mode, tmp_path):
    torch = pytest.importorskip("torch")
    if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
        pytest.skip("torch.distributed with gloo is not available")
    out = tmp_path / "result.pt"
    env = dict(os.environ, GLOO_SOCKET_IFNAME="lo", OMP_NUM_THREADS="1")
    try:
        r = subprocess.run([sys.executable, __file__, mode, str(out)], capture_output=True, text=True,
                           timeout=240, env=env)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"the 2-process run did not finish in time: {e}")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    got = torch.load(out)
    for a, b in zip(reference_params(), got["params"]):
        torch.testing.assert_close(a, b, rtol=2e-5, atol=2e-6)
    # the consolidated checkpoint has torch's layout: it loads into torch.optim.AdamW
    model = make_model()
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WD)
    opt.load_state_dict(got["optim"])
    assert all(float(s["step"]) == STEPS for s in opt.state_dict()["state"].values())
    assert len(opt.state_dict()["state"]) == len(list(model.parameters()))


if __name__ == "__main__":
    import torch.multiprocessing as mp

    mp.spawn(worker, args=(2, _free_port(), sys.argv[1], sys.argv[2]), nprocs=2, join=True)
