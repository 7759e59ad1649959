"""This project's PNS+ weight file: the full state_dict plus how to rebuild the network.

Metadata: `{"format": "polyp-live/pns-plus-1", "backbone": ..., "input_size": [H, W]}`.
"""

from __future__ import annotations

from pathlib import Path

from models.pns_plus.build import build_pns_plus
from models.pns_plus.network import PNSPlus
from models.weights import CheckpointError, read_safetensors_config, save_safetensors

PNS_FORMAT = "polyp-live/pns-plus-1"


def save_pns_weights(model: PNSPlus, path: str | Path, backbone: str) -> None:
    """All of PNS+'s tensors (BatchNorm statistics included) and its build settings."""
    config = {"format": PNS_FORMAT, "backbone": backbone, "input_size": list(model.input_size)}
    save_safetensors(model.state_dict(), path, config)


def load_pns_weights(path: str | Path) -> tuple[PNSPlus, str]:
    """(model in eval mode, backbone name) from a file written by save_pns_weights."""
    config = read_safetensors_config(path)
    if config.get("format") != PNS_FORMAT:
        raise CheckpointError(
            f"{path}: not a polyp-live PNS+ weight file (format {config.get('format')!r})"
        )
    backbone = config["backbone"]
    return build_pns_plus(path, backbone, tuple(config["input_size"])), backbone
