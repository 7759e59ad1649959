"""Benchmark measures: per-frame values vs pysodmetrics, threshold curves vs direct NumPy,
and the video protocol (first/last frame dropped, each video weighted equally)."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import cv2
import numpy as np
import py_sod_metrics as sod
import pytest

from training.cli import eval_main
from training.errors import DataError
from training.evaluate import (
    THRESHOLDS,
    VideoFrames,
    prepare_frame,
    score_frame,
    score_videos,
    threshold_curves,
)
from training.evaluate.folders import evaluate_folders

FIXTURE = Path(__file__).parent / "fixtures" / "cvc-clinicdb"


def random_pair(rng: np.random.Generator, pred_size=(60, 80), gt_size=(90, 120)):
    """A smooth random uint8 map (smaller than the GT, so it gets resized) and a blob GT."""
    noise = rng.random(pred_size).astype(np.float32)
    pred = cv2.GaussianBlur(noise, (0, 0), 3)
    pred = ((pred - pred.min()) / (np.ptp(pred) + 1e-9) * 200 + rng.integers(0, 50)).astype(
        np.uint8
    )
    gt = np.zeros(gt_size, np.uint8)
    for _ in range(rng.integers(1, 4)):
        centre = (int(rng.integers(0, gt_size[1])), int(rng.integers(0, gt_size[0])))
        axes = (int(rng.integers(4, 30)), int(rng.integers(4, 30)))
        cv2.ellipse(gt, centre, axes, float(rng.integers(0, 180)), 0, 360, 255, -1)
    return pred, gt


def edge_cases(rng: np.random.Generator):
    pred, gt = random_pair(rng)
    yield pred, np.zeros_like(gt)  # no polyp
    yield pred, np.full_like(gt, 255)  # all polyp
    yield np.full((60, 80), 77, np.uint8), gt  # constant map: min-max leaves it alone


def library_scores(pred: np.ndarray, gt: np.ndarray) -> dict:
    """pysodmetrics on its own preparation (normalize=True) of the GT-sized map."""
    resized = cv2.resize(pred, (gt.shape[1], gt.shape[0]))
    s, e, w, m = sod.Smeasure(), sod.Emeasure(), sod.WeightedFmeasure(), sod.MAE()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Fmeasure is deprecated upstream but still the toolbox's
        f = sod.Fmeasure()
    for metric in (s, e, w, m, f):
        metric.step(resized, gt)
    return {
        "s": s.sms[-1],
        "e": e.changeable_ems[-1],
        "w": w.weighted_fms[-1],
        "mae": m.maes[-1],
        "f": f.changeable_fms[-1],
    }


def test_per_frame_measures_agree_with_pysodmetrics():
    rng = np.random.default_rng(0)
    pairs = [random_pair(rng) for _ in range(6)] + list(edge_cases(rng))
    for pred, gt in pairs:
        ours, theirs = score_frame(pred, gt), library_scores(pred, gt)
        assert abs(ours.s_alpha - theirs["s"]) <= 1e-6
        assert abs(ours.weighted_f - theirs["w"]) <= 1e-6
        assert np.abs(ours.e_curve - theirs["e"]).max() <= 1e-6
        assert np.abs(ours.f_curve - theirs["f"]).max() <= 1e-6
        assert abs(ours.mae - theirs["mae"]) <= 1e-6


def test_a_perfect_map_scores_perfectly():
    _, gt = random_pair(np.random.default_rng(1))
    scores = score_frame(gt.copy(), gt)
    assert scores.s_alpha == pytest.approx(1.0)
    assert scores.mae == 0
    assert scores.dice_curve.max() == 1 and scores.sen_curve.max() == 1
    pixels = gt.size  # the toolbox divides E-phi's sum by (pixels - 1)
    assert scores.e_curve.max() == pytest.approx(pixels / (pixels - 1), abs=1e-9)


def numpy_curves(prob: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, ...]:
    """The toolbox's Medical measures, one threshold at a time."""
    dice, sen, iou = [], [], []
    for threshold in np.linspace(1, 0, 256):
        predicted = prob >= threshold
        tp = np.sum(predicted & gt)
        if tp == 0:
            dice.append(0.0), sen.append(0.0), iou.append(0.0)
            continue
        dice.append(2 * tp / (gt.sum() + predicted.sum()))
        sen.append(tp / gt.sum())
        iou.append(tp / (gt.sum() - tp + predicted.sum()))
    return np.array(dice), np.array(sen), np.array(iou)


