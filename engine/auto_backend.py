"""`--backend auto` on a CPU: the back end measured faster for this bundle on this machine.

The first time a bundle runs on a machine, each CPU back end times the four graphs alone (as
polyp-bench --per-graph does, a few repeats each); the estimate per frame is their sum (a frame on
which SAM runs: the costly case). The first candidate stays the choice unless another is faster
by more than MARGIN. First, ONNX Runtime with int8 encoders, where the bundle has calibration
frames and the CPU an 8-bit dot product (export/int8.py: VNNI or Arm dotprod; without one, 8-bit
sums may saturate): about 1.6x the frame rate of fp32 for masks within a few thousandths of its
Dice (BENCHMARKS.md), and on a CPU a fresher mask shows the polyp where it is now. Then ONNX
Runtime fp32, whose threads do not busy-wait and so leave cores to the display and recorder;
then PyTorch.
The choice is kept in <cache>/backend-choice.json under the bundle's key and a machine key (CPU,
cores, threads, library versions, graphs revision), and reused from then on.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from .bundle import ModelBundle
from .export.exporter import GRAPHS_REVISION, cache_root
from .export.int8 import has_int8_dot_product
from .export.manifest import GraphsError

# In order of preference: the first one measured is kept when there is no clear win.
CANDIDATES = ("onnxruntime-cpu-int8", "onnxruntime-cpu", "torch-cpu")
MARGIN = 0.05  # PyTorch must be this much faster (per frame) to be chosen
REPEATS = 3
CHOICE_FILE = "backend-choice.json"


@dataclass(frozen=True)
class BackendChoice:
    backend: str
    frame_ms: dict[str, float]  # estimated ms per frame by measured back end
    cached: bool

    def describe(self) -> str:
        """One line: what was picked and why."""
        others = ", ".join(f"{name} {ms:.1f} ms" for name, ms in self.frame_ms.items()
                           if name != self.backend)
        mine = self.frame_ms[self.backend]
        how = "measured earlier on this machine" if self.cached else "measured now, once"
        return (f"backend auto: {self.backend} ({mine:.1f} ms per frame vs {others}; four graphs "
                f"timed alone, {how}; cache {choice_path()})")


def choice_path() -> Path:
    return cache_root() / CHOICE_FILE


def machine_key(threads: int | None) -> str:
    """What a measurement depends on besides the bundle: CPU, cores, threads, versions."""
    from .bench import machine

    info = machine()
    info.pop("gpu", None)
    info["torch_threads"] = threads or torch.get_num_threads()
    info["graphs_revision"] = GRAPHS_REVISION
    text = json.dumps(info, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def choose_cpu_backend(bundle: ModelBundle, threads: int | None = None,
                       announce: bool = True) -> BackendChoice:
    """The cached choice for (bundle, machine), else measured now and cached."""
    entry_key = f"{bundle.key}/{machine_key(threads)}"
    entries = _read_entries()
    entry = entries.get(entry_key)
    if entry and entry.get("backend") in CANDIDATES and entry.get("frame_ms"):
        choice = BackendChoice(entry["backend"], dict(entry["frame_ms"]), cached=True)
    else:
        frame_ms = measure(bundle, threads)
        choice = BackendChoice(pick(frame_ms), frame_ms, cached=False)
        entries = _read_entries()  # another process may have written meanwhile
        entries[entry_key] = {"backend": choice.backend, "frame_ms": frame_ms}
        _write_entries(entries)
    if announce:
        print(choice.describe(), file=sys.stderr, flush=True)
    return choice


def pick(frame_ms: dict[str, float]) -> str:
    """The default (first candidate) unless another is faster by more than MARGIN."""
    default = next(name for name in CANDIDATES if name in frame_ms)
    fastest = min(frame_ms, key=frame_ms.__getitem__)
    if frame_ms[fastest] < (1 - MARGIN) * frame_ms[default]:
        return fastest
    return default


def measure(bundle: ModelBundle, threads: int | None = None) -> dict[str, float]:
    """Estimated ms per frame of each CPU back end: the four graphs' p50 summed."""
    from .bench import bench_graphs
    from .clips import synthetic_frames
    from .runners import create_runner

    frame = synthetic_frames((288, 384), 1)[0]
    frame_ms = {}
    for name in CANDIDATES:
        if name.endswith("int8") and not (bundle.calibration_frames and has_int8_dot_product()):
            continue  # int8 needs the bundle's calibration frames and a CPU that does it exactly
        try:
            runner = create_runner(bundle, name, bundle.prompt_config.max_components,
                                   threads=threads)
        except ImportError:  # e.g. onnxruntime not installed: the other one is the choice
            continue
        except GraphsError as error:  # e.g. a damaged calibration frame: the next one, said why
            print(f"backend auto: {name} skipped: {error}", file=sys.stderr, flush=True)
            continue
        try:
            graphs = bench_graphs(bundle, runner, frame, REPEATS)["graphs_ms"]
        finally:
            runner.close()
        frame_ms[name] = round(sum(stats["p50"] for stats in graphs.values()), 2)
    if not frame_ms:
        raise RuntimeError("neither onnxruntime nor torch can run here; install onnxruntime")
    return frame_ms


def _read_entries() -> dict:
    try:
        data = json.loads(choice_path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_entries(entries: dict) -> None:
    """Atomically (write beside, then rename): a reader never sees half a file."""
    path = choice_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=".backend-choice-", dir=path.parent)
    with os.fdopen(descriptor, "w") as file:
        json.dump(entries, file, indent=2, sort_keys=True)
    os.replace(temporary, path)
