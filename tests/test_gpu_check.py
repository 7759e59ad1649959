"""make gpu-check's script in its CPU form (--device cpu --tiny), so it cannot rot between the
sessions that are lent a GPU; and its JSON -> BENCHMARKS.md step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine import gpu_check, gpu_report

STAGES = ("preprocess", "pns", "prompts", "sam", "postprocess", "total")


@pytest.fixture(scope="module")
def cpu_results(tmp_path_factory: pytest.TempPathFactory, one_torch_thread) -> Path:
    out = tmp_path_factory.mktemp("gpu-check")
    # --skip-tests: tests/test_engine_gpu.py is part of this very suite (skipped without CUDA).
    status = gpu_check.main(["--device", "cpu", "--tiny", "--skip-tests", "--out", str(out)])
    assert status == 0
    return out


def test_cpu_form_benchmarks_the_tiny_target_and_the_demo_model(cpu_results: Path) -> None:
    results = json.loads((cpu_results / gpu_check.RESULTS_JSON).read_text())
    assert results["failed_steps"] == [] and results["tiny"] and results["device"] == "cpu"
    by_model = {entry["model"]: entry for entry in results["benchmarks"]}
    assert set(by_model) == {"target", "demo"}
    for entry in by_model.values():
        assert entry["variant"] == "fp32 eager"
        for run in entry["runs"]:
            assert run["frames"] == gpu_check.TINY["frames"]
            for stage in STAGES:
                stats = run["stages_ms"][stage]
                assert 0 <= stats["p50"] <= stats["p95"] <= stats["p99"]
        (graphs,) = entry["graphs"]
        assert set(graphs["graphs_ms"]) == set(gpu_report.GRAPHS)
    assert {run["source"] for run in by_model["demo"]["runs"]} == {"synthetic", "clip"}
    assert "72" in by_model["target"]["runs"][0]["frame_size"]  # the tiny 72x128 frames
    # The GPU-only variants are named as skipped, not silently dropped.
    for model in ("target", "demo"):
        for variant in ("fp16 eager", "fp16 CUDA graphs", "fp16 torch.compile"):
            assert results["skipped_steps"][f"{model} {variant}"] == "needs a CUDA GPU"
    table = (cpu_results / gpu_check.RESULTS_MD).read_text()
    assert table.startswith(gpu_report.HEADING) and "| target (synthetic 128x72) |" in table


def test_report_replaces_only_the_gpu_section(cpu_results: Path, tmp_path: Path) -> None:
    benchmarks = tmp_path / "BENCHMARKS.md"
    benchmarks.write_text("# Benchmarks\n\n## CPU\n\ncpu numbers\n\n## GPU\n\nold text\n\n"
                          "## Demo\n\ndemo numbers\n")
    status = gpu_report.main([str(cpu_results / gpu_check.RESULTS_JSON), "--benchmarks",
                              str(benchmarks)])
    text = benchmarks.read_text()
    assert status == 0 and "old text" not in text
    assert text.index("cpu numbers") < text.index("## GPU") < text.index("| demo (clip")
    assert text.index("| demo (clip") < text.index("## Demo") < text.index("demo numbers")


def test_report_of_an_unreadable_file_is_one_line(tmp_path: Path, capsys) -> None:
    assert gpu_report.main([str(tmp_path / "missing.json")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "gpu-check.json" in error


def test_junit_summary_counts_passed_failed_skipped(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text(
        '<testsuites><testsuite name="pytest" tests="3">'
        '<testcase classname="t" name="test_a"/>'
        '<testcase classname="t" name="test_b"><failure message="assert 0.95 &gt;= 0.99">'
        "trace</failure></testcase>"
        '<testcase classname="t" name="test_c"><skipped message="needs a CUDA GPU"/></testcase>'
        "</testsuite></testsuites>"
    )
    summary = gpu_check.junit_summary(junit)
    assert summary["total"] == 3 and summary["passed"] == 1
    assert summary["skipped"] == ["test_c"]
    assert summary["failed"] == ["test_b: assert 0.95 >= 0.99"]


def test_out_holds_few_files_for_the_device_tool(cpu_results: Path) -> None:
    """The device tool brings back at most 8 files from $OUT."""
    files = [p for p in cpu_results.rglob("*") if p.is_file()]
    assert sorted(p.name for p in files) == [gpu_check.RESULTS_JSON, gpu_check.RESULTS_MD]
