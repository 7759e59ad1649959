"""PolypSegmenter on real frames: prompt policies, skipping SAM, per-component decoding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models import build_pns_plus, build_samihs
from models.prompts import PromptConfig, prompts_from_probability
from models.samihs import preprocess_frame
from models.segmenter import PolypSegmenter


@pytest.fixture(scope="module")
def small_models():
    torch.manual_seed(0)
    return build_pns_plus(backbone="resnet18"), build_samihs("vit_t")


def flat_pns(level: float):
    """A PNS+ whose map is the constant `level`: its last 1x1 conv zeroed, plus a fixed logit.

    The released head has no bias parameter, so the logit is added to the head's output.
    """
    pns = build_pns_plus(backbone="resnet18")
    with torch.no_grad():
        pns.SegNIN[1].weight.zero_()
    logit = float(np.log(level / (1 - level)))
    pns.SegNIN.register_forward_hook(lambda _m, _i, out: out + logit)
    return pns


def count_calls(module: torch.nn.Module) -> list[int]:
    calls = [0]
    module.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    return calls


def test_no_component_skips_sam(real_clip, small_models):
    samihs = small_models[1]
    calls = count_calls(samihs.image_encoder)
    result = PolypSegmenter(flat_pns(0.2), samihs)(real_clip[0][0])
    assert calls[0] == 0
    assert not result.sam_ran and not result.polyp_present
    assert result.probability.shape == real_clip[0][0].shape[:2]
    assert result.pns_probability.shape == (256, 448)


def test_whole_frame_component_prompts_sam_with_the_frame_box(real_clip, small_models):
    samihs = build_samihs("vit_t")
    calls = count_calls(samihs.image_encoder)
    result = PolypSegmenter(flat_pns(0.9), samihs)(real_clip[0][0])
    assert calls[0] == 1
    assert result.sam_ran
    height, width = real_clip[0][0].shape[:2]
    np.testing.assert_allclose(result.prompts.boxes, [[0, 0, width, height]], atol=1e-3)
    assert result.probability.shape == (height, width)
    assert 0 <= result.probability.min() and result.probability.max() <= 1


def test_prompt_policies_change_what_sam_sees(real_clip, small_models):
    pns, samihs = small_models
    frame = real_clip[2][0]
    outputs = {}
    policies = {
        "box": PromptConfig(threshold=0.45, use_point=False, use_mask=False),
        "point": PromptConfig(threshold=0.45, use_box=False, use_mask=False),
        "mask": PromptConfig(threshold=0.45, use_box=False, use_point=False),
        "all": PromptConfig(threshold=0.45),
    }
    for name, policy in policies.items():
        segmenter = PolypSegmenter(pns, samihs, policy)
        result = segmenter(frame)
        assert result.sam_ran, name  # random PNS+ weights give ~0.5 maps: components exist
        outputs[name] = result.probability
        assert (result.prompts.boxes is None) == (not policy.use_box)
        assert (result.prompts.points is None) == (not policy.use_point)
        assert (result.prompts.mask_logits is None) == (not policy.use_mask)
    names = list(outputs)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            assert np.abs(outputs[first] - outputs[second]).max() > 1e-4, (first, second)


def test_components_are_decoded_separately_and_joined_by_max(real_clip, small_models):
    pns, samihs = small_models
    segmenter = PolypSegmenter(pns, samihs)
    frame = real_clip[1][0]
    two_blobs = np.zeros((256, 448), np.float32)
    two_blobs[40:120, 50:160] = 0.9
    two_blobs[150:230, 260:400] = 0.8
    prompts = prompts_from_probability(two_blobs, frame.shape[:2], 256)
    assert len(prompts) == 2
    image, _ = preprocess_frame(frame, 256, "BGR")
    boxes, points = prompts.as_pixel_indices()
    with torch.no_grad():
        # The sequence's SAM step: one image embedding, every component decoded, joined by max.
        embeddings = segmenter.runner.encode_image(image)
        joined = segmenter.prompt_stage.decode(segmenter.runner, image, embeddings, prompts)
        singles = [
            samihs(
                image,
                boxes=torch.tensor(boxes[i : i + 1]),
                points=(torch.tensor(points[i : i + 1, None]), torch.ones(1, 1)),
                mask_prompt=torch.tensor(prompts.mask_logits)[None, None],
            )
            for i in range(2)
        ]
    assert (singles[0] - singles[1]).abs().max() > 1e-3
    assert torch.allclose(joined, torch.cat(singles).amax(0, keepdim=True), atol=1e-5)


def test_an_empty_policy_is_refused(small_models):
    with pytest.raises(ValueError, match="at least one"):
        PolypSegmenter(*small_models, PromptConfig(use_box=False, use_point=False, use_mask=False))
