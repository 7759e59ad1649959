"""make gpu-check: the CUDA path proven in one run on one NVIDIA GPU (planned for < 8 minutes).

    python -m engine.gpu_check --out "$OUT"                     # on the GPU machine
    python -m engine.gpu_check --device cpu --tiny --out DIR    # the same steps, tiny, on a CPU

Steps, each recorded even when a later one fails or the time budget runs out:
  1. the GPU tests (pytest tests/test_engine_gpu.py: fp16 vs fp32 on a real clip, GPU
     preprocessing); on a CPU they skip, which is recorded too;
  2. polyp-bench on the target configuration (SAMIHS vit_b at 1024 + PNS+ Res2Net-50, random
     weights, 1920x1080 frames) for fp32 eager, fp16 eager, fp16 + CUDA graphs and fp16 +
     torch.compile: p50/p95/p99 per stage and end to end, each graph alone, peak GPU memory;
  3. the same for the bundled demo model on the demo clip, plus each variant's masks against
     fp32 eager (IoU per frame).
Writes gpu-check.json, gpu-check.md and gpu-tests.xml (three files) to --out (default: $OUT,
else ./gpu-check-out) after every step; `python -m engine.gpu_report gpu-check.json
--benchmarks BENCHMARKS.md` puts the results into BENCHMARKS.md's GPU section.
--tiny swaps the target for a tiny random model (vit_t at 128 + ResNet-18 at 64x112, 72x128
frames) and takes few frames: a test runs it so this script cannot rot between GPU sessions.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
DEMO_MODEL = REPO / "assets" / "model"
DEMO_CLIP = REPO / "assets" / "demo_clip.mp4"
GPU_TESTS = "tests/test_engine_gpu.py"
RESULTS_JSON = "gpu-check.json"
RESULTS_MD = "gpu-check.md"


@dataclass(frozen=True)
class Variant:
    name: str
    backend: str
    bench_options: tuple[str, ...] = ()
    runner_options: tuple[tuple[str, object], ...] = ()


GPU_VARIANTS = (
    Variant("fp32 eager", "torch-cuda"),
    Variant("fp16 eager", "torch-cuda-fp16"),
    Variant("fp16 CUDA graphs", "torch-cuda-fp16", ("--cuda-graphs",), (("cuda_graphs", True),)),
    Variant("fp16 torch.compile", "torch-cuda-fp16", ("--compile", "default"),
            (("compile_mode", "default"),)),
)
CPU_VARIANT = "fp32 eager"  # the one variant that runs on a CPU (as torch-cpu)
FULL = {"frames": 100, "warmup": 10, "demo_frames": 60, "parity_frames": 30}
TESTS_TIMEOUT_S = 180
TINY = {"frames": 2, "warmup": 1, "demo_frames": 2, "parity_frames": 2}
TINY_FRAME = (72, 128)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gpu-check", description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda",
                        help="cuda (default; needs a GPU) or cpu (the GPU variants are skipped)")
    parser.add_argument("--tiny", action="store_true",
                        help="a tiny random model and few frames instead of the target")
    parser.add_argument("--out", type=Path,
                        help="results folder (default: $OUT, else ./gpu-check-out)")
    parser.add_argument("--budget-s", type=float, default=360.0,
                        help="steps that would start after this many seconds are skipped")
    parser.add_argument("--skip-tests", action="store_true", help="leave out the pytest step")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("gpu-check: error: no CUDA GPU is visible here; run it on the GPU machine, or "
              "use --device cpu --tiny", file=sys.stderr)
        return 2
    out = args.out or Path(os.environ.get("OUT") or "gpu-check-out")
    out.mkdir(parents=True, exist_ok=True)
    check = Check(args, out, argv if argv is not None else sys.argv[1:])
    check.run()
    failed = check.results["failed_steps"]
    print(f"gpu-check: results in {out / RESULTS_JSON} and {out / RESULTS_MD}"
          + (f"; failed: {', '.join(failed)}" if failed else ""), flush=True)
    return 1 if failed else 0


class Check:
    """Runs the steps and writes the results after each one."""

    def __init__(self, args: argparse.Namespace, out: Path, argv: list[str]) -> None:
        from .bench import machine

        self.args, self.out = args, out
        self.start = time.perf_counter()
        self.sizes = TINY if args.tiny else FULL
        self.scratch = out
        self.variants = GPU_VARIANTS
        info = machine()
        if torch.cuda.is_available():
            info["cuda"] = torch.version.cuda
            info["gpu_memory_gib"] = round(
                torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
        self.results: dict = {
            "machine": info, "device": args.device, "tiny": args.tiny,
            "command": " ".join(["python -m engine.gpu_check", *argv]),
            "tests": None, "benchmarks": [], "parity": [], "failed_steps": [],
            "skipped_steps": {},
        }

    def run(self) -> None:
        if self.args.skip_tests:
            self.results["skipped_steps"]["gpu tests"] = "--skip-tests"
        else:
            self.step("gpu tests", self.run_tests)
        with tempfile.TemporaryDirectory(prefix="gpu-check-") as scratch:
            scratch = self.scratch = Path(scratch)
            target = self.target_arguments(scratch)
            for variant in self.variants:
                self.step(f"target {variant.name}", lambda v=variant: self.bench("target", v,
                                                                                 target))
            clip = decode_clip(DEMO_CLIP, scratch / "demo_frames",
                               self.sizes["demo_frames"] + self.sizes["warmup"])
            demo = ["--model", str(DEMO_MODEL), "--clip", str(clip)]
            for variant in self.variants:
                self.step(f"demo {variant.name}", lambda v=variant: self.bench("demo", v, demo))
            if sum(self.usable(v) for v in self.variants) > 1:
                self.step("demo parity", lambda: self.parity(clip))
            else:
                self.results["skipped_steps"]["demo parity"] = "needs a CUDA GPU"
        self.results["elapsed_s"] = round(time.perf_counter() - self.start, 1)
        self.write()

    def step(self, name: str, action) -> None:
        elapsed = time.perf_counter() - self.start
        if elapsed > self.args.budget_s:
            self.results["skipped_steps"][name] = f"time budget ({self.args.budget_s:.0f} s) spent"
        else:
            print(f"gpu-check: {name} (at {elapsed:.0f} s)", flush=True)
            try:
                action()
            except Exception as error:  # noqa: BLE001 - recorded; the next steps still run
                line = (str(error).strip().splitlines() or [type(error).__name__])[0]
                self.results["failed_steps"].append(name)
                self.results.setdefault("errors", {})[name] = f"{type(error).__name__}: {line}"
                print(f"gpu-check: {name} failed: {line}", flush=True)
        self.write()

    def write(self) -> None:
        from .gpu_report import render_section

        (self.out / RESULTS_JSON).write_text(json.dumps(self.results, indent=2) + "\n")
        (self.out / RESULTS_MD).write_text(render_section(self.results))

    # ------------------------------------------------------------------ steps

    def run_tests(self) -> None:
        junit = self.out / "gpu-tests.xml"
        command = [sys.executable, "-m", "pytest", GPU_TESTS, "-q", "-p", "no:cacheprovider",
                   f"--junitxml={junit}"]
        started = time.perf_counter()
        try:
            done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False,
                                  timeout=TESTS_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"the GPU tests ran past {TESTS_TIMEOUT_S} s and were "
                               "stopped") from None
        summary = junit_summary(junit) if junit.is_file() else {}
        self.results["tests"] = {
            "command": f"python -m pytest {GPU_TESTS}",
            "exit_code": done.returncode, "seconds": round(time.perf_counter() - started, 1),
            **summary, "output_tail": (done.stdout + done.stderr)[-3000:],
        }
        if done.returncode not in (0, 5) or summary.get("failed"):
            raise RuntimeError(f"pytest exited with {done.returncode}: "
                               f"{summary.get('failed', [])}")

    def target_arguments(self, scratch: Path) -> list[str]:
        if not self.args.tiny:
            return ["--preset", "gpu-large"]
        height, width = TINY_FRAME
        return ["--model", str(tiny_bundle(scratch / "tiny")), "--frame-size", f"{height}x{width}"]

    def bench(self, model: str, variant: Variant, source: list[str]) -> None:
        from .bench import main as bench_main

        if not self.usable(variant):
            self.results["skipped_steps"][f"{model} {variant.name}"] = "needs a CUDA GPU"
            return
        frames = self.sizes["frames"] if model == "target" else self.sizes["demo_frames"]
        # Not under --out: the device tool brings back 8 files at most, and gpu-check.json
        # holds these reports' contents anyway.
        report_path = self.scratch / "bench" / f"{model}-{slug(variant.name)}.json"
        # One thread on a CPU: on a busy machine more would stall in OpenMP busy-waits.
        threads = ["--threads", "1"] if self.args.device == "cpu" else []
        argv = [*source, "--backends", self.backend(variant), *variant.bench_options, *threads,
                "--frames", str(frames), "--warmup", str(self.sizes["warmup"]), "--per-graph",
                "--json", str(report_path)]
        release_memory()
        started = time.perf_counter()
        errors = io.StringIO()
        with contextlib.redirect_stderr(Tee(sys.stderr, errors)):
            status = bench_main(argv)
        report = json.loads(report_path.read_text()) if report_path.is_file() else {}
        if status != 0 or not report.get("runs"):
            said = [line for line in errors.getvalue().splitlines() if "error" in line]
            reason = said[0] if said else report.get("skipped") or f"exit status {status}"
            raise RuntimeError(f"polyp-bench {' '.join(argv)}: {reason}")
        self.results["benchmarks"].append({
            "model": model, "variant": variant.name, "description": report["model"],
            "polyp_bench": "polyp-bench " + " ".join(argv), "seconds": round(
                time.perf_counter() - started, 1),
            "runs": report["runs"], "graphs": report["graphs"], **gpu_memory(),
        })

    def parity(self, clip: Path) -> None:
        """Each variant's masks against fp32 eager's on the demo clip with the trained model."""
        from .bundle import load_bundle
        from .clips import read_clip
        from .runners import create_runner
        from .stream import StreamSegmenter

        bundle = load_bundle(DEMO_MODEL)
        frames = read_clip(clip, self.sizes["parity_frames"])
        reference_variant = self.variants[0]  # fp32 eager
        masks = {}
        for variant in self.variants:
            if not self.usable(variant):
                continue
            release_memory()
            runner = create_runner(bundle, self.backend(variant),
                                   bundle.prompt_config.max_components,
                                   **dict(variant.runner_options))
            stream = StreamSegmenter(bundle, runner=runner)
            masks[variant.name] = [stream.process(frame).mask.astype(bool) for frame in frames]
            runner.close()
        reference = masks.pop(reference_variant.name)
        for name, got in masks.items():
            ious = [iou(a, b) for a, b in zip(got, reference, strict=True)]
            self.results["parity"].append({
                "variant": name, "against": reference_variant.name, "frames": len(ious),
                "iou_min": float(np.min(ious)), "iou_mean": float(np.mean(ious)),
            })

    def usable(self, variant: Variant) -> bool:
        return self.args.device == "cuda" or variant.name == CPU_VARIANT

    def backend(self, variant: Variant) -> str:
        """On a CPU the fp32 eager variant runs as torch-cpu."""
        return "torch-cpu" if self.args.device == "cpu" else variant.backend


class Tee(io.TextIOBase):
    """Writes to two streams: polyp-bench's errors are shown and kept."""

    def __init__(self, *streams) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()


