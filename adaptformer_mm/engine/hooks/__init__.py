from .tunable_summary import TunableSummaryHook

__all__ = ['TunableSummaryHook']
