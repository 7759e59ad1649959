"""The training loop shared by SAMIHS and PNS+: epochs, AMP, DDP, validation, checkpoints, logs.

Files in run.out_dir:
  last.safetensors + last.state.pt   weights, and optimizer / scheduler / scaler / RNG / epoch
                                     state, written after every epoch (`--resume` reads them)
  best.safetensors + best.json       the epoch with the best validation `run.best_metric`
  average.safetensors + average.json with optim.average_from: the mean of the weights at the end
                                     of epochs average_from..epochs, and its validation
  config.yaml                        the resolved config; tb/ the TensorBoard logs
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from ..config import OptimConfig, TrainConfig, to_dict
from ..errors import ConfigError
from ..evaluate.predict import score_predictor
from ..evaluate.protocol import METRIC_ORDER, Report
from . import checkpoint
from .distributed import DistContext, setup, teardown
from .task import Task

LOWER_IS_BETTER = {"MAE"}


@dataclass
class TrainResult:
    """What a run ends with: the (unwrapped) model and the last validation report."""

    model: nn.Module
    epochs_run: int
    last_report: Report | None
    best: dict | None


def train(task: Task, config: TrainConfig, resume: bool = False) -> TrainResult:
    """Trains `task` as configured; launched alone or by torchrun (one process per GPU/CPU)."""
    metrics = [key for key, _ in METRIC_ORDER]
    if config.run.best_metric not in metrics:
        raise ConfigError(
            f"run.best_metric must be one of {', '.join(metrics)}, got {config.run.best_metric!r}"
        )
    context = setup(config.run.device)
    try:
        return Trainer(task, config, context).run(resume)
    finally:
        teardown(context)


class Trainer:
    def __init__(self, task: Task, config: TrainConfig, context: DistContext) -> None:
        self.task, self.config, self.context = task, config, context
        self.out_dir = Path(config.run.out_dir)
        self.device = context.device
        self.amp = config.run.amp and self.device.type == "cuda"
        torch.manual_seed(config.run.seed)
        self.model = task.build_model().to(self.device)
        self.parameters = [p for p in self.model.parameters() if p.requires_grad]
        optim = config.optim
        self.optimizer = torch.optim.Adam(
            parameter_groups(self.model, getattr(task, "pretrained_prefixes", ()), optim),
            lr=optim.lr,
            weight_decay=optim.weight_decay,
        )
        self.scheduler = build_scheduler(self.optimizer, optim)
        if optim.average_from is not None and not 1 <= optim.average_from <= optim.epochs:
            raise ConfigError(
                f"optim.average_from must be an epoch from 1 to optim.epochs ({optim.epochs}), "
                f"got {optim.average_from}"
            )
        # use_buffers: BatchNorm statistics are averaged with the weights, so the average needs
        # no extra pass over the data to re-estimate them
        self.average = (
            None if optim.average_from is None else AveragedModel(self.model, use_buffers=True)
        )
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp)
        self.dataset = task.train_dataset()
        self.val_videos = task.val_videos()
        self.sampler = DistributedSampler(
            self.dataset,
            num_replicas=context.world_size,
            rank=context.rank,
            shuffle=True,
            seed=config.run.seed,
        )
        self.network: nn.Module = self.model
        if context.distributed:
            self.network = DistributedDataParallel(
                self.model,
                device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=task.find_unused_parameters,
            )
        self.start_epoch = 0
        self.best: dict | None = None
        self.writer = None

    # -- the run ------------------------------------------------------------------------------

    def run(self, resume: bool) -> TrainResult:
        if resume:
            self._resume()
        if self.context.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            (self.out_dir / "config.yaml").write_text(yaml.safe_dump(to_dict(self.config)))
            # Imported here: only the main process writes logs, and the import is slow.
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.out_dir / "tb"))
        report = None
        epochs = self.config.optim.epochs
        try:
            for epoch in range(self.start_epoch, epochs):
                loss, rate = self._train_epoch(epoch)
                if self.scheduler is not None:
                    self.scheduler.step()
                if self.average is not None and epoch + 1 >= self.config.optim.average_from:
                    self.average.update_parameters(self.model)
                if self.context.is_main:
                    report = self._validate(epoch)
                    self._log_epoch(epoch, loss, rate, report)
                    self._save(epoch, report)
                    if self.average is not None and epoch + 1 == epochs:
                        self._save_average(epoch)
                self.context.barrier()
        finally:
            if self.writer is not None:
                self.writer.close()
        return TrainResult(self.model, max(0, epochs - self.start_epoch), report, self.best)

    def _train_epoch(self, epoch: int) -> tuple[float, float]:
        """One pass over the (capped) training set; returns mean loss and samples per second."""
        optim = self.config.optim
        self.network.train()
        self.dataset.set_epoch(epoch)
        self.sampler.set_epoch(epoch)
        loader = DataLoader(
            self.dataset,
            batch_size=optim.batch_size,
            sampler=self.sampler,
            num_workers=self.config.data.num_workers,
            pin_memory=self.device.type == "cuda",
        )
        steps = (
            len(loader)
            if optim.steps_per_epoch is None
            else min(len(loader), optim.steps_per_epoch)
        )
        bar = tqdm(
            total=steps,
            desc=f"{self.task.name} epoch {epoch + 1}/{optim.epochs}",
            unit="step",
            disable=not (self.context.is_main and self.config.run.progress),
        )
        total, samples, started = 0.0, 0, time.perf_counter()
        for step, batch in enumerate(loader):
            if step >= steps:
                break
            loss = self._step(batch)
            total += loss
            samples += len(next(iter(batch.values())))
            rate = samples * self.context.world_size / (time.perf_counter() - started)
            bar.set_postfix(loss=f"{loss:.4f}", samples_s=f"{rate:.1f}")
            bar.update()
            if self.writer is not None:
                self.writer.add_scalar("train/loss", loss, epoch * steps + step)
        bar.close()
        elapsed = time.perf_counter() - started
        return total / max(steps, 1), samples * self.context.world_size / max(elapsed, 1e-9)

    def _step(self, batch: dict) -> float:
        with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.amp):
            loss = self.task.compute_loss(self.network, batch, self.device)
        if not math.isfinite(loss.item()):
            raise FloatingPointError(f"loss became {loss.item()}; lower optim.lr")
        self.scaler.scale(loss).backward()
        clamp = self.config.optim.grad_clamp
        if clamp:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_value_(self.parameters, clamp)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        return float(loss.item())

    def _validate(self, epoch: int, model: nn.Module | None = None) -> Report:
        predictor = self.task.predictor(self.model if model is None else model, self.device)
        return score_predictor(predictor, self.val_videos, progress=self.config.run.progress)

    # -- logging and checkpoints --------------------------------------------------------------

    def _log_epoch(self, epoch: int, loss: float, rate: float, report: Report) -> None:
        metrics = report.metrics
        if self.writer is not None:
            self.writer.add_scalar("train/epoch_loss", loss, epoch + 1)
            self.writer.add_scalar("train/samples_per_s", rate, epoch + 1)
            self.writer.add_scalar("train/lr", self.optimizer.param_groups[0]["lr"], epoch + 1)
            for key, value in metrics.items():
                self.writer.add_scalar(f"val/{key}", value, epoch + 1)
            self.writer.flush()
        shown = "  ".join(f"{header} {metrics[key]:.3f}" for key, header in METRIC_ORDER[:4])
        print(
            f"{self.task.name} epoch {epoch + 1}/{self.config.optim.epochs}: loss {loss:.4f}, "
            f"{rate:.1f} samples/s, val {shown}",
            flush=True,
        )

    def _save(self, epoch: int, report: Report) -> None:
        key = self.config.run.best_metric
        value = report.metrics[key]
        better = self.best is None or (
            value < self.best["value"] if key in LOWER_IS_BETTER else value > self.best["value"]
        )
        if better:
            self.best = {
                "epoch": epoch + 1,
                "metric": key,
                "value": value,
                "metrics": report.metrics,
            }
            self.task.save_weights(self.model, self.out_dir / "best.safetensors")
            (self.out_dir / "best.json").write_text(json.dumps(self.best, indent=2))
        self.task.save_weights(self.model, self.out_dir / "last.safetensors")
        checkpoint.save_state(
            self.out_dir / "last.state.pt",
            {
                "epoch": epoch + 1,
                "optimizer": self.optimizer.state_dict(),
                "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict(),
                "rng": checkpoint.rng_state(),
                "best": self.best,
                "average": None if self.average is None else self.average.state_dict(),
            },
        )

    def _save_average(self, epoch: int) -> None:
        """The weight average: its file, and its validation beside the last epoch's."""
        first = self.config.optim.average_from
        report = self._validate(epoch, self.average.module)
        metrics = report.metrics
        shown = "  ".join(f"{header} {metrics[key]:.3f}" for key, header in METRIC_ORDER[:4])
        print(f"{self.task.name} average of epochs {first}-{epoch + 1}: val {shown}", flush=True)
        self.task.save_weights(self.average.module, self.out_dir / "average.safetensors")
        (self.out_dir / "average.json").write_text(
            json.dumps({"epochs": [first, epoch + 1], "metrics": metrics}, indent=2)
        )

    def _resume(self) -> None:
        state = checkpoint.load_state(self.out_dir / "last.state.pt")
        self.task.load_weights(self.model, self.out_dir / "last.safetensors")
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state["scheduler"] is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        checkpoint.set_rng_state(state["rng"])
        self.start_epoch = int(state["epoch"])
        self.best = state["best"]
        if self.average is not None:
            if state.get("average") is None:
                raise ConfigError(
                    f"{self.out_dir}: this run kept no weight average; resume it without "
                    "optim.average_from, or start a new run"
                )
            self.average.load_state_dict(state["average"])


