"""Architecture settings of a SAMIHS model and the registry of variants."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from numbers import Integral

FINE_PACKING = 4  # stride-4 features on the stride-16 grid: 4x4 pixels per cell (fine_features.py)


@dataclass(frozen=True)
class SAMIHSConfig:
    """Everything needed to rebuild a SAMIHS model (saved with its weights)."""

    variant: str
    image_size: int
    embed_dim: int
    depth: int
    num_heads: int
    global_attn_indexes: tuple[int, ...]
    window_size: int
    adapter_dim: int = 100
    tied_adapter: bool = True
    released_window_order: bool = False
    patch_size: int = 16
    prompt_embed_dim: int = 256
    # A CNN trunk (models.backbones) instead of the ViT: the ViT fields are then unused.
    backbone: str | None = None
    # CNN variants: channels of the trunk's stride-4 features handed to the mask decoder beside
    # the embedding (0: none, SAM's own decoder). See cnn_encoder.py and fine_features.py.
    fine_dim: int = 0

    @property
    def embedding_size(self) -> int:
        """Side of the image-embedding grid (S / 16)."""
        return self.image_size // self.patch_size

    @property
    def embedding_channels(self) -> int:
        """Channels of the image encoder's output: SAM's embedding, then the stride-4 features
        packed onto the same grid (FINE_PACKING**2 channels per feature)."""
        return self.prompt_embed_dim + self.fine_dim * FINE_PACKING**2

    def to_dict(self) -> dict:
        data = asdict(self)
        data["global_attn_indexes"] = list(self.global_attn_indexes)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> SAMIHSConfig:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["global_attn_indexes"] = tuple(values["global_attn_indexes"])
        return cls(**values)


def check_image_size(image_size: int) -> None:
    """SAM's input side must be a positive multiple of its 16-pixel patch (the embedding grid)."""
    integer = isinstance(image_size, Integral) and not isinstance(image_size, bool)
    if not integer or image_size <= 0 or image_size % 16:
        raise ValueError(f"image_size must be a positive multiple of 16, got {image_size!r}")


@dataclass(frozen=True)
class VariantSpec:
    """A ViT size, with the image size and window it was designed for."""

    embed_dim: int
    depth: int
    num_heads: int
    global_attn_indexes: tuple[int, ...]
    default_image_size: int = 1024
    default_window_size: int = 14
    backbone: str | None = None


# SAM's three released encoders, plus a small ViT for CPU use. `vit_t` is this project's own
# size (not MobileSAM's TinyViT): 6 blocks of width 192, 3 heads, global attention in blocks 2
# and 5, 256x256 input with 8x8 windows that tile the 16x16 token grid without padding.
SAMIHS_VARIANTS: dict[str, VariantSpec] = {
    "vit_h": VariantSpec(1280, 32, 16, (7, 15, 23, 31)),
    "vit_l": VariantSpec(1024, 24, 16, (5, 11, 17, 23)),
    "vit_b": VariantSpec(768, 12, 12, (2, 5, 8, 11)),
    "vit_t": VariantSpec(192, 6, 3, (2, 5), default_image_size=256, default_window_size=8),
    # Not SAM's encoder: SAM's prompt encoder and mask decoder on an ImageNet-pretrained
    # EfficientNet-Lite (models/samihs/cnn_encoder.py); Lite0 is the CPU demo model's.
    **{
        name: VariantSpec(0, 0, 0, (), default_image_size=256, default_window_size=0, backbone=name)
        for name in ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
    },
}
