"""--resume continues exactly: N epochs, stop, resume for M == N + M uninterrupted (same weights).

Both trainers, on the real fixture clip, with augmentation, dropout (PNS+), a step scheduler and
SAMIHS's trainable-only weight files (rebuilt on top of the base checkpoint when resuming).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from models import build_samihs
from training.config import load_config
from training.errors import ConfigError
from training.trainer import PnsTask, SamTask, train

FIXTURE = Path(__file__).parent / "fixtures" / "cvc-clinicdb"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def overrides(
    kind: str, out_dir: Path, epochs: int, base: Path | None, extra: tuple[str, ...] = ()
) -> list[str]:
    common = [*extra,
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


def run(
    kind: str,
    out_dir: Path,
    epochs: int,
    base: Path | None,
    resume: bool = False,
    extra: tuple[str, ...] = (),
):
    config = load_config(kind, None, overrides(kind, out_dir, epochs, base, extra))
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


def test_weight_average_is_the_mean_of_the_epochs_and_survives_resume(tmp_path: Path):
    average = ("optim.average_from=2",)
    first = run("pns", tmp_path / "split", 2, None, extra=average).model.state_dict()
    first = {k: v.clone() for k, v in first.items()}
    only = load_file(str(tmp_path / "split" / "average.safetensors"))  # epoch 2 alone so far
    assert all(torch.equal(value, first[key]) for key, value in only.items())
    second = run("pns", tmp_path / "split", 3, None, resume=True, extra=average).model.state_dict()
    saved = load_file(str(tmp_path / "split" / "average.safetensors"))
    assert saved.keys() == load_file(str(tmp_path / "split" / "last.safetensors")).keys()
    moved = 0
    for key, value in saved.items():
        if value.is_floating_point():  # weights and BatchNorm statistics: the mean of 2 and 3
            assert torch.allclose(value, (first[key] + second[key]) / 2, atol=1e-6), key
            moved += int(not torch.equal(first[key], second[key]))
    assert moved > 0
    assert json.loads((tmp_path / "split" / "average.json").read_text())["epochs"] == [2, 3]
    # the same three epochs without a stop give the same average
    run("pns", tmp_path / "straight", 3, None, extra=average)
    straight = load_file(str(tmp_path / "straight" / "average.safetensors"))
    assert all(torch.equal(straight[key], value) for key, value in saved.items())


def test_weight_average_outside_the_run_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="optim.average_from must be an epoch from 1 to"):
        run("pns", tmp_path / "out", 2, None, extra=("optim.average_from=3",))
