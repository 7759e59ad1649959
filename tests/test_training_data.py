"""Data: frame order, layouts, mask checks, PNS+ clips, SAMIHS samples and their prompts, mixing,
and augmentation that is identical across a clip and joint for image and mask."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from training.config import SourceConfig
from training.data import (
    ClipDataset,
    PromptSettings,
    SamFrameDataset,
    clip_augmentation,
    clip_windows,
    expand_cases,
    find_dataset,
    frame_sort_key,
    load_sources,
)
from training.data.clips import resize_frame
from training.data.files import read_pair, write_map
from training.errors import DataError

FIXTURE = Path(__file__).parent / "fixtures" / "cvc-clinicdb"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_frame_order_is_natural_and_follows_sun_seg_names():
    names = ["10.jpg", "9.jpg", "100.jpg", "504.jpg", "1.jpg"]
    assert sorted(names, key=frame_sort_key) == ["1.jpg", "9.jpg", "10.jpg", "100.jpg", "504.jpg"]
    stem = "case_M_20181001100941_0U62372100109341_1_005_001-1_a{}_ayy_image{:04d}.jpg"
    sun = [stem.format(2, 1), stem.format(10, 2), stem.format(2, 12), stem.format(1, 161)]
    assert sorted(sun, key=frame_sort_key) == [sun[3], sun[0], sun[2], sun[1]]
    assert expand_cases(["seq01..seq03", "other"]) == ["seq01", "seq02", "seq03", "other"]


def test_video_layout_reads_the_real_fixture_in_order():
    (video,) = find_dataset(FIXTURE)
    assert video.name == "seq26" and not video.still
    assert [r.key for r in video.frames] == [f"seq26/{n}" for n in range(529, 537)]
    assert all(
        r.mask == FIXTURE / "GT" / "seq26" / f"{n}.png"
        for n, r in zip(range(529, 537), video.frames, strict=True)
    )
    with pytest.raises(DataError, match="no case 'seq99'"):
        find_dataset(FIXTURE, ["seq99"])
    with pytest.raises(DataError, match="data folder not found"):
        find_dataset(FIXTURE / "missing")


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURE, tmp_path / "cvc")
    return tmp_path / "cvc"


def test_missing_mask_fails_naming_the_file(data_copy: Path):
    (data_copy / "GT" / "seq26" / "531.png").unlink()
    with pytest.raises(DataError, match=r"GT/seq26/531.png: missing mask for frame .*531.jpg"):
        find_dataset(data_copy)


def test_size_mismatched_mask_fails_naming_the_file(data_copy: Path):
    path = data_copy / "GT" / "seq26" / "532.png"
    cv2.imwrite(str(path), cv2.resize(cv2.imread(str(path)), (100, 80)))
    (video,) = find_dataset(data_copy)
    with pytest.raises(
        DataError, match=r"532.png: mask is 100x80 but its frame .*532.jpg is 384x288"
    ):
        read_pair(video.frames[3])
    dataset = ClipDataset([video], (64, 112))
    with pytest.raises(DataError, match="532.png"):
        dataset[0]


def image_folder(root: Path, count: int = 3) -> Path:
    """An image-folder data set (images/, masks/) made from fixture frames."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for n in range(count):
        shutil.copy(FIXTURE / "Frame" / "seq26" / f"{529 + n}.jpg", root / "images" / f"im{n}.jpg")
        shutil.copy(FIXTURE / "GT" / "seq26" / f"{529 + n}.png", root / "masks" / f"im{n}.png")
    return root


def test_image_folder_and_mixing(tmp_path: Path):
    stills = find_dataset(image_folder(tmp_path / "kvasir"))
    assert [v.name for v in stills] == ["im0", "im1", "im2"]
    assert all(v.still and len(v) == 1 for v in stills)
    mixed = load_sources(
        [SourceConfig(root=str(FIXTURE)), SourceConfig(root=str(tmp_path / "kvasir"), repeat=2)],
        "train",
    )
    assert [v.name for v in mixed] == ["seq26"] + ["im0", "im1", "im2"] * 2
    with pytest.raises(DataError, match="no train data configured"):
        load_sources([], "train")


