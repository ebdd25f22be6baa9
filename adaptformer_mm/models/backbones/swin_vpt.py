"""Where VPT's prompts go in a Swin (VPT, arXiv 2203.12119; its Swin runs).

:class:`SwinVPTMixin` is written once for Video Swin and image Swin. The
reference is VPT's released Swin code (``src/models/vit_prompt/
swin_transformer.py`` and ``src/models/vit_backbones/swin_transformer.py`` in
KMnP/vpt), re-implemented; each choice and where it comes from:

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
"""
from typing import Iterator, Optional, Tuple

import torch
from torch import Tensor, nn

from adaptformer_mm.peft import PromptConfig
from adaptformer_mm.peft.swin_prompt import StagePromptTokens

from .tunable_base import method_config_mixin

__all__ = ['SwinVPTMixin', 'check_swin_prompt_cfg']

State = Tuple[Tensor, Optional[Tensor]]


def check_swin_prompt_cfg(cfg: PromptConfig) -> None:
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


class SwinVPTMixin(method_config_mixin(PromptConfig)):
    """Learnable prompt tokens in the window attention of a Swin (see the
    module docstring for every choice and its source).

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
        check_swin_prompt_cfg(cfg)
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
    def embed(self, inputs: Tensor) -> State:
        return super().embed(inputs), None

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

    def stage_output(self, stage: int, state: State) -> Tensor:
        return super().stage_output(stage, state[0])

    def block_params(self, index: int) -> Iterator[nn.Parameter]:
        yield from super().block_params(index)
        slot = self._prompt_slot.get(index)
        if slot is not None:
            yield from self.prompts[slot[0]].parameters()
