"""Packs the demo model: trained SAMIHS + PNS+ weight files -> the bundle at `assets/model/`.

Run after the two `polyp-train` runs of assets/MODEL_CARD.md:
  python assets/make_demo_bundle.py runs/demo_sam/best.safetensors runs/demo_pns/best.safetensors
Prompts: box + point per PNS+ component (the SAMIHS run trained with GT box + point prompts).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.bundle import save_bundle
from models import load_samihs
from models.pns_plus.weights_file import load_pns_weights
from models.prompts import PromptConfig

ASSETS = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("samihs", type=Path, help="SAMIHS weight file (contents: all)")
    parser.add_argument("pns", type=Path, help="PNS+ weight file")
    parser.add_argument("--out", type=Path, default=ASSETS / "model")
    parser.add_argument("--threshold", type=float, default=0.5, help="PNS+ prompt threshold")
    parser.add_argument(
        "--mask-prompt",
        action="store_true",
        help="also give SAM the PNS+ map as a dense prompt (the demo SAMIHS was trained without)",
    )
    args = parser.parse_args()
    samihs = load_samihs(args.samihs)
    pns, backbone = load_pns_weights(args.pns)
    prompts = PromptConfig(threshold=args.threshold, use_mask=args.mask_prompt)
    save_bundle(args.out, pns, samihs, backbone, prompts)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
