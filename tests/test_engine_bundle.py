"""Model bundles: round trip, and one-line errors for every way a bundle can be wrong."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from engine import BundleError, build_stream_segmenter, load_bundle, save_bundle
from engine.bundle import ModelBundle
from models.prompts import PromptConfig
from models.samihs import save_samihs_weights

pytest_plugins = ("engine_helpers",)  # shared fixtures: a small bundle, its graphs


def copy_bundle(bundle: ModelBundle, target: Path) -> Path:
    shutil.copytree(bundle.path, target, ignore=shutil.ignore_patterns("onnx"))
    return target


def assert_one_line(error: pytest.ExceptionInfo, *words: str) -> None:
    message = str(error.value)
    assert "\n" not in message and len(message) < 1000, message
    for word in words:
        assert word in message, (word, message)


def test_round_trip_keeps_weights_config_and_prompt_settings(
    small_bundle: ModelBundle, tmp_path: Path
) -> None:
    config = PromptConfig(threshold=0.4, max_components=2, use_mask=False)
    path = save_bundle(tmp_path / "b", small_bundle.pns, small_bundle.samihs, "resnet18", config)
    loaded = load_bundle(path)
    assert loaded.prompt_config == config
    assert loaded.pns_backbone == "resnet18" and loaded.pns_input_size == (256, 448)
    assert loaded.samihs.config == small_bundle.samihs.config
    for ours, theirs in ((loaded.pns, small_bundle.pns), (loaded.samihs, small_bundle.samihs)):
        for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values(),
                                strict=True):
            assert torch.equal(a, b), name
    assert loaded.key == load_bundle(path).key and len(loaded.key) == 16


def test_a_bundle_without_manifest_reads_the_files_own_config(
    small_bundle: ModelBundle, tmp_path: Path
) -> None:
    path = copy_bundle(small_bundle, tmp_path / "b")
    (path / "bundle.json").unlink()
    assert load_bundle(path).pns_backbone == "resnet18"


def test_missing_folder_and_files_are_named(small_bundle: ModelBundle, tmp_path: Path) -> None:
    with pytest.raises(BundleError) as error:
        load_bundle(tmp_path / "nowhere")
    assert_one_line(error, "not found", "--model")
    path = copy_bundle(small_bundle, tmp_path / "b")
    (path / "pns_plus.safetensors").unlink()
    with pytest.raises(BundleError) as error:
        load_bundle(path)
    assert_one_line(error, "pns_plus.safetensors", "polyp-export")


def test_damaged_manifest_and_weights_are_refused(small_bundle: ModelBundle,
                                                  tmp_path: Path) -> None:
    path = copy_bundle(small_bundle, tmp_path / "b")
    (path / "bundle.json").write_text("{not json")
    with pytest.raises(BundleError) as error:
        load_bundle(path)
    assert_one_line(error, "bundle.json", "unreadable")

    path = copy_bundle(small_bundle, tmp_path / "c")
    (path / "samihs.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(BundleError) as error:
        load_bundle(path)
    assert_one_line(error, "samihs.safetensors")

    path = copy_bundle(small_bundle, tmp_path / "d")
    manifest = json.loads((path / "bundle.json").read_text())
    manifest["pns_plus"]["backbone"] = "res2net50_v1b_26w_4s"  # weights are ResNet-18's
    (path / "bundle.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError) as error:
        load_bundle(path)
    assert_one_line(error, "pns_plus.safetensors", "PNS+")

    manifest["pns_plus"]["backbone"] = "resnet18"
    manifest["prompts"] = {"threshold": 2.0}
    (path / "bundle.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError) as error:
        load_bundle(path)
    assert_one_line(error, "threshold")


def test_trainable_only_samihs_needs_its_sam_checkpoint(
    small_bundle: ModelBundle, tmp_path: Path
) -> None:
    path = copy_bundle(small_bundle, tmp_path / "b")
    save_samihs_weights(small_bundle.samihs, path / "samihs.safetensors", contents="trainable")
    with pytest.raises(BundleError) as error:
        load_bundle(path)
    assert_one_line(error, "sam_checkpoint")


def test_no_model_means_the_bundled_demo_model(real_clip) -> None:
    segmenter = build_stream_segmenter(None, backend="torch")
    result = segmenter.process(real_clip[0][0])
    assert result.probability.shape == real_clip[0][0].shape[:2]


def test_a_missing_demo_model_is_a_one_line_error(monkeypatch, tmp_path) -> None:
    import engine.stream

    monkeypatch.setattr(engine.stream, "DEMO_MODEL_DIR", tmp_path / "assets" / "model")
    with pytest.raises(BundleError) as error:
        build_stream_segmenter(None)
    assert_one_line(error, "assets/model", "--model")


def test_old_base_checkpoint_key_names_its_new_name(
    small_bundle: ModelBundle, tmp_path: Path
) -> None:
    path = copy_bundle(small_bundle, tmp_path / "b")
    manifest = json.loads((path / "bundle.json").read_text())
    manifest["samihs"] = {"file": "samihs.safetensors", "base_checkpoint": None}
    (path / "bundle.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError) as error:
        load_bundle(path)
    assert_one_line(error, "samihs.sam_checkpoint")


def test_a_vit_sam_stage_refuses_another_image_size(
    small_bundle: ModelBundle, tmp_path: Path
) -> None:
    path = copy_bundle(small_bundle, tmp_path / "b")
    manifest = json.loads((path / "bundle.json").read_text())
    for size, words in ((320, ("samihs.image_size", "vit_t", "256")),
                        (300, ("samihs.image_size", "multiple of 16")),
                        ("320", ("samihs.image_size", "multiple of 16"))):
        manifest["samihs"]["image_size"] = size
        (path / "bundle.json").write_text(json.dumps(manifest))
        with pytest.raises(BundleError) as error:
            load_bundle(path)
        assert_one_line(error, *words)
    manifest["samihs"]["image_size"] = 256  # its own size: accepted, nothing changes
    (path / "bundle.json").write_text(json.dumps(manifest))
    assert load_bundle(path).samihs.config == small_bundle.samihs.config
