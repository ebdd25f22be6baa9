"""VPT (visual prompt tuning, arXiv 2203.12119) on every family: where the
prompts go (Sec. 3.2) and the design variants of its ablations (Sec. 4.3).

The settings and their defaults are :class:`~adaptformer_mm.peft.PromptConfig`
(``prompt_cfg`` in configs). A family's ``token_layout`` picks the placement:

* ``'sequence'`` (the ViTs): :class:`VPTMixin` prepends the prompts to the
  token sequence after the family's ``num_prefix_tokens`` (0 for VideoMAE,
  which has no CLS token; 1 for an image ViT with CLS), strips them before
  the family's ``readout`` (or hands them to it for the output ablation);
* ``'windows'`` (the Swins): :class:`WindowVPTMixin` puts the same prompts
  into every attention window, as VPT's released Swin code does. Its
  choices, each with its source in that code (``src/models/vit_prompt/
  swin_transformer.py`` and ``src/models/vit_backbones/swin_transformer.py``
  in KMnP/vpt), re-implemented:

  * **Insertion**: the prompts enter after the patch embedding (+ absolute
    positions, dropout), with no position (``incorporate_prompt``,
    ``location='prepend'``).
  * **In a block**: prompts take the block's LayerNorms, residuals and MLP like
    patch tokens; in the window attention the *same* prompts join every window
    with zero relative-position bias and no shift mask, and a prompt's output
    is the mean over the windows
    (``PromptedSwinTransformerBlock.forward``, ``PromptedWindowAttention``;
    see :mod:`adaptformer_mm.peft.swin_prompt`, also for the one deliberate
    difference: each sample's windows meet that sample's prompts).
  * **Prompt count per stage**: the same ``p`` in every stage, of the stage's
    width ``d_s`` (``deep_prompt_embeddings_{s}`` of shape
    ``(depth_s, p, embed_dim * 2**s)``; the set of block 0 is the shallow
    ``prompt_embeddings``), so deep VPT has ``p * sum_s depth_s * d_s``
    parameters (Swin-B: ``12,032 p``), shallow ``p * d_0``.
  * **Deep**: before every prompted block the carried prompts are replaced by
    that block's set (``BasicLayer.forward`` with ``deep_prompt_embd``).
    ``layers`` (blocks over all stages, stage 0 first) extends this as on
    ViT: blocks before the first prompted one run without prompts, unprompted
    blocks after it carry the prompts on.
  * **Patch merging**: the prompts are merged by the stage's own (frozen)
    patch merging as if each filled a whole 2x2 neighbourhood: four copies of
    the token, then the stock norm and reduction, giving ``2 d_s`` wide
    prompts (``PromptedPatchMerging.upsample_prompt`` concatenates four copies;
    running the stock module on a 2x2 tile of copies is the same for any
    channel order of its merge). Shallow prompts carry on into the next stage;
    deep ones are replaced there.
  * **Init**: ``U(-v, v)``, ``v = sqrt(6 / (fan_in + d_0))`` with ``d_0`` the
    stage-0 width for every stage (``PromptedSwinTransformer.__init__``).
  * **Output**: the prompts are removed before the output norm, so the
    feature maps have the stock shapes and the head pools patch tokens only.
    Here the released code differs: it averages prompts and patches after the
    final norm (``forward_features``); the spec this project implements keeps
    prompts out of the pooled feature, and a feature map has no place for
    them.
  * Not supported on Swin (an error at build naming the key): ``project_dim``
    (the released code builds ``prompt_proj`` but never applies it, and the
    stages differ in width), ``location`` other than ``'prepend'`` (deep Swin
    prompts are prepend-only there: ``BasicLayer`` raises "deep prompt mode for
    swin is only applicable to prepend"), ``output`` other than None.

  The frozen backbone runs in eval mode (``PromptedSwinTransformer.train``;
  here ``tunable_base``). Tokens travel between blocks as ``(grid, prompts)``:
  the grid ``(B, *grid, C)`` and the prompts ``(B, p, C)`` or None.

Init: ``U(-v, v)``, ``v = sqrt(6 / (fan_in + d))`` with ``fan_in`` the family's
``patch_fan_in`` (``3*16*16`` for an image: v = 0.0625 at d=768; ``3*2*16*16``
for a 2x16x16 video tubelet: 0.051, the tubelet-aware bound) and, on Swin,
``d`` the stage-0 width for every stage (Swin-B 0.1846, Video Swin-B 0.1637).
"""
from typing import Any, Callable, Iterator, Optional, Tuple

import torch
from torch import Tensor, nn

from adaptformer_mm.peft import PromptConfig, PromptTokens
from adaptformer_mm.peft.swin_prompt import StagePromptTokens

from .tunable_base import method_class, method_config_mixin
from .tunable_swin import TunableSwin
from .tunable_uniformerv2 import TunableUniFormerV2
from .tunable_video_swin import TunableVideoSwin
from .tunable_video_vit import TunableVideoViT
from .tunable_vit import TunableViT

