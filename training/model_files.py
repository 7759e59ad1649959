"""Weight files this package writes and reads: PNS+ safetensors with their build settings, and
telling a SAMIHS file from a PNS+ file by its metadata.

SAMIHS files are models.samihs's own (save_samihs_weights / load_samihs). A PNS+ file holds the
full state_dict plus `{"format": "polyp-live/pns-plus-1", "backbone", "input_size"}`, so
`load_pns_weights` rebuilds the right network.
"""

from __future__ import annotations

from pathlib import Path

from models.pns_plus import PNSPlus, build_pns_plus
from models.samihs.checkpoint import WEIGHTS_FORMAT as SAMIHS_FORMAT
from models.weights import CheckpointError, read_safetensors_config, save_safetensors

PNS_FORMAT = "polyp-live/pns-plus-1"


def save_pns_weights(model: PNSPlus, path: str | Path, backbone: str) -> None:
    """All of PNS+'s tensors (BatchNorm statistics included) and how to rebuild it."""
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


def weight_kind(path: str | Path) -> str:
    """ "samihs" or "pns" from a polyp-live safetensors file's metadata.

    Raises:
      CheckpointError: missing file, or not written by polyp-live.
    """
    found = read_safetensors_config(path).get("format")
    if found == SAMIHS_FORMAT:
        return "samihs"
    if found == PNS_FORMAT:
        return "pns"
    raise CheckpointError(f"{path}: not a polyp-live SAMIHS or PNS+ weight file (format {found!r})")
