"""Parameter counts by component, to check a model against the paper's figures."""

from __future__ import annotations

from torch import nn

from .model import is_trainable_key


def parameter_groups(model: nn.Module) -> dict[str, tuple[int, int]]:
    """{group: (trainable, total)} for adapters, the frozen encoder, prompt encoder, decoder."""
    groups: dict[str, list[int]] = {}
    for name, parameter in model.named_parameters():
        if name.startswith("image_encoder."):
            group = "adapters" if is_trainable_key(name) else "image_encoder (rest)"
        else:
            group = name.split(".", 1)[0]
        counts = groups.setdefault(group, [0, 0])
        counts[1] += parameter.numel()
        if parameter.requires_grad:
            counts[0] += parameter.numel()
    return {group: (counts[0], counts[1]) for group, counts in groups.items()}


def format_parameter_summary(model: nn.Module) -> str:
    """A small table of trainable / total parameters per group."""
    groups = parameter_groups(model)
    lines = [f"{'group':<22}{'trainable':>14}{'total':>14}"]
    for group, (trainable, total) in groups.items():
        lines.append(f"{group:<22}{trainable:>14,}{total:>14,}")
    trainable = sum(t for t, _ in groups.values())
    total = sum(n for _, n in groups.values())
    lines.append(f"{'all':<22}{trainable:>14,}{total:>14,}")
    return "\n".join(lines)
