"""A model bundle: the directory polyp-live, polyp-eval and polyp-bench load a PNS+ -> SAMIHS
model from (written by `polyp-export --out DIR`).

Layout:
    <bundle>/
      bundle.json            manifest (below); optional when both weight files carry their config
      samihs.safetensors     a polyp-live SAMIHS weight file (`models.samihs.save_samihs_weights`):
                             contents "all", or "trainable" on top of a base SAM checkpoint
      pns_plus.safetensors   PNS+ state_dict; its metadata config holds backbone and input size
      onnx/                  optional: graphs written by `polyp-export` (engine/export), or
                             cached there by the app on first use
      calibration/           optional: a few training frames (.jpg/.png) the int8 graphs'
                             activation ranges are calibrated on (engine/export/int8.py)

bundle.json:
    {"format": "polyp-live/bundle-1",
     "pns_plus": {"file": "pns_plus.safetensors", "backbone": "resnet18", "input_size": [256, 448]},
     "samihs": {"file": "samihs.safetensors", "sam_checkpoint": null, "image_size": 320},
     "prompts": {"threshold": 0.5, ...},          # optional PromptConfig fields
     "smoothing": {"on_score": 0.6, "hold_frames": 3}}  # optional: presence hysteresis
`sam_checkpoint` (the base SAM file: a path, relative to the bundle or absolute; the one name
for that file everywhere: --sam-checkpoint, model.sam_checkpoint) is needed only when the SAMIHS
file holds the trainable tensors alone. `image_size` (optional) runs a SAM stage with a CNN image
encoder at another input side than the one stored in its file (models.samihs.at_image_size); the
weights stay as trained. Every problem raises BundleError with a one-line message.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..pns_plus import PNSPlus, build_pns_plus
from ..pns_plus.weights_file import save_pns_weights
from ..prompts import PromptConfig
from ..samihs import SAMIHS, at_image_size, load_samihs
from ..samihs.checkpoint import file_sha256, read_samihs_config, save_samihs_weights
from ..weights import CheckpointError, read_safetensors_config
from .smoothing import SmoothingConfig

BUNDLE_FORMAT = "polyp-live/bundle-1"
MANIFEST = "bundle.json"
SAMIHS_FILE = "samihs.safetensors"
PNS_FILE = "pns_plus.safetensors"
ONNX_DIR = "onnx"
CALIBRATION_DIR = "calibration"
CALIBRATION_SUFFIXES = (".jpg", ".jpeg", ".png")


class BundleError(ValueError):
    """A model bundle that cannot be used; the message is one line naming the problem and fix."""


@dataclass(frozen=True, eq=False)
class ModelBundle:
    """Both networks of a bundle, built on CPU in eval mode, and where they came from.

    sources: {"samihs": {"file", "sha256"}, "pns_plus": {...}} (plus "sam_checkpoint" and
      "calibration" when used).
    calibration_frames: the images in calibration/, sorted (empty: no int8 graphs).
    """

    path: Path
    pns: PNSPlus
    samihs: SAMIHS
    pns_backbone: str
    prompt_config: PromptConfig = field(default_factory=PromptConfig)
    smoothing: SmoothingConfig | None = None
    sources: dict[str, dict[str, str]] = field(default_factory=dict)
    calibration_frames: tuple[Path, ...] = ()

    @property
    def pns_input_size(self) -> tuple[int, int]:
        return self.pns.input_size

    @property
    def key(self) -> str:
        """A short hash of the weight files and the input sizes they run at: names exported
        graphs and engine caches (graphs have fixed input sizes)."""
        import hashlib

        digest = hashlib.sha256()
        for name in sorted(self.sources):
            digest.update(f"{name}:{self.sources[name]['sha256']};".encode())
        digest.update(f"sam:{self.samihs.config.image_size};pns:{self.pns.input_size};".encode())
        return digest.hexdigest()[:16]

    @property
    def onnx_dir(self) -> Path:
        return self.path / ONNX_DIR


def load_bundle(path: str | Path) -> ModelBundle:
    """Loads a bundle directory (format in the module docstring).

    Raises:
      BundleError: missing directory or file, unreadable manifest, or weights that do not fit.
    """
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"{path}: model bundle not found; pass a folder written by "
                          "polyp-export --out DIR with --model")
    manifest = _read_manifest(path)
    pns_entry = manifest.get("pns_plus", {})
    sam_entry = manifest.get("samihs", {})
    pns_file = path / pns_entry.get("file", PNS_FILE)
    sam_file = path / sam_entry.get("file", SAMIHS_FILE)
    for weights in (pns_file, sam_file):
        if not weights.is_file():
            raise BundleError(f"{path}: the bundle lacks {weights.name}; re-export it with "
                              "polyp-export --out DIR")
    backbone, input_size = _pns_config(pns_file, pns_entry)
    if "base_checkpoint" in sam_entry:  # bundles written before the rename
        raise BundleError(f"{path / MANIFEST}: samihs.base_checkpoint is now called "
                          "samihs.sam_checkpoint; rename the key")
    base = sam_entry.get("sam_checkpoint")
    base_path = None if base is None else path / base  # an absolute `base` replaces `path`
    try:
        pns = build_pns_plus(pns_file, backbone=backbone, input_size=input_size)
        _, sam_meta = read_samihs_config(sam_file)
        if sam_meta.get("contents") == "trainable" and base_path is None:
            raise BundleError(
                f"{sam_file}: holds only the fine-tuned tensors; name the base SAM checkpoint "
                f"in {MANIFEST} as samihs.sam_checkpoint"
            )
        samihs = load_samihs(sam_file, base_path)
    except CheckpointError as error:
        raise BundleError(str(error)) from None
    if "image_size" in sam_entry:
        try:
            samihs = at_image_size(samihs, sam_entry["image_size"])
        except ValueError as error:
            raise BundleError(f"{path / MANIFEST}: samihs.image_size: {error}; change or remove "
                              "the key") from None
    sources = {
        "pns_plus": {"file": pns_file.name, "sha256": file_sha256(pns_file)},
        "samihs": {"file": sam_file.name, "sha256": file_sha256(sam_file)},
    }
    if base_path is not None:
        sources["sam_checkpoint"] = {"file": base_path.name, "sha256": file_sha256(base_path)}
    calibration = calibration_frames(path)
    if calibration:
        sources["calibration"] = {"file": CALIBRATION_DIR, "sha256": _files_sha256(calibration)}
    return ModelBundle(
        path=path,
        pns=pns,
        samihs=samihs,
        pns_backbone=backbone,
        prompt_config=_settings(path, manifest.get("prompts"), PromptConfig, "prompt")
        or PromptConfig(),
        smoothing=_settings(path, manifest.get("smoothing"), SmoothingConfig, "smoothing"),
        sources=sources,
        calibration_frames=calibration,
    )


def calibration_frames(path: Path) -> tuple[Path, ...]:
    """The bundle's calibration images, sorted by name (empty when it has no such folder)."""
    folder = path / CALIBRATION_DIR
    if not folder.is_dir():
        return ()
    return tuple(sorted(p for p in folder.iterdir() if p.suffix.lower() in CALIBRATION_SUFFIXES))


