from .bad_sample_report import BadSampleReportHook
from .interrupt import InterruptCheckpointHook
from .tunable_checkpoint import TunableCheckpointHook
from .tunable_summary import TunableSummaryHook

__all__ = [
    'BadSampleReportHook', 'InterruptCheckpointHook', 'TunableCheckpointHook',
    'TunableSummaryHook'
]
