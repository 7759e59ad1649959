"""BCE(pos_weight 2) + Boundary DoU loss against hand computation on tiny masks."""

from __future__ import annotations

import math

import pytest
import torch

from training.losses import (
    SegmentationLoss,
    boundary_alpha,
    boundary_counts,
    boundary_dou_loss,
    weighted_bce,
)


def reference_counts(target: torch.Tensor) -> tuple[int, int]:
    """(C, S) by looping over pixels: a foreground pixel is on the boundary when one of its
    4-neighbours is background or outside the image."""
    boundary = total = 0
    for image in target[:, 0]:
        height, width = image.shape
        for y in range(height):
            for x in range(width):
                if image[y, x] < 0.5:
                    continue
                total += 1
                neighbours = ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1))
                if any(
                    not (0 <= ny < height and 0 <= nx < width) or image[ny, nx] < 0.5
                    for ny, nx in neighbours
                ):
                    boundary += 1
    return boundary, total


def dou_by_hand(p: torch.Tensor, g: torch.Tensor, alpha: float) -> float:
    pp, gg, pg = float((p * p).sum()), float((g * g).sum()), float((p * g).sum())
    return (pp + gg - 2 * pg + 1e-5) / (pp + gg - (1 + alpha) * pg + 1e-5)


def block(size: int, top: int, left: int, height: int, width: int) -> torch.Tensor:
    mask = torch.zeros(1, 1, size, size)
    mask[..., top : top + height, left : left + width] = 1
    return mask


def test_boundary_counts_match_a_pixel_loop_batch_wide():
    ring = block(5, 1, 1, 3, 3)  # 8 boundary pixels around 1 interior pixel
    dot = block(5, 0, 4, 1, 1)  # a corner pixel: the image border counts as outside
    odd = (torch.rand(1, 1, 6, 7, generator=torch.Generator().manual_seed(1)) > 0.4).float()
    for target in (ring, dot, torch.cat([ring, dot])):
        c, s = boundary_counts(target)
        assert (int(c), int(s)) == reference_counts(target)
    assert tuple(int(v) for v in boundary_counts(torch.cat([ring, dot]))) == (9, 10)
    assert tuple(int(v) for v in boundary_counts(odd)) == reference_counts(odd)


def test_alpha_is_clipped_at_0_8():
    full = torch.ones(1, 1, 40, 40)  # C = 156 border pixels, S = 1600
    raw = 1 - 2 * (156 + 1e-5) / (1600 + 1e-5)
    assert raw > 0.8
    assert float(boundary_alpha(full)) == pytest.approx(0.8, abs=1e-7)
    p = torch.full_like(full, 0.7)
    assert float(boundary_dou_loss(p, full)) == pytest.approx(dou_by_hand(p, full, 0.8), rel=1e-6)
    assert dou_by_hand(p, full, 0.8) != pytest.approx(dou_by_hand(p, full, raw), rel=1e-4)


def test_loss_is_batch_level_not_a_mean_over_images():
    target = torch.cat([block(5, 1, 1, 3, 3), block(5, 0, 4, 1, 1)])
    p = torch.linspace(0.05, 0.95, target.numel()).reshape(target.shape)
    alpha = 1 - 2 * (9 + 1e-5) / (10 + 1e-5)  # batch counts C = 8 + 1, S = 9 + 1
    assert float(boundary_alpha(target)) == pytest.approx(alpha, abs=1e-7)
    expected = dou_by_hand(p, target, alpha)
    assert float(boundary_dou_loss(p, target)) == pytest.approx(expected, rel=1e-6)
    per_image = sum(float(boundary_dou_loss(p[i : i + 1], target[i : i + 1])) for i in range(2)) / 2
    assert per_image != pytest.approx(expected, rel=1e-3)


def test_empty_mask_gives_alpha_minus_one_and_loss_one():
    empty = torch.zeros(2, 1, 4, 4)
    assert float(boundary_alpha(empty)) == pytest.approx(-1.0, abs=1e-6)
    p = torch.rand(2, 1, 4, 4, generator=torch.Generator().manual_seed(2))
    assert float(boundary_dou_loss(p, empty)) == pytest.approx(1.0, abs=1e-6)


