"""`polyp-eval --compare RUN_DIR...`: score several trained configurations on one split.

Each run folder (written by polyp-train) holds `config.yaml` and `best.safetensors`; the model is
rebuilt from the config (SAMIHS with its prompt source, AutoSAM, or PNS+), loaded, and scored on
the runs' validation split, which must be the same for every run, with the SUN-SEG protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from ..config import TrainConfig, load_config
from ..devices import resolve_device
from ..errors import UserError
from .predict import score_predictor
from .protocol import METRIC_ORDER, Report

TABLE_COLUMNS = METRIC_ORDER[:4]  # the papers' order: S-alpha, Dice, Sen, wF


def compare_runs(
    runs: Sequence[Path],
    device: str = "auto",
    weights: str = "best.safetensors",
    progress: bool = False,
) -> dict[str, Report]:
    """{run label: Report} for every run folder, all scored on the same validation videos."""
    from ..trainer import PnsTask, make_sam_task

    target = resolve_device(device)
    reports: dict[str, Report] = {}
    split: list[tuple[str, int]] | None = None
    for run in runs:
        config_file, weight_file = run / "config.yaml", run / weights
        for needed in (config_file, weight_file):
            if not needed.is_file():
                raise UserError(f"{needed}: not found; --compare takes polyp-train run folders")
        raw = yaml.safe_load(config_file.read_text()) or {}
        kind = "pns" if "backbone" in (raw.get("model") or {}) else "sam"
        config = load_config(kind, config_file)
        task = make_sam_task(config) if kind == "sam" else PnsTask(config)
        videos = task.val_videos()
        names = [(video.name, len(video)) for video in videos]
        if split is None:
            split = names
        elif names != split:
            raise UserError(f"{run}: validated on another split than {runs[0]}; compare like runs")
        model = task.build_model()
        task.load_weights(model, weight_file)
        predictor = task.predictor(model.to(target), target)
        label = f"{run.name} ({task_label(kind, config)})"
        reports[label] = score_predictor(predictor, videos, progress=progress)
    return reports


def task_label(kind: str, config: TrainConfig) -> str:
    """A row label: the model and, for SAMIHS, its prompt source."""
    if kind == "pns":
        return f"PNS+ {config.model.backbone}"
    source = config.prompt.source
    if source == "autosam":
        return f"AutoSAM {config.autosam.encoder}, {config.model.variant}"
    return f"SAMIHS {config.model.variant}, prompts {source}"


def comparison_table(reports: dict[str, Report]) -> str:
    """A Markdown table: one row per run, columns S-alpha, Dice, Sen, wF (3 decimals)."""
    headers = ["configuration"] + [header for _, header in TABLE_COLUMNS]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for label, report in reports.items():
        values = [f"{report.metrics[key]:.3f}" for key, _ in TABLE_COLUMNS]
        lines.append("| " + " | ".join([label] + values) + " |")
    return "\n".join(lines)
