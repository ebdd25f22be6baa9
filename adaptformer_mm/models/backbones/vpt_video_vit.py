"""VPT (visual prompt tuning, arXiv 2203.12119) on mmaction2's VideoMAE ViT."""
import math
from typing import Iterator, Optional, Tuple

import torch
from mmaction.registry import MODELS
from torch import Tensor, nn

from adaptformer_mm.peft import PromptTokens, check_prompt_args
from .tunable_video_vit import TunableVideoViT
from .utils import check_layers, merge_cfg

PROMPT_DEFAULTS = dict(
    num_tokens=1,
    deep=True,
    dropout=0.0,
    init='uniform',
    project_dim=None,
    layers=None)


@MODELS.register_module()
class VPTVideoViT(TunableVideoViT):
    """VideoMAE ViT with learnable prompt tokens (VPT, Sec. 3.2).

    The backbone has no CLS token, so the sequence entering block ``i`` is
    ``[P_i, patches]`` with ``P_i`` of shape ``(B, p, d)``:

    * prompts are inserted after patch embedding + position embedding (+ its
      dropout) and get NO position embedding;
    * deep: before each prompted block after the first, the previous block's
      prompt outputs are discarded and replaced by that block's set;
      shallow (``deep=False``): one set before block 0 that flows through;
    * prompts never enter the pooled feature: the mean is over patch tokens
      only (mmaction2's own mean pooling would average the prompts too).

    Init: ``U(-v, v)`` with the tubelet-aware Xavier bound
    ``v = sqrt(6 / (C * t * p * p + d))`` (0.051 for a 2x16x16 tubelet at
    d=768), i.e. VPT's rule applied to the real patch projection, whose fan-in
    includes the tubelet depth (the 2D value would be 0.0625).

    Args:
        prompt_cfg (dict): Overrides of ``num_tokens=1, deep=True,
            dropout=0.0, init='uniform', project_dim=None, layers=None``.
            ``layers`` (deep only) lists the blocks that get a prompt set;
            None means every block. ViT-B with 50 tokens: 460,800 parameters
            deep, 38,400 shallow.
        **kwargs: :class:`TunableVideoViT` and mmaction2
            ``VisionTransformer`` arguments.
    """

    def __init__(self, *, prompt_cfg: Optional[dict] = None, **kwargs):
        cfg = merge_cfg('prompt_cfg', PROMPT_DEFAULTS, prompt_cfg)
        check_prompt_args(
            num_tokens=cfg['num_tokens'],
            init=cfg['init'],
            dropout=cfg['dropout'],
            project_dim=cfg['project_dim'])
        if not isinstance(cfg['deep'], bool):
            raise ValueError(
                f'prompt_cfg.deep must be True or False, got {cfg["deep"]!r}')
        depth = kwargs.get('depth', 12)
        if cfg['deep']:
            cfg['layers'] = check_layers('prompt_cfg.layers', cfg['layers'],
                                         depth)
        elif cfg['layers'] is not None:
            raise ValueError(
                'prompt_cfg.layers is only valid with deep=True (shallow '
                f'VPT prompts block 0 only), got {cfg["layers"]!r}')
        else:
            cfg['layers'] = [0]
        # Read by build_method_modules() during super().__init__.
        self.prompt_cfg = cfg
        super().__init__(**kwargs)

    def build_method_modules(self) -> None:
        cfg = self.prompt_cfg
        fan_in = math.prod(self.patch_embed.projection.weight.shape[1:])
        self.prompts = PromptTokens(
            num_sets=len(cfg['layers']),
            num_tokens=cfg['num_tokens'],
            embed_dims=self.embed_dims,
            patch_fan_in=fan_in,
            init=cfg['init'],
            dropout=cfg['dropout'],
            project_dim=cfg['project_dim'])
        # block index -> prompt set index
        self._prompt_slot = {b: s for s, b in enumerate(cfg['layers'])}

    @property
    def num_prompt_tokens(self) -> int:
        return self.prompt_cfg['num_tokens']

    def forward_block(self, index: int, x: Tensor) -> Tensor:
        slot = self._prompt_slot.get(index)
        if slot is not None:
            prompts = self.prompts(slot, x.shape[0]).to(x.dtype)
            # The first prompted block sees [P, patches]; later ones replace
            # the previous block's prompt outputs by their own set.
            patches = x if slot == 0 else x[:, self.num_prompt_tokens:]
            x = torch.cat((prompts, patches), dim=1)
        return super().forward_block(index, x)

    def pool(self, x: Tensor, grid: Tuple[int, int, int]) -> Tensor:
        return super().pool(x[:, self.num_prompt_tokens:], grid)

    def block_params(self, index: int) -> Iterator[nn.Parameter]:
        yield from super().block_params(index)
        if index in self._prompt_slot:
            yield from self.prompts.parameters()
