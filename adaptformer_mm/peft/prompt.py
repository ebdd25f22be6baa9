"""Visual prompts of VPT (arXiv 2203.12119, Sec. 3.2).

:class:`PromptConfig` holds VPT's settings (``prompt_cfg`` in configs) with
their defaults and checks, once. Pure PyTorch: a set of learnable tokens per
insertion point. Where the tokens go into the sequence (and that they never
reach the pooled feature) is the backbone's business.
"""
import dataclasses
import math
from typing import Optional, Tuple

import torch
from torch import Tensor, nn

from .config import (MethodConfig, check_choice, check_dropout, is_int,
                     layers_field, resolve_layers)

PROMPT_INITS = ('uniform', 'normal')


@dataclasses.dataclass(frozen=True)
class PromptConfig(MethodConfig):
    """VPT's settings (``prompt_cfg`` in configs), checked once.

    Args:
        num_tokens (int): Prompt tokens per set ``p`` (>= 1).
        deep (bool): Deep VPT (a set before every prompted block, replacing
            the previous block's prompt outputs) or shallow (one set before
            block 0). ViT-B with 50 tokens: 460,800 parameters deep, 38,400
            shallow.
        dropout (float): Dropout on the prompt tokens only (VPT used 0.1 for
            deep runs).
        init (str): ``'uniform'`` (VPT: ``U(-v, v)``, Xavier bound of the
            patch projection) or ``'normal'`` (trunc-normal, std 0.02).
        project_dim (int, optional): Prompts of width ``k`` through a
            trainable ``Linear(k -> d)``; None: prompts of width ``d``.
        layers (list[int], optional): Deep only: the blocks that get a set;
            None (default) means every block. Stored as a tuple; the backbone
            resolves it against its depth (:meth:`resolve_layers`).
    """

    key = 'prompt_cfg'

    num_tokens: int = 1
    deep: bool = True
    dropout: float = 0.0
    init: str = 'uniform'
    project_dim: Optional[int] = None
    layers: Optional[Tuple[int, ...]] = None

    def check(self) -> None:
        key = self.key
        if not is_int(self.num_tokens) or self.num_tokens < 1:
            raise ValueError(f'{key}.num_tokens must be an int >= 1, got '
                             f'{self.num_tokens!r}')
        check_choice(f'{key}.init', self.init, PROMPT_INITS)
        check_dropout(f'{key}.dropout', self.dropout)
        if self.project_dim is not None and (not is_int(self.project_dim)
                                             or self.project_dim <= 0):
            raise ValueError(f'{key}.project_dim must be None or a positive '
                             f'int, got {self.project_dim!r}')
        if not isinstance(self.deep, bool):
            raise ValueError(
                f'{key}.deep must be True or False, got {self.deep!r}')
        if not self.deep and self.layers is not None:
            raise ValueError(
                f'{key}.layers is only valid with deep=True (shallow VPT '
                f'prompts block 0 only), got {self.layers!r}')
        # Frozen: store the list a config file gives as a tuple.
        object.__setattr__(self, 'layers',
                           layers_field(f'{key}.layers', self.layers))

    def resolve_layers(self, depth: int) -> Tuple[int, ...]:
        """The prompted blocks of a model with ``depth`` blocks, sorted:
        ``(0,)`` for shallow VPT, else ``layers`` (None: every block)."""
        if not self.deep:
            return (0, )
        return resolve_layers(f'{self.key}.layers', self.layers, depth)


def xavier_prompt_bound(patch_fan_in: int, prompt_dims: int) -> float:
    """VPT's uniform bound ``v = sqrt(6 / (fan_in + dim))``.

    ``fan_in`` is the input size of one patch projection: ``3 * 16 * 16`` for
    ViT-B/16 (v = 0.0625 at dim 768) and ``3 * 2 * 16 * 16`` for a 2x16x16
    video tubelet (v = 0.051).
    """
    return math.sqrt(6.0 / float(patch_fan_in + prompt_dims))


class PromptTokens(nn.Module):
    """``num_sets`` sets of ``num_tokens`` learnable prompt tokens.

    Shallow VPT uses one set before the first block; deep VPT one set per
    block (``L * p`` tokens, 460,800 parameters for ViT-B with p=50, L=12).

    Args:
        num_sets (int): Number of insertion points (blocks that get a set).
        embed_dims (int): Token width ``d`` of the backbone.
        patch_fan_in (int): Input size of one patch projection; sets the
            Xavier-style uniform bound (see :func:`xavier_prompt_bound`).
        config (PromptConfig, optional): The prompts' settings: tokens per
            set ``p`` (``num_tokens``), ``init``, ``dropout`` (on the prompt
            tokens only, per sample after expanding to the batch) and
            ``project_dim`` (prompts of width ``k`` through a trainable
            ``Linear(k -> d)`` shared by all sets). ``deep`` and ``layers``
            are the backbone's business (they decide ``num_sets``).
        **fields: Instead of ``config``: its fields by name, e.g.
            ``PromptTokens(12, 768, 768, num_tokens=50)``.

    Shape:
        ``forward(index, batch_size)`` returns ``(batch_size, p, d)``.
    """

    def __init__(self,
                 num_sets: int,
                 embed_dims: int,
                 patch_fan_in: int,
                 config: Optional[PromptConfig] = None,
                 **fields) -> None:
        super().__init__()
        config = PromptConfig.given('PromptTokens', config, fields)
        if not is_int(num_sets) or num_sets < 1:
            raise ValueError(f'num_sets must be >= 1, got {num_sets!r}')
        self.config = config
        self.num_sets = num_sets
        self.num_tokens = config.num_tokens
        self.embed_dims = embed_dims
        self.patch_fan_in = patch_fan_in
        self.init = config.init
        prompt_dims = config.project_dim or embed_dims
        self.prompts = nn.Parameter(
            torch.empty(num_sets, config.num_tokens, prompt_dims))
        self.proj = (
            nn.Linear(config.project_dim, embed_dims)
            if config.project_dim else None)
        self.dropout = nn.Dropout(config.dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.init == 'uniform':
            bound = xavier_prompt_bound(self.patch_fan_in,
                                        self.prompts.shape[-1])
            nn.init.uniform_(self.prompts, -bound, bound)
        else:
            nn.init.trunc_normal_(self.prompts, std=0.02)
        if self.proj is not None:
            # VPT initialises its prompt projection with Kaiming (fan_out).
            nn.init.kaiming_normal_(self.proj.weight, a=0, mode='fan_out')
            nn.init.zeros_(self.proj.bias)

    # Called by mmengine's BaseModule.init_weights after the parent's
    # init_cfg (which would otherwise re-initialise ``proj`` as any Linear).
    init_weights = reset_parameters

    def forward(self, index: int, batch_size: int) -> Tensor:
        tokens = self.prompts[index]
        if self.proj is not None:
            tokens = self.proj(tokens)
        tokens = tokens.unsqueeze(0).expand(batch_size, -1, -1)
        return self.dropout(tokens)

    def extra_repr(self) -> str:
        return (f'num_sets={self.num_sets}, num_tokens={self.num_tokens}, '
                f'embed_dims={self.embed_dims}, init={self.init!r}')
