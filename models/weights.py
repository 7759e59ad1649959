"""Safe reading and writing of weight files, with one-line errors for user mistakes.

Only tensors are ever loaded: `.pth`/`.pt` files go through `torch.load(weights_only=True)`,
`.safetensors` through safetensors. A pickle that carries code is refused.
"""

from __future__ import annotations

import json
import pickle
import struct
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

StateDict = dict[str, torch.Tensor]

# Wrappers that training scripts commonly put around a state_dict.
_WRAPPER_KEYS = ("state_dict", "model", "model_state_dict", "net")


class CheckpointError(ValueError):
    """A weight file that cannot be used; the message is one line naming the file and the fix."""


def read_state_dict(path: str | Path) -> StateDict:
    """Reads a state_dict from `.pth`/`.pt` (tensors only) or `.safetensors`.

    Raises:
      CheckpointError: missing, damaged, code-carrying or non-state_dict file.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found; check the path")
    if path.suffix == ".safetensors":
        try:
            return dict(load_file(str(path)))
        except (SafetensorError, OSError, ValueError) as error:
            raise CheckpointError(
                f"{path}: damaged safetensors file ({_first_line(error)}); copy it again"
            ) from None
    try:
        loaded = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if "weights only" in str(error).lower() or "weights_only" in str(error).lower():
            raise CheckpointError(
                f"{path}: refused: the file holds Python objects besides tensors and could run "
                "code when loaded; re-save it as a plain state_dict or as .safetensors"
            ) from None
        raise CheckpointError(
            f"{path}: damaged checkpoint ({_first_line(error)}); copy it again"
        ) from None
    except (
        RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError,
        # Random bytes that happen to start like a legacy pickle stop the unpickler anywhere.
        IndexError, KeyError, TypeError, AttributeError, OverflowError, struct.error,
    ) as error:
        raise CheckpointError(
            f"{path}: damaged or not a PyTorch checkpoint ({_first_line(error)}); copy it again"
        ) from None
    return _unwrap(loaded, path)


def _unwrap(loaded: object, path: Path) -> StateDict:
    if isinstance(loaded, Mapping):
        for key in _WRAPPER_KEYS:
            inner = loaded.get(key)
            if isinstance(inner, Mapping) and _all_tensors(inner):
                return dict(inner)
        if _all_tensors(loaded):
            return dict(loaded)
    raise CheckpointError(f"{path}: not a state_dict (expected a mapping of names to tensors)")


def _all_tensors(mapping: Mapping) -> bool:
    return len(mapping) > 0 and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in mapping.items()
    )


def strip_prefix(state_dict: Mapping[str, torch.Tensor], prefix: str) -> StateDict:
    """Removes `prefix` from every key that has it (e.g. `module.` from DataParallel)."""
    return {(k[len(prefix) :] if k.startswith(prefix) else k): v for k, v in state_dict.items()}


def describe_mismatch(
    path: str | Path,
    expected: Mapping[str, tuple[int, ...]],
    found: Mapping[str, torch.Tensor],
    what: str,
    ignored: Iterable[str] = (),
    limit: int = 3,
) -> str | None:
    """Returns a one-line description of how `found` differs from `expected`, or None if it fits.

    Keys in `ignored` may be present or absent without complaint.
    """
    ignored = set(ignored)
    missing = [k for k in expected if k not in found and k not in ignored]
    unexpected = [k for k in found if k not in expected and k not in ignored]
    wrong_shape = [
        f"{k} {tuple(found[k].shape)} != {tuple(expected[k])}"
        for k in expected
        if k in found and tuple(found[k].shape) != tuple(expected[k])
    ]
    if not (missing or unexpected or wrong_shape):
        return None
    parts = []
    if wrong_shape:
        parts.append(
            f"{len(wrong_shape)} shape mismatches, first: {'; '.join(wrong_shape[:limit])}"
        )
    if missing:
        parts.append(f"{len(missing)} missing keys, first: {', '.join(missing[:limit])}")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected keys, first: {', '.join(unexpected[:limit])}")
    return f"{path}: not a {what} checkpoint: " + " | ".join(parts)


def save_safetensors(
    tensors: Mapping[str, torch.Tensor], path: str | Path, config: Mapping[str, object]
) -> None:
    """Saves tensors with `config` as JSON in the file's metadata; writes atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    contiguous = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    save_file(contiguous, str(tmp), metadata={"config": json.dumps(dict(config), sort_keys=True)})
    tmp.replace(path)


def read_safetensors_config(path: str | Path) -> dict:
    """Returns the JSON config stored in a safetensors file's metadata."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: weight file not found; check the path")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(
            f"{path}: damaged safetensors file ({_first_line(error)}); copy it again"
        ) from None
    if "config" not in metadata:
        raise CheckpointError(
            f"{path}: no model config in the file's metadata; it was not written by polyp-live"
        )
    return json.loads(metadata["config"])


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__
