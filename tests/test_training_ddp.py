"""DDP: two CPU processes (gloo) train on different shards and end with identical weights."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

from training.config import load_config
from training.trainer import SamTask, train

FIXTURE = Path(__file__).parent / "fixtures" / "cvc-clinicdb"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def config_overrides(out_dir: Path) -> list[str]:
    return [
        "model.variant=vit_t",
        "model.image_size=128",
        "model.adapter_dim=8",
        "model.train_all=true",
        f"data.train=[{{root: {FIXTURE}}}]",
        f"data.val=[{{root: {FIXTURE}}}]",
        "optim.batch_size=2",
        "optim.steps_per_epoch=2",
        "optim.epochs=1",
        f"run.out_dir={out_dir}",
        "run.device=cpu",
        "run.progress=false",
    ]


def worker(rank: int, port: int, out_dir: str) -> None:
    """What torchrun gives each process: its rank and the rendezvous address in the env."""
    os.environ.update(
        {
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": "2",
        }
    )
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    torch.set_num_threads(1)
    config = load_config("sam", None, config_overrides(Path(out_dir)))
    result = train(SamTask(config), config)
    state = {k: v.contiguous() for k, v in result.model.state_dict().items()}
    save_file(state, str(Path(out_dir) / f"rank{rank}.safetensors"))


def test_two_gloo_processes_end_with_identical_weights(tmp_path: Path):
    mp.spawn(worker, args=(free_port(), str(tmp_path)), nprocs=2, join=True)
    rank0 = load_file(str(tmp_path / "rank0.safetensors"))
    rank1 = load_file(str(tmp_path / "rank1.safetensors"))
    assert rank0.keys() == rank1.keys()
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    # Training happened: weights moved from the seeded initialisation both ranks started from.
    config = load_config("sam", None, config_overrides(tmp_path))
    torch.manual_seed(config.run.seed)
    initial = SamTask(config).build_model().state_dict()
    assert any(not torch.equal(initial[k], rank0[k]) for k in rank0)
    assert (tmp_path / "best.safetensors").is_file()  # rank 0 validated and saved
