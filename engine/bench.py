"""polyp-bench: per-stage and end-to-end latency (p50/p95/p99) and throughput per back end.

    polyp-bench --preset small --backends torch-cpu,onnxruntime-cpu --naive-pns
    polyp-bench --model BUNDLE --clip video.mp4 --backends auto --json out.json
    polyp-bench --preset gpu-large        # SAMIHS vit_b 1024 + PNS+ Res2Net-50, 1920x1080

Presets build random-weight models (timing does not depend on the weights); their PNS+
BatchNorm statistics come from synthetic frames and the prompt threshold is set from the first
frame's map so that SAM runs, as it does on a frame with a polyp. Ratios between back ends are
what carries over to another machine; the absolute numbers belong to this one.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from models.pipeline import PnsStep, StreamingPNS
from models.pns_plus import PNSPlus, build_pns_plus, frame_to_input
from models.prompts import PromptConfig
from models.samihs import build_samihs

from .bench_cli import DEFAULT_BACKENDS, PRESETS, main  # noqa: F401 - main: the command
from .bundle import BundleError, ModelBundle, load_bundle, save_bundle
from .clips import read_clip, synthetic_frames
from .export.exporter import cache_root
from .export.manifest import GraphsError
from .runners import Runner, create_runner
from .stream import StreamSegmenter

STAGES = ("preprocess", "pns", "prompts", "sam", "postprocess", "total")


def machine() -> dict:
    """CPU model and core count, library versions, and the GPU if any."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {
        "cpu": model,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def preset_bundle(name: str) -> ModelBundle:
    """The random-weight bundle of a preset, built once and kept in the cache folder."""
    variant, size, window, backbone, _ = PRESETS[name]
    path = cache_root() / "bench" / name
    if not (path / "bundle.json").is_file():
        torch.manual_seed(0)
        pns = _calibrated(build_pns_plus(backbone=backbone))
        samihs = build_samihs(variant, image_size=size, window_size=window)
        save_bundle(path, pns, samihs, backbone)
    return load_bundle(path)


def _calibrated(pns: PNSPlus) -> PNSPlus:
    """BatchNorm statistics from synthetic frames, so maps are not saturated."""
    frames = torch.cat([frame_to_input(f, pns.input_size) for f in synthetic_frames((288, 384), 6)])
    for module in pns.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None
    pns.train()
    with torch.no_grad():
        pns(frames.unsqueeze(0))
    return pns.eval()


def auto_threshold(bundle: ModelBundle, frame: np.ndarray) -> float:
    """A threshold at the 70th percentile of the first frame's PNS+ map: components appear."""
    with torch.inference_mode():
        probability = StreamingPNS(bundle.pns).push(frame_to_input(frame, bundle.pns_input_size))
    return float(np.clip(torch.quantile(probability.flatten(), 0.7).item(), 0.01, 0.99))


def percentiles(values: list[float]) -> dict[str, float]:
    array = np.asarray(values, np.float64)
    if array.size == 0:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "mean": 0.0}
    p50, p95, p99 = np.percentile(array, [50, 95, 99])
    return {"p50": float(p50), "p95": float(p95), "p99": float(p99), "mean": float(array.mean())}


def bench_stream(
    bundle: ModelBundle,
    runner: Runner,
    frames: list[np.ndarray],
    warmup: int,
    config: PromptConfig,
) -> dict:
    """Runs the stream over warmup + frames; per-stage and end-to-end statistics (ms)."""
    stream = StreamSegmenter(bundle, prompt_config=config, cut_threshold=None, runner=runner)
    for frame in frames[:warmup]:
        stream.process(frame)
    stream.reset()
    stages: dict[str, list[float]] = {s: [] for s in STAGES}
    sam_only, components = [], []
    wall = []
    begin = time.perf_counter()
    for frame in frames[warmup:]:
        start = time.perf_counter()
        result = stream.process(frame)
        wall.append((time.perf_counter() - start) * 1e3)
        for stage, value in asdict(result.timings).items():
            stages[stage].append(value)
        components.append(len(result.boxes))
        if result.sam_ran:
            sam_only.append(result.timings.sam)
    elapsed = time.perf_counter() - begin
    measured = len(frames) - warmup
    return {
        "backend": runner.name,
        "frames": measured,
        "stages_ms": {s: percentiles(v) for s, v in stages.items()},
        "end_to_end_ms": percentiles(wall),
        "sam_when_run_ms": percentiles(sam_only),
        "sam_fraction": len(sam_only) / max(1, measured),
        "mean_components": float(np.mean(components)) if components else 0.0,
        "throughput_fps": measured / elapsed if elapsed > 0 else 0.0,
    }


