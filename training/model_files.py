"""Weight files training writes and reads, and telling a SAMIHS file from a PNS+ file.

Both formats belong to models: SAMIHS files to models.samihs (save_samihs_weights /
load_samihs), PNS+ files to models.pns_plus.weights_file (save_pns_weights / load_pns_weights).
"""

from __future__ import annotations

from pathlib import Path

from models.pns_plus.weights_file import PNS_FORMAT, load_pns_weights, save_pns_weights
from models.samihs.checkpoint import WEIGHTS_FORMAT as SAMIHS_FORMAT
from models.weights import CheckpointError, read_safetensors_config

__all__ = ["PNS_FORMAT", "load_pns_weights", "save_pns_weights", "weight_kind"]

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
