"""TensorRT engines from the exported ONNX graphs, an engine cache, and a torch-bound runner.

Optional: TensorRT is imported only when used, and a missing install raises TensorRTUnavailable
with the fix. Build:
  - TensorRT >= 11: strongly typed network from the fp16 graph (fp32 islands already in it);
  - TensorRT 10: the fp32 graph with BuilderFlag.FP16, and the normalisation / softmax layers
    (the same islands) pinned to fp32 with OBEY_PRECISION_CONSTRAINTS; or strongly typed from
    the fp16 graph when asked (`strongly_typed=True`).
Engines are cached under a key of graph hash + GPU name + TensorRT version + precision +
profiles; a different key rebuilds. Running binds torch CUDA tensors (`set_tensor_address`,
`execute_async_v3` on the current torch stream), so pre/post-processing stays on the GPU.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import onnx
import torch

from .export.fp16 import fp32_island_nodes

Dims = tuple[int, ...]
Profiles = dict[str, tuple[Dims, Dims, Dims]]  # input name -> (min, opt, max)

WORKSPACE_BYTES = 4 << 30


class TensorRTUnavailable(RuntimeError):
    """TensorRT (or a CUDA GPU for it) is missing here."""


class TensorRTError(RuntimeError):
    """TensorRT failed to parse, build or run a graph."""


def import_tensorrt():
    """The tensorrt module, or TensorRTUnavailable with a one-line fix."""
    try:
        import tensorrt
    except ImportError:
        raise TensorRTUnavailable(
            "TensorRT is not installed (pip install 'polyp-live[trt]' on a machine with an "
            "NVIDIA GPU); use --backend torch or --backend onnxruntime-cpu"
        ) from None
    return tensorrt


def tensorrt_available() -> bool:
    """True when TensorRT imports and a CUDA GPU is present."""
    try:
        import_tensorrt()
    except TensorRTUnavailable:
        return False
    return torch.cuda.is_available()


def major_version(trt) -> int:
    return int(str(trt.__version__).split(".")[0])


def engine_key(
    onnx_sha256: str, gpu_name: str, trt_version: str, precision: str, profiles: Profiles
) -> dict:
    """What an engine depends on; any difference means a rebuild."""
    return {
        "onnx_sha256": onnx_sha256,
        "gpu": gpu_name,
        "tensorrt": trt_version,
        "precision": precision,
        "profiles": {k: [list(d) for d in v] for k, v in sorted(profiles.items())},
    }


class EngineCache:
    """Serialized engines in a folder: `<graph>-<digest>.engine` with a `.json` of its key."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def path(self, graph: str, key: dict) -> Path:
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
        return self.directory / f"{graph}-{digest}.engine"

    def get(self, graph: str, key: dict, build: Callable[[], bytes]) -> bytes:
        """The cached engine for (graph, key), or `build()`'s, stored for next time."""
        path = self.path(graph, key)
        sidecar = path.with_suffix(".json")
        if path.is_file() and sidecar.is_file():
            try:
                stored = json.loads(sidecar.read_text())
            except (OSError, json.JSONDecodeError):
                stored = None
            data = path.read_bytes()
            if stored == key and data:
                return data
        data = build()
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".engine.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        sidecar.write_text(json.dumps(key, indent=2, sort_keys=True))
        return data


def island_prefixes(onnx_path: str | Path) -> list[str]:
    """Names (and module scopes) of the nodes that must stay fp32 (engine/export/fp16.py)."""
    model = onnx.load(str(onnx_path), load_external_data=False)
    prefixes = set()
    for name in fp32_island_nodes(model):
        prefixes.add(name)
        if "/" in name:
            prefixes.add(name.rsplit("/", 1)[0] + "/")
    return sorted(prefixes)


