"""Command-line tools: `polyp-train` (train SAMIHS or PNS+, write PNS+ maps) and `polyp-eval`
(score maps with the SUN-SEG protocol, or predict with a model and score).

Bad input (missing data, mask, config key, weight file) prints one line and exits with status 2.
Multi-GPU (or multi-process CPU, gloo): `torchrun --nproc-per-node N -m training.cli sam ...`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import UserError, one_line


def usage_errors() -> tuple[type[Exception], ...]:
    """The errors that are the user's to fix (one line, exit 2). Imported late: --help must not
    load torch."""
    from models.weights import CheckpointError

    return (UserError, CheckpointError)


TRAIN_EPILOG = """examples:
  polyp-train sam --config training/configs/samihs_vit_t_cvc.yaml optim.epochs=30
  polyp-train sam --config my.yaml --resume
  polyp-train pns --config training/configs/pns_resnet18_cvc.yaml
  polyp-train pns --config training/configs/pns_resnet18_cvc.yaml --predict \\
      --data ../shared/data/cvc-clinicdb --out runs/pns/maps/cvc-clinicdb
  torchrun --nproc-per-node 2 -m training.cli sam --config my.yaml
overrides are dotted config keys: optim.lr=0.001 data.train.0.root=DIR run.device=cpu"""

EVAL_EPILOG = """examples:
  polyp-eval --pred runs/pns/maps/cvc-clinicdb --gt ../shared/data/cvc-clinicdb --json scores.json
  polyp-eval --model runs/sam/best.safetensors runs/pns/best.safetensors \\
      --data ../shared/data/cvc-clinicdb --out predictions/
  polyp-eval --compare runs/cmp_pns runs/cmp_autosam runs/cmp_gt_point runs/cmp_gt_box
