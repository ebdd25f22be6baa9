"""What the video and the image Swin backbones share, written once.

:class:`TunableSwinMixin` goes between
:class:`~.tunable_base.TunableBackboneMixin` and a stock hierarchical Swin
(mmaction2's ``SwinTransformer3D``, mmpretrain's ``SwinTransformer``). It
sees the stages' blocks as one sequence (block ``i``
counts over all stages, stage 0 first: Swin-B's 2/2/18/2 blocks are 0-1,
2-3, 4-21, 22-23) and runs the stock forward block by block, so a method
(AdaptFormer, VPT) changes single blocks as on a ViT, and the freezing,
frozen-in-eval, no-graph-below-the-first-trainable-block and checkpointing
of ``tunable_base`` apply unchanged.

Tokens travel between blocks as a grid ``(B, *grid, C)`` (video ``(B, D, H,
W, C)``, image ``(B, H, W, C)``), so a block knows its window layout from the
tensor. A concrete backbone provides the stock parts: ``swin_stages`` (the
stage ``ModuleList``), ``embed(inputs)``, ``window_attention(block, x,
prompts)``, ``attn_drop_path(block)``, ``mlp_branch(block, x)``,
``merge(stage, x)``, ``stage_output(stage, x)`` and ``format_outputs``.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from adaptformer_mm.peft.swin_prompt import prompted_window_attention
from .tunable_base import StandardTunableMixin


class TunableSwinMixin(StandardTunableMixin):
    """Block-by-block stock forward of a hierarchical Swin (see the module
    docstring). The constructor is
    :class:`~.tunable_base.StandardTunableMixin`'s; under ``'peft'`` with
    ``train_final_norm`` the output norms ``norm{i}`` (``i`` in
    ``out_indices``) train."""

    #: Name of the stock ``ModuleList`` of stages (``'layers'`` in mmaction2,
    #: ``'stages'`` in mmpretrain).
    stages_attr: str = ''

    def prepare_tunable(self, stock: Dict[str, object]) -> None:
        """Index the blocks over the stages."""
        stages = self.swin_stages
        # A plain list: the blocks stay registered under their stock names
        # only (a ModuleList would add a second name to every state key).
        self._swin_blocks = [b for stage in stages for b in stage.blocks]
        #: Stage of each block.
        self.block_stage: Tuple[int, ...] = tuple(
            s for s, stage in enumerate(stages) for _ in stage.blocks)
        #: Token width of each stage.
        self.stage_widths: Tuple[int, ...] = tuple(
            stage.embed_dims for stage in stages)

    def final_norm_names(self) -> Sequence[str]:
        return [f'norm{i}' for i in self.out_indices]

    # ------------------------------------------------------------ structure
    @property
    def swin_stages(self) -> nn.ModuleList:
        return getattr(self, self.stages_attr)

    @property
    def tunable_blocks(self) -> List[nn.Module]:
        """Every block of every stage, stage 0 first."""
        return self._swin_blocks

    def stage_blocks(self, stage: int) -> range:
        """Indices of the blocks of ``stage``."""
        start = sum(len(s.blocks) for s in self.swin_stages[:stage])
        return range(start, start + len(self.swin_stages[stage].blocks))

    def deterministic_keys(self) -> Sequence[str]:
        # Relative position indices are a function of the window size.
        return [k for k in self.state_dict()
                if k.endswith('relative_position_index')]

    # -------------------------------------------------------------- forward
    def forward(self, inputs: Tensor):
        grad, start = self.grad_plan()
        with torch.set_grad_enabled(grad and start < 0):
            x = self.embed(inputs)
        outs = []
        after = self.out_after_downsample
        for s, stage in enumerate(self.swin_stages):
            blocks = self.stage_blocks(s)
            for i in blocks:
                x = self.run_block(i, x, grad, start)
            # Frozen merging needs a graph once a block below has one.
            with torch.set_grad_enabled(grad and start <= blocks[-1]):
                if stage.downsample is not None and after:
                    x = self.merge(s, x)
            if s in self.out_indices:
                outs.append(self.stage_output(s, x))
            with torch.set_grad_enabled(grad and start <= blocks[-1]):
                if stage.downsample is not None and not after:
                    x = self.merge(s, x)
        return self.format_outputs(outs)

    def forward_block(self, index: int, x: Tensor) -> Tensor:
        """Block ``index`` on a grid ``(B, *grid, C)``, the stock block:
        ``x' = x + DropPath(WindowAttn(LN1(x))); x' + MLP branch(x')``."""
        block = self.tunable_blocks[index]
        x = x + self.attn_branch(block, x)
        return x + self.mlp_branch(block, x)

    def attn_branch(self, block: nn.Module, x: Tensor) -> Tensor:
        """``DropPath(W-MSA(LN1(x)))`` (shifted windows in odd blocks)."""
        y, _ = self.window_attention(block, block.norm1(x), None)
        return self.attn_drop_path(block)(y)

    def attend_windows(self, attn: nn.Module, windows: Tensor,
                       prompts: Optional[Tensor], mask: Optional[Tensor]
                       ) -> Tuple[Tensor, Optional[Tensor]]:
        """Windows ``(B*nW, n, C)`` through the stock window attention
        ``attn`` (mmpretrain's ``WindowMSA``, mmaction2's
        ``WindowAttention3D``: the same attribute names), its relative
        position bias for ``n`` tokens and the shift ``mask``, with optional
        prompts
        (:func:`~adaptformer_mm.peft.swin_prompt.prompted_window_attention`).
        """
        n = windows.shape[1]
        bias = attn.relative_position_bias_table[
            attn.relative_position_index[:n, :n].reshape(-1)].reshape(
                n, n, -1).permute(2, 0, 1).contiguous()
        return prompted_window_attention(
            windows,
            prompts,
            qkv=attn.qkv,
            proj=attn.proj,
            num_heads=attn.num_heads,
            scale=attn.scale,
            bias=bias,
            mask=mask,
            attn_drop=attn.attn_drop,
            proj_drop=attn.proj_drop)

    # Stock parts, per backbone.
    def embed(self, inputs: Tensor) -> Tensor:
        """Patch embedding (+ its norm, position table, dropout) as a grid."""
        raise NotImplementedError

    def window_attention(self, block: nn.Module, x: Tensor,
                         prompts: Optional[Tensor]
                         ) -> Tuple[Tensor, Optional[Tensor]]:
        """The block's (shifted) window attention on a normalised grid, with
        optional prompts joining every window
        (:func:`~adaptformer_mm.peft.swin_prompt.prompted_window_attention`).
        """
        raise NotImplementedError

    def attn_drop_path(self, block: nn.Module) -> nn.Module:
        """The drop-path of the attention branch."""
        raise NotImplementedError

    def mlp_branch(self, block: nn.Module, x: Tensor) -> Tensor:
        """``DropPath(MLP(LN2(x)))`` on any ``(..., C)``."""
        raise NotImplementedError

    def merge(self, stage: int, x: Tensor) -> Tensor:
        """The stock patch merging after ``stage``: ``(B, *grid, C)`` to
        ``(B, *grid/2, 2C)`` (height and width halved)."""
        raise NotImplementedError

    def stage_output(self, stage: int, x: Tensor) -> Tensor:
        """``norm{stage}`` and the stock layout ``(B, C, *grid)``."""
        raise NotImplementedError

    def format_outputs(self, outs: List[Tensor]):
        raise NotImplementedError
