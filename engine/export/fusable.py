"""Export-time rewrite that keeps the function and lets ONNX Runtime fuse more.

A PReLU with one slope for all channels is exactly LeakyReLU with that slope. ONNX Runtime's CPU
provider fuses LeakyRelu into the convolution before it (its blocked-layout kernels take it as
the activation), but not PRelu, which runs as a separate broadcast kernel with layout reorders
around it: on the bundled PNS+ frame encoder that was a third of the graph's time.
"""

from __future__ import annotations

import copy

from torch import nn


def single_slope_prelus(module: nn.Module) -> list[tuple[nn.Module, str, nn.PReLU]]:
    """(parent, attribute name, PReLU) for every PReLU in `module` with one shared slope."""
    return [
        (parent, name, child)
        for parent in module.modules()
        for name, child in parent.named_children()
        if isinstance(child, nn.PReLU) and child.num_parameters == 1
    ]


def with_fusable_activations(module: nn.Module) -> nn.Module:
    """`module` itself when it has no single-slope PReLU, else a copy where each is a LeakyReLU
    of the same slope (the original is left as it is: training and PyTorch back ends keep it)."""
    if not single_slope_prelus(module):
        return module
    rewritten = copy.deepcopy(module)
    for parent, name, prelu in single_slope_prelus(rewritten):
        setattr(parent, name, nn.LeakyReLU(float(prelu.weight.detach().item())))
    return rewritten
