"""Shared pieces of the engine tests: a small real-weight-shaped bundle calibrated on real frames.

Random weights with BatchNorm statistics taken from the real clip give PNS+ maps that are neither
saturated nor flat (components appear at threshold 0.5), so SAM runs and comparisons mean
something. Small variants keep the 2-core CPU fast: SAMIHS vit_t at 256, PNS+ ResNet-18.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from engine.bundle import ModelBundle, load_bundle, save_bundle
from engine.export.exporter import CACHE_ENV, ensure_graphs
from engine.export.manifest import GraphManifest
from models import build_pns_plus, build_samihs
from models.pns_plus import PNSPlus, frame_to_input

Clip = list[tuple[np.ndarray, np.ndarray]]


def calibrate_batch_norm(model: PNSPlus, frames: list[np.ndarray]) -> PNSPlus:
    """BatchNorm running statistics from one pass over 6 real frames, then eval mode."""
    clip = torch.cat([frame_to_input(frame, model.input_size) for frame in frames[:6]]).unsqueeze(0)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None
    model.train()
    with torch.no_grad():
        model(clip)
    return model.eval()


def make_small_bundle(path: Path, frames: list[np.ndarray], seed: int = 0) -> Path:
    torch.manual_seed(seed)
    pns = calibrate_batch_norm(build_pns_plus(backbone="resnet18"), frames)
    return save_bundle(path, pns, build_samihs("vit_t"), "resnet18")


@pytest.fixture(scope="session")
def engine_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """POLYP_LIVE_CACHE pointed at a temporary folder for the whole session."""
    root = tmp_path_factory.mktemp("polyp-cache")
    previous = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(root)
    yield root
    if previous is None:
        os.environ.pop(CACHE_ENV, None)
    else:
        os.environ[CACHE_ENV] = previous


@pytest.fixture(scope="session")
def small_bundle(
    real_clip: Clip, tmp_path_factory: pytest.TempPathFactory, engine_cache: Path
) -> ModelBundle:
    path = make_small_bundle(tmp_path_factory.mktemp("bundle"), [f for f, _ in real_clip])
    return load_bundle(path)


@pytest.fixture(scope="session")
def small_graphs(small_bundle: ModelBundle) -> GraphManifest:
    """The small bundle's graphs, fp32 and fp16, exported once per session."""
    return ensure_graphs(small_bundle, "fp32")
