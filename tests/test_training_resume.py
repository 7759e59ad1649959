"""--resume continues exactly: N epochs, stop, resume for M == N + M uninterrupted (same weights).

Both trainers, on the real fixture clip, with augmentation, dropout (PNS+), a step scheduler and
SAMIHS's trainable-only weight files (rebuilt on top of the base checkpoint when resuming).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from models import build_samihs
from training.config import load_config
from training.trainer import PnsTask, SamTask, train

FIXTURE = Path(__file__).parent / "fixtures" / "cvc-clinicdb"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def overrides(kind: str, out_dir: Path, epochs: int, base: Path | None) -> list[str]:
    common = [
        f"data.train=[{{root: {FIXTURE}}}]",
        f"data.val=[{{root: {FIXTURE}}}]",
        "data.augment=true",
        f"optim.batch_size={1 if kind == 'pns' else 2}",
        "optim.steps_per_epoch=2",
        "optim.step_size=1",
        "optim.gamma=0.5",
        f"optim.epochs={epochs}",
        f"run.out_dir={out_dir}",
        "run.device=cpu",
        "run.progress=false",
        "run.seed=3",
    ]
    if kind == "pns":
        return common + ["model.backbone=resnet18", "model.input_size=[64,112]"]
    return common + [
        "model.variant=vit_t",
        "model.image_size=128",
        "model.adapter_dim=8",
        f"model.sam_checkpoint={base}",
        "model.train_all=false",
    ]


def run(kind: str, out_dir: Path, epochs: int, base: Path | None, resume: bool = False):
    config = load_config(kind, None, overrides(kind, out_dir, epochs, base))
    task = SamTask(config) if kind == "sam" else PnsTask(config)
    return train(task, config, resume=resume)


@pytest.fixture(scope="module")
def sam_checkpoint_file(tmp_path_factory) -> Path:
    """A vit_t 'official SAM' checkpoint (.pth state_dict) for the freeze policy to build on."""
    torch.manual_seed(11)
    path = tmp_path_factory.mktemp("base") / "sam_vit_t.pth"
    torch.save(build_samihs("vit_t", image_size=128, adapter_dim=8).state_dict(), path)
    return path


@pytest.mark.parametrize("kind", ["pns", "sam"])
def test_resume_equals_uninterrupted(kind: str, tmp_path: Path, sam_checkpoint_file: Path):
    base = sam_checkpoint_file if kind == "sam" else None
    straight = run(kind, tmp_path / "straight", 2, base)
    first = run(kind, tmp_path / "split", 1, base).model.state_dict()
    first = {k: v.clone() for k, v in first.items()}
    resumed = run(kind, tmp_path / "split", 2, base, resume=True)
    assert resumed.epochs_run == 1
    expected = straight.model.state_dict()
    for key, value in resumed.model.state_dict().items():
        assert torch.equal(value, expected[key]), key
    saved = load_file(str(tmp_path / "split" / "last.safetensors"))
    if kind == "sam":  # the freeze policy's file holds the trainable tensors only
        assert saved and all(
            k.startswith(("image_encoder", "prompt_encoder", "mask_decoder")) for k in saved
        )
        assert "image_encoder.patch_embed.proj.weight" not in saved
    assert any(not torch.equal(first[k], expected[k]) for k in saved)  # epoch 2 did change it
