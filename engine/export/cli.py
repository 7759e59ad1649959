"""polyp-export: writes a deployable bundle folder with its ONNX graphs (and TensorRT engines).

    polyp-export --sam SAMIHS.safetensors --pns PNS.pth --out DIR [--pns-backbone resnet18]
    polyp-export --model BUNDLE [--out DIR] [--precision fp32 fp16] [--tensorrt]

DIR receives bundle.json, samihs.safetensors, pns_plus.safetensors (engine/bundle.py) and
onnx/{pns_encoder,pns_temporal,sam_encoder,sam_decoder}{,.fp16}.onnx with onnx/manifest.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from models.pns_plus import BACKBONES, DEFAULT_BACKBONE, build_pns_plus
from models.samihs import SAMIHS_VARIANTS, build_samihs, load_samihs
from models.samihs.checkpoint import read_samihs_config
from models.weights import CheckpointError

from ..bundle import ONNX_DIR, BundleError, ModelBundle, load_bundle, save_bundle
from .exporter import export_graphs
from .manifest import PRECISIONS, GraphsError


def parse_size(text: str) -> tuple[int, int]:
    """'256x448' -> (256, 448) as (H, W)."""
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW such as 256x448, got {text!r}") from None
    return height, width


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="polyp-export", description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, help="an existing bundle folder to export")
    parser.add_argument("--sam", type=Path, help="SAMIHS weights: a polyp-live .safetensors, or "
                        "an official SAM / public SAMIHS .pth")
    parser.add_argument("--sam-base", type=Path, help="base SAM checkpoint under a fine-tuned "
                        "(trainable-only) SAMIHS file")
    parser.add_argument("--sam-variant", default="vit_b", choices=sorted(SAMIHS_VARIANTS),
                        help="variant of a .pth SAM checkpoint (default vit_b)")
    parser.add_argument("--sam-image-size", type=int, help="input side for a .pth SAM checkpoint")
    parser.add_argument("--pns", type=Path, help="PNS+ checkpoint (.pth or .safetensors)")
    parser.add_argument("--pns-backbone", default=DEFAULT_BACKBONE, choices=sorted(BACKBONES))
    parser.add_argument("--pns-input-size", type=parse_size, default=(256, 448), metavar="HxW")
    parser.add_argument("--out", type=Path, help="output folder (default: the --model folder)")
    parser.add_argument("--precision", nargs="+", default=list(PRECISIONS), choices=PRECISIONS)
    parser.add_argument("--tensorrt", action="store_true",
                        help="also build TensorRT fp16 engines into the engine cache")
    return parser


def _load_samihs(args: argparse.Namespace):
    try:
        read_samihs_config(args.sam)
    except CheckpointError:
        # Not a polyp-live file: an official SAM or public SAMIHS checkpoint.
        return build_samihs(args.sam_variant, args.sam_image_size, sam_checkpoint=args.sam)
    return load_samihs(args.sam, args.sam_base)


def load_models(args: argparse.Namespace) -> tuple[ModelBundle | None, Path]:
    """(bundle if --model, output folder); the models are loaded and checked here."""
    if args.model is not None:
        if args.sam or args.pns:
            raise BundleError("pass either --model BUNDLE or --sam and --pns, not both")
        return load_bundle(args.model), args.out or args.model
    if args.sam is None or args.pns is None or args.out is None:
        raise BundleError("pass --sam CKPT --pns CKPT --out DIR (or --model BUNDLE)")
    samihs = _load_samihs(args)
    pns = build_pns_plus(args.pns, args.pns_backbone, args.pns_input_size)
    save_bundle(args.out, pns, samihs, args.pns_backbone)
    return None, args.out


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        bundle, out = load_models(args)
        if bundle is not None and out.resolve() != bundle.path.resolve():
            save_bundle(out, bundle.pns, bundle.samihs, bundle.pns_backbone, bundle.prompt_config)
        bundle = load_bundle(out)
        manifest = export_graphs(bundle.pns, bundle.samihs, out / ONNX_DIR, args.precision,
                                 bundle.sources, bundle.pns_backbone)
        for name, graph in manifest.data["graphs"].items():
            files = ", ".join(f"{p}: {f['file']}" for p, f in sorted(graph["files"].items()))
            print(f"{name:13s} {files}")
        if args.tensorrt:
            from ..runners import create_runner

            runner = create_runner(bundle, "tensorrt-fp16")
            print(f"TensorRT engines ready ({runner.name})")
    except (CheckpointError, BundleError, GraphsError, ValueError, RuntimeError) as error:
        print(f"polyp-export: error: {error}", file=sys.stderr)
        return 2
    print(f"bundle written to {out}")
    return 0
