"""manifest.json of an exported graph folder: graphs, shapes, precisions and source hashes.

    {"format": "polyp-live/onnx-1", "opset": 18, "torch": "...", "onnx": "...",
     "sources": {"samihs": {"file", "sha256"}, "pns_plus": {...}},
     "models": {"samihs": <SAMIHSConfig>, "pns_plus": {"backbone", "input_size"}},
     "graphs": {"sam_encoder": {"inputs": [{"name", "shape", "dtype"}], "outputs": [...],
                                "files": {"fp32": {"file", "sha256"},
                                          "fp16": {"file", "sha256", "fp32_nodes": n},
                                          "int8": {"file", "sha256", "calibration_frames": n}}},
                ...}}
(int8 quantises the encoders only; the other graphs' int8 entry names their fp32 file.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

MANIFEST_NAME = "manifest.json"
GRAPHS_FORMAT = "polyp-live/onnx-1"
PRECISIONS = ("fp32", "fp16", "int8")
DEFAULT_PRECISIONS = ("fp32", "fp16")  # int8 needs calibration frames: exported on request


class GraphsError(ValueError):
    """An exported graph folder that cannot be used (one line, with the fix)."""


@dataclass(frozen=True)
class GraphManifest:
    directory: Path
    data: dict

    @classmethod
    def read(cls, directory: str | Path) -> GraphManifest:
        directory = Path(directory)
        path = directory / MANIFEST_NAME
        if not path.is_file():
            raise GraphsError(f"{directory}: no {MANIFEST_NAME}; export the graphs with "
                              "polyp-export --model BUNDLE")
        try:
            data = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise GraphsError(f"{path}: unreadable ({error}); export the graphs again") from None
        if data.get("format") != GRAPHS_FORMAT:
            raise GraphsError(f"{path}: not a polyp-live graph manifest; export the graphs again")
        return cls(directory, data)

    def write(self) -> None:
        (self.directory / MANIFEST_NAME).write_text(json.dumps(self.data, indent=2) + "\n")

    @property
    def sources(self) -> dict:
        return self.data.get("sources", {})

    def precisions(self, graph: str) -> list[str]:
        return sorted(self.data["graphs"].get(graph, {}).get("files", {}))

    def path(self, graph: str, precision: str = "fp32") -> Path:
        """The .onnx file of `graph` at `precision` (GraphsError if it was not exported)."""
        files = self.data["graphs"].get(graph, {}).get("files", {})
        if precision not in files:
            raise GraphsError(f"{self.directory}: no {precision} {graph} graph; export it with "
                              f"polyp-export --precision {precision}")
        path = self.directory / files[precision]["file"]
        if not path.is_file():
            raise GraphsError(f"{path}: graph file missing; export the graphs again")
        return path

    def sha256(self, graph: str, precision: str = "fp32") -> str:
        return self.data["graphs"][graph]["files"][precision]["sha256"]

    def shapes(self, graph: str, kind: str = "inputs") -> dict[str, list[int | str]]:
        return {t["name"]: t["shape"] for t in self.data["graphs"][graph][kind]}
