"""SAMIHS: SAM's image encoder with PR adapters, SAM's prompt encoder and mask decoder."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from segment_anything.modeling import MaskDecoder, PromptEncoder, TwoWayTransformer
from torch import nn

from .cnn_encoder import CNNImageEncoder
from .config import SAMIHSConfig
from .fine_features import FineFeatureDecoder, unpack_fine
from .image_encoder import SAMIHSImageEncoder
from .transforms import LOW_RES_SIZE

Points = tuple[torch.Tensor, torch.Tensor]

# Freeze policy (SAMIHS): adapters, prompt encoder and mask decoder train; the rest
# of the image encoder stays as pretrained.
_ADAPTER_MARKERS = ("_projection.", "attn_adapter.", "mlp_adapter.")
_TRAINABLE_MODULES = ("prompt_encoder.", "mask_decoder.")


def _image_encoder(config: SAMIHSConfig, pretrained_backbone: bool) -> nn.Module:
    """The ViT with PR adapters, or for a CNN variant (config.backbone) the CNN encoder."""
    if config.backbone is not None:
        return CNNImageEncoder(config.backbone, config.prompt_embed_dim,
                               pretrained=pretrained_backbone, fine_dim=config.fine_dim)
    if config.fine_dim:
        raise ValueError("fine_dim needs a CNN variant (efficientnet_lite0); the ViT has none")
    return SAMIHSImageEncoder(
        img_size=config.image_size,
        embed_dim=config.embed_dim,
        depth=config.depth,
        num_heads=config.num_heads,
        global_attn_indexes=config.global_attn_indexes,
        window_size=config.window_size,
        adapter_dim=config.adapter_dim,
        tied=config.tied_adapter,
        released_window_order=config.released_window_order,
        patch_size=config.patch_size,
        out_chans=config.prompt_embed_dim,
    )


def is_fine_feature_key(name: str) -> bool:
    """True for the layers that carry stride-4 features to the decoder (SAMIHSConfig.fine_dim)."""
    return name.startswith(("fine_decoder.", "image_encoder.fine."))


def is_trainable_key(name: str) -> bool:
    """True for parameters (and buffers) that fine-tuning updates and adapter files hold (the
    stride-4 feature layers too: new layers, like the adapters)."""
    if name.startswith(_TRAINABLE_MODULES) or is_fine_feature_key(name):
        return True
    return name.startswith("image_encoder.") and any(m in name for m in _ADAPTER_MARKERS)


class SAMIHS(nn.Module):
    """SAM with Parameter-Refactoring adapters; one mask per image (multimask off)."""

    def __init__(self, config: SAMIHSConfig, pretrained_backbone: bool = False) -> None:
        super().__init__()
        self.config = config
        grid = config.embedding_size
        self.image_encoder = _image_encoder(config, pretrained_backbone)
        self.prompt_encoder = PromptEncoder(
            embed_dim=config.prompt_embed_dim,
            image_embedding_size=(grid, grid),
            input_image_size=(config.image_size, config.image_size),
            mask_in_chans=16,
        )
        self.mask_decoder = MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(
                depth=2, embedding_dim=config.prompt_embed_dim, mlp_dim=2048, num_heads=8
            ),
            transformer_dim=config.prompt_embed_dim,
            iou_head_depth=3,
            iou_head_hidden_dim=256,
        )
        self.fine_decoder = (
            FineFeatureDecoder(config.fine_dim, config.prompt_embed_dim // 8)
            if config.fine_dim else None
        )

    @property
    def mask_input_size(self) -> int:
        """Side of the mask SAM's prompt encoder takes (4x the embedding grid)."""
        return 4 * self.config.embedding_size

    def forward(
        self,
        images: torch.Tensor,
        boxes: torch.Tensor | None = None,
        points: Points | None = None,
        mask_prompt: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Segments a batch of preprocessed images.

        Arguments:
          images: (B, 3, S, S), SAM-normalised and padded, S = config.image_size.
          boxes: (B, 4) x1, y1, x2, y2 in input pixels, one box per image.
          points: coords (B, N, 2) x, y in input pixels and labels (B, N) (1 fg, 0 bg, -1 pad).
          mask_prompt: (B, 1, 256, 256) logits in the padded square.
        Returns:
          mask logits (B, 1, 256, 256) in the padded square.
        """
        self.check_images(images)
        return self.decode(self.image_encoder(images), boxes, points, mask_prompt)

    def check_images(self, images: torch.Tensor) -> None:
        size = self.config.image_size
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(
                f"expected images of shape (B, 3, {size}, {size}), got {tuple(images.shape)}"
            )
        if images.shape[-2:] != (size, size):
            raise ValueError(
                f"this model takes {size}x{size} inputs, got {images.shape[-2]}x{images.shape[-1]};"
                " preprocess frames with preprocess_frame(frame, model.config.image_size, ...)"
            )

    def decode(
        self,
        image_embeddings: torch.Tensor,
        boxes: torch.Tensor | None = None,
        points: Points | None = None,
        mask_prompt: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Prompt encoder + mask decoder on embeddings (B, C, g, g); returns (B, 1, 256, 256)."""
        batch = image_embeddings.shape[0]
        sparse, dense = self.embed_prompts(batch, boxes, points, mask_prompt)
        logits = self._predict_single_mask(image_embeddings, sparse, dense)
        if logits.shape[-1] != LOW_RES_SIZE:
            logits = F.interpolate(
                logits, (LOW_RES_SIZE, LOW_RES_SIZE), mode="bilinear", align_corners=False
            )
        return logits

    def embed_prompts(
        self,
        batch: int,
        boxes: torch.Tensor | None,
        points: Points | None,
        mask_prompt: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Sparse (B, N, C) and dense (B, C, g, g) prompt embeddings."""
        if boxes is not None and (boxes.ndim != 2 or boxes.shape != (batch, 4)):
            raise ValueError(f"boxes must be ({batch}, 4), got {tuple(boxes.shape)}")
        if points is not None:
            coords, labels = points
            if coords.ndim != 3 or coords.shape[0] != batch or coords.shape[2] != 2:
                raise ValueError(f"point coords must be ({batch}, N, 2), got {tuple(coords.shape)}")
            if labels.shape != coords.shape[:2]:
                raise ValueError(f"point labels must be {tuple(coords.shape[:2])}")
        if mask_prompt is not None:
            if mask_prompt.ndim != 4 or mask_prompt.shape[:2] != (batch, 1):
                raise ValueError(
                    f"mask_prompt must be ({batch}, 1, 256, 256), got {tuple(mask_prompt.shape)}"
                )
            if mask_prompt.shape[-1] != self.mask_input_size:
                size = (self.mask_input_size, self.mask_input_size)
                mask_prompt = F.interpolate(mask_prompt, size, mode="bilinear", align_corners=False)
        sparse, dense = self.prompt_encoder(points=points, boxes=boxes, masks=mask_prompt)
        if sparse.shape[0] != batch:  # no prompt at all: SAM's encoder assumes batch 1
            sparse = sparse.expand(batch, -1, -1)
            dense = dense.expand(batch, -1, -1, -1)
        return sparse, dense

    def _predict_single_mask(
        self, image_embeddings: torch.Tensor, sparse: torch.Tensor, dense: torch.Tensor
    ) -> torch.Tensor:
        """SAM's MaskDecoder.predict_masks for one prompt set per image, batched over images.

        SAM's own decoder repeats each image embedding per prompt, which assumes a batch of one
        image; here image i is decoded with prompt set i.
        """
        decoder = self.mask_decoder
        if image_embeddings.shape[1] != self.config.embedding_channels:
            raise ValueError(
                f"image embeddings have {image_embeddings.shape[1]} channels; this model's encoder "
                f"makes {self.config.embedding_channels}"
            )
        image_embeddings, fine = unpack_fine(image_embeddings, self.config.prompt_embed_dim)
        batch = image_embeddings.shape[0]
        output_tokens = torch.cat([decoder.iou_token.weight, decoder.mask_tokens.weight], dim=0)
        tokens = torch.cat((output_tokens.unsqueeze(0).expand(batch, -1, -1), sparse), dim=1)
        src = image_embeddings + dense
        pos_src = self.prompt_encoder.get_dense_pe().expand(batch, -1, -1, -1)
        channels, height, width = src.shape[1:]
        hs, src = decoder.transformer(src, pos_src, tokens)
        first_mask_token = hs[:, 1, :]
        src = src.transpose(1, 2).reshape(batch, channels, height, width)
        upscaled = decoder.output_upscaling(src)
        if self.fine_decoder is not None and fine is not None:  # fine_dim > 0
            upscaled = upscaled + self.fine_decoder(fine)
        hyper_in = decoder.output_hypernetworks_mlps[0](first_mask_token).unsqueeze(1)
        b, c, h, w = upscaled.shape
        return (hyper_in @ upscaled.reshape(b, c, h * w)).reshape(b, 1, h, w)

    def set_trainable(self) -> None:
        """Applies the freeze policy: only adapters, prompt encoder and mask decoder train."""
        for name, parameter in self.named_parameters():
            parameter.requires_grad_(is_trainable_key(name))
