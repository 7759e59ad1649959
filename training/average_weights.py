"""The equal-weight mean of polyp-live weight files of one model (a "model soup").

  python -m training.average_weights A.safetensors B.safetensors [...] --out MEAN.safetensors

The files must hold the same tensors (names and shapes) and the same model config but for the
input size; the mean is computed in fp32 and written in fp32 with the first file's metadata
(its input size included). Weights from different
training runs of one model, each starting from the same ancestor, average into a model that
often generalises better than either (Wortsman et al., 2022, "Model soups").
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from models.weights import CheckpointError, read_safetensors_config

from .errors import UserError, one_line


def _model_config(path: Path) -> dict:
    """The file's model config less its input size (a CNN's weights do not depend on it)."""
    config = read_safetensors_config(path)
    model = dict(config.get("model", config))
    model.pop("image_size", None)
    return model


def average_weights(files: Sequence[Path], out: Path) -> int:
    """Writes the mean of `files` to `out`; returns the number of tensors.

    Raises:
      UserError: fewer than two files, or files of different models.
      CheckpointError: a file that is missing or was not written by polyp-live.
    """
    if len(files) < 2:
        raise UserError("average_weights needs two or more weight files")
    reference = _model_config(files[0])
    totals: dict[str, torch.Tensor] = {}
    metadata: dict[str, str] | None = None
    for path in files:
        if _model_config(path) != reference:
            raise UserError(f"{path}: another model config than {files[0]}; average one model")
        with safe_open(str(path), "pt") as handle:
            names = set(handle.keys())
            if totals and names != set(totals):
                raise UserError(f"{path}: other tensors than {files[0]}; average one model")
            metadata = metadata or handle.metadata()
            for name in names:
                tensor = handle.get_tensor(name)
                if name in totals and tensor.shape != totals[name].shape:
                    raise UserError(f"{path}: {name} has shape {tuple(tensor.shape)}, "
                                    f"{tuple(totals[name].shape)} in {files[0]}")
                if tensor.is_floating_point():
                    tensor = tensor.float()
                    totals[name] = totals[name] + tensor if name in totals else tensor
                else:  # counters (BatchNorm's num_batches_tracked): the first file's
                    totals.setdefault(name, tensor)
    mean = {name: (t / len(files) if t.is_floating_point() else t).contiguous()
            for name, t in totals.items()}
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(mean, str(out), metadata=metadata)
    return len(mean)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.average_weights",
        description="Write the equal-weight mean of weight files of one model.",
    )
    parser.add_argument("files", nargs="+", type=Path, help="polyp-live .safetensors files")
    parser.add_argument("--out", required=True, type=Path, help="the mean's .safetensors file")
    args = parser.parse_args(argv)
    try:
        count = average_weights(args.files, args.out)
    except (UserError, CheckpointError, OSError) as error:
        print(f"average_weights: error: {one_line(error)}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: the mean of {len(args.files)} files ({count} tensors)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