__all__ = [
    'PromptMethodMixin', 'VPTMixin', 'WindowVPTMixin', 'VPTVideoViT', 'VPTViT', 'VPTVideoSwin',
    'VPTSwin', 'check_window_prompt_cfg',
    'VPTUniFormerV2'
]

#: Outputs of the ablation that average tokens through the family's pooled
#: readout (``'cls'`` and None read the stock readout of the stripped
#: sequence).
POOLED_OUTPUTS = ('image_pool', 'prompt_pool', 'global_pool')


class PromptMethodMixin(method_config_mixin(PromptConfig)):
    """VPT on any family: :meth:`for_family` picks the placement the
    family's ``token_layout`` needs."""

    method_name = 'VPT'

    @classmethod
    def for_family(cls, family: type) -> type:
        layouts = {'sequence': VPTMixin, 'windows': WindowVPTMixin}
        if family.token_layout not in layouts:
            raise TypeError(
                f'VPT cannot run on {family.__name__}: its token_layout is '
                f'{family.token_layout!r}; valid: {sorted(layouts)}')
        return layouts[family.token_layout]

    def check_prompt_output(self) -> None:
        """Refuse, at build, a ``prompt_cfg.output`` the family's readout
        cannot give."""
        output = self.prompt_cfg.output
        if output == 'cls':
            reason = self.cls_readout_error()
            if reason is not None:
                raise ValueError(f"prompt_cfg.output='cls' reads a CLS "
                                 f'token: {reason}')
        elif output is not None:
            self.check_pool_readout(f'prompt_cfg.output={output!r}')


