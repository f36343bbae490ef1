"""The README stays true: its Python blocks run, and its kernel tables list exactly the public
kernels (a kernel added without a README row, or a row left for one that is gone, fails)."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fastopt import functional as F

README = Path(__file__).resolve().parents[1] / "README.md"
TEXT = README.read_text()

# What a block's reader is assumed to have already (a model's arrays, a data loader): defined
# before the block runs, keyed by a name the block uses.
GIVEN = {
    "exp_avgs": """
        import numpy as np
        rng = np.random.default_rng(0)
        params = [rng.standard_normal(s).astype(np.float32) for s in ((64, 32), (32,))]
        grads = [rng.standard_normal(p.shape).astype(np.float32) for p in params]
        exp_avgs = [np.zeros_like(p) for p in params]
        exp_avg_sqs = [np.zeros_like(p) for p in params]
        bufs = [np.zeros_like(p) for p in params]
        t = 1
    """,
    "model_grads": """
        import numpy as np
        weights = [np.ones((8, 4), np.float32)]
        biases = [np.zeros(8, np.float32)]
        data = range(3)
        def model_grads(batch):
            return [np.full(p.shape, 0.1, np.float32) for p in weights + biases]
    """,
    "ddp_model": """
        import socket
        import torch
        import torch.distributed as dist
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
        model = torch.nn.Linear(4, 2)
        ddp_model = torch.nn.parallel.DistributedDataParallel(model)
    """,
}


def python_blocks():
    return re.findall(r"```python\n(.*?)```", TEXT, flags=re.S)


def _block_id(block: str) -> str:
    return block.strip().splitlines()[0][:40]


@pytest.mark.parametrize("block", python_blocks(), ids=_block_id)
def test_block_runs(block, tmp_path):
    if "fastopt.torch" in block:
        pytest.importorskip("torch")
    prelude = "".join(textwrap.dedent(code) for name, code in GIVEN.items() if re.search(rf"\b{name}\b", block))
    script = prelude + block + ("\nimport torch.distributed as dist\ndist.destroy_process_group()\n"
                                if "ddp_model" in block else "")
    r = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"README block failed:\n{block}\n{r.stderr[-3000:]}"


def _table_after(heading_text: str) -> str:
    """The first Markdown table after the line containing heading_text."""
    start = TEXT.index(heading_text)
    m = re.search(r"((?:^\|.*\|\n)+)", TEXT[start:], flags=re.M)
    assert m, f"no table after {heading_text!r}"
    return m.group(1)


def _functions_in(table: str, columns) -> set:
    names = set()
    for row in table.splitlines()[2:]:
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", row.strip().strip("|"))]  # "\|" is a pipe in a cell
        for c in columns:
            names |= set(re.findall(r"`(\w+)\(", cells[c])) | set(re.findall(r"`(\w+_)`", cells[c]))
            names |= set(re.findall(r"`(\w+)`", cells[c])) & set(F.__all__)
    return names


def test_activation_table_lists_every_activation():
    table = _table_after("| forward | backward")
    assert _functions_in(table, (0, 1)) == set(F._activations.__all__)


def test_loss_table_lists_every_loss():
    table = _table_after("## Losses, softmax and dropout")
    assert _functions_in(table, (0,)) == set(F._losses.__all__)


def test_optimizer_table_lists_every_step():
    table = _table_after("| step | state lists")
    steps = set(F._optim.__all__) - {"clip_grad_norm_"}
    assert _functions_in(table, (0,)) == steps
    assert "F.clip_grad_norm_(" in TEXT
