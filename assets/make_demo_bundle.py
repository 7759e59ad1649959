"""Packs the demo model: trained SAM-stage + PNS+ weight files -> the bundle at `assets/model/`.

Run after the `polyp-train` runs of assets/MODEL_CARD.md:
  python assets/make_demo_bundle.py SAM_STAGE PNS_PLUS
with SAM_STAGE runs/sam_swa/average.safetensors and PNS_PLUS runs/pns_swa/average.safetensors
(the weight averages of the last training phases).
Prompts: box + point per PNS+ component (the SAM stage trained with GT box + point prompts);
presence hysteresis with its default settings (models/pipeline/smoothing.py). The SAM stage,
trained at 256 with zoom augmentation and then at 320, runs at 320 (`--sam-image-size`, the
manifest's samihs.image_size; BENCHMARKS.md, "The SAM stage at 320").
Weights are stored in fp16 (half the size; computed in fp32 after loading) where parity holds:
both files, else the SAM stage alone (PNS+ is small, and its prompt threshold is the sensitive
cut), else neither; parity is a mean mask IoU >= 0.99 against fp32 over the demo clip's frames.
calibration/ (for the int8 back end, engine/export/int8.py): `--calibration-frames` training
frames, half CVC-ClinicDB seq01-24, half Kvasir-SEG outside the held-out 100, drawn with seed 0;
never a held-out frame (the demo clip is seq25-29).
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from engine.bundle import load_bundle, save_bundle
from engine.clips import read_clip
from engine.stream import StreamSegmenter
from models import load_samihs
from models.pipeline import SmoothingConfig
from models.pns_plus.weights_file import load_pns_weights
from models.prompts import PromptConfig

ASSETS = Path(__file__).resolve().parent
DATA = ASSETS.parents[1] / "shared" / "data"
HELDOUT_KVASIR = ASSETS.parent / "training" / "splits" / "kvasir_seg_heldout100.txt"
TRAINING_CLINICDB = tuple(f"seq{n:02d}" for n in range(1, 25))
PARITY_IOU = 0.99


def calibration_files(data: Path, count: int, seed: int = 0) -> dict[str, Path]:
    """{bundle name: training frame}: count // 2 ClinicDB seq01-24 frames, the rest Kvasir-SEG
    training images, drawn at random with `seed`."""
    clinic = sorted(p for seq in TRAINING_CLINICDB for p in (data / "cvc-clinicdb" / "Frame" / seq)
                    .glob("*.jpg"))
    heldout = set(HELDOUT_KVASIR.read_text().split())
    kvasir = sorted(p for p in (data / "kvasir-seg" / "images").glob("*.jpg")
                    if p.stem not in heldout and p.name not in heldout)
    if not clinic or not kvasir:
        raise SystemExit(f"make_demo_bundle: no training frames under {data}; pass --data")
    rng = random.Random(seed)
    chosen = {f"clinicdb_{p.parent.name}_{p.name}": p for p in rng.sample(clinic, count // 2)}
    chosen.update({f"kvasir_{p.name}": p for p in rng.sample(kvasir, count - count // 2)})
    return chosen


def to_fp16(path: Path) -> None:
    """Rewrites a safetensors file with its float32 tensors as float16, metadata kept."""
    with safe_open(str(path), "pt") as handle:
        metadata = handle.metadata()
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    halved = {
        key: value.half() if value.dtype == torch.float32 else value
        for key, value in tensors.items()
    }
    save_file(halved, str(path), metadata=metadata)


def masks(bundle_dir: Path, frames: list[np.ndarray]) -> list[np.ndarray]:
    stream = StreamSegmenter(load_bundle(bundle_dir), backend="torch-cpu")
    return [stream.process(frame).mask for frame in frames]


def frame_ious(first: list[np.ndarray], second: list[np.ndarray]) -> np.ndarray:
    scores = []
    for a, b in zip(first, second, strict=True):
        union = (a | b).sum()
        scores.append(1.0 if union == 0 else (a & b).sum() / union)
    return np.asarray(scores)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("samihs", type=Path, help="SAM-stage weight file (contents: all)")
    parser.add_argument("pns", type=Path, help="PNS+ weight file")
    parser.add_argument("--out", type=Path, default=ASSETS / "model")
    parser.add_argument("--threshold", type=float, default=0.5, help="PNS+ prompt threshold")
    parser.add_argument("--sam-image-size", type=int, default=320,
                        help="input side the SAM stage runs at (its weights stay as trained)")
    parser.add_argument("--clip", type=Path, default=ASSETS / "demo_clip.mp4",
                        help="video for the fp16 parity check")
    parser.add_argument("--data", type=Path, default=DATA,
                        help="shared data folder (calibration frames come from its training part)")
    parser.add_argument("--calibration-frames", type=int, default=32,
                        help="training frames stored for the int8 back end's calibration")
    args = parser.parse_args()
    samihs = load_samihs(args.samihs)
    pns, backbone = load_pns_weights(args.pns)
    prompts = PromptConfig(threshold=args.threshold, use_mask=False)  # trained without one
    frames = [frame for frame in read_clip(args.clip)]
    with tempfile.TemporaryDirectory() as scratch:
        full = save_bundle(
            Path(scratch) / "fp32", pns, samihs, backbone, prompts, SmoothingConfig(),
            args.sam_image_size, calibration_files(args.data, args.calibration_frames),
        )
        reference = masks(full, frames)
        chosen = full
        options = (("both fp16", ("samihs", "pns_plus")), ("SAM stage fp16", ("samihs",)))
        for label, halved in options:
            candidate = Path(shutil.copytree(full, Path(scratch) / label.replace(" ", "_")))
            for name in halved:
                to_fp16(candidate / f"{name}.safetensors")
            ious = frame_ious(reference, masks(candidate, frames))
            print(f"{label} vs fp32 on {args.clip.name}: mean mask IoU {ious.mean():.4f}, "
                  f"worst frame {ious.min():.4f}, frames below 0.99: {(ious < 0.99).sum()}")
            if ious.mean() >= PARITY_IOU:
                chosen = candidate
                break
        print(f"storing {chosen.name}")
        if args.out.exists():
            shutil.rmtree(args.out)
        shutil.copytree(chosen, args.out)
    size = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file()) / 2**20
    print(f"wrote {args.out} ({size:.1f} MiB)")


if __name__ == "__main__":
    main()
