"""`polyp-eval --model PATH... --data DIR`: load the weights, predict every frame, score.

--model takes a folder holding `samihs.safetensors` and/or `pns_plus.safetensors`, or weight
files (told apart by their metadata); a bundle folder's bundle.json prompt settings apply.
PNS+ + SAMIHS: the deployed pipeline (models.PolypSegmenter,
frame by frame, reset per video). PNS+ alone: PNS+'s own maps (offline 5-frame chunks).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from models.prompts import PromptConfig
from models.samihs import SAMIHS, load_samihs
from models.samihs.checkpoint import read_samihs_config
from models.segmenter import PolypSegmenter

from ..data.layout import find_dataset
from ..devices import resolve_device
from ..errors import UserError
from ..model_files import load_pns_weights, weight_kind
from .folders import evaluate_folders
from .predict import PipelinePredictor, PnsPredictor, write_predictions
from .protocol import Report

FOLDER_NAMES = {"samihs": "samihs.safetensors", "pns": "pns_plus.safetensors"}


def predict_and_score(
    weights: list[Path],
    data: Path,
    out: str | Path | None = None,
    device: str = "auto",
    sam_checkpoint: str | None = None,
    progress: bool = True,
) -> Report:
    """Writes maps for every frame of `data` (to `out`, else a temporary folder) and scores them."""
    sam_file, pns_file = find_weights(weights)
    target = resolve_device(device)
    pns, _ = load_pns_weights(pns_file)
    pns = pns.to(target)
    if sam_file is not None:
        samihs = load_samihs_for_eval(sam_file, sam_checkpoint).to(target)
        prompt_config = bundle_prompt_config(weights)
        predictor = PipelinePredictor(PolypSegmenter(pns, samihs, prompt_config))
    else:
        predictor = PnsPredictor(pns, target)
    videos = find_dataset(data)
    with tempfile.TemporaryDirectory(prefix="polyp-eval-") as scratch:
        folder = Path(out) if out else Path(scratch)
        write_predictions(predictor, videos, folder, progress=progress)
        return evaluate_folders(folder, data)


def bundle_prompt_config(paths: list[Path]) -> PromptConfig | None:
    """The prompt settings of a model bundle folder (its bundle.json), so a bundle is scored
    with the prompts the app will use; None (the defaults) for loose weight files."""
    for path in paths:
        manifest = path / "bundle.json"
        if path.is_dir() and manifest.is_file():
            try:
                values = json.loads(manifest.read_text()).get("prompts") or {}
                return PromptConfig(**values)
            except (ValueError, TypeError, AttributeError) as error:
                raise UserError(f"{manifest}: bad prompt settings ({error})") from None
    return None


def find_weights(paths: list[Path]) -> tuple[Path | None, Path]:
    """(SAMIHS file or None, PNS+ file) from the files and folders given to --model."""
    found: dict[str, list[Path]] = {"samihs": [], "pns": []}
    for path in paths:
        if path.is_dir():
            named = {kind: path / name for kind, name in FOLDER_NAMES.items()}
            if not any(p.is_file() for p in named.values()):
                raise UserError(
                    f"{path}: no samihs.safetensors or pns_plus.safetensors in this folder; "
                    "pass the weight files instead"
                )
            for kind, file in named.items():
                if file.is_file():
                    found[kind].append(file)
        else:
            found[weight_kind(path)].append(path)
    if len(found["pns"]) != 1 or len(found["samihs"]) > 1:
        raise UserError(
            "--model needs one PNS+ weight file (it makes the prompts) and at most one SAMIHS "
            f"file; got {len(found['pns'])} PNS+ and {len(found['samihs'])} SAMIHS"
        )
    return (found["samihs"][0] if found["samihs"] else None), found["pns"][0]


def load_samihs_for_eval(path: Path, sam_checkpoint: str | None) -> SAMIHS:
    """A SAMIHS file; one holding fine-tuned tensors only needs its base SAM checkpoint."""
    _, metadata = read_samihs_config(path)
    if metadata["contents"] == "trainable" and sam_checkpoint is None:
        base = (metadata.get("base_checkpoint") or {}).get("name", "the official SAM checkpoint")
        raise UserError(f"{path}: holds fine-tuned tensors only; pass --sam-checkpoint {base}")
    return load_samihs(path, sam_checkpoint)