def test_clips_are_anchor_plus_five_consecutive_frames():
    (video,) = find_dataset(FIXTURE)
    assert clip_windows(video) == [1, 2, 3]  # 8 frames: windows 1-5, 2-6, 3-7
    dataset = ClipDataset([video], (64, 112), augment=None)
    frames = [resize_frame(read_pair(r)[0], (64, 112)).float() / 255 for r in video.frames]
    item = dataset[1]
    assert item["clip"].shape == (6, 3, 64, 112) and item["masks"].shape == (5, 1, 64, 112)
    assert torch.equal(item["clip"][0], frames[0])  # the anchor is the video's first frame
    for k in range(5):
        assert torch.equal(item["clip"][1 + k], frames[2 + k])
    assert set(item["masks"].unique().tolist()) <= {0.0, 1.0}


def mask_video(root: Path, count: int) -> Path:
    """A video whose frames are pictures of their own masks (white polyp on black), so an
    augmented frame must still equal its augmented mask: joint and identical across the clip."""
    for sub in ("Frame/v", "GT/v"):
        (root / sub).mkdir(parents=True)
    for n in range(count):
        mask = cv2.imread(str(FIXTURE / "GT" / "seq26" / f"{529 + n}.png"), cv2.IMREAD_GRAYSCALE)
        cv2.imwrite(str(root / "Frame" / "v" / f"{n}.png"), cv2.merge([mask] * 3))
        cv2.imwrite(str(root / "GT" / "v" / f"{n}.png"), mask)
    return root


def agreement(item: dict) -> float:
    """Fraction of pixels where the frame (thresholded) agrees with its mask, clip frames 1..5."""
    picture = item["clip"][1:, 0] > 0.5
    return float((picture == item["masks"][:, 0].bool()).float().mean())


def test_augmentation_is_joint_and_shared_by_the_clip(tmp_path: Path):
    (video,) = find_dataset(mask_video(tmp_path / "m", 6))
    plain = ClipDataset([video], (64, 112))
    augmented = ClipDataset([video], (64, 112), clip_augmentation(7, True), seed=5)
    changed = 0
    for epoch in range(6):
        augmented.set_epoch(epoch)
        item = augmented[0]
        assert agreement(item) > 0.99
        changed += not torch.equal(item["clip"], plain[0]["clip"])
    assert changed >= 4  # crop/flip drawn per clip: most epochs change the clip
    # the same crop and flip for every frame: frames of identical content stay identical
    (same,) = find_dataset(mask_video(tmp_path / "s", 1))
    repeated = type(same)("r", same.frames * 6)
    item = ClipDataset([repeated], (64, 112), clip_augmentation(7, True), seed=1)[0]
    assert all(torch.equal(item["clip"][k], item["clip"][1]) for k in range(6))


def test_a_still_image_becomes_a_moving_clip_with_its_mask(tmp_path: Path):
    root = tmp_path / "stills"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    mask = cv2.imread(str(FIXTURE / "GT" / "seq26" / "530.png"), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(root / "images" / "a.png"), cv2.merge([mask] * 3))
    cv2.imwrite(str(root / "masks" / "a.png"), mask)
    item = ClipDataset(find_dataset(root), (64, 112), seed=3)[0]
    assert item["clip"].shape == (6, 3, 64, 112)
    assert len({item["clip"][k].sum().item() for k in range(6)}) > 3  # frames move
    assert agreement(item) > 0.98


def test_items_depend_only_on_seed_epoch_and_index(tmp_path: Path):
    (video,) = find_dataset(FIXTURE)
    first = ClipDataset([video], (64, 112), clip_augmentation(7, True), seed=7)
    second = ClipDataset([video], (64, 112), clip_augmentation(7, True), seed=7)
    torch.manual_seed(123)  # the global generator must not matter
    assert torch.equal(first[2]["clip"], second[2]["clip"])
    differs = False
    for epoch in range(1, 4):
        second.set_epoch(epoch)
        differs |= not torch.equal(first[2]["clip"], second[2]["clip"])
    assert differs


