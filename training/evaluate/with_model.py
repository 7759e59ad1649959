"""`polyp-eval --model PATH... --data DIR`: load the weights, predict every frame, score.

--model takes a model bundle folder (exactly what `polyp-live --model DIR` takes: loaded by
models.pipeline.load_bundle, with its prompt settings and its base SAM checkpoint), or loose
weight files told apart by their metadata. PNS+ + SAMIHS: the inference sequence the live app
runs (models.PolypSegmenter, frame by frame, reset per video). PNS+ alone: PNS+'s own maps
(offline 5-frame chunks). An oracle prompt source (gt, gt-point, gt-box) needs no PNS+.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from models.pipeline import DEFAULT_CUT_THRESHOLD, ORACLE_SOURCES
from models.pipeline.bundle import SAMIHS_FILE, BundleError, load_bundle
from models.samihs import SAMIHS, load_samihs
from models.samihs.checkpoint import read_samihs_config
from models.segmenter import PolypSegmenter

from ..data.layout import find_dataset
from ..data.sources import select_images
from ..devices import resolve_device
from ..errors import UserError
from ..model_files import load_pns_weights, weight_kind
from .folders import evaluate_folders
from .predict import PnsPredictor, Predictor, SegmenterPredictor, write_predictions
from .protocol import Report

FOLDER_NAMES = {"samihs": SAMIHS_FILE, "pns": "pns_plus.safetensors"}
EVAL_PROMPT_SOURCES = ("pns", *ORACLE_SOURCES)


def predict_and_score(
    weights: list[Path],
    data: Path,
    out: str | Path | None = None,
    device: str = "auto",
    sam_checkpoint: str | None = None,
    progress: bool = True,
    prompt_source: str = "pns",
    names_file: str | Path | None = None,
    cases: list[str] | None = None,
) -> Report:
    """Writes maps for every frame of `data` (to `out`, else a temporary folder) and scores them;
    names_file / cases: score only the images it lists (image folders) / these videos."""
    predictor = build_predictor(weights, resolve_device(device), sam_checkpoint, prompt_source)
    videos = find_dataset(data, cases)
    if names_file is not None:
        videos = select_images(videos, str(data), names_file, exclude=False)
    with tempfile.TemporaryDirectory(prefix="polyp-eval-") as scratch:
        folder = Path(out) if out else Path(scratch)
        write_predictions(predictor, videos, folder, progress=progress)
        return evaluate_folders(folder, data, names_file, cases)


def build_predictor(
    weights: list[Path],
    device: torch.device,
    sam_checkpoint: str | None = None,
    prompt_source: str = "pns",
) -> Predictor:
    """The predictor for --model: a bundle folder, or loose SAMIHS / PNS+ files."""
    if prompt_source not in EVAL_PROMPT_SOURCES:
        raise UserError(f"--prompt-source must be one of {', '.join(EVAL_PROMPT_SOURCES)}")
    if len(weights) == 1 and (weights[0] / SAMIHS_FILE).is_file():
        try:
            bundle = load_bundle(weights[0])
        except BundleError as error:
            raise UserError(str(error)) from None
        pns, samihs, config = bundle.pns, bundle.samihs, bundle.prompt_config
        smoothing = bundle.smoothing
    else:
        sam_file, pns_file = find_weights(weights, needs_pns=prompt_source == "pns")
        pns = load_pns_weights(pns_file)[0] if pns_file is not None else None
        if sam_file is None:
            return PnsPredictor(pns.to(device), device)
        samihs, config = load_samihs_for_eval(sam_file, sam_checkpoint), None
        smoothing = None
    pns = pns.to(device) if pns is not None and prompt_source == "pns" else None
    segmenter = PolypSegmenter(  # scene cuts restart the stream, as in the live app
        pns, samihs.to(device), config, prompt_source=prompt_source,
        cut_threshold=DEFAULT_CUT_THRESHOLD, smoothing=smoothing,
    )
    return SegmenterPredictor(segmenter)


def find_weights(paths: list[Path], needs_pns: bool = True) -> tuple[Path | None, Path | None]:
    """(SAMIHS file or None, PNS+ file or None) from the files and folders given to --model."""
    found: dict[str, list[Path]] = {"samihs": [], "pns": []}
    for path in paths:
        if path.is_dir():
            named = {kind: path / name for kind, name in FOLDER_NAMES.items()}
            if not any(p.is_file() for p in named.values()):
                raise UserError(
                    f"{path}: no samihs.safetensors or pns_plus.safetensors in this folder; "
                    "pass a folder written by polyp-export --out DIR, or the weight files"
                )
            for kind, file in named.items():
                if file.is_file():
                    found[kind].append(file)
        else:
            found[weight_kind(path)].append(path)
    pns_count, sam_count = len(found["pns"]), len(found["samihs"])
    if needs_pns and (pns_count != 1 or sam_count > 1):
        raise UserError(
            "--model needs one PNS+ weight file (it makes the prompts) and at most one SAMIHS "
            f"file; got {pns_count} PNS+ and {sam_count} SAMIHS"
        )
    if not needs_pns and (sam_count != 1 or pns_count > 1):
        raise UserError(
            f"an oracle prompt source needs one SAMIHS weight file; got {sam_count} SAMIHS"
        )
    return (
        found["samihs"][0] if found["samihs"] else None,
        found["pns"][0] if found["pns"] else None,
    )


def load_samihs_for_eval(path: Path, sam_checkpoint: str | None) -> SAMIHS:
    """A SAMIHS file; one holding fine-tuned tensors only needs its base SAM checkpoint."""
    _, metadata = read_samihs_config(path)
    if metadata["contents"] == "trainable" and sam_checkpoint is None:
        base = (metadata.get("sam_checkpoint") or {}).get("name", "the official SAM checkpoint")
        raise UserError(f"{path}: holds fine-tuned tensors only; pass --sam-checkpoint {base}")
    return load_samihs(path, sam_checkpoint)
