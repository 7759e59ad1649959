"""gpu-check's JSON -> the markdown of BENCHMARKS.md's GPU section.

    python -m engine.gpu_report gpu-check.json                          # print the section
    python -m engine.gpu_report gpu-check.json --benchmarks BENCHMARKS.md  # replace it there

The section runs from the line "## GPU" to the next "## " heading; everything else in the file
is kept as it is.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HEADING = "## GPU"
RERUN = ("- Rerun: `make gpu-wheels` here; `make gpu-check` on the GPU machine (carry `.whl`); "
         "then `python -m engine.gpu_report gpu-check.json --benchmarks BENCHMARKS.md`.")
GRAPHS = ("pns_encoder", "pns_temporal", "sam_encoder", "sam_decoder")


def render_section(results: dict) -> str:
    """The GPU section (heading included) for one gpu-check result."""
    info = results.get("machine", {})
    where = info.get("gpu") or f"CPU only ({info.get('cpu', '?')}, {info.get('cores', '?')} cores)"
    lines = [HEADING, ""]
    if results.get("tiny"):
        lines += ["**Tiny configuration (--tiny): a smoke run of the script, not a measurement "
                  "of the target.**", ""]
    lines += [
        f"- Machine: {where}"
        + (f", {info['gpu_memory_gib']} GiB" if "gpu_memory_gib" in info else "")
        + f"; Python {info.get('python', '?')}, torch {info.get('torch', '?')}"
        + (f", CUDA {info['cuda']}" if info.get("cuda") else "") + ".",
        f"- Command: `{results.get('command', 'python -m engine.gpu_check')}`"
        + (f" ({results['elapsed_s']} s in all)." if "elapsed_s" in results else "."),
        RERUN,
    ]
    tests = results.get("tests")
    if tests:
        failed = tests.get("failed", [])
        lines.append(
            f"- GPU tests (`{tests['command']}`): {tests.get('passed', 0)} passed, "
            f"{len(failed)} failed, {len(tests.get('skipped', []))} skipped "
            f"of {tests.get('total', 0)} ({tests['seconds']} s)."
        )
        lines += [f"  - failed: {name}" for name in failed]
    for name, reason in results.get("skipped_steps", {}).items():
        lines.append(f"- Skipped: {name} ({reason}).")
    for name, error in results.get("errors", {}).items():
        lines.append(f"- **Failed: {name}**: {error}")
    benchmarks = results.get("benchmarks", [])
    if benchmarks:
        lines += ["", "Milliseconds per frame (p50 unless marked); SAM over the frames where it "
                  "ran (share in brackets); total = raw frame to mask in the frame's size.", "",
                  "| model | variant | frames | preprocess | PNS+ | prompts | SAM (when run) "
                  "| postprocess | total p50 | p95 | p99 | fps | peak GPU MiB |",
                  "|" + "---|" * 13]
        for entry in benchmarks:
            for run in entry["runs"]:
                lines.append(_stream_row(entry, run))
        lines += ["", "| model | variant | " + " | ".join(GRAPHS) + " |", "|" + "---|" * 6]
        for entry in benchmarks:
            for graphs in entry.get("graphs", []):
                values = " | ".join(f"{graphs['graphs_ms'][g]['p50']:.2f}" for g in GRAPHS)
                lines.append(f"| {entry['model']} | {entry['variant']} | {values} |")
        lines += ["", "Models: " + "; ".join(
            sorted({f"{e['model']} = {e['description']}" for e in benchmarks}))]
    parity = results.get("parity", [])
    if parity:
        lines += ["", "| demo model, masks vs fp32 eager | frames | IoU min | IoU mean |",
                  "|---|---|---|---|"]
        lines += [f"| {p['variant']} | {p['frames']} | {p['iou_min']:.4f} | {p['iou_mean']:.4f} |"
                  for p in parity]
    return "\n".join(lines) + "\n"


def _stream_row(entry: dict, run: dict) -> str:
    stages = run["stages_ms"]
    memory = entry.get("peak_allocated_mib")
    return (
        f"| {entry['model']} ({run['source']} {run['frame_size']}) | {entry['variant']} "
        f"| {run['frames']} | {stages['preprocess']['p50']:.2f} | {stages['pns']['p50']:.2f} "
        f"| {stages['prompts']['p50']:.2f} "
        f"| {run['sam_when_run_ms']['p50']:.2f} ({run['sam_fraction']:.0%}) "
        f"| {stages['postprocess']['p50']:.2f} | {stages['total']['p50']:.2f} "
        f"| {stages['total']['p95']:.2f} | {stages['total']['p99']:.2f} "
        f"| {run['throughput_fps']:.1f} | {memory if memory is not None else '-'} |"
    )


def replace_section(document: str, section: str) -> str:
    """`document` with its GPU section replaced by `section` (appended if it has none)."""
    lines = document.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.rstrip() == HEADING]
    if not starts:
        return document.rstrip("\n") + "\n\n" + section
    start = starts[0]
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")),
               len(lines))
    tail = "".join(lines[end:])
    return "".join(lines[:start]) + section + ("\n" + tail if tail else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gpu-report", description=__doc__.split("\n")[0])
    parser.add_argument("results", type=Path, help="gpu-check.json")
    parser.add_argument("--benchmarks", type=Path, help="replace the GPU section of this file")
    args = parser.parse_args(argv)
    try:
        results = json.loads(args.results.read_text())
    except (OSError, ValueError) as error:
        print(f"gpu-report: error: {args.results}: unreadable ({error}); pass the gpu-check.json "
              "that gpu-check wrote", file=sys.stderr)
        return 2
    section = render_section(results)
    if args.benchmarks is None:
        print(section, end="")
        return 0
    document = args.benchmarks.read_text() if args.benchmarks.is_file() else ""
    args.benchmarks.write_text(replace_section(document, section))
    print(f"gpu-report: GPU section of {args.benchmarks} replaced", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