def test_dice_and_sensitivity_curves_match_numpy_on_256_thresholds():
    rng = np.random.default_rng(2)
    assert THRESHOLDS[0] == 1 and THRESHOLDS[-1] == 0 and len(THRESHOLDS) == 256
    cases = [prepare_frame(*random_pair(rng)) for _ in range(4)]
    # values exactly on the thresholds: `>=` must count them, as the toolbox does
    exact = rng.choice(THRESHOLDS, size=(30, 40))
    cases.append((exact, rng.random((30, 40)) > 0.7))
    cases.append((exact, np.zeros((30, 40), bool)))
    for prob, gt in cases:
        for ours, direct in zip(threshold_curves(prob, gt), numpy_curves(prob, gt), strict=True):
            np.testing.assert_allclose(ours, direct, rtol=0, atol=1e-12)


def poisoned_video(rng: np.random.Generator, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Frames whose first and last maps are the GT's negative (the worst possible map)."""
    frames = [random_pair(rng, (90, 120)) for _ in range(count)]
    for index in (0, count - 1):
        frames[index] = (255 - frames[index][1], frames[index][1])
    return frames


def test_protocol_drops_first_and_last_frame_and_weights_videos_equally():
    rng = np.random.default_rng(3)
    short, long = poisoned_video(rng, 3), poisoned_video(rng, 7)
    report = score_videos([VideoFrames("short", short), VideoFrames("long", long)])
    assert [v.frames_scored for v in report.videos] == [1, 5]
    assert report.frames_scored == 6 and report.frames_total == 10
    inner = {
        "short": [score_frame(*f) for f in short[1:-1]],
        "long": [score_frame(*f) for f in long[1:-1]],
    }
    per_video_s = [np.mean([s.s_alpha for s in frames]) for frames in inner.values()]
    assert report.metrics["Smeasure"] == pytest.approx(np.mean(per_video_s), abs=1e-12)
    per_video_dice = [np.mean([s.dice_curve for s in frames], axis=0) for frames in inner.values()]
    assert report.metrics["maxDice"] == pytest.approx(np.mean(per_video_dice, axis=0).max())
    assert report.metrics["meanSen"] == pytest.approx(
        np.mean([np.mean([s.sen_curve for s in f], axis=0) for f in inner.values()], axis=0).mean()
    )
    frame_weighted = np.mean([s.s_alpha for frames in inner.values() for s in frames])
    assert report.metrics["Smeasure"] != pytest.approx(frame_weighted, abs=1e-4)
    with_ends = np.mean([np.mean([score_frame(*f).s_alpha for f in v]) for v in (short, long)])
    assert report.metrics["Smeasure"] > with_ends + 0.05


def test_image_folder_images_are_videos_with_nothing_dropped():
    rng = np.random.default_rng(4)
    pairs = [random_pair(rng) for _ in range(3)]
    report = score_videos(
        [VideoFrames(f"img{i}", [pair], still=True) for i, pair in enumerate(pairs)]
    )
    assert report.frames_scored == 3 and not report.drop_ends
    assert "no frame dropped" in report.notes[0]
    expected = np.mean([score_frame(*pair).s_alpha for pair in pairs])
    assert report.metrics["Smeasure"] == pytest.approx(expected)
    video = score_videos([VideoFrames("a", pairs[:2]), VideoFrames("b", pairs)])
    assert video.frames_scored == 1 and "video a skipped" in video.notes[0]


@pytest.fixture
def fixture_copy(tmp_path: Path) -> Path:
    """The 8-frame real fixture video, and predictions = its own masks, in a temp folder."""
    data = tmp_path / "data"
    shutil.copytree(FIXTURE, data)
    shutil.copytree(FIXTURE / "GT", tmp_path / "pred")
    return tmp_path


def test_folder_evaluation_on_real_masks(fixture_copy: Path):
    report = evaluate_folders(fixture_copy / "pred", fixture_copy / "data")
    assert report.frames_total == 8 and report.frames_scored == 6
    assert report.metrics["maxDice"] == 1 and report.metrics["Smeasure"] == pytest.approx(1)
    missing = fixture_copy / "pred" / "seq26" / "533.png"
    missing.unlink()
    with pytest.raises(DataError, match="533.png: missing prediction"):
        evaluate_folders(fixture_copy / "pred", fixture_copy / "data")


def test_polyp_eval_prints_the_papers_columns_and_writes_json(fixture_copy: Path, capsys):
    pred = fixture_copy / "pred" / "seq26"
    for path in pred.glob("*.png"):  # a blurred, shrunken copy: not perfect
        mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        cv2.imwrite(str(path), cv2.GaussianBlur(cv2.resize(mask, (96, 72)), (9, 9), 4))
    out = fixture_copy / "scores.json"
    code = eval_main(
        [
            "--pred",
            str(fixture_copy / "pred"),
            "--gt",
            str(fixture_copy / "data"),
            "--json",
            str(out),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    header = printed.splitlines()[-2].split()
    assert header[:4] == ["S-alpha", "Dice", "Sen", "wF"]
    assert "6 of 8 frames scored (first and last frame of each video dropped)" in printed
    saved = json.loads(out.read_text())
    assert list(saved["metrics"])[:4] == ["Smeasure", "maxDice", "meanSen", "wFmeasure"]
    assert 0.5 < saved["metrics"]["maxDice"] < 1
    assert saved["per_video"]["seq26"]["frames_scored"] == 6


def test_polyp_eval_bad_input_is_one_line_and_status_2(fixture_copy: Path, capsys):
    code = eval_main(["--pred", str(fixture_copy / "nowhere"), "--gt", str(fixture_copy / "data")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.count("\n") == 0 and "nowhere: prediction folder not found" in err


def test_flicker_counts_toggles_and_consecutive_dice() -> None:
    from training.evaluate.flicker import summarise_flicker, video_flicker

    on = np.zeros((8, 8), np.uint8)
    on[2:6, 2:6] = 255
    shifted = np.zeros((8, 8), np.uint8)
    shifted[2:6, 4:8] = 255
    off = np.zeros((8, 8), np.uint8)
    # on, off, on, shifted: 2 toggles over 3 transitions; Dice 0, 0, 0.5.
    toggles, dice = video_flicker([on, off, on, shifted])
    assert toggles == pytest.approx(200.0 / 3)
    assert dice == pytest.approx(0.5 / 3)
    steady = video_flicker([on, on, on])
    assert steady == (0.0, 1.0)
    assert video_flicker([on]) is None
    summary = summarise_flicker([(toggles, dice), steady])
    assert summary.toggles_per_100 == pytest.approx(100.0 / 3) and summary.videos == 2
    # Faint predictions (<= 127, drawn as nothing) are not a polyp on screen.
    assert video_flicker([on, np.full((8, 8), 100, np.uint8)])[0] == 100.0


def test_polyp_eval_scores_only_the_chosen_cases_or_names(fixture_copy: Path, tmp_path, capsys):
    code = eval_main(["--pred", str(fixture_copy / "pred"), "--gt", str(fixture_copy / "data"),
                      "--cases", "seq26", "--json", str(tmp_path / "s.json")])
    assert code == 0 and json.loads((tmp_path / "s.json").read_text())["videos"] == 1
    capsys.readouterr()
    code = eval_main(["--pred", str(fixture_copy / "pred"), "--gt", str(fixture_copy / "data"),
                      "--cases", "seq99"])
    assert code == 2 and "no case 'seq99'" in capsys.readouterr().err
    names = tmp_path / "names.txt"
    names.write_text("# comment\n001\n")
    code = eval_main(["--pred", str(fixture_copy / "pred"), "--gt", str(fixture_copy / "data"),
                      "--names", str(names)])
    assert code == 2 and "selects images of an image folder" in capsys.readouterr().err
