"""Every console script prints --help without importing torch, ONNX Runtime or PyQt6 (heavy
imports come after argument parsing). Checked in a fresh interpreter by sys.modules, not timed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def console_scripts() -> dict[str, str]:
    """[project.scripts] of pyproject.toml (tomllib is Python 3.11+; this project runs on 3.10)."""
    text = (REPO / "pyproject.toml").read_text()
    section = text.split("[project.scripts]", 1)[1].split("\n[", 1)[0]
    pairs = (line.split("=", 1) for line in section.splitlines() if "=" in line)
    return {name.strip(): target.strip().strip('"') for name, target in pairs}


SCRIPTS = console_scripts()
HEAVY = ("torch", "onnxruntime", "PyQt6")

PROBE = """
import contextlib, importlib, io, json, sys
module, function = sys.argv[1].split(":")
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        getattr(importlib.import_module(module), function)(["--help"])
    except SystemExit as stop:
        code = stop.code
print(json.dumps({"help": out.getvalue(), "code": code,
                  "heavy": [name for name in sys.argv[2:] if name in sys.modules]}))
"""


def test_every_tool_is_covered():
    assert {"polyp-live", "polyp-export", "polyp-bench", "polyp-train", "polyp-eval",
            "polyp-report"} <= set(SCRIPTS)


@pytest.mark.parametrize("tool", sorted(SCRIPTS))
def test_help_imports_no_heavy_library(tool):
    done = subprocess.run([sys.executable, "-c", PROBE, SCRIPTS[tool], *HEAVY], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["code"] == 0
    assert result["help"].startswith(f"usage: {tool}"), result["help"][:200]
    assert result["heavy"] == [], f"{tool} --help imported {result['heavy']}"
