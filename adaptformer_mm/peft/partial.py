"""Partial-k fine-tuning: the last ``k`` blocks train, the rest stays frozen
(the VPT paper's "Partial-1" baseline, arXiv 2203.12119, Sec. 4.1).

:class:`PartialConfig` holds the setting (``partial_cfg`` in configs) and its
check, once. Pure Python: which modules are "the last blocks" and "the final
norm" is the backbone's business; this file only resolves ``k`` against the
depth.
"""
import dataclasses
from typing import Tuple

from .config import MethodConfig, is_int


@dataclasses.dataclass(frozen=True)
class PartialConfig(MethodConfig):
    """Partial-k's settings (``partial_cfg`` in configs), checked once.

    Args:
        num_blocks (int): ``k``, the number of top blocks that train
            (VPT's Partial-1: 1). Must be in ``[1, depth]``; the depth is
            known at build (:meth:`resolve_blocks`). One ViT-B block holds
            7,087,872 parameters (image, biased qkv) or 7,087,104 (VideoMAE:
            q and v biases only).
        final_norm (bool): The norm after the last block (video ``fc_norm``,
            image ``ln1`` / ``ln2``) trains too. Default True: VPT's
            Partial-1 tunes the last encoder layer and the encoder norm.
    """

    key = 'partial_cfg'

    num_blocks: int = 1
    final_norm: bool = True

    def check(self) -> None:
        if not is_int(self.num_blocks) or self.num_blocks < 1:
            raise ValueError(f'{self.key}.num_blocks must be an int >= 1 '
                             f'(VPT\'s Partial-1: 1), got {self.num_blocks!r}')
        if not isinstance(self.final_norm, bool):
            raise ValueError(f'{self.key}.final_norm must be True or False, '
                             f'got {self.final_norm!r}')

    def resolve_blocks(self, depth: int) -> Tuple[int, ...]:
        """Indices of the trained blocks of a model with ``depth`` blocks:
        ``(depth - k, ..., depth - 1)``. ``k > depth`` is a ``ValueError``
        naming the key, the value and the valid range."""
        if self.num_blocks > depth:
            raise ValueError(
                f'{self.key}.num_blocks must be in [1, {depth}] (the '
                f'backbone has depth={depth}), got {self.num_blocks!r}')
        return tuple(range(depth - self.num_blocks, depth))