def parameter_groups(
    model: nn.Module, pretrained_prefixes: tuple[str, ...], optim: OptimConfig
) -> list[dict]:
    """Trainable parameters in two Adam groups: the pretrained backbone's (names starting with
    one of `pretrained_prefixes`) at lr * pretrained_lr_scale, and the rest at lr."""
    pretrained, fresh = [], []
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            (pretrained if name.startswith(pretrained_prefixes) else fresh).append(parameter)
    groups = [{"params": fresh, "lr": optim.lr}]
    if pretrained:
        groups.append({"params": pretrained, "lr": optim.lr * optim.pretrained_lr_scale})
    return groups


def build_scheduler(
    optimizer: torch.optim.Optimizer, optim: OptimConfig
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """Per-epoch learning-rate schedule: StepLR (schedule step, step_size set), cosine from 1 to
    0.01 of each group's lr over the run (schedule cosine), or None (constant)."""
    if optim.schedule not in ("step", "cosine"):
        raise ConfigError(f"optim.schedule must be step or cosine, got {optim.schedule!r}")
    if optim.schedule == "cosine":
        epochs = max(1, optim.epochs - 1)

        def factor(epoch: int) -> float:
            return 0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * min(epoch, epochs) / epochs))

        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    if optim.step_size:
        return torch.optim.lr_scheduler.StepLR(optimizer, optim.step_size, optim.gamma)
    return None