def test_full_mask_by_hand():
    full = torch.ones(1, 1, 4, 4)  # 12 border pixels, 4 interior
    alpha = 1 - 2 * (12 + 1e-5) / (16 + 1e-5)
    assert float(boundary_alpha(full)) == pytest.approx(alpha, abs=1e-7)
    p = torch.tensor([0.9, 0.8, 0.3, 0.6] * 4).reshape(1, 1, 4, 4)
    assert float(boundary_dou_loss(p, full)) == pytest.approx(dou_by_hand(p, full, alpha), rel=1e-6)
    assert float(boundary_dou_loss(full.clone(), full)) == pytest.approx(
        1e-5 / (16 * (1 - alpha) + 1e-5), rel=1e-4
    )  # a perfect prediction: numerator 0 + smoothing


def test_paper_gamma_form_by_hand():
    target = block(5, 1, 1, 3, 3)
    p = torch.linspace(0.1, 0.9, 25).reshape(1, 1, 5, 5)
    gamma = 1 - 8 / (9 + 1e-5)
    tp = float((p * target).sum())
    fp = float((p * (1 - target)).sum())
    fn = float(((1 - p) * target).sum())
    expected = 1 - (2 * gamma * tp + 1e-5) / (2 * gamma * tp + fp + fn + 1e-5)
    assert float(boundary_dou_loss(p, target, form="gamma")) == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="released' or 'gamma"):
        boundary_dou_loss(p, target, form="paper")


def test_bce_with_pos_weight_two_by_hand():
    logits = torch.tensor([[-2.0, 0.5], [1.5, -0.3]]).reshape(1, 1, 2, 2)
    target = torch.tensor([[1.0, 0.0], [1.0, 1.0]]).reshape(1, 1, 2, 2)
    terms = []
    for x, y in zip(logits.flatten().tolist(), target.flatten().tolist(), strict=True):
        p = 1 / (1 + math.exp(-x))
        terms.append(-(2 * y * math.log(p) + (1 - y) * math.log(1 - p)))
    expected = sum(terms) / len(terms)
    assert float(weighted_bce(logits, target, 2.0, from_logits=True)) == pytest.approx(expected)
    probs = torch.sigmoid(logits)
    assert float(weighted_bce(probs, target, 2.0, from_logits=False)) == pytest.approx(expected)


def test_default_loss_is_half_bce_half_boundary_dou():
    logits = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    target = torch.cat([block(8, 2, 2, 4, 5), block(8, 0, 0, 8, 2)])
    combined = SegmentationLoss()(logits, target)
    expected = 0.5 * weighted_bce(logits, target, 2.0, True) + 0.5 * boundary_dou_loss(
        logits.sigmoid(), target
    )
    assert float(combined) == pytest.approx(float(expected), rel=1e-6)
    only_bce = SegmentationLoss(bce_weight=1.0, boundary_weight=0.0)(logits, target)
    assert float(only_bce) == pytest.approx(float(weighted_bce(logits, target, 2.0, True)))


@pytest.mark.parametrize("mask", ["empty", "full", "mixed"])
def test_gradients_are_finite_even_for_saturated_logits(mask):
    target = {
        "empty": torch.zeros(2, 1, 6, 6),
        "full": torch.ones(2, 1, 6, 6),
        "mixed": torch.cat([block(6, 1, 1, 3, 3), torch.zeros(1, 1, 6, 6)]),
    }[mask]
    logits = torch.randn(2, 1, 6, 6, generator=torch.Generator().manual_seed(4)) * 60
    logits.requires_grad_(True)
    for form in ("released", "gamma"):
        loss = SegmentationLoss(form=form)(logits, target)
        (grad,) = torch.autograd.grad(loss, logits)
        assert torch.isfinite(loss) and torch.isfinite(grad).all()
    probs = torch.rand(2, 1, 6, 6).clamp(0, 1)
    probs[0, 0, 0, 0], probs[0, 0, 0, 1] = 0.0, 1.0  # saturated probabilities (PNS+ outputs)
    probs.requires_grad_(True)
    loss = SegmentationLoss(1.0, 0.5, 1.0, from_logits=False)(probs, target)
    (grad,) = torch.autograd.grad(loss, probs)
    assert torch.isfinite(loss) and torch.isfinite(grad).all()
