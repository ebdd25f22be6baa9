from .bad_sample_report import BadSampleReportHook
from .interrupt import InterruptCheckpointHook
from .merge_lora import MergeLoRAHook
from .tunable_checkpoint import TunableCheckpointHook
from .tunable_summary import TunableSummaryHook

__all__ = [
    'BadSampleReportHook', 'InterruptCheckpointHook', 'MergeLoRAHook',
    'TunableCheckpointHook', 'TunableSummaryHook'
]
