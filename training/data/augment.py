"""Joint image/mask augmentation with torchvision.transforms.v2.

A clip is a `tv_tensors.Video` (T, 3, H, W) with its masks as a `tv_tensors.Mask` (T, 1, H, W):
one call draws one set of parameters and applies it to every frame and every mask, so a clip stays
consistent and masks follow their frames (nearest-neighbour for masks, by tv_tensors type).
Randomness comes from torch's global generator; datasets seed it per sample.
"""

from __future__ import annotations

import math

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF


class BorderCropResize:
    """Crops a random border of 0..max_pixels (x from left and right, y from top and bottom,
    the PNS+ recipe) and resizes back to the input size."""

    def __init__(self, max_pixels: int) -> None:
        self.max_pixels = max_pixels

    def __call__(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        height, width = inputs[0].shape[-2:]
        limit = min(self.max_pixels, (height - 1) // 2, (width - 1) // 2)
        x, y = (int(v) for v in torch.randint(0, limit + 1, (2,))) if limit > 0 else (0, 0)
        return tuple(
            TF.resize(
                TF.crop(item, y, x, height - 2 * y, width - 2 * x), [height, width], antialias=True
            )
            for item in inputs
        )


def clip_augmentation(max_border_crop: int = 7, hflip: bool = True) -> v2.Compose | None:
    """The PNS+ training augmentation: one border crop and one flip shared by the whole clip.

    Call it as `video, masks = transform(video, masks)`. None when both are off.
    """
    steps: list = []
    if max_border_crop > 0:
        steps.append(BorderCropResize(max_border_crop))
    if hflip:
        steps.append(v2.RandomHorizontalFlip(0.5))
    return v2.Compose(steps) if steps else None


def still_motion(degrees: float = 8.0, translate: float = 0.04, scale: float = 0.06) -> v2.Compose:
    """Mild random camera motion for making a clip out of a still image (one call per frame)."""
    return v2.Compose(
        [
            v2.RandomAffine(
                degrees=degrees, translate=(translate, translate), scale=(1 - scale, 1 + scale)
            )
        ]
    )


def still_to_clip(
    image: torch.Tensor, mask: torch.Tensor, frames: int, motion: v2.Compose
) -> tuple[tv_tensors.Video, tv_tensors.Mask]:
    """A clip from one image: frame 0 is the image, each later frame an independent mild affine
    warp of it, applied jointly to image and mask.

    Arguments:
      image: (3, H, W) uint8; mask: (1, H, W) uint8.
    Returns:
      video (frames, 3, H, W) and masks (frames, 1, H, W).
    """
    images, masks = [image], [mask]
    for _ in range(frames - 1):
        warped_image, warped_mask = motion(tv_tensors.Image(image), tv_tensors.Mask(mask))
        images.append(warped_image.as_subclass(torch.Tensor))
        masks.append(warped_mask.as_subclass(torch.Tensor))
    return tv_tensors.Video(torch.stack(images)), tv_tensors.Mask(torch.stack(masks))


class ScaleRotateFlipCrop:
    """The geometric half of the small-data recipe, one draw per call shared by every input:
    a quarter turn (0-3), a small extra rotation, horizontal and vertical flips, then a random
    crop of `scale` of the area (aspect jittered by `ratio`) resized back to the input's size.
    Masks follow by tv_tensors type (nearest-neighbour resize, zero fill)."""

    def __init__(
        self,
        scale: tuple[float, float] = (0.5, 1.0),
        ratio: tuple[float, float] = (0.75, 1.333),
        degrees: float = 15.0,
    ) -> None:
        self.scale, self.ratio, self.degrees = scale, ratio, degrees

    def __call__(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        height, width = inputs[0].shape[-2:]
        quarter_turns = int(torch.randint(0, 4, ()))
        angle = 90.0 * quarter_turns + float(torch.empty(()).uniform_(-self.degrees, self.degrees))
        hflip, vflip = (bool(flag) for flag in torch.rand(2) < 0.5)
        area = float(torch.empty(()).uniform_(*self.scale))
        low, high = (math.log(r) for r in self.ratio)
        aspect = math.exp(float(torch.empty(()).uniform_(low, high)))
        outputs = []
        turned_size = None
        for item in inputs:
            item = TF.rotate(item, angle, expand=True)
            if hflip:
                item = TF.horizontal_flip(item)
            if vflip:
                item = TF.vertical_flip(item)
            outputs.append(item)
            turned_size = item.shape[-2:]
        turned_h, turned_w = turned_size
        crop_w = min(turned_w, max(1, round((area * turned_h * turned_w * aspect) ** 0.5)))
        crop_h = min(turned_h, max(1, round((area * turned_h * turned_w / aspect) ** 0.5)))
        top = int(torch.randint(0, turned_h - crop_h + 1, ()))
        left = int(torch.randint(0, turned_w - crop_w + 1, ()))
        return tuple(
            TF.resize(TF.crop(item, top, left, crop_h, crop_w), [height, width], antialias=True)
            for item in outputs
        )


class FirstInputOnly:
    """Applies a photometric transform to the first input (the frames) and passes the rest
    (masks, maps) through unchanged."""

    def __init__(self, transform: v2.Transform) -> None:
        self.transform = transform

    def __call__(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return (self.transform(inputs[0]), *inputs[1:])


def small_data_augmentation() -> v2.Compose:
    """The recipe for fine-tuning pretrained networks on ~1,500 polyp images: scale/crop,
    rotations, flips, colour and blur, one draw per clip (or frame) shared by its masks."""
    photometric = v2.Compose(
        [
            v2.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.25, hue=0.03),
            v2.RandomApply([v2.GaussianBlur(5, sigma=(0.1, 1.5))], p=0.3),
        ]
    )
    return v2.Compose([ScaleRotateFlipCrop(), FirstInputOnly(photometric)])


# Augmentation recipes by name (config key data.recipe).
RECIPES = ("border-flip", "small-data")


def build_augmentation(recipe: str, max_border_crop: int, hflip: bool) -> v2.Compose | None:
    """The training augmentation of a recipe: "border-flip" (PNS+'s: border crop + flip) or
    "small-data" (small_data_augmentation)."""
    if recipe == "small-data":
        return small_data_augmentation()
    return clip_augmentation(max_border_crop, hflip)
