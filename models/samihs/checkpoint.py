"""Loading SAM / SAMIHS checkpoints into a SAMIHS model, and this project's own weight files.

Three layouts are read:
- the official segment-anything checkpoint (`sam_vit_b_01ec64.pth` and its vit_l/vit_h kin);
  adapters then stay at identity;
- a checkpoint of the public SAMIHS code (shared `att_down_projection` / `mlp_down_projection`,
  per-block `adapter_rescale` / `adpater_bias` [sic]);
- this project's safetensors files (trainable tensors, or all, plus the model config).
Position tables are interpolated when the model's image or window size differs from the file's.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F

from ..weights import (
    CheckpointError,
    StateDict,
    describe_mismatch,
    read_safetensors_config,
    read_state_dict,
    save_safetensors,
    strip_prefix,
)
from .config import SAMIHS_VARIANTS, SAMIHSConfig
from .model import SAMIHS, is_fine_feature_key, is_trainable_key

WEIGHTS_FORMAT = "polyp-live/samihs-1"

_RELEASED_RENAMES = (
    (re.compile(r"^image_encoder\.att_down_projection$"), "image_encoder.attn_projection.down"),
    (re.compile(r"^image_encoder\.mlp_down_projection$"), "image_encoder.mlp_projection.down"),
    (re.compile(r"\.adpater_bias$"), ".adapter_bias"),
)
_REL_POS = re.compile(r"^image_encoder\.blocks\.\d+\.attn\.rel_pos_[hw]$")


def load_pretrained(model: SAMIHS, path: str | Path) -> None:
    """Loads an official SAM or public-SAMIHS checkpoint into `model` (any image size).

    Raises:
      CheckpointError: one line naming the file and the first mismatched keys/shapes.
    """
    path = Path(path)
    state = _to_model_layout(strip_prefix(read_state_dict(path), "module."), model)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    adapter_keys = [k for k in expected if k.startswith("image_encoder.") and is_trainable_key(k)]
    problem = describe_mismatch(
        path, expected, state, f"SAM {model.config.variant}", ignored=adapter_keys
    )
    if problem:
        raise CheckpointError(problem + _variant_hint(state))
    model.load_state_dict(state, strict=False)
    model.sam_checkpoint = {"name": path.name, "sha256": file_sha256(path)}


def _to_model_layout(state: StateDict, model: SAMIHS) -> StateDict:
    renamed: StateDict = {}
    for key, value in state.items():
        for pattern, replacement in _RELEASED_RENAMES:
            key = pattern.sub(replacement, key)
        renamed[key] = value
    targets = model.state_dict()
    for position in ("attn", "mlp"):
        down = renamed.get(f"image_encoder.{position}_projection.down")
        up_key = f"image_encoder.{position}_projection.up"
        if down is not None and up_key in targets and up_key not in renamed:
            renamed[up_key] = down.t().contiguous()  # a tied file in an untied model: same function
    for key, value in renamed.items():
        target = targets.get(key)
        if target is None or target.shape == value.shape:
            continue
        if (
            key == "image_encoder.pos_embed"
            and value.ndim == 4
            and value.shape[-1] == target.shape[-1]
        ):
            renamed[key] = _resize_pos_embed(value, target.shape[1], target.shape[2])
        elif _REL_POS.match(key) and value.ndim == 2 and value.shape[1] == target.shape[1]:
            renamed[key] = _resize_rel_pos(value, target.shape[0])
    return renamed


def _resize_pos_embed(pos_embed: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(1, H0, W0, C) -> (1, H, W, C), bicubic as for ViT position grids."""
    grid = pos_embed.permute(0, 3, 1, 2).float()
    grid = F.interpolate(grid, (height, width), mode="bicubic", align_corners=False)
    return grid.permute(0, 2, 3, 1).to(pos_embed.dtype).contiguous()