def _files_sha256(paths: tuple[Path, ...]) -> str:
    """One digest of several files' names and contents."""
    import hashlib

    digest = hashlib.sha256()
    for file in paths:
        digest.update(f"{file.name}:{file_sha256(file)};".encode())
    return digest.hexdigest()


def save_bundle(
    path: str | Path,
    pns: PNSPlus,
    samihs: SAMIHS,
    pns_backbone: str,
    prompt_config: PromptConfig | None = None,
    smoothing: SmoothingConfig | None = None,
    sam_image_size: int | None = None,
    calibration: dict[str, Path] | None = None,
) -> Path:
    """Writes a self-contained bundle (SAMIHS with all its tensors) and returns its path.
    sam_image_size: the manifest's samihs.image_size (run the SAM stage at that input side).
    calibration: {name in calibration/: image file to copy there} (frames for int8 graphs)."""
    if pns_backbone not in _backbones():
        raise BundleError(f"unknown PNS+ backbone {pns_backbone!r}; choose one of {_backbones()}")
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    pns_config = {"backbone": pns_backbone, "input_size": list(pns.input_size)}
    save_pns_weights(pns, path / PNS_FILE, pns_backbone)
    save_samihs_weights(samihs, path / SAMIHS_FILE, contents="all")
    manifest = {
        "format": BUNDLE_FORMAT,
        "pns_plus": {"file": PNS_FILE, **pns_config},
        "samihs": {"file": SAMIHS_FILE, "sam_checkpoint": None},
    }
    if sam_image_size is not None:
        manifest["samihs"]["image_size"] = sam_image_size
    if prompt_config is not None:
        manifest["prompts"] = asdict(prompt_config)
    if smoothing is not None:
        manifest["smoothing"] = asdict(smoothing)
    (path / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    if calibration:
        for name in calibration:
            if Path(name).suffix.lower() not in CALIBRATION_SUFFIXES or Path(name).name != name:
                raise BundleError(f"calibration frame name {name!r}: a plain .jpg or .png name")
        # Read before the folder is replaced: the frames may come from this very folder.
        contents = {name: Path(source).read_bytes() for name, source in calibration.items()}
        folder = path / CALIBRATION_DIR
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        for name, data in contents.items():
            (folder / name).write_bytes(data)
    return path


def _read_manifest(path: Path) -> dict:
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        return {}
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BundleError(
            f"{manifest_path}: unreadable manifest ({error}); fix or delete it"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{manifest_path}: not a polyp-live bundle manifest (format "
                          f"{manifest.get('format') if isinstance(manifest, dict) else None!r})")
    return manifest


def _pns_config(pns_file: Path, entry: dict) -> tuple[str, tuple[int, int]]:
    """Backbone and input size from the manifest entry, else from the file's metadata."""
    config = dict(entry)
    if "backbone" not in config or "input_size" not in config:
        try:
            config = {**read_safetensors_config(pns_file), **config}
        except CheckpointError as error:
            raise BundleError(f"{error} (and no pns_plus entry in {MANIFEST})") from None
    backbone = config.get("backbone")
    size = config.get("input_size")
    if backbone not in _backbones():
        raise BundleError(f"{pns_file}: unknown PNS+ backbone {backbone!r}; one of {_backbones()}")
    if not (isinstance(size, list | tuple) and len(size) == 2):
        raise BundleError(f"{pns_file}: PNS+ input_size must be [H, W], got {size!r}")
    return backbone, (int(size[0]), int(size[1]))


def _settings(path: Path, values: dict | None, kind: type, what: str):
    """A settings dataclass (PromptConfig, SmoothingConfig) from a manifest section; None when
    the section is absent or empty."""
    if not values:
        return None
    known = {f.name for f in fields(kind)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise BundleError(f"{path / MANIFEST}: unknown {what} settings {unknown}; known: "
                          f"{sorted(known)}")
    try:
        return kind(**values)
    except (TypeError, ValueError) as error:
        raise BundleError(f"{path / MANIFEST}: bad {what} settings: {error}") from None


def _backbones() -> list[str]:
    from ..pns_plus import BACKBONES

    return sorted(BACKBONES)
