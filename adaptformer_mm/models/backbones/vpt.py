"""Where VPT's prompts go in a ViT sequence (arXiv 2203.12119, Sec. 3.2) and
the design variants of its ablations (Sec. 4.3).

:class:`VPTMixin` is written once for the video and the image backbone. A
backbone tells it how many tokens precede the prompts (``prompt_offset``:
0 for VideoMAE, which has no CLS token; 1 for an image ViT with CLS), checks
the ``prompt_cfg.output`` its pooling supports (``check_prompt_output``) and
pools with :meth:`VPTMixin.strip_prompts` (the method) or
:meth:`VPTMixin.output_tokens` (the "final output" ablation).
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
      blocks after the last prompted one see the last set's outputs (VPT's
      depth ablation, Fig. 6, prompts blocks ``i -> j`` only);
    * prompts never reach the pooled feature (the backbone strips them)
      unless ``output`` says otherwise.

    The location ablation (VPT Sec. 4.3, Fig. 5) changes the first two points:

    * ``location='add'``: ``[x[:, :o], patches + P_i]``, one prompt per patch
      token (``p = N``), the sequence length unchanged; deep adds each set on
      top of the running patch tokens (nothing to discard);
    * ``location='prepend_pixel'`` (shallow): ``P = PatchEmbed(pi)`` with
      ``pi`` ``p`` learnable pixel patches of the patch projection's input
      shape (``C x ph x pw``; ``C x t x ph x pw`` for a video tubelet),
      through the frozen patch embedding, no position embedding, then
      prepended as above.

    The output ablation (Fig. 8) is ``prompt_cfg.output`` (see
    :class:`~adaptformer_mm.peft.PromptConfig`): the mean of the patch outputs
    (``'image_pool'``), of the prompt outputs (``'prompt_pool'``) or of both
    (``'global_pool'``), taken after the final norm over the sequence and
    before the backbone's pooled norm, or the CLS token (``'cls'``).

    Init: ``U(-v, v)``, ``v = sqrt(6 / (fan_in + d))`` with ``fan_in`` the
    input size of the real patch projection (``3*16*16`` for an image:
    v = 0.0625 at d=768; ``3*2*16*16`` for a 2x16x16 video tubelet: 0.051);
    pixel prompts use the same bound.

    Args:
        prompt_cfg (dict | PromptConfig): Overrides of ``num_tokens=1,
            deep=True, dropout=0.0, init='uniform', project_dim=None,
            layers=None, location='prepend', output=None`` (see
            :class:`~adaptformer_mm.peft.PromptConfig`). ``layers`` (deep
            only) lists the blocks that get a prompt set; None means every
            block. ViT-B with 50 tokens: 460,800 parameters deep, 38,400
            shallow. Kept as the frozen ``self.prompt_cfg``; the prompted
            blocks, resolved against the depth, are ``self.prompt_layers``.
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

    def check_prompt_output(self) -> None:
        """Raise ``ValueError`` when this backbone cannot produce
        ``prompt_cfg.output`` (called once, at build)."""

    @property
    def num_patch_tokens(self) -> int:
        """Patch tokens of the input the backbone was built for."""
        return self.pos_embed.shape[1] - self.prompt_offset

    def build_method_modules(self) -> None:
        cfg = self.prompt_cfg
        self.check_prompt_output()
        self.prompt_layers = cfg.resolve_layers(len(self.tunable_blocks))
        fan_in = math.prod(self.patch_embed.projection.weight.shape[1:])
        num_tokens = cfg.resolve_num_tokens(self.num_patch_tokens)
        self.prompts = PromptTokens(
            num_sets=len(self.prompt_layers),
            embed_dims=self.embed_dims,
            patch_fan_in=fan_in,
            config=cfg if num_tokens == cfg.num_tokens else cfg.replace(
                num_tokens=num_tokens))
        # block index -> prompt set index
        self._prompt_slot = {b: s for s, b in enumerate(self.prompt_layers)}

    @property
    def num_prompt_tokens(self) -> int:
        """Prompt tokens in the sequence (0 with ``location='add'``)."""
        return self.prompt_cfg.sequence_tokens

    def forward_block(self, index: int, x: Tensor) -> Tensor:
        slot = self._prompt_slot.get(index)
        if slot is not None:
            x = self.insert_prompts(slot, x)
        return super().forward_block(index, x)

    def insert_prompts(self, slot: int, x: Tensor) -> Tensor:
        """The sequence entering the block of prompt set ``slot``."""
        o = self.prompt_offset
        prompts = self.prompts(slot, x.shape[0])
        location = self.prompt_cfg.location
        if location == 'add':
            prompts = prompts.to(x.dtype)
            if x.shape[1] - o != prompts.shape[1]:
                raise ValueError(
                    f"prompt_cfg.location='add' holds one prompt per patch "
                    f'token of the built input ({prompts.shape[1]}); this '
                    f'input has {x.shape[1] - o} patch tokens')
            if o == 0:
                return x + prompts
            return torch.cat((x[:, :o], x[:, o:] + prompts), dim=1)
        if location == 'prepend_pixel':
            prompts = self.embed_pixel_prompts(prompts)
        prompts = prompts.to(x.dtype)
        # The first prompted block sees [prefix, P, patches]; later ones
        # replace the previous block's prompt outputs by their own set.
        rest = x[:, o:] if slot == 0 else x[:, o + self.num_prompt_tokens:]
        return torch.cat((x[:, :o], prompts, rest), dim=1)

    def embed_pixel_prompts(self, pixels: Tensor) -> Tensor:
        """``(B, p, fan_in)`` pixel prompts -> ``(B, p, d)`` tokens through
        the (frozen) patch embedding, each prompt one patch (or tubelet)."""
        proj = self.patch_embed.projection
        b, p, _ = pixels.shape
        patches = pixels.reshape(b * p, proj.in_channels, *proj.kernel_size)
        return self.patch_embed(patches)[0].reshape(b, p, -1)

    def strip_prompts(self, x: Tensor) -> Tensor:
        """``[prefix, P, patches] -> [prefix, patches]``."""
        o, p = self.prompt_offset, self.num_prompt_tokens
        if p == 0:
            return x
        if o == 0:
            return x[:, p:]
        return torch.cat((x[:, :o], x[:, o + p:]), 1)

    def output_tokens(self, x: Tensor) -> Tensor:
        """The tokens ``prompt_cfg.output`` averages, ``(B, n, d)``: patch
        outputs (``'image_pool'``), prompt outputs (``'prompt_pool'``) or
        both (``'global_pool'``); never the CLS token."""
        o, p = self.prompt_offset, self.num_prompt_tokens
        output = self.prompt_cfg.output
        if output == 'image_pool':
            return x[:, o + p:]
        if output == 'prompt_pool':
            return x[:, o:o + p]
        if output == 'global_pool':
            return x[:, o:]
        raise ValueError(f'prompt_cfg.output={output!r} pools no tokens')

    def block_params(self, index: int) -> Iterator[nn.Parameter]:
        yield from super().block_params(index)
        if index in self._prompt_slot:
            yield from self.prompts.parameters()
