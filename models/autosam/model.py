"""AutoSAM: a CNN maps the frame to SAM's dense prompt embedding, which replaces the prompt
encoder's dense output in SAM's mask decoder (sparse prompts empty). Only this network trains;
SAM (image encoder, prompt encoder, mask decoder) stays frozen."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..samihs import SAMIHS
from ..samihs.transforms import LOW_RES_SIZE
from .hardnet import conv_layer


class AutoSAMPromptNet(nn.Module):
    """Encoder + top-down decoder: (B, 3, S, S) -> dense prompt (B, embed_dim, g, g) in (-1, 1).

    The encoder's features (finest first) are projected to `decoder_dim`, merged coarse to fine
    (upsample + add + 3x3 conv), resized to the g x g embedding grid, projected to embed_dim, tanh.
    """

    def __init__(
        self,
        encoder: nn.Module,
        encoder_name: str,
        grid: int,
        embed_dim: int = 256,
        decoder_dim: int = 64,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.encoder_name = encoder_name
        self.grid = grid
        self.embed_dim = embed_dim
        self.decoder_dim = decoder_dim
        self.lateral = nn.ModuleList(nn.Conv2d(c, decoder_dim, 1) for c in encoder.channels)
        self.smooth = nn.ModuleList(
            conv_layer(decoder_dim, decoder_dim) for _ in encoder.channels[:-1]
        )
        self.head = nn.Sequential(
            conv_layer(decoder_dim, decoder_dim), nn.Conv2d(decoder_dim, embed_dim, 1), nn.Tanh()
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.encoder(images)
        x = self.lateral[-1](features[-1])
        for level in range(len(features) - 2, -1, -1):
            skip = self.lateral[level](features[level])
            x = F.interpolate(x, skip.shape[-2:], mode="bilinear", align_corners=False)
            x = self.smooth[level](x + skip)
        x = F.interpolate(x, (self.grid, self.grid), mode="bilinear", align_corners=False)
        return self.head(x)

    def config(self) -> dict:
        return {
            "encoder": self.encoder_name,
            "grid": self.grid,
            "embed_dim": self.embed_dim,
            "decoder_dim": self.decoder_dim,
        }


def decode_dense(sam: SAMIHS, embeddings: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
    """SAM's mask decoder on embeddings (B, C, g, g) with dense prompts (B, C, g, g) and no
    sparse prompt; returns mask logits (B, 1, 256, 256) in the padded square."""
    batch = embeddings.shape[0]
    sparse, _ = sam.embed_prompts(batch, None, None, None)
    logits = sam._predict_single_mask(embeddings, sparse, dense)
    if logits.shape[-1] != LOW_RES_SIZE:
        size = (LOW_RES_SIZE, LOW_RES_SIZE)
        logits = F.interpolate(logits, size, mode="bilinear", align_corners=False)
    return logits


def check_compatible(sam: SAMIHS, prompt_net: AutoSAMPromptNet) -> None:
    """ValueError (one line) unless the network's prompts fit this SAM's embedding grid."""
    grid = sam.config.embedding_size
    if prompt_net.grid != grid or prompt_net.embed_dim != sam.config.prompt_embed_dim:
        raise ValueError(
            f"the prompt network makes {prompt_net.embed_dim}x{prompt_net.grid}x"
            f"{prompt_net.grid} prompts but this SAM needs "
            f"{sam.config.prompt_embed_dim}x{grid}x{grid}; build it for this SAM"
        )


class AutoSAM(nn.Module):
    """A frozen SAMIHS driven by an AutoSAMPromptNet."""

    def __init__(self, sam: SAMIHS, prompt_net: AutoSAMPromptNet) -> None:
        super().__init__()
        check_compatible(sam, prompt_net)
        self.sam = sam
        self.prompt_net = prompt_net
        self.config = sam.config  # image_size etc., as SAMIHS
        self.set_trainable()

    def set_trainable(self) -> None:
        """Only the prompt network trains (image encoder, prompt encoder, mask decoder frozen)."""
        self.sam.requires_grad_(False)
        self.prompt_net.requires_grad_(True)

    def train(self, mode: bool = True) -> AutoSAM:
        super().train(mode)
        self.sam.eval()  # frozen: its normalisation statistics and dropout stay as trained
        return self

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Preprocessed images (B, 3, S, S) -> mask logits (B, 1, 256, 256)."""
        self.sam.check_images(images)
        with torch.no_grad():
            embeddings = self.sam.image_encoder(images)
        return decode_dense(self.sam, embeddings, self.prompt_net(images))
