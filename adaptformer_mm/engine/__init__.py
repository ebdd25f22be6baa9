from .distributed import (DeviceAwareDistributedDataParallel,
                          setup_cpu_distributed)
from .hooks import (BadSampleReportHook, InterruptCheckpointHook,
                    TunableCheckpointHook, TunableSummaryHook)
from .strategy import ShardedRunner, build_flexible_runner, uses_strategy

__all__ = [
    'BadSampleReportHook', 'DeviceAwareDistributedDataParallel',
    'InterruptCheckpointHook', 'ShardedRunner', 'TunableCheckpointHook',
    'TunableSummaryHook', 'build_flexible_runner', 'setup_cpu_distributed',
    'uses_strategy'
]