class VPTMixin(PromptMethodMixin):
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
    (``'global_pool'``), taken after the final norm over the sequence and in
    place of the family's pooling (then its pooled norm, if any), or the CLS
    token (``'cls'``).

    Args:
        prompt_cfg (dict | PromptConfig): Overrides of the defaults of
            :class:`~adaptformer_mm.peft.PromptConfig`. Kept as the frozen
            ``self.prompt_cfg``; the prompted blocks, resolved against the
            depth, are ``self.prompt_layers``.
        **kwargs: Arguments of the family.
    """

    def build_method_modules(self) -> None:
        cfg = self.prompt_cfg
        self.check_prompt_output()
        self.prompt_layers = cfg.resolve_layers(len(self.tunable_blocks))
        fan_in = self.patch_fan_in
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
        o = self.num_prefix_tokens
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
        o, p = self.num_prefix_tokens, self.num_prompt_tokens
        if p == 0:
            return x
        if o == 0:
            return x[:, p:]
        return torch.cat((x[:, :o], x[:, o + p:]), 1)

    def readout(self, x: Tensor, ctx: Any, index: int,
                pool: Optional[Callable[[Tensor, int], Tensor]] = None):
        """The family's readout of ``[prefix, patches]`` (prompts removed),
        or, for the output ablation, of the mean of the tokens
        :meth:`output_tokens` selects."""
        if self.prompt_cfg.output in POOLED_OUTPUTS:
            return super().readout(x, ctx, index, pool=self.mean_of_outputs)
        return super().readout(self.strip_prompts(x), ctx, index, pool)

    def mean_of_outputs(self, tokens: Tensor, prefix: int) -> Tensor:
        """``(B, d)``: the mean of :meth:`output_tokens`."""
        return self.output_tokens(tokens, prefix).mean(1)

    def output_tokens(self, x: Tensor, o: int) -> Tensor:
        """The tokens ``prompt_cfg.output`` averages from ``[prefix, P,
        patches]`` with ``o`` prefix tokens, ``(B, n, d)``: patch outputs
        (``'image_pool'``), prompt outputs (``'prompt_pool'``) or both
        (``'global_pool'``); never the CLS token."""
        p = self.num_prompt_tokens
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


State = Tuple[Tensor, Optional[Tensor]]


def check_window_prompt_cfg(cfg: PromptConfig) -> None:
    """Refuse the prompt settings VPT's Swin code does not run, naming the
    key, the value and what is valid."""
    key = cfg.key
    location = getattr(cfg, 'location', 'prepend')
    if location != 'prepend':
        raise ValueError(
            f"{key}.location must be 'prepend' on Swin (VPT's Swin code runs "
            f"deep prompts prepended only), got {location!r}")
    output = getattr(cfg, 'output', None)
    if output is not None:
        raise ValueError(
            f'{key}.output must be None on Swin (the feature maps hold patch '
            f'tokens only; the head pools them), got {output!r}')
    if cfg.project_dim is not None:
        raise ValueError(
            f'{key}.project_dim must be None on Swin (prompts have the width '
            f'of their stage; VPT\'s Swin code applies no projection), got '
            f'{cfg.project_dim!r}')


class WindowVPTMixin(PromptMethodMixin):
    """Learnable prompt tokens in the window attention of a Swin (see the
    module docstring for every choice and its source). Tokens travel between
    blocks as ``(grid, prompts)``: the grid ``(B, *grid, C)`` and the prompts
    ``(B, p, C)`` or None.

    Args:
        prompt_cfg (dict | PromptConfig): Overrides of ``num_tokens=1,
            deep=True, dropout=0.0, init='uniform', layers=None``
            (``layers``: deep only, block indices over all stages, stage 0
            first). Swin-B deep: ``12,032 * num_tokens`` parameters; shallow
            ``128 * num_tokens``. Kept as the frozen ``self.prompt_cfg``; the
            prompted blocks are ``self.prompt_layers``, the prompt sets of
            stage ``s`` ``self.prompts[str(s)]`` (``(n_s, p, d_s)``).
        **kwargs: Arguments of the Swin backbone the mixin is combined with.
    """

    def build_method_modules(self) -> None:
        cfg = self.prompt_cfg
        check_window_prompt_cfg(cfg)
        self.check_prompt_output()
        self.prompt_layers = cfg.resolve_layers(len(self.tunable_blocks))
        per_stage = {}
        for block in self.prompt_layers:
            per_stage.setdefault(self.block_stage[block], []).append(block)
        self.prompts = nn.ModuleDict({
            str(s): StagePromptTokens(
                num_sets=len(blocks),
                embed_dims=self.stage_widths[s],
                patch_fan_in=self.patch_fan_in,
                config=cfg,
                bound_dims=self.stage_widths[0])
            for s, blocks in per_stage.items()
        })
        # block index -> (stage key, set index in that stage)
        self._prompt_slot = {
            block: (str(s), j)
            for s, blocks in per_stage.items()
            for j, block in enumerate(blocks)
        }

    @property
    def num_prompt_tokens(self) -> int:
        return self.prompt_cfg.num_tokens

    # -------------------------------------------------------------- forward
    def embed(self, inputs: Tensor) -> Tuple[State, Any]:
        x, ctx = super().embed(inputs)
        return (x, None), ctx

    def forward_block(self, index: int, state: State) -> State:
        """Block ``index`` on ``(grid, prompts)``: a prompted block first
        replaces the carried prompts by its own set; the block then runs on
        ``[P, patches]`` (prompts in every window)."""
        x, prompts = state
        slot = self._prompt_slot.get(index)
        if slot is not None:
            stage, j = slot
            prompts = self.prompts[stage](j, x.shape[0]).to(x.dtype)
        if prompts is None:
            return super().forward_block(index, x), None
        block = self.tunable_blocks[index]
        b, p, c = prompts.shape
        seq = torch.cat((prompts, x.reshape(b, -1, c)), dim=1)
        normed = block.norm1(seq)
        y, y_prompts = self.window_attention(
            block, normed[:, p:].reshape(x.shape), normed[:, :p])
        # One drop-path over [P, patches], as the released block applies it.
        seq = seq + self.attn_drop_path(block)(
            torch.cat((y_prompts, y.reshape(b, -1, c)), dim=1))
        seq = seq + self.mlp_branch(block, seq)
        return seq[:, p:].reshape(x.shape), seq[:, :p]

    def merge(self, stage: int, state: State) -> State:
        x, prompts = state
        merged = super().merge(stage, x)
        if prompts is not None:
            prompts = self.merge_prompts(stage, prompts, x.dim() - 2)
        return merged, prompts

    def merge_prompts(self, stage: int, prompts: Tensor,
                      grid_dims: int) -> Tensor:
        """The stage's patch merging on each prompt as a 2x2 tile of copies
        (a ``(1, 2, 2)`` tile on video): ``(B, p, d)`` to ``(B, p, 2d)``."""
        b, p, c = prompts.shape
        ones = (1, ) * (grid_dims - 2)
        tiles = prompts.reshape(b * p, *ones, 1, 1, c).expand(
            b * p, *ones, 2, 2, c).contiguous()
        return super().merge(stage, tiles).reshape(b, p, -1)

    def readout(self, state: State, ctx: Any, index: int,
                pool: Optional[Callable[[Tensor, int], Tensor]] = None):
        return super().readout(state[0], ctx, index, pool)

    def block_params(self, index: int) -> Iterator[nn.Parameter]:
        yield from super().block_params(index)
        slot = self._prompt_slot.get(index)
        if slot is not None:
            yield from self.prompts[slot[0]].parameters()


VPTVideoViT = method_class(VPTMixin, TunableVideoViT)
VPTViT = method_class(VPTMixin, TunableViT)
VPTVideoSwin = method_class(VPTMixin, TunableVideoSwin)
VPTSwin = method_class(VPTMixin, TunableSwin)
VPTUniFormerV2 = method_class(VPTMixin, TunableUniFormerV2)
