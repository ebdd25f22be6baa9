from .distributed import (DeviceAwareDistributedDataParallel,
                          setup_cpu_distributed)
from .hooks import (BadSampleReportHook, InterruptCheckpointHook,
                    TunableCheckpointHook, TunableSummaryHook)

__all__ = [
    'BadSampleReportHook', 'DeviceAwareDistributedDataParallel',
    'InterruptCheckpointHook', 'TunableCheckpointHook', 'TunableSummaryHook',
    'setup_cpu_distributed'
]
