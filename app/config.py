"""Settings of the live viewer: one dataclass, optionally read from YAML, overridden by the CLI."""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import yaml


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the setting and the fix."""


@dataclass(frozen=True)
class LiveConfig:
    """Every setting of `polyp-live`; defaults here, a YAML file and the command line override."""

    # source and capture
    source: str = ""
    width: int | None = None  # capture size requested from a device (ignored for files)
    height: int | None = None
    fps: float | None = None  # device: requested rate; file: playback rate (default: the file's)
    fourcc: str | None = None  # device pixel format, e.g. MJPG or YUYV
    loop: bool = False  # files: start again at the end instead of stopping
    realtime: bool = True  # files: play at the source rate; False = --every-frame (exact, offline)
    max_frames: int | None = None
    reconnect_initial_s: float = 0.5  # device/stream lost: first retry delay, doubled each try
    reconnect_max_s: float = 8.0
    # model
    model: str | None = None  # None -> the bundled demo model in assets/
    backend: str = "auto"
    # overlay
    overlay_color: str = "#00ff80"  # RGB hex
    overlay_opacity: float = 0.35
    mask_threshold: float | None = None  # None: the model's own mask; +/- then start from 0.5
    stale_after_s: float = 0.3  # overlay older than this is marked stale
    hide_after_s: float = 2.0  # ... and hidden beyond this
    # recording
    record_dir: str | None = None  # set -> record from the start
    record_raw: bool = False  # also keep the raw video
    record_masks: bool = False  # also keep the overlay's mask of every frame as PNG
    container: str = "mkv"  # mkv or mp4 (fragmented); both survive a crash
    crf: int = 23
    recorder_queue: int = 64  # frames waiting for the encoder; when full the capture waits
    snapshot_dir: str | None = None  # default: the record folder, else ./recordings
    # screen
    headless: bool = False
    fullscreen: bool = False

    def validate(self) -> LiveConfig:
        """Returns self, or raises SettingsError naming the bad setting and the fix."""
        if not self.source:
            raise SettingsError("no source given; pass --source FILE|INDEX|/dev/videoN|URL")
        if not 0.0 <= self.overlay_opacity <= 1.0:
            raise SettingsError(f"overlay_opacity {self.overlay_opacity} is outside 0..1")
        if self.mask_threshold is not None and not 0.0 < self.mask_threshold < 1.0:
            raise SettingsError(f"mask_threshold {self.mask_threshold} is outside (0, 1)")
        if self.stale_after_s <= 0 or self.hide_after_s < self.stale_after_s:
            raise SettingsError("need 0 < stale_after_s <= hide_after_s")
        if self.container not in ("mkv", "mp4"):
            raise SettingsError(f"container {self.container!r} is not mkv or mp4")
        if self.fourcc is not None and len(self.fourcc) != 4:
            raise SettingsError(f"fourcc {self.fourcc!r} must have 4 characters, e.g. MJPG or YUYV")
        for name in ("width", "height", "fps"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise SettingsError(f"{name} must be positive, got {value}")
        if self.max_frames is not None and self.max_frames < 1:
            raise SettingsError("max_frames must be at least 1")
        if self.recorder_queue < 1:
            raise SettingsError("recorder_queue must be at least 1")
        parse_color(self.overlay_color)
        return self

    def color_bgr(self) -> tuple[int, int, int]:
        r, g, b = parse_color(self.overlay_color)
        return (b, g, r)


def parse_color(text: str) -> tuple[int, int, int]:
    """'#RRGGBB' or 'R,G,B' -> (r, g, b)."""
    value = text.strip()
    try:
        if value.startswith("#") and len(value) == 7:
            return tuple(int(value[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]
        parts = [int(p) for p in value.split(",")]
        if len(parts) == 3 and all(0 <= p <= 255 for p in parts):
            return (parts[0], parts[1], parts[2])
    except ValueError:
        pass
    raise SettingsError(f"overlay colour {text!r} is not '#RRGGBB' or 'R,G,B'")


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Reads a YAML settings file; keys are LiveConfig field names."""
    file = Path(path)
    if not file.is_file():
        raise SettingsError(f"config file {file} not found")
    try:
        data = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as error:
        raise SettingsError(f"config file {file} is not valid YAML ({error})") from None
    if not isinstance(data, dict):
        raise SettingsError(f"config file {file} must hold a mapping of setting: value")
    if "threshold" in data:
        raise SettingsError(
            f"config file {file}: the setting 'threshold' is now 'mask_threshold'; rename it"
        )
    known = {f.name for f in fields(LiveConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise SettingsError(f"config file {file}: unknown settings {', '.join(unknown)}")
    return data


def build_parser() -> argparse.ArgumentParser:
    """The command line; every option defaults to None so that only given ones override."""
    p = argparse.ArgumentParser(
        prog="polyp-live",
        description="Live polyp segmentation viewer: capture, overlay, record.",
        argument_default=None,
    )
    p.add_argument(
        "--source",
        help="video file, folder of frames (e.g. a SUN-SEG case), capture device index, "
        "/dev/videoN, or URL",
    )
    p.add_argument(
        "--model", metavar="DIR",
        help="model bundle folder (written by polyp-export --out DIR); default: the demo model "
        "in assets/model",
    )
    p.add_argument(
        "--backend", metavar="NAME",
        help="auto, tensorrt, torch or onnx (or an engine name such as torch-cpu or "
        "onnxruntime-cpu-int8); default auto",
    )
    p.add_argument("--record", dest="record_dir", metavar="DIR", help="record the session to DIR")
    p.add_argument("--record-raw", action="store_const", const=True, help="also record raw video")
    p.add_argument(
        "--record-masks", action="store_const", const=True,
        help="also record the model's probability map of each frame as a grey PNG, "
        "DIR/<session>_masks/<video>/<frame>.png: the layout polyp-eval --pred reads",
    )
    p.add_argument("--container", choices=["mkv", "mp4"], help="recording container")
    p.add_argument("--headless", action="store_const", const=True, help="no window")
    p.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")
    p.add_argument("--loop", action="store_const", const=True, help="loop a video file")
    p.add_argument(
        "--every-frame", dest="realtime", action="store_const", const=False,
        help="exact offline mode for files: read as fast as the model goes, every frame shown "
        "with its own result (for scoring with --record-masks)",
    )
    p.add_argument("--fast", dest="realtime", action="store_const", const=False,
                   help="the same as --every-frame")
    p.add_argument("--width", type=int, help="capture width to request from a device")
    p.add_argument("--height", type=int, help="capture height to request from a device")
    p.add_argument("--fps", type=float, help="capture rate (device) or playback rate (file)")
    p.add_argument("--fourcc", help="device pixel format, e.g. MJPG or YUYV")
    p.add_argument("--overlay-color", help="overlay colour '#RRGGBB'")
    p.add_argument("--overlay-opacity", type=float, help="overlay fill opacity 0..1")
    p.add_argument(
        "--mask-threshold", type=float, metavar="P",
        help="draw the mask where the probability is above P (default: the model's own mask, "
        "> 0.5); not the PNS+ prompt threshold in the model bundle",
    )
    p.add_argument("--stale-after", dest="stale_after_s", type=float, metavar="S",
                   help="draw a result older than S seconds as stale")
    p.add_argument("--hide-after", dest="hide_after_s", type=float, metavar="S",
                   help="hide a result older than S seconds")
    p.add_argument("--snapshot-dir", metavar="DIR", help="folder for snapshots (key S)")
    p.add_argument("--fullscreen", action="store_const", const=True, help="start full screen")
    p.add_argument("--config", metavar="YAML", help="settings file (keys as in --print-config)")
    p.add_argument("--print-config", action="store_true", help="print the settings as YAML")
    return p


def config_from_args(args: argparse.Namespace) -> LiveConfig:
    """Defaults <- YAML file (--config) <- command-line options given."""
    config = LiveConfig()
    if args.config:
        config = replace(config, **load_yaml(args.config))
    overrides = {
        f.name: getattr(args, f.name)
        for f in fields(LiveConfig)
        if getattr(args, f.name, None) is not None
    }
    return replace(config, **overrides)


def to_yaml(config: LiveConfig) -> str:
    return yaml.safe_dump(asdict(config), sort_keys=False)
