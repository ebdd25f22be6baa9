from .distributed import (DeviceAwareDistributedDataParallel,
                          setup_cpu_distributed)
from .hooks import (BadSampleReportHook, InterruptCheckpointHook,
                    TunableCheckpointHook, TunableSummaryHook)
from .strategy import ShardedRunner, build_flexible_runner, uses_strategy
from .training_steps import require_training_steps

__all__ = [
    'BadSampleReportHook', 'DeviceAwareDistributedDataParallel',
    'InterruptCheckpointHook', 'ShardedRunner', 'TunableCheckpointHook',
    'TunableSummaryHook', 'build_flexible_runner', 'require_training_steps',
    'setup_cpu_distributed', 'uses_strategy'
]