def _resize_rel_pos(rel_pos: torch.Tensor, length: int) -> torch.Tensor:
    """(L0, head_dim) -> (L, head_dim), linear as SAM's own get_rel_pos does."""
    table = rel_pos.float().t().unsqueeze(0)
    table = F.interpolate(table, size=length, mode="linear", align_corners=False)
    return table.squeeze(0).t().to(rel_pos.dtype).contiguous()


def _variant_hint(state: StateDict) -> str:
    weight = state.get("image_encoder.patch_embed.proj.weight")
    if weight is None:
        return ""
    for name, spec in SAMIHS_VARIANTS.items():
        if spec.embed_dim == weight.shape[0]:
            return f" (the file looks like {name}; build with variant={name!r})"
    return ""


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_samihs_weights(model: SAMIHS, path: str | Path, contents: str = "trainable") -> None:
    """Writes `model`'s weights as safetensors with the config needed to rebuild it.

    contents: "trainable" (adapters, prompt encoder, mask decoder: the fine-tuned part, applied
    on top of the base SAM checkpoint) or "all" (a self-contained model, e.g. trained from scratch).
    """
    if contents not in ("trainable", "all"):
        raise ValueError(f"contents must be 'trainable' or 'all', got {contents!r}")
    state = model.state_dict()
    if contents == "trainable":
        state = {k: v for k, v in state.items() if is_trainable_key(k)}
    metadata = {
        "format": WEIGHTS_FORMAT,
        "contents": contents,
        "model": model.config.to_dict(),
        "sam_checkpoint": getattr(model, "sam_checkpoint", None),
    }
    save_safetensors(state, path, metadata)


def read_samihs_config(path: str | Path) -> tuple[SAMIHSConfig, dict]:
    """The model config stored in a polyp-live SAMIHS weight file, and its metadata."""
    metadata = read_safetensors_config(path)
    if metadata.get("format") != WEIGHTS_FORMAT:
        raise CheckpointError(
            f"{path}: not a polyp-live SAMIHS weight file (format {metadata.get('format')!r})"
        )
    return SAMIHSConfig.from_dict(metadata["model"]), metadata


def load_samihs_weights(model: SAMIHS, path: str | Path) -> None:
    """Loads a file written by `save_samihs_weights` into a model of the same architecture."""
    config, metadata = read_samihs_config(path)
    if config.backbone is not None:
        # A CNN encoder's weights do not depend on the input size (build.at_image_size): a
        # model built at another size loads them, e.g. to train further at that size.
        config = replace(config, image_size=model.config.image_size)
    # A model with fine features may start from the same model without them (its new layers
    # start at zero, fine_features.py): those layers are the only keys the file lacks.
    growing = config.fine_dim == 0 and replace(config, fine_dim=model.config.fine_dim) == (
        model.config
    )
    if config != model.config and not growing:
        raise CheckpointError(
            f"{path}: weights are for {_describe(config)} but the model is "
            f"{_describe(model.config)}; rebuild it with load_samihs({str(path)!r})"
        )
    state = read_state_dict(path)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if metadata["contents"] == "trainable":
        expected = {k: s for k, s in expected.items() if is_trainable_key(k)}
    if growing:
        expected = {k: s for k, s in expected.items() if not is_fine_feature_key(k)}
    problem = describe_mismatch(path, expected, state, f"SAMIHS {config.variant}")
    if problem:
        raise CheckpointError(problem)
    model.load_state_dict(state, strict=metadata["contents"] == "all" and not growing)
    base = metadata.get("sam_checkpoint")
    current = getattr(model, "sam_checkpoint", None)
    if (
        metadata["contents"] == "trainable"
        and base
        and (current or {}).get("sha256") != base["sha256"]
    ):
        warnings.warn(
            f"{path}: fine-tuned on top of {base['name']} (sha256 {base['sha256'][:12]}), but the "
            "model's base weights differ; pass that file as sam_checkpoint",
            stacklevel=2,
        )


def _describe(config: SAMIHSConfig) -> str:
    return (
        f"{config.variant} at {config.image_size}px (window {config.window_size}, adapter "
        f"{config.adapter_dim}, {'tied' if config.tied_adapter else 'untied'})"
    )
