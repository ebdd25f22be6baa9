from .distributed import (DeviceAwareDistributedDataParallel,
                          setup_cpu_distributed)
from .hooks import TunableSummaryHook

__all__ = [
    'DeviceAwareDistributedDataParallel', 'TunableSummaryHook',
    'setup_cpu_distributed'
]
