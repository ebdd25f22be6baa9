from .distributed import (DeviceAwareDistributedDataParallel,
                          setup_cpu_distributed)
from .hooks import TunableCheckpointHook, TunableSummaryHook

__all__ = [
    'DeviceAwareDistributedDataParallel', 'TunableCheckpointHook',
    'TunableSummaryHook', 'setup_cpu_distributed'
]
