"""python -m training.average_weights: the mean of one model's weight files; one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from models.pns_plus import build_pns_plus
from models.pns_plus.weights_file import load_pns_weights, save_pns_weights
from training.average_weights import average_weights, main
from training.errors import UserError


def pns_file(path: Path, seed: int, backbone: str = "resnet18") -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    model = build_pns_plus(None, backbone, (64, 112))
    for module in model.modules():  # BatchNorm statistics of their own, as after training
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.normal_()
            module.running_var.uniform_(0.5, 2.0)
            module.num_batches_tracked.fill_(seed)
    save_pns_weights(model, path, backbone)
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_the_mean_of_three_files_loads_as_the_same_model(tmp_path: Path):
    states = [pns_file(tmp_path / f"w{seed}.safetensors", seed) for seed in (1, 2, 3)]
    out = tmp_path / "soup" / "mean.safetensors"
    assert main([str(tmp_path / f"w{seed}.safetensors") for seed in (1, 2, 3)]
                + ["--out", str(out)]) == 0
    model, backbone = load_pns_weights(out)
    assert backbone == "resnet18" and tuple(model.input_size) == (64, 112)
    mean = model.state_dict()
    for key, value in mean.items():
        if value.is_floating_point():
            expected = sum(state[key] for state in states) / 3
            assert torch.allclose(value, expected, atol=1e-6), key
        else:  # counters are the first file's
            assert torch.equal(value, states[0][key]), key
    assert any(not torch.equal(states[0][k], states[1][k]) for k in mean)


def test_files_of_different_models_are_one_line_and_exit_2(tmp_path: Path, capsys):
    pns_file(tmp_path / "a.safetensors", 1)
    pns_file(tmp_path / "b.safetensors", 2, backbone="efficientnet_lite0")
    out = tmp_path / "mean.safetensors"
    assert main([str(tmp_path / "a.safetensors"), str(tmp_path / "b.safetensors"),
                 "--out", str(out)]) == 2
    error = capsys.readouterr().err.strip()
    assert "another model config" in error and "\n" not in error and not out.exists()
    assert main([str(tmp_path / "a.safetensors"), str(tmp_path / "missing.safetensors"),
                 "--out", str(out)]) == 2
    assert "missing.safetensors: weight file not found" in capsys.readouterr().err
    with pytest.raises(UserError, match="two or more"):
        average_weights([tmp_path / "a.safetensors"], out)
