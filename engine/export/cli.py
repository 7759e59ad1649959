"""polyp-export: writes a deployable bundle folder with its ONNX graphs (and TensorRT engines).

    polyp-export --sam SAMIHS.safetensors --pns PNS.safetensors --out DIR
    polyp-export --model BUNDLE [--out DIR] [--precision fp32 fp16 int8] [--tensorrt]

With --out, DIR receives bundle.json, samihs.safetensors, pns_plus.safetensors
(engine/bundle.py) and onnx/{pns_encoder,pns_temporal,sam_encoder,sam_decoder}{,.fp16}.onnx with
onnx/manifest.json (int8: {pns_encoder,sam_encoder}.int8.onnx, engine/export/int8.py).
`--model BUNDLE` alone never writes into the bundle folder (it may be part of a repository):
the graphs go to the cache the app reads them from ($POLYP_LIVE_CACHE, else ~/.cache/polyp-live).
A polyp-live PNS+ weight file names its own backbone and input size; --pns-backbone and
--pns-input-size are needed only for other checkpoints.
The models (torch, ONNX) are imported after the arguments are parsed: --help is instant.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .manifest import DEFAULT_PRECISIONS, PRECISIONS  # plain Python: no torch before parsing

if TYPE_CHECKING:
    from ..bundle import ModelBundle

DEFAULT_PNS_INPUT_SIZE = (256, 448)  # the released PNS+ checkpoint's


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
    parser.add_argument("--sam-checkpoint", type=Path, help="base SAM checkpoint under a "
                        "fine-tuned (trainable-only) SAMIHS file")
    parser.add_argument("--sam-variant", default="vit_b",
                        help="variant of a .pth SAM checkpoint: vit_t, vit_b, ... (default vit_b)")
    parser.add_argument("--sam-image-size", type=int, help="input side for a .pth SAM checkpoint")
    parser.add_argument("--pns", type=Path, help="PNS+ checkpoint (.pth or .safetensors)")
    parser.add_argument("--pns-backbone", metavar="NAME", help="PNS+ backbone of a checkpoint "
                        "without polyp-live metadata (default: the file's, else res2net50)")
    parser.add_argument("--pns-input-size", type=parse_size, metavar="HxW", help="its input "
                        "size (default: the file's, else 256x448)")
    parser.add_argument("--out", type=Path, help="output bundle folder (with --model, default: "
                        "graphs to the cache, the bundle folder stays untouched)")
    parser.add_argument("--precision", nargs="+", default=list(DEFAULT_PRECISIONS),
                        choices=PRECISIONS,
                        help="int8 (CPU encoders) needs the bundle's calibration/ frames")
    parser.add_argument("--tensorrt", action="store_true",
                        help="also build TensorRT fp16 engines into the engine cache")
    return parser


def _load_samihs(args: argparse.Namespace):
    from models.samihs import SAMIHS_VARIANTS, build_samihs, load_samihs
    from models.samihs.checkpoint import read_samihs_config
    from models.weights import CheckpointError

    try:
        read_samihs_config(args.sam)
    except CheckpointError:
        polyp_live_file = False  # an official SAM or public SAMIHS checkpoint
    else:
        polyp_live_file = True
    if polyp_live_file:
        return load_samihs(args.sam, args.sam_checkpoint)
    if args.sam_variant not in SAMIHS_VARIANTS:
        raise CheckpointError(f"unknown --sam-variant {args.sam_variant!r}; choose one of "
                              f"{sorted(SAMIHS_VARIANTS)}")
    return build_samihs(args.sam_variant, args.sam_image_size, sam_checkpoint=args.sam)


def pns_settings(args: argparse.Namespace) -> tuple[str, tuple[int, int]]:
    """Backbone and input size for --pns: the flags, else the file's own (a polyp-live PNS+
    weight file carries them), else the released PNS+ defaults."""
    from models.pns_plus import BACKBONES, DEFAULT_BACKBONE
    from models.pns_plus.weights_file import PNS_FORMAT
    from models.weights import CheckpointError, read_safetensors_config

    stored: dict = {}
    if args.pns.suffix == ".safetensors":
        try:
            config = read_safetensors_config(args.pns)
        except CheckpointError:
            config = {}
        if config.get("format") == PNS_FORMAT:
            stored = config
    backbone = args.pns_backbone or stored.get("backbone") or DEFAULT_BACKBONE
    size = args.pns_input_size or tuple(stored.get("input_size", DEFAULT_PNS_INPUT_SIZE))
    if backbone not in BACKBONES:
        raise CheckpointError(f"unknown --pns-backbone {backbone!r}; choose one of "
                              f"{sorted(BACKBONES)}")
    return backbone, (int(size[0]), int(size[1]))


def _load_pns(args: argparse.Namespace, backbone: str, size: tuple[int, int]):
    from models.pns_plus import build_pns_plus
    from models.weights import CheckpointError

    try:
        return build_pns_plus(args.pns, backbone, size)
    except CheckpointError as error:
        if args.pns_backbone or args.pns_input_size:
            raise
        raise CheckpointError(f"{error}; for a checkpoint of another variant pass "
                              "--pns-backbone NAME and --pns-input-size HxW") from None


def load_models(args: argparse.Namespace) -> tuple[ModelBundle | None, Path | None]:
    """(bundle if --model, output folder or None for the cache); the models are loaded and
    checked here."""
    from ..bundle import BundleError, load_bundle, save_bundle

    if args.model is not None:
        if args.sam or args.pns:
            raise BundleError("pass either --model BUNDLE or --sam and --pns, not both")
        return load_bundle(args.model), args.out
    if args.sam is None or args.pns is None or args.out is None:
        raise BundleError("pass --sam CKPT --pns CKPT --out DIR (or --model BUNDLE)")
    samihs = _load_samihs(args)
    backbone, size = pns_settings(args)
    save_bundle(args.out, _load_pns(args, backbone, size), samihs, backbone)
    return None, args.out


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from models.weights import CheckpointError

    from ..bundle import ONNX_DIR, BundleError, load_bundle, save_bundle
    from .exporter import ensure_graphs, export_graphs
    from .int8 import calibration_inputs
    from .manifest import GraphsError

    try:
        bundle, out = load_models(args)
        if bundle is not None and out is None:
            # Never into the bundle folder: the cache, keyed by the weights, where the app looks.
            for precision in args.precision:
                manifest = ensure_graphs(bundle, precision)
            written = f"graphs in {manifest.directory}"
        else:
            assert out is not None
            if bundle is not None and out.resolve() != bundle.path.resolve():
                save_bundle(out, bundle.pns, bundle.samihs, bundle.pns_backbone,
                            bundle.prompt_config, bundle.smoothing,
                            bundle.samihs.config.image_size,
                            {p.name: p for p in bundle.calibration_frames})
            bundle = load_bundle(out)
            calibration = calibration_inputs(bundle) if "int8" in args.precision else None
            manifest = export_graphs(bundle.pns, bundle.samihs, out / ONNX_DIR, args.precision,
                                     bundle.sources, bundle.pns_backbone, calibration)
            written = f"bundle written to {out}"
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
    print(written)
    return 0
