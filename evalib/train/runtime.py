"""Where and how a run executes: device choice, precision and memory layout, seeds, and the torchrun /
DistributedDataParallel context."""
from __future__ import annotations

import contextlib
import os
import random
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler, Sampler


def cpu_has_native_bf16() -> bool:
    """Whether oneDNN runs bfloat16 natively on this processor (AVX-512 BF16 or AMX); without it, bfloat16 autocast
    on the CPU is emulated (benchmarks/bench_precision.py measures what it costs)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


DEVICE_FORMS = "auto, cpu, cuda, cuda:N or mps"


def check_device_name(name) -> str:
    """`name` if torch can parse it as a device (or it is "auto"); else a ValueError naming --device."""
    if name == "auto":
        return name
    try:
        torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"device (--device) must be one of {DEVICE_FORMS}; got {name!r}") from None
    return name


def pick_device(name: str = "auto", local_rank: int = 0) -> torch.device:
    """"auto": CUDA (this process's local rank), then Apple MPS, then CPU; otherwise the named device, which must
    be present on this machine (a ValueError says so when it is not)."""
    if name != "auto":
        device = torch.device(check_device_name(name))
        if device.type == "cuda":
            count = torch.cuda.device_count() if torch.cuda.is_available() else 0
            if count == 0:
                raise ValueError(f"device (--device) {name!r}: torch sees no CUDA GPU on this machine; use --device "
                                 "cpu, or auto (the best device present)")
            if device.index is not None and device.index >= count:
                raise ValueError(f"device (--device) {name!r}: this machine has {count} CUDA GPU(s), numbered from 0")
        elif device.type == "mps" and not (getattr(torch.backends, "mps", None) is not None
                                            and torch.backends.mps.is_available()):
            raise ValueError(f"device (--device) {name!r}: Apple's MPS is not available here; use --device cpu or auto")
        elif device.type not in ("cpu", "cuda", "mps"):
            raise ValueError(f"device (--device) {name!r}: evalib trains on {DEVICE_FORMS}")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


AMP_MODES = (True, False, "bf16", "fp16")  # True: float16 (or bfloat16 where supported) on CUDA only
LAYOUT_MODES = (True, False, "always")  # True: channels_last on CUDA only


_SWITCH_WORDS = {"auto": True, "on": True, "true": True, "off": False, "false": False, "no": False}


def _mode(value, allowed: tuple, aliases: dict, what: str) -> bool | str:
    """`value` in its stored form (a word from `_SWITCH_WORDS` or `aliases`, or one of `allowed`), else ValueError."""
    if isinstance(value, str):
        value = {**_SWITCH_WORDS, **aliases}.get(value.lower(), value.lower())
    if value not in allowed or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        raise ValueError(f"{what}; got {value!r}")
    return value


def amp_mode(value) -> bool | str:
    """`TrainConfig.amp` in its stored form: "auto"/"on" -> True, "off" -> False, "bf16", "fp16"."""
    return _mode(value, AMP_MODES, {"bfloat16": "bf16", "float16": "fp16"},
                 "amp must be True (mixed precision on CUDA only), False, 'bf16' or 'fp16' (on any device, a CPU too)")


def layout_mode(value) -> bool | str:
    """`TrainConfig.channels_last` in its stored form: "auto"/"on" -> True, "off" -> False, "always"."""
    return _mode(value, LAYOUT_MODES, {},
                 "channels_last must be True (on CUDA only), False or 'always' (on any device, a CPU too)")


@dataclass(frozen=True)
class DevicePlan:
    """How a run uses its device: autocast precision, gradient scaling, memory layout and host-to-device copies.

    Every choice the CUDA branch makes is a field here, so each can also be switched on for a CPU and tested
    there: bfloat16 autocast, float16 autocast with a GradScaler, channels_last inputs and weights. Pinned
    memory and non-blocking copies only apply when an accelerator is present (on a CPU a copy to the CPU is a
    no-op).
    """

    device: torch.device
    autocast_dtype: torch.dtype | None = None  # None: float32 throughout
    scale_grads: bool = False  # float16 gradients need loss scaling; bfloat16 ones do not
    channels_last: bool = False
    pin_memory: bool = False

    @property
    def non_blocking(self) -> bool:
        """Copies to the device may overlap with compute: only from pinned memory to a CUDA device."""
        return self.pin_memory and self.device.type == "cuda"

    def autocast(self):
        """The forward pass's autocast context (nothing at float32)."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def scaler(self) -> torch.amp.GradScaler:
        """A GradScaler for this device: enabled for float16, a no-op otherwise."""
        return torch.amp.GradScaler(self.device.type, enabled=self.scale_grads)

    def model(self, net: torch.nn.Module) -> torch.nn.Module:
        """`net` moved to the device, in channels_last layout if the plan says so."""
        net = net.to(self.device)
        return net.to(memory_format=torch.channels_last) if self.channels_last else net

    def batch(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """An (input, target) batch on the device; the input in channels_last layout if the plan says so."""
        x = x.to(self.device, non_blocking=self.non_blocking)
        y = y.to(self.device, non_blocking=self.non_blocking)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y

    def describe(self) -> str:
        precision = {None: "float32", torch.bfloat16: "bfloat16 autocast", torch.float16: "float16 autocast"}[
            self.autocast_dtype]
        parts = [str(self.device), precision + (" with gradient scaling" if self.scale_grads else "")]
        parts += ["channels_last"] if self.channels_last else []
        parts += ["pinned memory, non-blocking copies"] if self.non_blocking else []
        return ", ".join(parts)


def _native_bf16() -> bool:
    """Whether this CUDA GPU computes in bfloat16 natively (Ampere and newer); a T4 only emulates it, slowly."""
    try:
        return torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # torch before the including_emulation argument
        return torch.cuda.get_device_capability()[0] >= 8


def device_plan(device: torch.device | str, amp: bool | str = True, channels_last: bool | str = True) -> DevicePlan:
    """What `amp` and `channels_last` (TrainConfig's fields) mean on `device`.

    amp True: on CUDA bfloat16 where the GPU supports it (Ampere and newer: no loss scaling needed), else float16
    with a GradScaler; elsewhere float32. "bf16" / "fp16": that precision on any device (a CPU too; "fp16" with a
    GradScaler). channels_last True: on CUDA only; "always": on any device.
    """
    device = torch.device(device)
    amp, channels_last = amp_mode(amp), layout_mode(channels_last)
    cuda = device.type == "cuda"
    if amp is True:
        dtype = (torch.bfloat16 if _native_bf16() else torch.float16) if cuda else None
    else:
        dtype = {False: None, "bf16": torch.bfloat16, "fp16": torch.float16}[amp]
    return DevicePlan(device, dtype, scale_grads=dtype == torch.float16,
                      channels_last=channels_last == "always" or (channels_last is True and cuda), pin_memory=cuda)


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
    augment = getattr(train.dataset, "augment_generator", None)
    if augment is not None and ctx.rank > 0:
        # each rank holds its own copy of the dataset, and so of its augmentation stream: seeded alike, rank k's i-th
        # image would get rank 0's i-th flip, warp and light. Rank 0 keeps the stream a single process draws.
        augment.manual_seed(int(np.random.SeedSequence([seed, ctx.rank]).generate_state(1, np.uint64)[0] % 2**63))
    return rebuild(train, train_sampler), rebuild(test, ShardSampler(len(test.dataset), ctx.rank, ctx.world_size))
