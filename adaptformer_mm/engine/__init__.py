from .distributed import (DeviceAwareDistributedDataParallel,
                          setup_cpu_distributed)
from .hooks import (InterruptCheckpointHook, TunableCheckpointHook,
                    TunableSummaryHook)

__all__ = [
    'DeviceAwareDistributedDataParallel', 'InterruptCheckpointHook',
    'TunableCheckpointHook', 'TunableSummaryHook', 'setup_cpu_distributed'
]
