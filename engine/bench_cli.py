"""`polyp-bench`'s command line and presets: parsed before torch and the models are imported
(engine/bench.py runs the benchmark), so that --help is instant."""

from __future__ import annotations

import argparse
from pathlib import Path

from .export.cli import parse_size

PRESETS = {
    # name: (SAMIHS variant, image size, window, PNS+ backbone, default frame size (H, W))
    "small": ("vit_t", 256, 8, "resnet18", (288, 384)),
    "vit_b-256": ("vit_b", 256, 8, "res2net50_v1b_26w_4s", (288, 384)),
    "gpu-large": ("vit_b", 1024, 14, "res2net50_v1b_26w_4s", (1080, 1920)),
}
DEFAULT_BACKENDS = {
    "gpu-large": "torch-cuda,torch-cuda-fp16,tensorrt-fp16",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="polyp-bench",
        description="Per-stage and end-to-end latency (p50/p95/p99) and throughput per back end.",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", type=Path, help="a bundle folder")
    source.add_argument("--preset", choices=sorted(PRESETS), default="small",
                        help="random-weight models of a given size (default: small)")
    parser.add_argument("--backends", help="comma-separated back ends, auto as the viewer picks "
                        "it (default: torch-cpu,onnxruntime-cpu, plus onnxruntime-cpu-int8 for a "
                        "bundle with calibration frames; for gpu-large: torch-cuda,"
                        "torch-cuda-fp16,tensorrt-fp16)")
    parser.add_argument("--frame-size", type=parse_size, metavar="HxW",
                        help="synthetic frame size (default: the preset's; clips keep theirs)")
    parser.add_argument("--clip", type=Path, help="also run on a real clip: a video file or a "
                        "folder of frames (e.g. a SUN-SEG case folder)")
    parser.add_argument("--frames", type=int, default=20, help="measured frames per run")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured frames first")
    parser.add_argument("--naive-pns", action="store_true",
                        help="also compare streaming PNS+ with the naive 6-frame forward")
    parser.add_argument("--per-graph", action="store_true",
                        help="also time each of the four graphs alone")
    parser.add_argument("--threads", type=int, help="CPU threads for torch and ONNX Runtime")
    parser.add_argument("--compile", dest="compile_mode", help="torch.compile mode for torch "
                        "back ends on CUDA, e.g. max-autotune or reduce-overhead")
    parser.add_argument("--cuda-graphs", action="store_true", help="torch back ends on CUDA: "
                        "replay the fixed-shape graphs from CUDA graphs")
    parser.add_argument("--json", type=Path, help="write all results here")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .bench import run  # torch and the models: only after parsing

    return run(args)
