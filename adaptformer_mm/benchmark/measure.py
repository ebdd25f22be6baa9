"""Measuring tools of the benchmarks: the device, peak memory, FLOPs and
wall time of a block of work. Nothing here knows about models or configs."""
import ctypes
import gc
import os
import platform
import threading
import time
from typing import Callable, Optional

import torch
from torch.utils.flop_counter import (FlopCounterMode,
                                      sdpa_backward_flop_count,
                                      sdpa_flop_count)


# ---------------------------------------------------------------- devices
def resolve_device(device: Optional[str]) -> torch.device:
    """``cuda`` when present, else ``cpu``; a requested ``cuda`` without one
    is an error rather than a silent CPU run."""
    if device is None:
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if device not in ('cuda', 'cpu'):
        raise ValueError(f"--device {device!r}; valid: 'cuda', 'cpu'")
    if device == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError('--device cuda: torch sees no CUDA device')
    return torch.device(device)


def device_name(device: torch.device) -> str:
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    model = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    model = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    return (f'{model}, {os.cpu_count()} cores visible, '
            f'{torch.get_num_threads()} torch threads')


def synchronize(device: torch.device) -> None:
    # CUDA kernels run asynchronously: a timer read without a sync measures
    # the launch, not the work.
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


# ----------------------------------------------------------------- memory
def _rss_bytes() -> Optional[int]:
    try:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
    except (OSError, ValueError, IndexError):
        return None


def release_freed_memory() -> None:
    """Return freed heap pages to the OS, so that RSS growth measures what a
    run allocates and not what an earlier run left in glibc's free lists."""
    gc.collect()
    try:
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError):
        pass


class PeakMemory:
    """Peak memory a block of work allocates above what was held at entry.

    CUDA: ``torch.cuda.max_memory_allocated`` (exact, tensors only). CPU:
    resident set size sampled every ``interval`` s by a thread (approximate:
    the allocator keeps some freed pages, short spikes between samples are
    missed); ``None`` where ``/proc`` is missing. ``kind`` names which.
    """

    def __init__(self, device: torch.device, interval: float = 0.002):
        self.device = device
        self.interval = interval
        self.kind = ('cuda_max_allocated'
                     if device.type == 'cuda' else 'cpu_rss_growth')
        self.peak_bytes: Optional[int] = None
        self._thread = None
        self._stop = threading.Event()

    def __enter__(self):
        release_freed_memory()
        if self.device.type == 'cuda':
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
            return self
        self._base = _rss_bytes()
        if self._base is None:
            self.kind = 'n/a'
            return self
        self._max = self._base

        def poll():
            while not self._stop.wait(self.interval):
                self._max = max(self._max, _rss_bytes() or 0)

        self._thread = threading.Thread(target=poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        if self.device.type == 'cuda':
            synchronize(self.device)
            self.peak_bytes = (torch.cuda.max_memory_allocated(self.device) -
                               self._base)
        elif self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._max = max(self._max, _rss_bytes() or 0)
            self.peak_bytes = self._max - self._base
        return False


# ------------------------------------------------------------------ FLOPs
def _sdpa_cpu_flops(query, key, value, *args, out_shape=None, **kwargs):
    return sdpa_flop_count(query, key, value)


def _sdpa_cpu_backward_flops(grad_out, query, key, value, *args,
                             out_shape=None, **kwargs):
    return sdpa_backward_flop_count(grad_out, query, key, value)


def _extra_flop_formulas() -> dict:
    """Formulas torch's counter lacks: the CPU flash-attention kernel that
    ``scaled_dot_product_attention`` runs on a CPU (counted as 0 otherwise,
    which would flatter eager attention in a CPU comparison)."""
    aten = torch.ops.aten
    formulas = {}
    if hasattr(aten, '_scaled_dot_product_flash_attention_for_cpu'):
        formulas[aten._scaled_dot_product_flash_attention_for_cpu] = \
            _sdpa_cpu_flops
    if hasattr(aten, '_scaled_dot_product_flash_attention_for_cpu_backward'):
        formulas[aten._scaled_dot_product_flash_attention_for_cpu_backward] = \
            _sdpa_cpu_backward_flops
    return formulas


def count_flops(fn: Callable[[], object]) -> int:
    """FLOPs of one call of ``fn`` as ``FlopCounterMode`` counts them: matrix
    products, convolutions and attention (a multiply-add is 2 FLOPs);
    elementwise work, norms and softmax are not counted."""
    with FlopCounterMode(display=False,
                         custom_mapping=_extra_flop_formulas()) as counter:
        fn()
    return counter.get_total_flops()


# ----------------------------------------------------------------- timing
def timed(fn: Callable[[], object], steps: int, warmup: int,
          device: torch.device) -> float:
    """Seconds for ``steps`` calls of ``fn`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    synchronize(device)
    return time.perf_counter() - start