def tiny_bundle(path: Path) -> Path:
    """A tiny random bundle whose prompt threshold lets SAM run on the first synthetic frame."""
    from dataclasses import replace

    from models.pns_plus import build_pns_plus
    from models.samihs import build_samihs

    from .bench import _calibrated, auto_threshold
    from .bundle import load_bundle, save_bundle
    from .clips import synthetic_frames

    torch.manual_seed(0)
    pns = _calibrated(build_pns_plus(backbone="resnet18", input_size=(64, 112)))
    samihs = build_samihs("vit_t", image_size=128, window_size=8)
    save_bundle(path, pns, samihs, "resnet18")
    bundle = load_bundle(path)
    threshold = auto_threshold(bundle, synthetic_frames(TINY_FRAME, 1)[0])
    return save_bundle(path, pns, samihs, "resnet18",
                       replace(bundle.prompt_config, threshold=threshold))


def decode_clip(video: Path, folder: Path, count: int) -> Path:
    """The first `count` frames of a video as numbered PNGs (OpenCV: PyAV need not be there)."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    capture = cv2.VideoCapture(str(video))
    written = 0
    while written < count:
        ok, frame = capture.read()
        if not ok:
            break
        cv2.imwrite(str(folder / f"{written:04d}.png"), frame)
        written += 1
    capture.release()
    if written == 0:
        raise RuntimeError(f"{video}: no frames could be decoded with OpenCV")
    return folder


def junit_summary(path: Path) -> dict:
    root = ElementTree.parse(path).getroot()
    cases = list(root.iter("testcase"))
    failed, skipped = [], []
    for case in cases:
        name = f"{case.get('name')}"
        if case.find("failure") is not None or case.find("error") is not None:
            problem = case.find("failure") if case.find("failure") is not None \
                else case.find("error")
            message = (problem.get("message") or "").strip().splitlines()
            failed.append(f"{name}: {message[0] if message else problem.tag}")
        elif case.find("skipped") is not None:
            skipped.append(name)
    return {"total": len(cases), "passed": len(cases) - len(failed) - len(skipped),
            "failed": failed, "skipped": skipped}


def gpu_memory() -> dict:
    if not torch.cuda.is_available():
        return {}
    return {"peak_allocated_mib": round(torch.cuda.max_memory_allocated() / 2**20),
            "peak_reserved_mib": round(torch.cuda.max_memory_reserved() / 2**20)}


def release_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


if __name__ == "__main__":
    sys.exit(main())
