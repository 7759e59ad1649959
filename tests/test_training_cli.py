"""polyp-train / polyp-eval on bad input: one line naming the problem and the fix, status 2."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from training.cli import eval_main, train_main

FIXTURE = Path(__file__).parent / "fixtures" / "cvc-clinicdb"
REPO = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def write_config(path: Path, data: Path, extra: str = "") -> Path:
    path.write_text(
        "model: {variant: vit_t, image_size: 64, adapter_dim: 4, train_all: true}\n"
        f"data:\n  train: [{{root: {data}}}]\n  val: [{{root: {data}}}]\n"
        f"optim: {{batch_size: 2, epochs: 1, steps_per_epoch: 1}}\n"
        f"run: {{out_dir: {path.parent / 'run'}, device: cpu, progress: false}}\n" + extra
    )
    return path


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    return err


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURE, tmp_path / "cvc")
    return tmp_path / "cvc"


def test_unknown_config_key(tmp_path: Path, data_copy: Path, capsys):
    config = write_config(tmp_path / "c.yaml", data_copy, "loss: {boundry_weight: 1}\n")
    assert train_main(["sam", "--config", str(config)]) == 2
    assert "unknown config key 'loss.boundry_weight'; known keys here: bce_weight" in error_line(
        capsys
    )
    assert train_main(["sam", "--config", str(tmp_path / "c.yaml"), "optim.lr=fast"]) == 2
    assert "config key 'optim.lr' must be float, got 'fast'" in error_line(capsys)
    assert train_main(["pns", "--config", str(tmp_path / "none.yaml")]) == 2
    assert "none.yaml: config file not found" in error_line(capsys)


def test_missing_data_folder(tmp_path: Path, capsys):
    config = write_config(tmp_path / "c.yaml", tmp_path / "no-data")
    assert train_main(["sam", "--config", str(config)]) == 2
    assert "no-data: data folder not found; check the path" in error_line(capsys)


def test_missing_mask(tmp_path: Path, data_copy: Path, capsys):
    (data_copy / "GT" / "seq26" / "530.png").unlink()
    config = write_config(tmp_path / "c.yaml", data_copy)
    assert train_main(["sam", "--config", str(config)]) == 2
    assert "GT/seq26/530.png: missing mask for frame" in error_line(capsys)


@pytest.mark.parametrize("workers", [0, 1])
def test_size_mismatched_mask_during_training(tmp_path: Path, data_copy: Path, capsys, workers):
    for path in (data_copy / "GT" / "seq26").glob("*.png"):
        cv2.imwrite(str(path), cv2.resize(cv2.imread(str(path)), (50, 40)))
    config = write_config(tmp_path / "c.yaml", data_copy)
    assert train_main(["sam", "--config", str(config), f"data.num_workers={workers}"]) == 2
    line = error_line(capsys)
    assert ".png: mask is 50x40 but its frame" in line and "is 384x288" in line


def test_eval_without_weights_or_data(tmp_path: Path, capsys):
    assert eval_main(["--model", str(tmp_path / "w.safetensors"), "--data", str(FIXTURE)]) == 2
    assert "w.safetensors: weight file not found" in error_line(capsys)


def test_the_installed_command_prints_no_traceback(tmp_path: Path):
    config = write_config(tmp_path / "c.yaml", tmp_path / "absent")
    done = subprocess.run(
        [sys.executable, "-m", "training.cli", "sam", "--config", str(config)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"polyp-train: error: {tmp_path / 'absent'}: data folder not found; check the path"
    ]


def test_train_then_resume_from_the_command_line(tmp_path: Path, capsys):
    config = write_config(tmp_path / "c.yaml", FIXTURE)
    assert train_main(["sam", "--config", str(config)]) == 0
    run = tmp_path / "run"
    assert "best epoch 1: maxDice" in capsys.readouterr().out
    for name in ("last.safetensors", "last.state.pt", "best.safetensors", "best.json"):
        assert (run / name).is_file(), name
    assert list((run / "tb").glob("events.out.tfevents.*"))
    assert train_main(["sam", "--config", str(config), "--resume", "optim.epochs=2"]) == 0
    assert "sam epoch 2/2" in capsys.readouterr().out
    assert "optim.epochs=2" not in (run / "config.yaml").read_text()
    assert "epochs: 2" in (run / "config.yaml").read_text()


@pytest.mark.parametrize("path", sorted((REPO / "training" / "configs").glob("*.yaml")))
def test_example_configs_fit_the_schema(path: Path):
    from training.config import load_config
    from training.trainer import PnsTask, make_sam_task

    kind = "pns" if path.name.startswith("pns") else "sam"
    # AutoSAM's config names no base SAMIHS file (it is the user's trained run).
    overrides = ["model.init_weights=best.safetensors"] if path.name.startswith("autosam") else []
    config = load_config(kind, path, overrides)
    task = make_sam_task(config) if kind == "sam" else PnsTask(config)  # cross-field rules
    expected = {"samihs": "sam", "sam": "sam", "autosam": "autosam", "pns": "pns"}[
        path.name.split("_")[0]
    ]
    assert task.name == expected and config.data.train and config.data.val
