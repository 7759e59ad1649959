"""Shared test fixtures: real colonoscopy frames, and the shared data folder when present."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

FIXTURES = Path(__file__).parent / "fixtures"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True)
def _deterministic() -> None:
    torch.manual_seed(0)
    np.random.seed(0)


@pytest.fixture(scope="session")
def real_clip() -> list[tuple[np.ndarray, np.ndarray]]:
    """8 consecutive real CVC-ClinicDB frames (BGR uint8, 288x384) with binary masks (uint8 0/1)."""
    frames_dir = FIXTURES / "cvc-clinicdb" / "Frame" / "seq26"
    clip = []
    for frame_path in sorted(frames_dir.glob("*.jpg")):
        frame = cv2.imread(str(frame_path), cv2.IMREAD_COLOR)
        mask = cv2.imread(
            str(FIXTURES / "cvc-clinicdb" / "GT" / "seq26" / (frame_path.stem + ".png")),
            cv2.IMREAD_GRAYSCALE,
        )
        assert frame is not None and mask is not None, frame_path
        clip.append((frame, (mask > 127).astype(np.uint8)))
    return clip


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The full ../shared/data folder; tests that need it skip where a clone has none."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"needs the full data set at {SHARED_DATA} (present in CI, absent in a clone)")
    return SHARED_DATA


LAYOUTS = FIXTURES / "checkpoint-layouts"


def layout_state_dict(name: str, prefix: str = "") -> dict[str, torch.Tensor]:
    """A random state_dict with exactly the key -> shape layout `checkpoint-layouts/<name>.json`."""
    import json

    layout = json.loads((LAYOUTS / f"{name}.json").read_text())
    generator = torch.Generator().manual_seed(0)
    return {
        prefix + key: torch.randn(shape, generator=generator) * 0.02
        for key, shape in layout.items()
    }


@pytest.fixture(scope="session")
def clip_path(real_clip, tmp_path_factory) -> Path:
    """24 real frames (the 8 CVC-ClinicDB frames three times) encoded at 25 fps."""
    from app_testkit import encode_clip

    frames = [frame for frame, _ in real_clip]
    return encode_clip(tmp_path_factory.mktemp("clip") / "clip.mkv", frames, fps=25, repeat=3)


@pytest.fixture(scope="session")
def long_clip(real_clip, tmp_path_factory) -> Path:
    """128 real frames (5.1 s at 25 fps): long enough to watch a slow model without a loop."""
    from app_testkit import encode_clip

    frames = [frame for frame, _ in real_clip]
    return encode_clip(tmp_path_factory.mktemp("long") / "long.mkv", frames, fps=25, repeat=16)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models gain little from a second thread, and with other processes on the 2 cores
    OpenMP's spinning threads can stall a run many times over: train on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
