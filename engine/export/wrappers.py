"""Export-friendly wrappers around SAMIHS's halves: tensors in, tensors out, no Python control
flow on prompt presence. They change nothing in the model (as segment-anything's utils/onnx.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.samihs import SAMIHS
from models.samihs.transforms import LOW_RES_SIZE


class SamImageEncoder(nn.Module):
    """image (1, 3, S, S) SAM-normalised and padded -> image_embeddings (1, 256, S/16, S/16)."""

    def __init__(self, model: SAMIHS) -> None:
        super().__init__()
        self.image_encoder = model.image_encoder

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.image_encoder(image)


class SamPromptDecoder(nn.Module):
    """SAM's prompt encoder + mask decoder for N prompt sets on one image, in point form.

    Arguments (see engine.sam_prompts):
      image_embeddings: (1, 256, g, g).
      point_coords: (N, P, 2) input pixel indices; point_labels (N, P): 1 point, -1 padding,
        2 / 3 box corners.
      mask_input: (1, 1, 4g, 4g) logits; has_mask_input: (1,), 1 to use it, 0 to ignore it.
    Returns:
      logits (N, 1, 256, 256) in the padded square, equal to `SAMIHS.decode` on the same prompts.
    """

    def __init__(self, model: SAMIHS) -> None:
        super().__init__()
        self.model = model
        self.prompt_encoder = model.prompt_encoder
        self.image_size = model.config.image_size

    def _embed_points(self, coords: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        encoder = self.prompt_encoder
        coords = (coords + 0.5) / self.image_size
        embedding = encoder.pe_layer._pe_encoding(coords)
        labels = labels.unsqueeze(-1).expand_as(embedding)
        embedding = embedding * (labels != -1)
        embedding = embedding + encoder.not_a_point_embed.weight * (labels == -1)
        for i in range(encoder.num_point_embeddings):
            embedding = embedding + encoder.point_embeddings[i].weight * (labels == i)
        return embedding

    def _embed_mask(self, mask_input: torch.Tensor, has_mask_input: torch.Tensor) -> torch.Tensor:
        encoder = self.prompt_encoder
        has_mask = has_mask_input.reshape(1, 1, 1, 1)
        embedding = has_mask * encoder.mask_downscaling(mask_input)
        return embedding + (1 - has_mask) * encoder.no_mask_embed.weight.reshape(1, -1, 1, 1)

    def forward(
        self,
        image_embeddings: torch.Tensor,
        point_coords: torch.Tensor,
        point_labels: torch.Tensor,
        mask_input: torch.Tensor,
        has_mask_input: torch.Tensor,
    ) -> torch.Tensor:
        count = point_coords.shape[0]
        sparse = self._embed_points(point_coords, point_labels)
        dense = self._embed_mask(mask_input, has_mask_input).expand(count, -1, -1, -1)
        embeddings = image_embeddings.expand(count, -1, -1, -1)
        logits = self.model._predict_single_mask(embeddings, sparse, dense)
        if logits.shape[-1] != LOW_RES_SIZE:
            size = (LOW_RES_SIZE, LOW_RES_SIZE)
            logits = F.interpolate(logits, size, mode="bilinear", align_corners=False)
        return logits