def test_sam_samples_with_ground_truth_prompts():
    (video,) = find_dataset(FIXTURE)
    settings = PromptSettings(source="gt", box_jitter=0.1)
    train = SamFrameDataset([video], 128, settings, train=True, seed=0)
    item = train[0]
    assert item["image"].shape == (3, 128, 128) and item["target"].shape == (1, 256, 256)
    _, mask = read_pair(video.frames[0])
    scale = 128 / 384
    x, y = item["point"][0].tolist()
    assert item["point_label"].tolist() == [1]
    assert mask[int((y + 0.5) / scale), int((x + 0.5) / scale)] == 1  # on the polyp
    rows, cols = np.nonzero(mask)
    exact = np.array([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]) * scale
    assert np.abs(item["box"].numpy() - exact).max() < 0.2 * 128 * 0.5
    train_points, val_points = set(), set()
    val = SamFrameDataset([video], 128, settings, train=False)
    for epoch in range(5):
        train.set_epoch(epoch)
        val.set_epoch(epoch)
        train_points.add(tuple(train[0]["point"][0].tolist()))
        val_points.add(tuple(val[0]["point"][0].tolist()))
        assert np.allclose(val[0]["box"].numpy(), exact - [0, 0, 1, 1], atol=1.5)  # no jitter
    assert len(train_points) > 1  # a random foreground pixel each epoch
    assert len(val_points) == 1  # validation: the middle foreground pixel, always


def test_sam_samples_with_pns_map_prompts(tmp_path: Path):
    maps = tmp_path / "maps"
    (video,) = find_dataset(FIXTURE)
    for record in video.frames:  # a map equal to the GT, at PNS+'s own size
        _, mask = read_pair(record)
        write_map(maps / f"{record.key}.png", cv2.resize(mask.astype(np.float32), (448, 256)))
    (with_maps,) = load_sources([SourceConfig(root=str(FIXTURE), maps=str(maps))], "val")
    settings = PromptSettings(source="pns", use_mask=True)
    item = SamFrameDataset([with_maps], 128, settings, train=False)[0]
    assert item["mask_prompt"].shape == (1, 32, 32) and bool(item["prompted"])
    _, mask = read_pair(video.frames[0])
    rows, cols = np.nonzero(mask)
    exact = np.array([cols.min(), rows.min(), cols.max(), rows.max()]) * 128 / 384
    assert np.abs(item["box"].numpy() - exact).max() < 2.0
    (maps / "seq26" / "529.png").unlink()
    with pytest.raises(DataError, match="529.png: PNS\\+ map missing"):
        SamFrameDataset([with_maps], 128, settings, train=False)[0]


def test_samihs_trains_and_validates_on_saved_pns_maps(tmp_path: Path):
    from training.config import load_config
    from training.trainer import SamTask, train

    maps = tmp_path / "maps"
    (video,) = find_dataset(FIXTURE)
    for n, record in enumerate(video.frames):  # GT-like maps, the last one empty (no component)
        _, mask = read_pair(record)
        write_map(maps / f"{record.key}.png", mask.astype(np.float32) * (n < 7))
    source = f"{{root: {FIXTURE}, maps: {maps}}}"
    config = load_config(
        "sam",
        None,
        [
            "model.variant=vit_t",
            "model.image_size=64",
            "model.adapter_dim=4",
            "model.train_all=true",
            "prompt.source=pns",
            "prompt.use_mask=true",
            f"data.train=[{source}]",
            f"data.val=[{source}]",
            "data.augment=true",
            "optim.batch_size=4",
            "optim.epochs=1",
            f"run.out_dir={tmp_path / 'run'}",
            "run.device=cpu",
            "run.progress=false",
        ],
    )
    result = train(SamTask(config), config)
    assert result.last_report.frames_scored == 6
    assert (tmp_path / "run" / "best.safetensors").is_file()
