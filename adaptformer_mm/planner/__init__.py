"""Memory and compute planner: what a config's training step needs per GPU,
before launching it.

:func:`plan_config` runs the step on fake tensors (no model memory, no GPU)
and returns a :class:`MemoryPlan`: weights, optimizer state, input,
activations saved for backward and the step's peak, FLOPs per clip and the
largest batch that fits a memory size. ``tools/plan.py`` prints it;
``tools/train.py`` logs its one-line estimate (:func:`log_training_plan`);
``tools/plan_table.py`` writes the table of ``docs/planner.md``.
"""
from .fake_step import PlanningError, StepRecord, record_step
from .memory import (ALLOCATOR_MARGIN, CUDA_CONTEXT_BYTES, MemoryPlan, PerClip,
                     config_amp, parse_memory, plan_config, usable_bytes)
from .report import (fit_error, format_plan, log_training_plan, plan_line,
                     planning_main)

__all__ = [
    'ALLOCATOR_MARGIN', 'CUDA_CONTEXT_BYTES', 'MemoryPlan', 'PerClip',
    'PlanningError', 'StepRecord', 'config_amp', 'fit_error', 'format_plan',
    'log_training_plan', 'parse_memory', 'plan_config', 'plan_line',
    'planning_main', 'record_step', 'usable_bytes'
]
