from .interrupt import InterruptCheckpointHook
from .tunable_checkpoint import TunableCheckpointHook
from .tunable_summary import TunableSummaryHook

__all__ = [
    'InterruptCheckpointHook', 'TunableCheckpointHook', 'TunableSummaryHook'
]
