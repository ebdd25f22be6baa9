"""Where VPT's prompts go in a ViT sequence (arXiv 2203.12119, Sec. 3.2).

:class:`VPTMixin` is written once for the video and the image backbone. A
backbone tells it how many tokens precede the prompts (``prompt_offset``:
0 for VideoMAE, which has no CLS token; 1 for an image ViT with CLS) and
removes the prompts with :meth:`VPTMixin.strip_prompts` before pooling.
"""
import math
from typing import Iterator, Union

import torch
from torch import Tensor, nn

from adaptformer_mm.peft import PromptConfig, PromptTokens

__all__ = ['VPTMixin', 'PromptConfig']


class VPTMixin:
    """Learnable prompt tokens entering the blocks of a ViT.

    With ``o`` tokens before the prompts (CLS or none), the sequence entering
    a prompted block ``i`` is ``[x[:, :o], P_i, patches]``, ``P_i`` of shape
    ``(B, p, d)``:

    * prompts are inserted after patch embedding + position embedding (+ its
      dropout) and get NO position embedding;
    * deep: before each prompted block after the first, the previous block's
      prompt outputs are discarded and replaced by that block's set;
      shallow (``deep=False``): one set before block 0 that flows through;
    * prompts never reach the pooled feature (the backbone strips them).

    Init: ``U(-v, v)``, ``v = sqrt(6 / (fan_in + d))`` with ``fan_in`` the
    input size of the real patch projection (``3*16*16`` for an image:
    v = 0.0625 at d=768; ``3*2*16*16`` for a 2x16x16 video tubelet: 0.051).

    Args:
        prompt_cfg (dict | PromptConfig): Overrides of ``num_tokens=1,
            deep=True, dropout=0.0, init='uniform', project_dim=None,
            layers=None`` (see :class:`~adaptformer_mm.peft.PromptConfig`).
            ``layers`` (deep only) lists the blocks that get a prompt set;
            None means every block. ViT-B with 50 tokens: 460,800 parameters
            deep, 38,400 shallow. Kept as the frozen ``self.prompt_cfg``; the
            prompted blocks, resolved against the depth, are
            ``self.prompt_layers``.
        **kwargs: Arguments of the backbone the mixin is combined with.
    """

    def __init__(self,
                 *,
                 prompt_cfg: Union[None, dict, PromptConfig] = None,
                 **kwargs):
        # Read by build_method_modules() during super().__init__.
        self.prompt_cfg = PromptConfig.from_cfg(prompt_cfg)
        super().__init__(**kwargs)

    @property
    def prompt_offset(self) -> int:
        """Tokens that precede the prompts in the sequence."""
        raise NotImplementedError

    def build_method_modules(self) -> None:
        cfg = self.prompt_cfg
        self.prompt_layers = cfg.resolve_layers(len(self.tunable_blocks))
        fan_in = math.prod(self.patch_embed.projection.weight.shape[1:])
        self.prompts = PromptTokens(
            num_sets=len(self.prompt_layers),
            embed_dims=self.embed_dims,
            patch_fan_in=fan_in,
            config=cfg)
        # block index -> prompt set index
        self._prompt_slot = {b: s for s, b in enumerate(self.prompt_layers)}

    @property
    def num_prompt_tokens(self) -> int:
        return self.prompt_cfg.num_tokens

    def forward_block(self, index: int, x: Tensor) -> Tensor:
        slot = self._prompt_slot.get(index)
        if slot is not None:
            prompts = self.prompts(slot, x.shape[0]).to(x.dtype)
            o = self.prompt_offset
            # The first prompted block sees [prefix, P, patches]; later ones
            # replace the previous block's prompt outputs by their own set.
            rest = x[:, o:] if slot == 0 else x[:, o + self.num_prompt_tokens:]
            x = torch.cat((x[:, :o], prompts, rest), dim=1)
        return super().forward_block(index, x)

    def strip_prompts(self, x: Tensor) -> Tensor:
        """``[prefix, P, patches] -> [prefix, patches]``."""
        o = self.prompt_offset
        if o == 0:
            return x[:, self.num_prompt_tokens:]
        return torch.cat((x[:, :o], x[:, o + self.num_prompt_tokens:]), 1)

    def block_params(self, index: int) -> Iterator[nn.Parameter]:
        yield from super().block_params(index)
        if index in self._prompt_slot:
            yield from self.prompts.parameters()
