"""Trainers for SAMIHS and PNS+ sharing one loop (AMP, DDP, checkpoints, validation, logs)."""

from .autosam_task import AutoSamTask, make_sam_task
from .loop import TrainResult, train
from .pns_task import PnsTask
from .sam_task import SamTask

__all__ = ["AutoSamTask", "PnsTask", "SamTask", "TrainResult", "make_sam_task", "train"]