def _pin_fp32(trt, network, prefixes: Sequence[str]) -> int:
    """Sets precision and float output types to fp32 on island layers; returns how many."""
    pinned_types = {trt.LayerType.NORMALIZATION, trt.LayerType.SOFTMAX}
    count = 0
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        if layer.type not in pinned_types and not any(layer.name.startswith(p) for p in prefixes):
            continue
        layer.precision = trt.float32
        for j in range(layer.num_outputs):
            if layer.get_output(j).dtype in (trt.float32, trt.float16):
                layer.set_output_type(j, trt.float32)
        count += 1
    return count


def build_engine(
    onnx_path: str | Path,
    profiles: Profiles,
    precision: str = "fp16",
    strongly_typed: bool | None = None,
    fp32_onnx_path: str | Path | None = None,
    workspace_bytes: int = WORKSPACE_BYTES,
) -> bytes:
    """Builds a serialized engine.

    onnx_path: the graph to parse (the fp16 graph when strongly typed, else the fp32 graph).
    fp32_onnx_path: the fp32 graph whose islands to pin in weak-typed fp16 builds (default:
      onnx_path).
    strongly_typed: None = TensorRT >= 11 (required there) for fp16, weak typing on 10.
    """
    trt = import_tensorrt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    major = major_version(trt)
    if strongly_typed is None:
        strongly_typed = major >= 11
    flags = 0
    if strongly_typed and major < 11:  # from 11 on every network is strongly typed
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise TensorRTError(f"{onnx_path}: TensorRT could not parse the graph: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_bytes)
    profile = builder.create_optimization_profile()
    for name, (low, opt, high) in profiles.items():
        profile.set_shape(name, low, opt, high)
    config.add_optimization_profile(profile)
    if precision == "fp16" and not strongly_typed:
        config.set_flag(trt.BuilderFlag.FP16)
        config.set_flag(trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS)
        _pin_fp32(trt, network, island_prefixes(fp32_onnx_path or onnx_path))
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise TensorRTError(f"{onnx_path}: TensorRT failed to build an engine (see its log)")
    return bytes(serialized)


def _torch_dtype(trt, dtype) -> torch.dtype:
    table = {trt.float32: torch.float32, trt.float16: torch.float16, trt.int32: torch.int32,
             trt.int64: torch.int64, trt.bool: torch.bool}
    if dtype not in table:
        raise TensorRTError(f"unsupported TensorRT tensor type {dtype}")
    return table[dtype]


class TensorRTGraph:
    """One engine with its execution context; torch CUDA tensors in and out."""

    def __init__(self, serialized: bytes, device: torch.device) -> None:
        trt = import_tensorrt()
        self.device = device
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        self.engine = self._runtime.deserialize_cuda_engine(serialized)
        if self.engine is None:
            raise TensorRTError("TensorRT could not load the engine; delete the engine cache")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        is_input = {n: self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT for n in names}
        self.inputs = [n for n in names if is_input[n]]
        self.outputs = [n for n in names if not is_input[n]]
        self.dtypes = {n: _torch_dtype(trt, self.engine.get_tensor_dtype(n)) for n in names}

    def __call__(
        self, *inputs: torch.Tensor, sizes: dict[str, int] | None = None
    ) -> list[torch.Tensor]:
        """Runs on the current torch CUDA stream; outputs are float32.

        `sizes` is accepted for the GraphRunner interface; TensorRT infers output shapes itself.
        """
        bound = []
        for name, tensor in zip(self.inputs, inputs, strict=True):
            tensor = tensor.to(self.device, self.dtypes[name]).contiguous()
            bound.append(tensor)  # keeps the buffer alive until the stream has used it
            self.context.set_input_shape(name, tuple(tensor.shape))
            self.context.set_tensor_address(name, tensor.data_ptr())
        outputs = []
        for name in self.outputs:
            shape = tuple(self.context.get_tensor_shape(name))
            out = torch.empty(shape, dtype=self.dtypes[name], device=self.device)
            self.context.set_tensor_address(name, out.data_ptr())
            outputs.append(out)
        stream = torch.cuda.current_stream(self.device)
        if not self.context.execute_async_v3(stream.cuda_stream):
            raise TensorRTError("TensorRT execution failed (see its log)")
        return [out.float() for out in outputs]
