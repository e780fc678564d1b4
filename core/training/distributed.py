"""Data-parallel training over several processes (torchrun): who this process is, and the few collectives it needs.

``torchrun --nproc-per-node N -m lorascope train ...`` (or ``lorascope train --nproc N``, which starts the same
thing) sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` for each process; :func:`from_environment` reads them and
:func:`start` joins the process group: gloo on a CPU, NCCL on CUDA (one GPU per process, ``cuda:LOCAL_RANK``).
The training loop wraps its forward pass in torch's ``DistributedDataParallel``, so every backward pass ends
with the gradients averaged over the processes; every process then takes the same optimizer step and the same
rank-allocation decisions (AdaLoRA's importance is computed from those averaged gradients), and the weights
stay identical on every rank. Each step's lists are shared out (:meth:`Distributed.share`), and each process
scales its loss so that the average is the loss of the whole batch. Only rank 0 evaluates dev, writes
checkpoints, the adapter and the store, and reports progress.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from lorascope.core.errors import InputError


@dataclass(frozen=True)
class Distributed:
    """This process's place among the training processes (one process: rank 0 of 1)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def share(self, indices: Sequence[int]) -> list[int]:
        """This process's part of a step's lists: every ``world_size``-th, starting at its rank."""
        return list(indices[self.rank::self.world_size])

    def any(self, flag: bool) -> bool:
        """True when ``flag`` is true on any process (every process must call it at the same point)."""
        if not self.enabled:
            return flag
        value = torch.tensor([1.0 if flag else 0.0], device=_collective_device())
        torch.distributed.all_reduce(value, op=torch.distributed.ReduceOp.MAX)
        return bool(value.item() > 0)

    def mean(self, values: Sequence[float]) -> list[float]:
        """The mean of each value over the processes."""
        if not self.enabled:
            return list(values)
        t = torch.tensor(list(values), dtype=torch.float64, device=_collective_device())
        torch.distributed.all_reduce(t)
        return (t / self.world_size).tolist()

    def barrier(self) -> None:
        if self.enabled:
            torch.distributed.barrier()


def _collective_device() -> torch.device:
    backend = torch.distributed.get_backend() if torch.distributed.is_initialized() else "gloo"
    return torch.device("cuda", torch.cuda.current_device()) if backend == "nccl" else torch.device("cpu")


def from_environment() -> Distributed:
    """The torchrun variables of this process (rank 0 of 1 when they are absent)."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise InputError("torchrun environment", "RANK, WORLD_SIZE and LOCAL_RANK must be whole numbers") from None
    if world < 1 or not 0 <= rank < world:
        raise InputError("torchrun environment", f"rank {rank} of {world} processes is not a valid place")
    return Distributed(rank, world, local)


def start(dist: Distributed, device: str = "auto") -> str:
    """Join the process group (gloo on CPU, NCCL on CUDA); returns the device this process trains on."""
    if not dist.enabled:
        return device
    use_cuda = (device == "auto" and torch.cuda.is_available()) or str(device).startswith("cuda")
    if use_cuda:
        torch.cuda.set_device(dist.local_rank)
        device = f"cuda:{dist.local_rank}"
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if use_cuda else "gloo")
    return device if use_cuda else "cpu"


def stop(dist: Distributed) -> None:
    if dist.enabled and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def data_parallel(module: torch.nn.Module, dist: Distributed, device: torch.device) -> torch.nn.Module:
    """``module`` wrapped in DistributedDataParallel when there are several processes, else itself."""
    if not dist.enabled:
        return module
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids)
