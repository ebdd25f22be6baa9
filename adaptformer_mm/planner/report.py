"""How a plan reads: the one-screen table of ``tools/plan.py``, the line
``tools/train.py`` logs at the start of a run, and the exit status of the
tool (2, with a one-line reason, for input it cannot plan and for a batch
that does not fit)."""
import sys
from typing import Callable, Optional

import torch
from mmengine.config import Config
from mmengine.logging import print_log

from .fake_step import PlanningError
from .memory import GIB, MemoryPlan, plan_config

__all__ = [
    'fit_error', 'format_plan', 'gib', 'log_training_plan', 'plan_line',
    'planning_main'
]


def gib(n: float) -> str:
    """Bytes in GiB (MiB below 1 GiB), as the table prints them."""
    if abs(n) < GIB:
        return f'{n / 2**20:.1f} MiB'
    return f'{n / GIB:.2f} GiB'


def format_plan(result: dict) -> str:
    """The table ``tools/plan.py`` prints, from :meth:`MemoryPlan.to_dict`
    (so that it also formats a plan read back from ``--json``)."""
    r = result
    b = r['batch']
    saved = r['saved']
    where = 'a CUDA GPU' if r['device'] == 'cuda' else 'the CPU'
    total_params = r['frozen_params'] + r['trainable_params']
    share = 100 * r['trainable_params'] / max(total_params, 1)
    rows = [
        ('weights + buffers (fp32)', None, r['weight_bytes']),
        (f'optimizer state ({r["optimizer"]})', None,
         r['optimizer_state_bytes']),
        ('input clips (fp32)', r['input_bytes_per_clip'],
         r['input_bytes_per_clip'] * b),
        ('activations saved for backward', saved['per_clip'],
         saved['fixed'] + saved['per_clip'] * b),
        ('gradients (trainable, fp32)', None, r['grad_bytes']),
        ('step peak: activations, grads, temporaries',
         r['per_clip_bytes'] - r['input_bytes_per_clip'],
         r['working_set_bytes']),
        ('optimizer step: grads + workspace', None,
         r['grad_bytes'] + r['optimizer_step_bytes']),
        ('total: weights, state, input + larger peak', r['per_clip_bytes'],
         r['total_bytes']),
    ]
    lines = [
        f'config: {r["config"]}',
        f'planned for {where}: input {"x".join(map(str, r["input_shape"]))}'
        f', batch {b}, amp {r["amp"]}, activation checkpointing '
        f'{"on" if r["with_cp"] else "off"}',
        f'attention: {r["attention"]}',
        f'parameters: {r["frozen_params"]:,} frozen, '
        f'{r["trainable_params"]:,} trainable ({share:.2f}%)',
        f'{"":<44}{"per clip":>12}{f"batch {b}":>14}',
    ]
    for label, per_clip, at_batch in rows:
        cell = '' if per_clip is None else gib(per_clip)
        lines.append(f'{label:<44}{cell:>12}{gib(at_batch):>14}')
    verdict = 'fits' if r['fits'] else 'does NOT fit'
    lines += [
        f'memory: {_margin_from(r)}; batch {b} {verdict}; largest batch '
        f'that fits: {r["largest_batch"]}',
        f'compute per clip: forward {r["forward_flops_per_clip"] / 1e9:,.1f}'
        f' GFLOP, backward {r["backward_flops_per_clip"] / 1e9:,.1f} GFLOP;'
        f' at {r["peak_tflops"]:g} TFLOP/s: {r["clips_per_s_at_100"]:,.0f} '
        f'clips/s at 100%, {r["clips_per_s_at_50"]:,.0f} at 50%',
    ]
    lines += [f'note: {n}' for n in r['notes']]
    lines.append('(planner estimate from fake tensors, not a measurement)')
    return '\n'.join(lines)


def _margin_from(r: dict) -> str:
    context = r['margin']['cuda_context_bytes']
    context_text = (f' - {gib(context)} CUDA context' if context else '')
    return (f'{gib(r["usable_bytes"])} usable = '
            f'{1 - r["margin"]["allocator"]:.0%} of ({gib(r["memory_bytes"])}'
            f'{context_text})')


def fit_error(result: dict) -> Optional[str]:
    """Why the plan's batch does not fit its memory (by how much, and what
    would), or None."""
    if result['fits']:
        return None
    over = result['total_bytes'] - result['usable_bytes']
    largest = result['largest_batch']
    advice = (f'batch {largest} fits' if largest else
              'not even batch 1 fits: try --with-cp, --amp bf16, fewer '
              '--frames or a smaller --size')
    return (f'batch {result["batch"]} needs {gib(result["total_bytes"])}, '
            f'{gib(over)} more than the {gib(result["usable_bytes"])} usable '
            f'of {gib(result["memory_bytes"])}; {advice}')


def planning_main(tool_main: Callable[..., dict], argv=None) -> dict:
    """Run a planning tool's ``main(argv)``: an input it cannot plan
    (:class:`PlanningError`, a config ``ValueError``) or a batch that does
    not fit ends it with a one-line ``error:`` on stderr and exit status 2
    (after the table and ``--json``, for a batch that does not fit)."""
    try:
        result = tool_main(argv)
    except (PlanningError, ValueError, KeyError) as err:
        print(f'error: {err}', file=sys.stderr)
        raise SystemExit(2) from None
    reason = fit_error(result)
    if reason:
        print(f'error: {reason}', file=sys.stderr)
        raise SystemExit(2)
    return result


# ------------------------------------------------------------ training
def plan_line(plan: MemoryPlan) -> str:
    """One line: memory per device at the run's batch and the largest batch
    that fits."""
    where = 'GPU' if plan.device == 'cuda' else 'process (CPU)'
    return (f'planner estimate: {gib(plan.total_bytes(plan.batch))} per '
            f'{where} at batch {plan.batch} (amp {plan.amp}, '
            f'{plan.attention.split(" (")[0]}); largest batch that fits '
            f'{gib(plan.memory_bytes)}: {plan.largest_batch()} '
            f'(tools/plan.py for the details)')


def _device_memory() -> tuple:
    """``(device, bytes)`` of what the run trains on: the first GPU, else
    the machine's RAM."""
    if torch.cuda.is_available():
        return 'cuda', torch.cuda.get_device_properties(
            torch.cuda.current_device()).total_memory
    import os
    return 'cpu', os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES')


def log_training_plan(cfg: Config) -> Optional[str]:
    """Log :func:`plan_line` for the run ``cfg`` describes (its batch, its
    precision, the device it trains on) on rank 0. Never raises: a config
    the planner cannot plan logs a one-line note instead, and training goes
    on. Returns the line logged (None on other ranks)."""
    from mmengine.dist import get_rank
    if get_rank() != 0:
        return None
    try:
        device, memory = _device_memory()
        line = plan_line(plan_config(cfg, device=device, memory=memory))
    except Exception as err:  # noqa: BLE001 (planning must not stop a run)
        reason = str(err).splitlines()[0] if str(err) else ''
        line = (f'planner estimate unavailable ({type(err).__name__}: '
                f'{reason})')
    print_log(line, logger='current')
    return line
