"""Training configuration: dataclasses with the published recipes' defaults, read from YAML, with
`key=value` command-line overrides (dotted keys; list items by index, e.g. data.train.0.root=DIR).

Unknown keys and values of the wrong type are ConfigErrors naming the key and what it accepts.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import yaml

from .errors import ConfigError


@dataclass
class SourceConfig:
    """One data set: a SUN-SEG-layout folder (cases selectable, `seq01..seq24` ranges) or an
    image folder. repeat: how many times its items enter an epoch (mixing weight).
    maps: its folder of saved PNS+ maps (`<case>/<name>.png`), for SAMIHS prompt source pns.
    names / exclude_names: keep (or leave out) the images listed in a file (image folders)."""

    root: str = ""
    cases: list[str] | None = None
    repeat: int = 1
    maps: str | None = None
    # Image folders: a text file of image names (one per line); exclude_names leaves those
    # images out instead of keeping only them (a held-out split).
    names: str | None = None
    exclude_names: bool = False


@dataclass
class DataConfig:
    train: list[SourceConfig] = field(default_factory=list)
    val: list[SourceConfig] = field(default_factory=list)
    augment: bool = True
    # border-flip (the PNS+ recipe: <= max_border_crop px border crop + hflip) or small-data
    # (scale/crop, rotations, flips, colour, blur; for pretrained backbones)
    recipe: str = "border-flip"
    max_border_crop: int = 7
    hflip: bool = True
    num_workers: int = 0


@dataclass
class SamModelConfig:
    """variant vit_t (CPU, from scratch) or vit_b/l/h with `sam_checkpoint` (official SAM .pth).
    init_weights: a polyp-live SAMIHS file to start from. train_all: train every parameter and
    save the whole model (needed from scratch); otherwise SAMIHS's freeze policy (adapters,
    prompt encoder and mask decoder train)."""

    variant: str = "vit_b"
    image_size: int | None = None
    adapter_dim: int = 100
    window_size: int | None = None
    sam_checkpoint: str | None = None
    init_weights: str | None = None
    train_all: bool = False
    # CNN variants (efficientnet_lite0): start the trunk from its packaged ImageNet weights.
    pretrained_backbone: bool = False
    # CNN variants: stride-4 features for the mask decoder (models/samihs/fine_features.py);
    # init_weights may be the same model without them.
    fine_dim: int = 0


@dataclass
class PnsModelConfig:
    """backbone res2net50_v1b_26w_4s (released) or resnet18 (light); checkpoint to start from."""

    backbone: str = "res2net50_v1b_26w_4s"
    input_size: list[int] = field(default_factory=lambda: [256, 448])
    checkpoint: str | None = None
    # efficientnet_lite0/1/2: start the backbone from its packaged ImageNet weights.
    pretrained_backbone: bool = False


@dataclass
class PromptSection:
    """SAMIHS prompts: source gt (point + box), gt-point, gt-box, pns (saved PNS+ maps) or
    autosam (a trained prompt network, section `autosam`); see training.data.sam_prompts."""

    source: str = "gt"
    use_point: bool = True
    use_box: bool = True
    use_mask: bool = False
    box_jitter: float = 0.1
    threshold: float = 0.5
    max_components: int = 3
    min_area: int = 64


@dataclass
class AutoSamSection:
    """AutoSAM (prompt.source autosam): encoder hardnet85, small_cnn or efficientnet_lite0/1/2,
    an optional encoder checkpoint or (Lite only) pretrained_encoder: ImageNet weights from the
    weights package; loss bce_weight * BCE + tversky_weight * Tversky(alpha FP, beta FN)."""

    encoder: str = "hardnet85"
    checkpoint: str | None = None
    pretrained_encoder: bool = False
    decoder_dim: int = 64
    bce_weight: float = 0.5
    tversky_weight: float = 0.5
    tversky_alpha: float = 0.5
    tversky_beta: float = 0.5


@dataclass
class LossConfig:
    bce_weight: float = 0.5
    boundary_weight: float = 0.5
    pos_weight: float = 2.0
    boundary_form: str = "released"


@dataclass
class OptimConfig:
    """Adam. step_size/gamma: StepLR per epoch (step_size null: constant lr).
    grad_clamp: clamp every gradient value to +-grad_clamp (null: off).
    steps_per_epoch: cap on optimizer steps per epoch (null: the whole training set).
    schedule: step (StepLR) or cosine (per epoch, down to lr * 0.01 at the last epoch).
    pretrained_lr_scale: the pretrained backbone's lr relative to the new layers' lr.
    average_from: from this epoch (1-based) on, also keep the equal-weight average of the weights
    at the end of each epoch (stochastic weight averaging: parameters and BatchNorm statistics);
    null: off. Written as average.safetensors and validated after the last epoch."""

    lr: float = 5e-4
    weight_decay: float = 0.0
    step_size: int | None = 30
    gamma: float = 0.5
    grad_clamp: float | None = None
    batch_size: int = 2
    epochs: int = 15
    steps_per_epoch: int | None = None
    schedule: str = "step"
    pretrained_lr_scale: float = 1.0
    average_from: int | None = None


@dataclass
class RunConfig:
    """out_dir: checkpoints, TensorBoard logs. device: auto, cpu, cuda, cuda:N. amp: mixed
    precision, used on CUDA only. best_metric: validation key deciding `best.safetensors`."""

    out_dir: str = "runs/train"
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    best_metric: str = "maxDice"
    progress: bool = True


@dataclass
class SamTrainConfig:
    model: SamModelConfig = field(default_factory=SamModelConfig)
    prompt: PromptSection = field(default_factory=PromptSection)
    autosam: AutoSamSection = field(default_factory=AutoSamSection)
    data: DataConfig = field(default_factory=lambda: DataConfig(augment=False))
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=lambda: RunConfig(out_dir="runs/sam"))


@dataclass
class PnsTrainConfig:
    model: PnsModelConfig = field(default_factory=PnsModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(
        default_factory=lambda: LossConfig(bce_weight=1.0, boundary_weight=0.0, pos_weight=1.0)
    )
    optim: OptimConfig = field(
        default_factory=lambda: OptimConfig(
            lr=3e-4, weight_decay=1e-4, step_size=None, grad_clamp=0.5, batch_size=24
        )
    )
    run: RunConfig = field(default_factory=lambda: RunConfig(out_dir="runs/pns"))


TrainConfig = Union[SamTrainConfig, PnsTrainConfig]  # noqa: UP007 (runtime alias on 3.10)
CONFIGS: dict[str, type] = {"sam": SamTrainConfig, "pns": PnsTrainConfig}


def load_config(kind: str, path: str | Path | None, overrides: list[str] = ()) -> TrainConfig:
    """The config of trainer `kind` ("sam" | "pns") from a YAML file plus `key=value` overrides."""
    raw: dict = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found; check the path")
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as error:
            line = getattr(getattr(error, "problem_mark", None), "line", None)
            where = f" (line {line + 1})" if line is not None else ""
            raise ConfigError(f"{path}: not valid YAML{where}; fix the file") from None
        if not isinstance(raw, dict):
            raise ConfigError(
                f"{path}: the config must be a mapping of sections (model:, data:...)"
            )
    for override in overrides:
        apply_override(raw, override)
    return from_dict(CONFIGS[kind], raw, "")


def apply_override(raw: dict, override: str) -> None:
    """Sets `a.b.0.c=value` in the raw mapping; the value is read as YAML (1e-3, true, null)."""
    key, sep, text = override.partition("=")
    if not sep or not key:
        raise ConfigError(f"bad override {override!r}; write key=value, e.g. optim.lr=0.001")
    value = yaml.safe_load(text) if text.strip() else None
    parts = key.split(".")
    node: Any = raw
    for index, part in enumerate(parts[:-1]):
        following = parts[index + 1]
        if isinstance(node, list):
            node = _list_item(node, part, key)
            continue
        if node.get(part) is None:
            node[part] = [] if following.isdigit() else {}
        node = node[part]
    last = parts[-1]
    if isinstance(node, list):
        position = int(last) if last.isdigit() else -1
        if not 0 <= position <= len(node):
            raise ConfigError(f"bad override {override!r}: no list item {last}")
        if position == len(node):
            node.append(value)
        else:
            node[position] = value
    else:
        node[last] = value


def _list_item(items: list, part: str, key: str) -> Any:
    if not part.isdigit() or int(part) > len(items):
        raise ConfigError(f"bad override key {key!r}: {part!r} is not a list index")
    if int(part) == len(items):
        items.append({})
    return items[int(part)]


def from_dict(cls: type, data: Any, path: str, base: Any = None) -> Any:
    """Builds dataclass `cls` from a mapping, checking keys and coercing values.

    Keys absent from `data` keep their value in `base` (default: `cls()`).
    """
    if not isinstance(data, dict):
        raise ConfigError(f"config key {path.rstrip('.') or '(top)'!r} must be a mapping")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [key for key in data if key not in names]
    if unknown:
        raise ConfigError(
            f"unknown config key {path + str(unknown[0])!r}; known keys here: {', '.join(names)}"
        )
    defaults = base if base is not None else cls()
    values = {name: getattr(defaults, name) for name in names}
    for key, value in data.items():
        values[key] = _coerce(hints[key], value, f"{path}{key}", getattr(defaults, key))
    return cls(**values)


def _coerce(hint: Any, value: Any, key: str, default: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, key, default)
    if dataclasses.is_dataclass(hint):
        base = default if dataclasses.is_dataclass(default) else None
        return from_dict(hint, {} if value is None else value, key + ".", base)
    if origin is list:
        if not isinstance(value, list):
            value = [value]
        return [_coerce(args[0], item, f"{key}.{i}", None) for i, item in enumerate(value)]
    return _scalar(hint, value, key)


def _scalar(hint: Any, value: Any, key: str) -> Any:
    try:
        if hint is bool:
            if isinstance(value, bool):
                return value
            raise ValueError
        if hint is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if hint is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if hint is str:
            if isinstance(value, (dict, list)) or value is None:
                raise ValueError
            return str(value)
    except (TypeError, ValueError):
        pass
    else:
        return value
    raise ConfigError(f"config key {key!r} must be {hint.__name__}, got {value!r}")


def to_dict(config: Any) -> dict:
    """Plain-data form of a config (for checkpoints and logs)."""
    return dataclasses.asdict(config)
