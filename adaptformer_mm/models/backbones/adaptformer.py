"""Where AdaptMLP goes in a ViT block (AdaptFormer, arXiv 2205.13535, 3.2).

:class:`AdaptFormerMixin` is written once for the video and the image
backbone: it needs only ``tunable_blocks``, ``embed_dims`` and the two
residual branches ``attn_branch(block, x)`` / ``mlp_branch(block, x)`` of the
stock block, which each backbone provides.
"""
from typing import Optional, Sequence, Union

from torch import Tensor, nn

from adaptformer_mm.peft import ADAPTER_MODES, AdaptMLP, AdapterConfig

__all__ = ['AdaptFormerMixin', 'AdapterConfig', 'ADAPTER_MODES']


class AdaptFormerMixin:
    """An AdaptMLP beside (or after) the MLP of each chosen block.

    With ``x' = x + Attn(LN1(x))`` (the residual stream after attention):

    * ``mode='parallel'`` (paper default, Eq. 3 as the released code runs it):
      ``out = x' + MLP(LN2(x')) + s * Up(ReLU(Down(x')))``;
    * ``mode='sequential'``: ``m = MLP(LN2(x'))``,
      ``out = x' + m + s * Up(ReLU(Down(m)))``.

    The adapter reads ``x'``, not ``LN2(x')`` (the authors confirmed the code
    is the method) and gets no drop-path. With ``up = 0`` at init the model
    equals the pretrained one. Adapters are stored as ``<block>.adaptmlp``;
    every stock key is unchanged.

    Args:
        adapter_cfg (dict | AdapterConfig): Overrides of ``bottleneck=64,
            scale=0.1, learnable_scale=False, layernorm='none',
            dropout=<backbone default>, mode='parallel', layers=None`` (see
            :class:`~adaptformer_mm.peft.AdapterConfig`); ``layers=None``
            adapts every block, otherwise a list of block indices. ViT-B with
            r=64 on all 12 blocks has 1,189,632 adapter parameters. Kept as
            the frozen ``self.adapter_cfg``; the adapted blocks, resolved
            against the depth, are ``self.adapter_layers``.
        **kwargs: Arguments of the backbone the mixin is combined with.
    """

    #: The spec's adapter dropout: 0.0 for video, 0.1 for images.
    default_adapter_dropout = 0.0

    def __init__(self,
                 *,
                 adapter_cfg: Union[None, dict, AdapterConfig] = None,
                 **kwargs):
        # Read by build_method_modules() during super().__init__ (a plain
        # attribute may be set before nn.Module.__init__).
        self.adapter_cfg = AdapterConfig.from_cfg(
            adapter_cfg, dropout=self.default_adapter_dropout)
        super().__init__(**kwargs)

    def build_method_modules(self) -> None:
        cfg = self.adapter_cfg
        self.adapter_layers = cfg.resolve_layers(len(self.tunable_blocks))
        for i in self.adapter_layers:
            self.tunable_blocks[i].adaptmlp = AdaptMLP(
                self.embed_dims, cfg)

    def adapter(self, index: int) -> Optional[nn.Module]:
        """The AdaptMLP of block ``index``, or None if it is not adapted."""
        return getattr(self.tunable_blocks[index], 'adaptmlp', None)

    def forward_block(self, index: int, x: Tensor) -> Tensor:
        adapter = self.adapter(index)
        if adapter is None:
            return super().forward_block(index, x)
        block = self.tunable_blocks[index]
        x = x + self.attn_branch(block, x)
        mlp = self.mlp_branch(block, x)
        if self.adapter_cfg.mode == 'parallel':
            return x + mlp + adapter(x)
        return x + mlp + adapter(mlp)

    @property
    def adapted_layers(self) -> Sequence[int]:
        """Alias of :attr:`adapter_layers`."""
        return self.adapter_layers
