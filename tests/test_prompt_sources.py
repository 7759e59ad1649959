"""The prompt source as a setting, on real CVC-ClinicDB frames: PolypSegmenter with pns,
autosam, gt-point and gt-box; training each source and `polyp-eval --compare` on one split."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import FIXTURES
from safetensors import safe_open

from models import build_pns_plus, build_samihs, load_samihs
from models.autosam import build_autosam
from models.pipeline import oracle_probability
from models.samihs import logits_to_frame, preprocess_frame, save_samihs_weights
from models.segmenter import PolypSegmenter
from training.cli import eval_main
from training.config import load_config
from training.errors import ConfigError
from training.evaluate.compare import compare_runs
from training.trainer import AutoSamTask, SamTask, make_sam_task, train

SIZE = 128


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    sam = build_samihs("vit_t", SIZE)
    return build_pns_plus(backbone="resnet18"), sam, build_autosam(sam, "small_cnn").prompt_net


def segment(models, source: str, frame: np.ndarray, mask: np.ndarray | None = None):
    pns, sam, net = models
    segmenter = PolypSegmenter(pns, sam, prompt_source=source, autosam=net)
    return segmenter(frame, mask) if mask is not None else segmenter(frame)


def test_pns_source_is_the_default_behaviour(real_clip, models):
    pns, sam, _ = models
    frame = real_clip[2][0]
    default = PolypSegmenter(pns, sam)(frame)
    chosen = segment(models, "pns", frame)
    assert default.source == chosen.source == "pns"
    assert chosen.pns_probability.shape == (256, 448)
    np.testing.assert_array_equal(default.probability, chosen.probability)
    assert chosen.sam_ran and chosen.prompts.boxes is not None  # random PNS+ maps sit near 0.5


def test_gt_box_source_prompts_the_gt_box(real_clip, models):
    frame, mask = real_clip[1]
    result = segment(models, "gt-box", frame, mask)
    rows, cols = np.nonzero(mask)
    assert result.source == "gt-box" and result.sam_ran
    assert result.prompts.points is None and result.pns_probability.shape == (0, 0)
    expected = [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]  # pixel edges
    np.testing.assert_allclose(result.prompts.boxes[0], expected, atol=1e-3)
    with pytest.raises(ValueError, match="needs the frame's GT mask"):
        segment(models, "gt-box", frame)


def test_gt_point_source_prompts_the_most_interior_gt_pixel(real_clip, models):
    frame, mask = real_clip[1]
    result = segment(models, "gt-point", frame, mask)
    assert result.prompts.boxes is None and result.sam_ran
    x, y = result.prompts.points[0]
    assert mask[int(y), int(x)] == 1
    peak = np.unravel_index(np.argmax(oracle_probability(mask)), mask.shape)
    assert abs(int(y) - peak[0]) <= 1 and abs(int(x) - peak[1]) <= 1
    empty = segment(models, "gt-point", frame, np.zeros_like(mask))  # no polyp: SAM skipped
    assert not empty.sam_ran and not empty.probability.any()


def test_autosam_source_runs_sam_on_its_dense_prompt(real_clip, models):
    _, sam, net = models
    frame = real_clip[4][0]
    result = segment(models, "autosam", frame)
    assert result.source == "autosam" and result.sam_ran and result.prompts.empty
    image, geometry = preprocess_frame(frame, SIZE, "BGR")
    with torch.no_grad():
        logits = build_autosam(sam, "small_cnn").eval()
        logits.prompt_net.load_state_dict(net.state_dict())
        expected = logits_to_frame(logits(image), geometry)[0, 0].sigmoid().numpy()
    np.testing.assert_allclose(result.probability, expected, atol=1e-5)
    with pytest.raises(ValueError, match="needs an AutoSAM prompt network"):
        PolypSegmenter(None, sam, prompt_source="autosam")


def test_the_four_sources_give_four_different_maps(real_clip, models):
    frame, mask = real_clip[5]
    maps = {
        s: segment(models, s, frame, mask).probability
        for s in ("pns", "autosam", "gt-point", "gt-box")
    }
    names = list(maps)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert np.abs(maps[a] - maps[b]).mean() > 1e-4, (a, b)


def run_config(tmp_path, base, source: str, extra: list[str] = ()):
    data = f"{{root: {FIXTURES / 'cvc-clinicdb'}}}"
    return load_config(
        "sam",
        None,
        [
            "model.variant=vit_t",
            f"model.image_size={SIZE}",
            f"model.init_weights={base}",
            f"prompt.source={source}",
            "autosam.encoder=small_cnn",
            f"data.train=[{data}]",
            f"data.val=[{data}]",
            "data.augment=false",
            "optim.batch_size=2",
            "optim.steps_per_epoch=2",
            "optim.epochs=1",
            "run.device=cpu",
            "run.progress=false",
            f"run.out_dir={tmp_path / source}",
            *extra,
        ],
    )


def test_train_each_source_and_compare(tmp_path, capsys):
    torch.manual_seed(0)
    base = tmp_path / "base.safetensors"
    save_samihs_weights(build_samihs("vit_t", SIZE), base, contents="all")
    with pytest.raises(ConfigError, match="prompt.source must be one of"):
        make_sam_task(run_config(tmp_path, base, "clicks"))
    runs = []
    for source in ("autosam", "gt-point"):
        config = run_config(tmp_path, base, source, ["optim.lr=3e-4"])
        task = make_sam_task(config)
        assert isinstance(task, AutoSamTask) == (source == "autosam") and isinstance(task, SamTask)
        result = train(task, config)
        runs.append(tmp_path / source)
        if source == "autosam":  # the SAM under it is still the base file's; the file holds
            base_state = load_samihs(base).state_dict()  # only the prompt network
            for key, value in result.model.sam.state_dict().items():
                assert value.equal(base_state[key]), key
            saved = safe_open(str(tmp_path / source / "best.safetensors"), "pt").keys()
            assert set(saved) == set(result.model.prompt_net.state_dict())
    reports = compare_runs(runs, "cpu")
    assert [label.split()[0] for label in reports] == ["autosam", "gt-point"]
    assert result.last_report.metrics["maxDice"] == pytest.approx(
        reports[list(reports)[1]].metrics["maxDice"], abs=1e-9
    )
    assert eval_main(["--compare", *map(str, runs), "--device", "cpu", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "| configuration | S-alpha | Dice | Sen | wF |" in out
    assert "AutoSAM small_cnn" in out and "prompts gt-point" in out
    assert eval_main(["--compare", str(tmp_path / "missing")]) == 2
    assert "config.yaml: not found" in capsys.readouterr().err
