"""Choosing, reporting and saving the trainable part of a model.

Pure PyTorch. A "trainable group" is the shallowest module whose parameters
all train (e.g. ``blocks.3.adaptmlp``, ``fc_norm``, ``cls_head``); groups are
what the summary lists and what a tunable-only state dict holds (parameters
and persistent buffers, so a BatchNorm head keeps its running statistics).
"""
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Tuple

from torch import Tensor, nn


def set_trainable(model: nn.Module,
                  is_trainable: Callable[[str], bool]) -> List[str]:
    """Set ``requires_grad`` of every parameter from its name.

    Returns the names of the trainable parameters.
    """
    trainable = []
    for name, param in model.named_parameters():
        param.requires_grad_(bool(is_trainable(name)))
        if param.requires_grad:
            trainable.append(name)
    return trainable


def keep_in_eval(model: nn.Module, module_names: Iterable[str]) -> None:
    """Put the named submodules (not their children) in eval mode.

    Used after ``model.train()`` so frozen parts run without dropout and
    drop-path while the trainable modules inside them still train.
    """
    modules = dict(model.named_modules())
    for name in module_names:
        modules[name].training = False


def trainable_groups(model: nn.Module) -> List[str]:
    """Names of the shallowest modules whose parameters all train, plus
    names of trainable parameters that belong to no such module.

    The root module is named ``''``.
    """
    groups, taken = [], []
    for name, module in model.named_modules():
        if any(name == t or name.startswith(t + '.') if t else True
               for t in taken):
            continue
        params = list(module.parameters())
        if params and all(p.requires_grad for p in params):
            groups.append(name)
            taken.append(name)
    for name, param in model.named_parameters():
        if param.requires_grad and not any(
                name.startswith(t + '.') if t else True for t in taken):
            groups.append(name)
    return groups


@dataclass
class ParamSummary:
    """Counts of trainable and all parameters, and where the trainable ones
    are (``groups`` maps a trainable group name to its parameter count)."""
    trainable: int
    total: int
    groups: Dict[str, int] = field(default_factory=dict)

    @property
    def percent(self) -> float:
        return 100.0 * self.trainable / self.total if self.total else 0.0

    def headline(self) -> str:
        """HF-peft style one-liner."""
        return (f'trainable params: {self.trainable:,} || all params: '
                f'{self.total:,} || trainable%: {self.percent:.4f}')

    def format(self) -> str:
        """Headline plus one line per trainable group; groups that differ
        only in their numeric indices are merged, each ``#`` getting the
        range of its own index (``blocks.{0-11}.adaptmlp``). With several
        indices, the innermost always merges; an outer one merges where the
        inner ranges and counts agree, else each value gets its own line
        (Swin's ``stages.{0}.blocks.{0-1}.adaptmlp``, then
        ``stages.{1}...``)."""
        lines = [self.headline()]
        if not self.groups:
            lines.append('trainable modules: none')
            return '\n'.join(lines)
        lines.append('trainable modules:')
        merged: Dict[str, List[Tuple[Tuple[str, ...], int]]] = OrderedDict()
        for name, count in self.groups.items():
            pattern = re.sub(r'(?<=\.)\d+(?=\.|$)|^\d+(?=\.|$)', '#',
                             name) or '(whole model)'
            indices = tuple(re.findall(r'(?:^|\.)(\d+)(?=\.|$)', name))
            merged.setdefault(pattern, []).append((indices, count))
        width = max(len(p) for p in merged) + 12
        for pattern, entries in merged.items():
            for ranges, counts in _merge_indices(entries):
                label = pattern
                for part in ranges:
                    label = label.replace('#', '{' + part + '}', 1)
                if len(counts) > 1 and len(set(counts)) == 1:
                    detail = (f'{len(counts)} x {counts[0]:,} = '
                              f'{sum(counts):,}')
                else:
                    detail = f'{sum(counts):,}'
                lines.append(f'  {label:<{width}} {detail}')
        return '\n'.join(lines)

    __str__ = format


def _merge_indices(
    entries: List[Tuple[Tuple[str, ...], int]]
) -> List[Tuple[Tuple[str, ...], Tuple[int, ...]]]:
    """Rows ``(one range per index column, counts)`` of the groups of one
    pattern, given as ``(indices, count)`` in order.

    The last column merges within each value of the columns before it; then,
    outwards, a column merges the rows whose inner ranges and counts are the
    same (so ``n x count`` stays true of every merged row).
    """
    if not entries[0][0]:
        return [((), tuple(count for _, count in entries))]
    # rows: (outer indices not merged yet, merged ranges, counts)
    inner: Dict[tuple, Tuple[list, list]] = OrderedDict()
    for indices, count in entries:
        values, counts = inner.setdefault(indices[:-1], ([], []))
        values.append(indices[-1])
        counts.append(count)
    rows = [(outer, (_ranges(values), ), tuple(counts))
            for outer, (values, counts) in inner.items()]
    for _ in range(len(entries[0][0]) - 1):
        grouped: Dict[tuple, List[str]] = OrderedDict()
        for outer, ranges, counts in rows:
            grouped.setdefault((outer[:-1], ranges, counts),
                               []).append(outer[-1])
        rows = [(outer, (_ranges(values), ) + ranges, counts * len(values))
                for (outer, ranges, counts), values in grouped.items()]
    return [(ranges, counts) for _, ranges, counts in rows]


def _ranges(indices: List[str]) -> str:
    """'0','1','2','5' -> '0-2,5'."""
    nums = sorted({int(i) for i in indices})
    parts, start = [], nums[0]
    for prev, cur in zip(nums, nums[1:] + [None]):
        if cur != prev + 1:
            parts.append(str(start) if start == prev else f'{start}-{prev}')
            start = cur
    return ','.join(parts)


def summarize_parameters(model: nn.Module) -> ParamSummary:
    """Count trainable and all parameters of ``model`` (shared parameters
    once) and list its trainable groups."""
    seen, trainable, total = set(), 0, 0
    for param in model.parameters():
        if id(param) in seen:
            continue
        seen.add(id(param))
        total += param.numel()
        if param.requires_grad:
            trainable += param.numel()
    params = dict(model.named_parameters())
    groups = OrderedDict()
    for group in trainable_groups(model):
        if group in params:
            groups[group] = params[group].numel()
        else:
            module = model.get_submodule(group)
            groups[group] = sum(p.numel() for p in module.parameters())
    return ParamSummary(trainable=trainable, total=total, groups=groups)


def tunable_state_dict(model: nn.Module) -> 'OrderedDict[str, Tensor]':
    """State of the trainable groups only: their parameters and persistent
    buffers, detached, keyed as in ``model.state_dict()``."""
    groups = trainable_groups(model)
    state = model.state_dict()
    return OrderedDict(
        (k, v.detach()) for k, v in state.items()
        if any(k == g or k.startswith(g + '.') if g else True
               for g in groups))
