"""Where and how a run executes: device choice, seeds, and the torchrun / DistributedDataParallel context."""
from __future__ import annotations

import os
import random
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler, Sampler


def pick_device(name: str = "auto", local_rank: int = 0) -> torch.device:
    """"auto": CUDA (this process's local rank), then Apple MPS, then CPU; otherwise the named device."""
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (every device)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass
class Distributed:
    """This process's place in a torchrun job (a single process: rank 0 of 1)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False  # this object initialised the process group, so it ends it

    @classmethod
    def from_env(cls, device_hint: str = "auto") -> Distributed:
        """Join the process group that torchrun describes in RANK / WORLD_SIZE (gloo on CPU, nccl on CUDA)."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        owns = False
        if not dist.is_initialized():
            use_cuda = torch.cuda.is_available() and device_hint in ("auto", "cuda")
            if use_cuda:
                torch.cuda.set_device(local % torch.cuda.device_count())
            dist.init_process_group(backend="nccl" if use_cuda else "gloo")
            owns = True
        return cls(rank, world, local, owns)

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def main(self) -> bool:
        """Rank 0: the process that writes logs and checkpoints."""
        return self.rank == 0

    def sum(self, values: list[float], device: torch.device) -> list[float]:
        """Element-wise sum of `values` over every rank (a no-op in one process)."""
        if not self.enabled:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t.tolist()

    def broadcast(self, obj):
        """Rank 0's `obj`, on every rank."""
        if not self.enabled:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def sync_buffers(self, model: torch.nn.Module) -> None:
        """Copy rank 0's buffers (BatchNorm statistics) to every rank, so all ranks score the model rank 0 saves."""
        if self.enabled:
            for b in model.buffers():
                dist.broadcast(b, src=0)

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def close(self) -> None:
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()


class ShardSampler(Sampler):
    """Every world_size-th index from `rank`, in order, without padding: test sets are scored exactly once."""

    def __init__(self, n: int, rank: int, world_size: int):
        self.indices = list(range(rank, n, world_size))

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def shard_loaders(train: DataLoader, test: DataLoader, ctx: Distributed, seed: int) -> tuple[DataLoader, DataLoader]:
    """The same datasets and batch sizes, split over ranks: a shuffling DistributedSampler, and test shards."""
    def rebuild(loader: DataLoader, sampler: Sampler) -> DataLoader:
        return DataLoader(loader.dataset, batch_size=loader.batch_size, sampler=sampler, num_workers=loader.num_workers,
                          pin_memory=loader.pin_memory, drop_last=loader.drop_last,
                          worker_init_fn=loader.worker_init_fn, persistent_workers=loader.persistent_workers,
                          generator=loader.generator)

    if not (isinstance(train, DataLoader) and isinstance(test, DataLoader)):
        raise ValueError(f"under torchrun, fit needs torch DataLoaders to shard; got {type(train).__name__} "
                         "(use fast=False)")
    train_sampler = DistributedSampler(train.dataset, ctx.world_size, ctx.rank, shuffle=True, seed=seed)
    return rebuild(train, train_sampler), rebuild(test, ShardSampler(len(test.dataset), ctx.rank, ctx.world_size))
