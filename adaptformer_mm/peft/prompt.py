"""Visual prompts of VPT (arXiv 2203.12119, Sec. 3.2).

Pure PyTorch: a set of learnable tokens per insertion point. Where the tokens
go into the sequence (and that they never reach the pooled feature) is the
backbone's business.
"""
import math
from typing import Optional

import torch
from torch import Tensor, nn

PROMPT_INITS = ('uniform', 'normal')


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
        num_tokens (int): Tokens per set ``p``.
        embed_dims (int): Token width ``d`` of the backbone.
        patch_fan_in (int): Input size of one patch projection; sets the
            Xavier-style uniform bound (see :func:`xavier_prompt_bound`).
        init (str): ``'uniform'`` (VPT: ``U(-v, v)``) or ``'normal'``
            (trunc-normal, std 0.02).
        dropout (float): Dropout on the prompt tokens only (VPT used 0.1 for
            deep runs), applied per sample after expanding to the batch.
        project_dim (int, optional): If set, prompts have width ``k`` and go
            through a trainable ``Linear(k -> d)`` shared by all sets.

    Shape:
        ``forward(index, batch_size)`` returns ``(batch_size, p, d)``.
    """

    def __init__(self,
                 num_sets: int,
                 num_tokens: int,
                 embed_dims: int,
                 patch_fan_in: int,
                 init: str = 'uniform',
                 dropout: float = 0.0,
                 project_dim: Optional[int] = None) -> None:
        super().__init__()
        check_prompt_args(
            num_tokens=num_tokens,
            init=init,
            dropout=dropout,
            project_dim=project_dim)
        if num_sets < 1:
            raise ValueError(f'num_sets must be >= 1, got {num_sets!r}')
        self.num_sets = num_sets
        self.num_tokens = num_tokens
        self.embed_dims = embed_dims
        self.patch_fan_in = patch_fan_in
        self.init = init
        prompt_dims = project_dim or embed_dims
        self.prompts = nn.Parameter(
            torch.empty(num_sets, num_tokens, prompt_dims))
        self.proj = (
            nn.Linear(project_dim, embed_dims) if project_dim else None)
        self.dropout = nn.Dropout(dropout)
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


def check_prompt_args(num_tokens: int = 1,
                      init: str = 'uniform',
                      dropout: float = 0.0,
                      project_dim: Optional[int] = None,
                      key: str = 'prompt_cfg') -> None:
    """Raise ``ValueError`` naming ``key.<field>`` and the valid values."""
    if isinstance(num_tokens, bool) or not isinstance(
            num_tokens, int) or num_tokens < 1:
        raise ValueError(
            f'{key}.num_tokens must be an int >= 1, got {num_tokens!r}')
    if init not in PROMPT_INITS:
        raise ValueError(
            f'{key}.init must be one of {PROMPT_INITS}, got {init!r}')
    if isinstance(dropout, bool) or not isinstance(
            dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise ValueError(
            f'{key}.dropout must be a number in [0, 1), got {dropout!r}')
    if project_dim is not None and (isinstance(project_dim, bool)
                                    or not isinstance(project_dim, int)
                                    or project_dim <= 0):
        raise ValueError(f'{key}.project_dim must be None or a positive int, '
                         f'got {project_dim!r}')
