"""int8 graphs for ONNX Runtime on a CPU: the two convolutional encoders quantised statically.

Why these two: on a CPU they are most of a frame's time (the SAM image encoder alone over half), and
convolutions run about twice as fast in int8 (per-channel int8 weights, uint8 activations, QDQ
format, ONNX Runtime's QLinearConv kernels). The PNS+ temporal head and SAM's prompt decoder
(attention, small tensors, logits whose sign is the mask) stay fp32: little to win there and
more to lose. Activation ranges are calibrated (min/max) on the bundle's calibration/ frames,
a few training frames, never held-out ones, preprocessed exactly as the live path does.
The SAM image encoder's first layers stay fp32 (FLOAT_LAYERS).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import cv2
import numpy as np

from models.pipeline.field_of_view import find_field_of_view
from models.pipeline.preprocess import FramePreprocessor

from ..bundle import ModelBundle
from .manifest import GraphsError

QUANTIZED_GRAPHS = ("pns_encoder", "sam_encoder")
# Layers (ONNX node-name prefixes) left in fp32 inside a quantised graph. In the SAM image
# encoder the largest part of the error that int8 adds to the mask comes in at its first layers,
# where the frame is still at full resolution: keeping the stem and the first block (three
# convolutions) in fp32 brings its masks closer to the fp32 ones (mean mask IoU 0.973 -> 0.980 on
# 120 training frames) and the graph is no slower (these small convolutions gain nothing from
# int8). Later stages helped little and cost time; the PNS+ encoder's int8 costs nothing held
# out (BENCHMARKS.md, "The SAM encoder's first layers in fp32"). The names are those of the
# EfficientNet-Lite SAM stages; a ViT image encoder has no such nodes and is quantised whole.
FLOAT_LAYERS = {
    "sam_encoder": ("/image_encoder/trunk/conv_stem/", "/image_encoder/trunk/blocks.0/"),
}
# CPU features with an 8-bit dot product that does not saturate (x86 VNNI / AMX, Arm dotprod).
# Without one, 8-bit convolutions run through 16-bit intermediate sums that can overflow
# ("saturation", worse for efficient nets such as these), so the int8 masks may be less accurate
# there than the measurements in BENCHMARKS.md (taken on a CPU with AVX-512 VNNI).
INT8_DOT_FLAGS = ("avx512_vnni", "avx512vnni", "avx_vnni", "amx_int8", "asimddp")
CPUINFO = Path("/proc/cpuinfo")


def has_int8_dot_product(cpuinfo: str | None = None) -> bool:
    """Whether this CPU (or the given /proc/cpuinfo text) has one of INT8_DOT_FLAGS; False
    where it cannot be told (no /proc/cpuinfo: not Linux)."""
    if cpuinfo is None:
        try:
            cpuinfo = CPUINFO.read_text(errors="replace")
        except OSError:
            return False
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() in ("flags", "features") and set(value.split()) & set(
            INT8_DOT_FLAGS
        ):
            return True
    return False


def calibration_inputs(bundle: ModelBundle) -> dict[str, list[np.ndarray]]:
    """Each quantised graph's input for every calibration frame, as the live path makes it."""
    if not bundle.calibration_frames:
        raise GraphsError(f"{bundle.path}: int8 graphs need calibration frames and the bundle "
                          "has no calibration/ folder; add a few training frames there, or use "
                          "--backend onnxruntime-cpu")
    preprocessor = FramePreprocessor(
        bundle.pns_input_size, bundle.samihs.config.image_size, "BGR"
    )
    inputs: dict[str, list[np.ndarray]] = {name: [] for name in QUANTIZED_GRAPHS}
    for path in bundle.calibration_frames:
        frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if frame is None:
            raise GraphsError(f"{path}: unreadable calibration frame; replace or delete it")
        view = find_field_of_view(frame)  # cropped as the live path crops a capture screen
        preprocessor.start(view.crop(frame) if view is not None else frame)
        inputs["pns_encoder"].append(preprocessor.pns_input().numpy())
        inputs["sam_encoder"].append(preprocessor.sam_input()[0].numpy())
    return inputs


def quantize_graph(
    fp32_path: Path,
    int8_path: Path,
    input_name: str,
    inputs: list[np.ndarray],
    float_layers: tuple[str, ...] = (),
) -> None:
    """Writes the static int8 (QDQ) version of the graph at `fp32_path`, calibrated on `inputs`;
    nodes whose names start with one of `float_layers` stay fp32."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Frames(CalibrationDataReader):
        def __init__(self) -> None:
            self.feeds = iter({input_name: x} for x in inputs)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.feeds, None)

    with tempfile.TemporaryDirectory(prefix="polyp-int8-") as scratch:
        # ONNX Runtime's recommended pre-pass (shape inference, graph optimisation); symbolic
        # shape inference is not needed, every shape here is fixed.
        prepared = Path(scratch) / "prepared.onnx"
        try:
            quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
            float_nodes = [
                node.name
                for node in onnx.load(str(prepared), load_external_data=False).graph.node
                if node.name.startswith(float_layers)
            ]
            quantize_static(
                str(prepared),
                str(int8_path),
                Frames(),
                quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                per_channel=True,
                nodes_to_exclude=float_nodes,
            )
        except Exception as error:  # ONNX Runtime's tools raise many kinds; the user needs one
            first = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise GraphsError(f"int8 quantisation of {fp32_path.name} failed ({first}); use "
                              "--backend onnxruntime-cpu") from error
