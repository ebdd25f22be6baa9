"""Visual prompts of VPT (arXiv 2203.12119, Sec. 3.2).

:class:`PromptConfig` holds VPT's settings (``prompt_cfg`` in configs) with
their defaults and checks, once, including the design variants of VPT's
ablations (Sec. 4.3: prompt location, depth, final output). Pure PyTorch: a
set of learnable tokens per insertion point. Where the tokens go into the
sequence and what the pooled feature reads is the backbone's business
(``models/backbones/vpt.py``).
"""
import dataclasses
import math
from typing import Optional, Tuple

import torch
from torch import Tensor, nn

from .config import (MethodConfig, check_choice, check_dropout, is_int,
                     layers_field, resolve_layers)

PROMPT_INITS = ('uniform', 'normal')
#: Where prompts enter (VPT Sec. 4.3, Fig. 5): prepended to the token
#: sequence (the method), added element-wise to the patch tokens, or
#: prepended as pixel patches before the patch embedding.
PROMPT_LOCATIONS = ('prepend', 'add', 'prepend_pixel')
#: What the pooled feature reads (VPT Sec. 4.3, Fig. 8); None: the
#: backbone's own output with the prompts removed.
PROMPT_OUTPUTS = (None, 'cls', 'image_pool', 'prompt_pool', 'global_pool')


