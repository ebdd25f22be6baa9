"""Where AdaptMLP goes in a ViT block (AdaptFormer, arXiv 2205.13535, 3.2).

:class:`AdaptFormerMixin` is written once for the video and the image
backbone: it needs only ``tunable_blocks``, ``embed_dims`` and the two
residual branches ``attn_branch(block, x)`` / ``mlp_branch(block, x)`` of the
stock block, which each backbone provides.
"""
from typing import Optional, Sequence

from torch import Tensor, nn

from adaptformer_mm.peft import AdaptMLP, check_adapter_args
from .utils import check_layers, merge_cfg

ADAPTER_MODES = ('parallel', 'sequential')
ADAPTER_DEFAULTS = dict(
    bottleneck=64,
    scale=0.1,
    learnable_scale=False,
    layernorm='none',
    dropout=0.0,
    mode='parallel',
    layers=None)


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
        adapter_cfg (dict): Overrides of ``bottleneck=64, scale=0.1,
            learnable_scale=False, layernorm='none', dropout=<backbone
            default>, mode='parallel', layers=None`` (see :class:`AdaptMLP`);
            ``layers=None`` adapts every block, otherwise a list of block
            indices. ViT-B with r=64 on all 12 blocks has 1,189,632 adapter
            parameters.
        **kwargs: Arguments of the backbone the mixin is combined with.
    """

    #: The spec's adapter dropout: 0.0 for video, 0.1 for images.
    default_adapter_dropout = 0.0

    def __init__(self, *, adapter_cfg: Optional[dict] = None, **kwargs):
        defaults = dict(ADAPTER_DEFAULTS, dropout=self.default_adapter_dropout)
        cfg = merge_cfg('adapter_cfg', defaults, adapter_cfg)
        check_adapter_args(
            bottleneck=cfg['bottleneck'],
            scale=cfg['scale'],
            layernorm=cfg['layernorm'],
            dropout=cfg['dropout'])
        if cfg['mode'] not in ADAPTER_MODES:
            raise ValueError(f'adapter_cfg.mode must be one of '
                             f'{ADAPTER_MODES}, got {cfg["mode"]!r}')
        # Read by build_method_modules() during super().__init__ (a plain
        # attribute may be set before nn.Module.__init__).
        self.adapter_cfg = cfg
        super().__init__(**kwargs)

    def build_method_modules(self) -> None:
        cfg = self.adapter_cfg
        cfg['layers'] = check_layers('adapter_cfg.layers', cfg['layers'],
                                     len(self.tunable_blocks))
        for i in cfg['layers']:
            self.tunable_blocks[i].adaptmlp = AdaptMLP(
                self.embed_dims,
                bottleneck=cfg['bottleneck'],
                scale=cfg['scale'],
                learnable_scale=cfg['learnable_scale'],
                layernorm=cfg['layernorm'],
                dropout=cfg['dropout'])

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
        if self.adapter_cfg['mode'] == 'parallel':
            return x + mlp + adapter(x)
        return x + mlp + adapter(mlp)

    @property
    def adapted_layers(self) -> Sequence[int]:
        return tuple(self.adapter_cfg['layers'])
