"""AdaptFormer on mmaction2's VideoMAE ViT (arXiv 2205.13535)."""
from typing import Optional, Sequence

from mmaction.registry import MODELS
from torch import Tensor, nn

from adaptformer_mm.peft import AdaptMLP, check_adapter_args
from .tunable_video_vit import TunableVideoViT
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


@MODELS.register_module()
class AdaptFormerVideoViT(TunableVideoViT):
    """VideoMAE ViT with an AdaptMLP beside (or after) the MLP of each block.

    With ``x' = x + Attn(LN1(x))`` (the residual stream after attention):

    * ``mode='parallel'`` (paper default, Eq. 3 as the released code runs it):
      ``out = x' + MLP(LN2(x')) + s * Up(ReLU(Down(x')))``;
    * ``mode='sequential'``: ``m = MLP(LN2(x'))``,
      ``out = x' + m + s * Up(ReLU(Down(m)))``.

    The adapter reads ``x'``, not ``LN2(x')`` (the authors confirmed the code
    is the method) and gets no drop-path. With ``up = 0`` at init the model
    equals the pretrained one. Adapters are stored as ``blocks.{i}.adaptmlp``;
    every stock key is unchanged.

    Args:
        adapter_cfg (dict): Overrides of ``bottleneck=64, scale=0.1,
            learnable_scale=False, layernorm='none', dropout=0.0,
            mode='parallel', layers=None`` (see :class:`AdaptMLP`);
            ``layers=None`` adapts every block, otherwise a list of block
            indices. ViT-B with r=64 on all 12 blocks has 1,189,632 adapter
            parameters.
        **kwargs: :class:`TunableVideoViT` and mmaction2
            ``VisionTransformer`` arguments.
    """

    def __init__(self, *, adapter_cfg: Optional[dict] = None, **kwargs):
        cfg = merge_cfg('adapter_cfg', ADAPTER_DEFAULTS, adapter_cfg)
        check_adapter_args(
            bottleneck=cfg['bottleneck'],
            scale=cfg['scale'],
            layernorm=cfg['layernorm'],
            dropout=cfg['dropout'])
        if cfg['mode'] not in ADAPTER_MODES:
            raise ValueError(f'adapter_cfg.mode must be one of '
                             f'{ADAPTER_MODES}, got {cfg["mode"]!r}')
        depth = kwargs.get('depth', 12)
        cfg['layers'] = check_layers('adapter_cfg.layers', cfg['layers'],
                                     depth)
        # Read by build_method_modules() during super().__init__ (a plain
        # attribute may be set before nn.Module.__init__, as the stock
        # VisionTransformer does with init_cfg).
        self.adapter_cfg = cfg
        super().__init__(**kwargs)

    def build_method_modules(self) -> None:
        cfg = self.adapter_cfg
        for i in cfg['layers']:
            self.blocks[i].adaptmlp = AdaptMLP(
                self.embed_dims,
                bottleneck=cfg['bottleneck'],
                scale=cfg['scale'],
                learnable_scale=cfg['learnable_scale'],
                layernorm=cfg['layernorm'],
                dropout=cfg['dropout'])

    def adapter(self, index: int) -> Optional[nn.Module]:
        """The AdaptMLP of block ``index``, or None if it is not adapted."""
        return getattr(self.blocks[index], 'adaptmlp', None)

    def forward_block(self, index: int, x: Tensor) -> Tensor:
        adapter = self.adapter(index)
        if adapter is None:
            return super().forward_block(index, x)
        block = self.blocks[index]
        x = x + self.attn_branch(block, x)
        mlp = self.mlp_branch(block, x)
        if self.adapter_cfg['mode'] == 'parallel':
            return x + mlp + adapter(x)
        return x + mlp + adapter(mlp)

    @property
    def adapted_layers(self) -> Sequence[int]:
        return tuple(self.adapter_cfg['layers'])