@dataclasses.dataclass(frozen=True)
class PromptConfig(MethodConfig):
    """VPT's settings (``prompt_cfg`` in configs), checked once.

    Args:
        num_tokens (int, optional): Prompt tokens per set ``p`` (>= 1). With
            ``location='add'``: None (one prompt per patch token, sized by
            the backbone at build) or exactly the backbone's patch-token
            count.
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
            resolves it against its depth (:meth:`resolve_layers`). VPT's
            depth ablation (Fig. 6) is ``layers=range(i - 1, j)`` for
            "blocks i -> j" (1-based).
        location (str): Where prompts enter (VPT Sec. 4.3 "Prompt Location",
            Fig. 5). ``'prepend'`` (default, the method): ``[CLS, P, E]``.
            ``'add'``: ``E + P`` element-wise, one prompt per patch token, the
            sequence length unchanged; deep adds set ``i`` before block ``i``
            (CLS, where there is one, is left alone: the paper adds to the
            patch embeddings ``E``; the authors' code adds to CLS too).
            ``'prepend_pixel'``: ``p`` learnable pixel patches (the shape of
            one patch, or of one tubelet on video) go through the frozen
            patch embedding, get no position embedding and are prepended as
            with ``'prepend'``; shallow only.
        output (str, optional): What the pooled feature reads (VPT Sec. 4.3
            "Final Output", Fig. 8), all after the backbone's final norm over
            the sequence and before its pooled norm (video ``fc_norm``, image
            ``ln2``): ``'cls'`` (the CLS token; image ViT only),
            ``'image_pool'`` (mean of the patch outputs), ``'prompt_pool'``
            (mean of the prompt outputs), ``'global_pool'`` (mean of prompts
            and patches, CLS excluded). None (default): the backbone's own
            output with the prompts removed (video: the mean of patch
            tokens; image: its ``out_type``).
    """

    key = 'prompt_cfg'

    num_tokens: Optional[int] = 1
    deep: bool = True
    dropout: float = 0.0
    init: str = 'uniform'
    project_dim: Optional[int] = None
    layers: Optional[Tuple[int, ...]] = None
    location: str = 'prepend'
    output: Optional[str] = None

    def check(self) -> None:
        key = self.key
        check_choice(f'{key}.location', self.location, PROMPT_LOCATIONS)
        check_choice(f'{key}.output', self.output, PROMPT_OUTPUTS)
        if self.location == 'add':
            if self.num_tokens is not None and (not is_int(self.num_tokens)
                                                or self.num_tokens < 1):
                raise ValueError(
                    f'{key}.num_tokens must be None (one prompt per patch '
                    f'token) or the number of patch tokens with '
                    f"location='add', got {self.num_tokens!r}")
        elif not is_int(self.num_tokens) or self.num_tokens < 1:
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
        if self.location == 'prepend_pixel':
            if self.deep:
                raise ValueError(
                    f"{key}.location='prepend_pixel' is shallow only (pixel "
                    f'prompts enter before the patch embedding): set '
                    f'{key}.deep=False')
            if self.project_dim is not None:
                raise ValueError(
                    f"{key}.project_dim must be None with location="
                    f"'prepend_pixel' (the patch embedding projects the "
                    f'pixel prompts), got {self.project_dim!r}')
        if self.location == 'add' and self.output in ('prompt_pool',
                                                      'global_pool'):
            raise ValueError(
                f"{key}.output={self.output!r} averages prompt outputs, but "
                f"location='add' puts no prompt in the sequence; valid "
                f"there: None, 'cls', 'image_pool'")
        # Frozen: store the list a config file gives as a tuple.
        object.__setattr__(self, 'layers',
                           layers_field(f'{key}.layers', self.layers))

    def resolve_layers(self, depth: int) -> Tuple[int, ...]:
        """The prompted blocks of a model with ``depth`` blocks, sorted:
        ``(0,)`` for shallow VPT, else ``layers`` (None: every block)."""
        if not self.deep:
            return (0, )
        return resolve_layers(f'{self.key}.layers', self.layers, depth)

    def resolve_num_tokens(self, num_patches: int) -> int:
        """Prompts per set in a model with ``num_patches`` patch tokens:
        ``num_tokens``, or with ``location='add'`` one per patch token
        (``num_tokens`` None or equal to ``num_patches``)."""
        if self.location != 'add':
            return self.num_tokens
        if self.num_tokens not in (None, num_patches):
            raise ValueError(
                f"{self.key}.num_tokens must be None or {num_patches} (the "
                f"patch tokens of the built input) with location='add', "
                f'got {self.num_tokens!r}')
        return num_patches

    @property
    def sequence_tokens(self) -> Optional[int]:
        """Prompt tokens the sequence holds: 0 with ``location='add'``,
        else ``num_tokens``."""
        return 0 if self.location == 'add' else self.num_tokens


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
            are the backbone's business (they decide ``num_sets``), and so
            is what becomes of the tokens (``location``, ``output``), except
            that ``location='prepend_pixel'`` stores pixel patches: prompts
            of width ``patch_fan_in`` with the same uniform bound as latent
            prompts of width ``d`` (as the authors' code does), which the
            backbone feeds to its patch embedding. ``num_tokens`` must be an
            int here (``location='add'`` with None is sized by the backbone:
            :meth:`PromptConfig.resolve_num_tokens`).
        **fields: Instead of ``config``: its fields by name, e.g.
            ``PromptTokens(12, 768, 768, num_tokens=50)``.

    Shape:
        ``forward(index, batch_size)`` returns ``(batch_size, p, d)``
        (``(batch_size, p, patch_fan_in)`` pixel values for
        ``'prepend_pixel'``).
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
        if not is_int(config.num_tokens):
            raise ValueError(
                f'PromptTokens needs an int {config.key}.num_tokens, got '
                f'{config.num_tokens!r} (the backbone sizes location=\'add\' '
                f'prompts: PromptConfig.resolve_num_tokens)')
        self.config = config
        self.num_sets = num_sets
        self.num_tokens = config.num_tokens
        self.embed_dims = embed_dims
        self.patch_fan_in = patch_fan_in
        self.init = config.init
        pixel = config.location == 'prepend_pixel'
        prompt_dims = patch_fan_in if pixel else (config.project_dim
                                                  or embed_dims)
        # The uniform bound's second term: the width of a latent prompt.
        self._bound_dims = embed_dims if pixel else prompt_dims
        self.prompts = nn.Parameter(
            torch.empty(num_sets, config.num_tokens, prompt_dims))
        self.proj = (
            nn.Linear(config.project_dim, embed_dims)
            if config.project_dim else None)
        self.dropout = nn.Dropout(config.dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.init == 'uniform':
            bound = xavier_prompt_bound(self.patch_fan_in, self._bound_dims)
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