def bench_pns(
    bundle: ModelBundle, runner: Runner, frames: list[np.ndarray], warmup: int, naive: bool
) -> dict:
    """PNS+ alone per frame: streaming (encoder once + ring buffer + head) or naive (the full
    6-frame forward on anchor + last 5 frames, as the released network runs)."""
    inputs = [frame_to_input(f, bundle.pns_input_size).to(runner.device) for f in frames]
    step = PnsStep(runner)
    model = runner.pns if naive else None
    times = []
    history: list[torch.Tensor] = []
    for i, x in enumerate(inputs):
        start = time.perf_counter()
        if naive:
            history.append(x)
            window = [history[max(0, len(history) - 5 + k)] for k in range(5)]
            clip = torch.cat([history[0], *window]).unsqueeze(0)
            with torch.inference_mode(), runner.precision_context():
                model(clip)[4:5].float().cpu()
        else:
            step(x).cpu()
        runner.synchronize()
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1e3)
    return {"backend": runner.name, "mode": "naive 6-frame forward" if naive else "streaming",
            "frames": len(times), "ms": percentiles(times)}


def bench_graphs(bundle: ModelBundle, runner: Runner, frame: np.ndarray, repeats: int) -> dict:
    """Each graph alone on one real-sized input (ms): where a back end gains or loses."""
    from models.prompts import prompts_from_probability
    from models.samihs import preprocess_frame

    from .sam_prompts import SamPrompt

    size = bundle.samihs.config.image_size
    pns_input = frame_to_input(frame, bundle.pns_input_size).to(runner.device)
    image, _ = preprocess_frame(frame, size, "BGR", runner.device)
    low, high = runner.encode_frame(pns_input)
    window = [t.unsqueeze(1).expand(-1, 5, *t.shape[1:]).contiguous() for t in (low, high)]
    blob = np.zeros(bundle.pns_input_size, np.float32)
    blob[64:192, 112:336] = 0.9  # one component: a box, a point and a mask prompt
    prompt = SamPrompt.from_prompts(prompts_from_probability(blob, frame.shape[:2], size),
                                    runner.device)
    embeddings = runner.encode_image(image)
    calls = {
        "pns_encoder": lambda: runner.encode_frame(pns_input),
        "pns_temporal": lambda: runner.temporal_head(high, *window),
        "sam_encoder": lambda: runner.encode_image(image),
        "sam_decoder": lambda: runner.decode(embeddings, prompt),
    }
    result = {}
    for name, call in calls.items():
        call()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            call()
            runner.synchronize()
            times.append((time.perf_counter() - start) * 1e3)
        result[name] = percentiles(times)
    return {"backend": runner.name, "graphs_ms": result}


def format_graph_table(rows: list[dict]) -> str:
    names = ("pns_encoder", "pns_temporal", "sam_encoder", "sam_decoder")
    lines = ["| graph (p50 ms) | " + " | ".join(names) + " |", "|---" * 5 + "|"]
    for row in rows:
        values = " | ".join(f"{row['graphs_ms'][n]['p50']:.1f}" for n in names)
        lines.append(f"| {row['backend']} | {values} |")
    return "\n".join(lines)


def format_table(rows: list[dict]) -> str:
    header = ("| back end | frames from | frame size | preprocess | PNS+ | prompts "
              "| SAM (when run) | postprocess | total p50 | p95 | p99 | fps |")
    lines = [header, "|" + "---|" * 12]
    for row in rows:
        s = row["stages_ms"]
        lines.append(
            f"| {row['backend']} | {row['source']} | {row['frame_size']} "
            f"| {s['preprocess']['p50']:.1f} | {s['pns']['p50']:.1f} | {s['prompts']['p50']:.1f} "
            f"| {row['sam_when_run_ms']['p50']:.1f} ({row['sam_fraction']:.0%}) "
            f"| {s['postprocess']['p50']:.1f} | {s['total']['p50']:.1f} | {s['total']['p95']:.1f} "
            f"| {s['total']['p99']:.1f} | {row['throughput_fps']:.1f} |"
        )
    return "\n".join(lines)


