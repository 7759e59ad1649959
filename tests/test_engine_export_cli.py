"""`polyp-export` on the bundled demo model: graphs never land in the bundle folder of the
repository, and a bundle's own PNS+ weight file exports with no flags (it names its backbone
and input size)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from engine.bundle import load_bundle
from engine.export import main as export_main
from engine.export.cli import build_parser, load_models
from engine.export.exporter import CACHE_ENV
from engine.export.manifest import GraphManifest

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "assets" / "model"


def listing(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*")}


@pytest.mark.slow
def test_export_of_the_bundled_model_goes_to_the_cache_and_leaves_the_repo_clean(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    before = listing(DEMO)
    assert export_main(["--model", str(DEMO), "--precision", "fp32"]) == 0, capsys.readouterr()
    out = capsys.readouterr().out.strip().splitlines()
    assert listing(DEMO) == before  # the bundle folder got nothing new, nothing changed
    if shutil.which("git") and (REPO / ".git").exists():
        status = subprocess.run(["git", "status", "--porcelain", "--", str(DEMO)], cwd=REPO,
                                capture_output=True, text=True, check=True)
        assert status.stdout == ""
    assert out[-1].startswith("graphs in ")
    folder = Path(out[-1].removeprefix("graphs in "))
    assert folder.is_relative_to(tmp_path / "cache")
    manifest = GraphManifest.read(folder)
    assert manifest.sources == load_bundle(DEMO).sources
    for graph in manifest.data["graphs"]:
        assert manifest.path(graph, "fp32").is_file()


@pytest.mark.slow
def test_a_bundles_own_pns_file_exports_without_flags(tmp_path, capsys):
    out = tmp_path / "exported"
    code = export_main(["--sam", str(DEMO / "samihs.safetensors"),
                        "--pns", str(DEMO / "pns_plus.safetensors"),
                        "--out", str(out), "--precision", "fp32"])
    assert code == 0, capsys.readouterr().err
    stored = json.loads((DEMO / "bundle.json").read_text())["pns_plus"]
    written = json.loads((out / "bundle.json").read_text())["pns_plus"]
    # The file's own settings, not the flags' defaults (Res2Net-50 at 256x448).
    assert (written["backbone"], written["input_size"]) != ("res2net50_v1b_26w_4s", [256, 448])
    assert (written["backbone"], written["input_size"]) == (stored["backbone"],
                                                          stored["input_size"])
    # The same tensors (the demo file stores them in fp16, the export writes them as loaded).
    exported_pns = load_file(str(out / load_bundle(out).sources["pns_plus"]["file"]))
    demo_pns = load_file(str(DEMO / "pns_plus.safetensors"))
    assert exported_pns.keys() == demo_pns.keys()
    assert all(torch.equal(exported_pns[k].float(), demo_pns[k].float()) for k in demo_pns)
    assert all(GraphManifest.read(out / "onnx").path(g).is_file()
               for g in ("pns_encoder", "pns_temporal", "sam_encoder", "sam_decoder"))


def test_a_checkpoint_without_settings_that_does_not_fit_names_the_flags(tmp_path, capsys):
    plain = tmp_path / "pns_plain.pth"  # the same tensors, no polyp-live metadata
    torch.save(load_file(str(DEMO / "pns_plus.safetensors")), plain)
    code = export_main(["--sam", str(DEMO / "samihs.safetensors"), "--pns", str(plain),
                        "--out", str(tmp_path / "out")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--pns-backbone" in err and "--pns-input-size" in err
    # with the flags it loads (checked without the export itself, which the test above runs)
    stored = json.loads((DEMO / "bundle.json").read_text())["pns_plus"]
    height, width = stored["input_size"]
    args = build_parser().parse_args([
        "--sam", str(DEMO / "samihs.safetensors"), "--pns", str(plain),
        "--pns-backbone", stored["backbone"], "--pns-input-size", f"{height}x{width}",
        "--out", str(tmp_path / "ok"),
    ])
    load_models(args)
    assert load_bundle(tmp_path / "ok").pns_input_size == (height, width)


@pytest.mark.parametrize("flag", ["--pns-backbone", "--sam-variant"])
def test_unknown_variant_names_are_one_line_errors(flag, tmp_path, capsys):
    args = ["--sam", str(DEMO / "samihs.safetensors"), "--pns", str(DEMO / "pns_plus.safetensors"),
            "--out", str(tmp_path / "out")]
    if flag == "--sam-variant":  # only read for checkpoints that are not polyp-live files
        plain = tmp_path / "sam.pth"
        torch.save(load_file(str(DEMO / "samihs.safetensors")), plain)
        args[1] = str(plain)
    assert export_main([*args, flag, "nonsense"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "nonsense" in err and "choose one of" in err
