"""Trainers for SAMIHS and PNS+ sharing one loop (AMP, DDP, checkpoints, validation, logs)."""

from .loop import TrainResult, train
from .pns_task import PnsTask
from .sam_task import SamTask

__all__ = ["PnsTask", "SamTask", "TrainResult", "train"]