--model takes a model bundle folder (what polyp-live --model takes, written by polyp-export
--out DIR), or the SAMIHS and PNS+ .safetensors files (a PNS+ file alone scores PNS+'s own
maps; with an oracle --prompt-source a SAMIHS file alone is enough)."""


def train_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="polyp-train",
        description="Train SAMIHS (sam) or PNS+ (pns) from a YAML config.",
        epilog=TRAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("kind", choices=("sam", "pns"), help="which model to train")
    parser.add_argument("--config", required=True, help="YAML config file")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue from run.out_dir/last.* exactly where it stopped",
    )
    parser.add_argument(
        "--predict",
        action="store_true",
        help="pns only: write PNS+ maps for --data into --out instead of training",
    )
    parser.add_argument(
        "--data", help="with --predict: data set folder (SUN-SEG layout or images/)"
    )
    parser.add_argument("--out", help="with --predict: folder for the maps (<case>/<name>.png)")
    parser.add_argument(
        "--weights", help="with --predict: PNS+ weights (default run.out_dir/best.safetensors)"
    )
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides")
    args = parser.parse_intermixed_args(argv)
    if args.predict and args.kind != "pns":
        parser.error("--predict writes PNS+ maps: use it with `polyp-train pns`")
    if args.predict and not (args.data and args.out):
        parser.error("--predict needs --data DIR and --out DIR")
    try:
        from .config import load_config

        config = load_config(args.kind, args.config, args.overrides)
        if args.predict:
            return _predict_maps(config, Path(args.data), Path(args.out), args.weights)
        return _train(args.kind, config, args.resume)
    except usage_errors() as error:
        print(f"polyp-train: error: {one_line(error)}", file=sys.stderr)
        return 2
    except FloatingPointError as error:  # a diverged run: the message says what to change
        print(f"polyp-train: error: {error}", file=sys.stderr)
        return 1


def _train(kind: str, config, resume: bool) -> int:
    from .trainer import PnsTask, make_sam_task, train

    task = make_sam_task(config) if kind == "sam" else PnsTask(config)
    result = train(task, config, resume=resume)
    if result.best is not None:
        best = result.best
        print(
            f"best epoch {best['epoch']}: {best['metric']} {best['value']:.4f} -> "
            f"{Path(config.run.out_dir) / 'best.safetensors'}"
        )
    return 0


def _predict_maps(config, data: Path, out: Path, weights: str | None) -> int:
    from models.pns_plus import build_pns_plus

    from .data.layout import find_dataset
    from .devices import resolve_device
    from .evaluate.predict import PnsPredictor, write_predictions
    from .model_files import load_pns_weights, weight_kind

    path = Path(weights) if weights else Path(config.run.out_dir) / "best.safetensors"
    if not path.is_file():
        raise UserError(f"{path}: PNS+ weights not found; train first or pass --weights FILE")
    if path.suffix == ".safetensors" and weight_kind(path) == "pns":
        model, _ = load_pns_weights(path)
    else:  # e.g. the released .pth: built as the config says
        model = build_pns_plus(path, config.model.backbone, tuple(config.model.input_size))
    device = resolve_device(config.run.device)
    videos = find_dataset(data)
    count = write_predictions(
        PnsPredictor(model.to(device), device), videos, out, progress=config.run.progress
    )
    print(f"wrote {count} PNS+ maps for {len(videos)} videos to {out}")
    return 0


def eval_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="polyp-eval",
        description="Score polyp maps with the SUN-SEG benchmark protocol.",
        epilog=EVAL_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--pred", help="folder of grey PNG maps at the GT's relative paths")
    parser.add_argument("--gt", help="GT folder (SUN-SEG root or GT/, or images/+masks/ root)")
    parser.add_argument(
        "--model",
        nargs="+",
        metavar="PATH",
        help="a model bundle folder, or SAMIHS + PNS+ .safetensors files",
    )
    parser.add_argument("--data", help="with --model: data set to predict and score")
    parser.add_argument("--out", help="with --model: keep the predicted maps in this folder")
    parser.add_argument(
        "--sam-checkpoint",
        help="official SAM .pth, for SAMIHS files holding trainable tensors only",
    )
    parser.add_argument(
        "--prompt-source",
        default="pns",
        help="with --model: pns (PNS+ prompts, as the live app), or the oracles gt, gt-point, "
        "gt-box (prompts from the GT masks; no PNS+ file needed)",
    )
    parser.add_argument(
        "--compare",
        nargs="+",
        metavar="RUN_DIR",
        help="polyp-train run folders: score each best.safetensors on their common val split",
    )
    parser.add_argument(
        "--cases",
        nargs="+",
        metavar="CASE",
        help="video data: score only these cases; ranges allowed (e.g. seq25..seq29)",
    )
    parser.add_argument(
        "--names",
        metavar="FILE",
        help="image folders: score only the images named in FILE, one per line (a held-out "
        "split, e.g. training/splits/kvasir_seg_heldout100.txt)",
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    parser.add_argument("--json", help="also write the results as JSON here")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.compare:
        if args.pred or args.gt or args.model or args.data:
            parser.error("--compare takes run folders only (each run's config names its data)")
        return _compare(args)
    if (
        bool(args.pred) != bool(args.gt)
        or bool(args.model) != bool(args.data)
        or bool(args.pred) == bool(args.model)
    ):
        parser.error("give either --pred DIR --gt DIR, or --model PATH --data DIR")
    try:
        from .evaluate.folders import evaluate_folders

        if args.model:
            from .evaluate.with_model import predict_and_score

            report = predict_and_score(
                [Path(p) for p in args.model],
                Path(args.data),
                args.out,
                args.device,
                args.sam_checkpoint,
                progress=not args.quiet,
                prompt_source=args.prompt_source,
                names_file=args.names,
                cases=args.cases,
            )
            gt = Path(args.data)
        else:
            report = evaluate_folders(Path(args.pred), Path(args.gt), args.names, args.cases)
            gt = Path(args.gt)
    except usage_errors() as error:
        print(f"polyp-eval: error: {one_line(error)}", file=sys.stderr)
        return 2
    _print_report(report, gt)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report.to_dict(), indent=2))
    return 0


def _compare(args: argparse.Namespace) -> int:
    from .evaluate.compare import compare_runs, comparison_table

    try:
        reports = compare_runs(
            [Path(run) for run in args.compare], args.device, progress=not args.quiet
        )
    except usage_errors() as error:
        print(f"polyp-eval: error: {one_line(error)}", file=sys.stderr)
        return 2
    first = next(iter(reports.values()))
    print(
        f"{len(first.videos)} videos, {first.frames_scored} of {first.frames_total} frames "
        "scored (SUN-SEG protocol)"
    )
    print(comparison_table(reports))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        data = {label: report.to_dict() for label, report in reports.items()}
        Path(args.json).write_text(json.dumps(data, indent=2))
    return 0


def _print_report(report, gt: Path) -> None:
    dropped = (
        "first and last frame of each video dropped" if report.drop_ends else "no frame dropped"
    )
    print(
        f"{gt}: {len(report.videos)} videos, {report.frames_scored} of {report.frames_total} "
        f"frames scored ({dropped})"
    )
    for note in report.notes:
        print(f"note: {note}")
    if report.flicker is not None:
        flicker = report.flicker
        print(
            f"flicker (masks at 0.5, every frame): {flicker.toggles_per_100:.2f} on/off toggles "
            f"per 100 frames, consecutive-mask Dice {flicker.consecutive_dice:.3f}"
        )
    print(report.table())


if __name__ == "__main__":  # torchrun -m training.cli sam|pns ...
    sys.exit(train_main())
