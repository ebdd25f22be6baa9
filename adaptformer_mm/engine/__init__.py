from .distributed import (DeviceAwareDistributedDataParallel,
                          setup_cpu_distributed)
from .hooks import (BadSampleReportHook, InterruptCheckpointHook,
                    TunableCheckpointHook, TunableSummaryHook)
from .choices import runtime_choices
from .strategy import ShardedRunner, build_flexible_runner, uses_strategy
from .strict_loading import CheckpointMismatchError
from .training_steps import require_training_steps

__all__ = [
    'BadSampleReportHook', 'CheckpointMismatchError',
    'DeviceAwareDistributedDataParallel', 'InterruptCheckpointHook',
    'ShardedRunner', 'TunableCheckpointHook', 'TunableSummaryHook',
    'build_flexible_runner', 'require_training_steps', 'runtime_choices',
    'setup_cpu_distributed', 'uses_strategy'
]