def format_pns_table(rows: list[dict]) -> str:
    lines = ["| PNS+ per frame | back end | p50 ms | p95 ms | p99 ms |", "|---|---|---|---|---|"]
    for row in rows:
        ms = row["ms"]
        lines.append(f"| {row['mode']} | {row['backend']} | {ms['p50']:.1f} | {ms['p95']:.1f} "
                     f"| {ms['p99']:.1f} |")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Runs the benchmark for parsed arguments (engine/bench_cli.py); bad input exits 2."""
    try:
        return _run(args)
    except (BundleError, ValueError, RuntimeError) as error:
        print(f"polyp-bench: error: {error}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.frames < 1 or args.warmup < 0:
        raise ValueError("--frames must be >= 1 and --warmup >= 0")
    if args.threads:
        torch.set_num_threads(args.threads)
    preset = None if args.model else args.preset
    bundle = load_bundle(args.model) if args.model else preset_bundle(preset)
    frame_size = args.frame_size or (PRESETS[preset][4] if preset else (288, 384))
    sources = {"synthetic": synthetic_frames(frame_size, args.warmup + args.frames)}
    if args.clip:
        clip = read_clip(args.clip, args.warmup + args.frames)
        while len(clip) < args.warmup + args.frames:  # a short clip plays again
            clip = clip + clip
        sources["clip"] = clip[: args.warmup + args.frames]
    configs = {source: bundle.prompt_config for source in sources}
    if preset is not None:  # random weights: a threshold per source at which SAM runs
        configs = {source: replace(bundle.prompt_config,
                                   threshold=auto_threshold(bundle, frames[0]))
                   for source, frames in sources.items()}
    cpu_default = "torch-cpu,onnxruntime-cpu"
    if bundle.calibration_frames:  # int8 graphs can be made: measure them too
        cpu_default += ",onnxruntime-cpu-int8"
    names = (args.backends or DEFAULT_BACKENDS.get(preset or "", cpu_default))
    backends = [b.strip() for b in names.split(",") if b.strip()]
    options = {"threads": args.threads, "compile_mode": args.compile_mode,
               "cuda_graphs": args.cuda_graphs}
    report = {"machine": machine(), "model": _describe(bundle, preset),
              "prompt_thresholds": {s: c.threshold for s, c in configs.items()},
              "runs": [], "pns": [], "graphs": [], "skipped": {}}
    for backend in backends:
        try:
            # "auto" as the viewer resolves it (on a CPU: the measured, cached choice)
            runner = create_runner(bundle, backend, bundle.prompt_config.max_components,
                                   **options)
        except (RuntimeError, ImportError, GraphsError) as error:
            report["skipped"][backend] = str(error).splitlines()[0]
            print(f"skipped {backend}: {report['skipped'][backend]}", flush=True)
            continue
        for source, frames in sources.items():
            row = bench_stream(bundle, runner, frames, args.warmup, configs[source])
            row.update(source=source, frame_size=f"{frames[0].shape[1]}x{frames[0].shape[0]}")
            report["runs"].append(row)
            print(format_table([row]).splitlines()[-1], flush=True)
        if args.naive_pns:
            frames = sources["synthetic"]
            report["pns"].append(bench_pns(bundle, runner, frames, args.warmup, naive=False))
            if hasattr(runner, "pns"):  # the naive forward needs the PyTorch module
                report["pns"].append(bench_pns(bundle, runner, frames, args.warmup, naive=True))
        if args.per_graph:
            frame = sources.get("clip", sources["synthetic"])[0]
            report["graphs"].append(bench_graphs(bundle, runner, frame, args.frames))
        runner.close()
    print()
    print(f"machine: {report['machine']}")
    print(f"model: {report['model']}")
    print(format_table(report["runs"]))
    if report["pns"]:
        print()
        print(format_pns_table(report["pns"]))
    if report["graphs"]:
        print()
        print(format_graph_table(report["graphs"]))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"results written to {args.json}")
    return 0


def _describe(bundle: ModelBundle, preset: str | None) -> str:
    sam = bundle.samihs.config
    height, width = bundle.pns_input_size
    origin = f"preset {preset} (random weights)" if preset else str(bundle.path)
    fine = f", stride-4 features {sam.fine_dim}" if sam.fine_dim else ""
    return (f"SAMIHS {sam.variant} at {sam.image_size} (window {sam.window_size}{fine}) + PNS+ "
            f"{bundle.pns_backbone} at {height}x{width}; {origin}")
