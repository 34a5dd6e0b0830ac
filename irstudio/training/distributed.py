"""torch.distributed for runs launched by ``torchrun`` (one process per GPU, one or several nodes).

``Distributed.from_environment()`` joins the process group when torchrun's variables (``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT``) are present and ``WORLD_SIZE > 1``:
NCCL on CUDA, gloo otherwise. Without them it is a single process of rank 0 and every collective
below is a no-op, so the training loop has one code path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")


@dataclass
class Distributed:
    """This process's place in the run: ``rank`` of ``world_size``; ``local_rank`` picks its GPU."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False

    @classmethod
    def from_environment(cls, *, use_cuda: bool) -> Distributed:
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        if world_size <= 1 or "RANK" not in os.environ:
            return cls()
        rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        if dist.is_initialized():  # the caller set the group up itself
            return cls(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local_rank)
        if use_cuda:
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
        return cls(rank=rank, world_size=world_size, local_rank=local_rank, owns_group=True)

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def any(self, flags: list[bool], device: torch.device) -> list[bool]:
        """Element-wise OR of ``flags`` over all processes (the same answer everywhere)."""
        if not self.enabled or not flags:
            return list(flags)
        tensor = torch.tensor([float(f) for f in flags], device=device)
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
        return [bool(v) for v in tensor.tolist()]

    def gather(self, value: T) -> list[T]:
        """``value`` from every process, in rank order (a list of one without distribution)."""
        if not self.enabled:
            return [value]
        gathered: list[Any] = [None] * self.world_size  # all_gather_object fills in every rank's value
        dist.all_gather_object(gathered, value)
        return gathered

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def close(self) -> None:
        """Leave the process group if this object created it."""
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()
            self.owns_group = False
