"""The tiny stock families every backbone test builds on: one entry per
family of ``backbones.FAMILIES``, CPU-sized.

* ``VIDEO_VIT``: mmaction2 VideoMAE ViT, 32x32 frames, 16x16 patches,
  tubelet 2, 4 frames, embed 64, depth 3, 4 heads; input ``(2, 3, 4, 32, 32)``.
* ``VIT``: mmpretrain ViT, 32x32 images, 16x16 patches, embed 64, 2 layers,
  4 heads, FFN 256; input ``(2, 3, 32, 32)``.
* ``VIDEO_SWIN`` / ``SWIN``: mmaction2 ``SwinTransformer3D`` / mmpretrain
  ``SwinTransformer``, 2 stages of 2 blocks, widths 32 then 64 (the last is
  the ViTs' width), 4x4 patches and 4x4 windows (video: 2x4x4 both) that
  shift in stage 0; inputs ``(2, 3, 4, 32, 32)`` / ``(2, 3, 32, 32)``.
* ``UNIFORMERV2``: mmaction2 ``UniFormerV2``, 32x32 frames, 8x8 patches (a
  4x4 grid), 4 frames, width 64, 3 CLIP blocks of 4 heads, each with both
  local MHRAs, 2 global UniBlocks reading blocks 1 and 2 (no dropout); input
  ``(2, 3, 4, 32, 32)``.

A stock model has every vector (norms, biases), CLS token, position table
and Swin relative-position table random, so no identity LayerNorm, zero bias
or zero table hides a mistake; so are the matrices UniFormerV2 starts at
zero (``TinyFamily.random_zero_matrices``).
"""
import copy
from dataclasses import dataclass
from typing import Tuple, Union

import torch

import adaptformer_mm  # noqa: F401  (repairs the stack first, registers)
from adaptformer_mm.apis import weights_on_meta
from mmaction.models.backbones.swin import SwinTransformer3D
from mmaction.models.backbones.uniformerv2 import UniFormerV2
from mmaction.models.backbones.vit_mae import \
    VisionTransformer as VideoMAEViT
from mmaction.registry import MODELS as VIDEO_MODELS
from mmpretrain.models import SwinTransformer, VisionTransformer
from mmpretrain.registry import MODELS as IMAGE_MODELS
from torch import nn

#: Parameters made random although they are not vectors (mmpretrain starts
#: Swin's relative-position table at zero, which would hide a wrong index).
RANDOM_TABLES = ('cls_token', 'pos_embed', 'relative_position_bias_table')


@dataclass(frozen=True)
class TinyFamily:
    """A stock backbone family at test size.

    Args:
        name: The family's ``family_name`` (``backbones.FAMILIES``); a
            registered backbone is ``<method name><name>``.
        registry: The OpenMMLab registry its backbones are registered in.
        scope: That registry's scope (pinned at build: another test may
            have set mmengine's default scope).
        stock_cls: The stock mmaction2 / mmpretrain class.
        kwargs: Constructor arguments shared by the stock and tunable
            models.
        input_shape: The batch :meth:`inputs` draws.
        random_zero_matrices: :meth:`stock` also draws the matrices the
            stock class starts at zero (UniFormerV2's temporal CLS token,
            the last convolution of each local MHRA, the output projections
            of each global UniBlock), which would hide what they read.
    """
    name: str
    registry: object
    scope: str
    stock_cls: type
    kwargs: dict
    input_shape: Tuple[int, ...]
    random_zero_matrices: bool = False

    @property
    def is_video(self) -> bool:
        """Clips ``(B, C, T, H, W)``, not images ``(B, C, H, W)``."""
        return len(self.input_shape) == 5

    @property
    def depth(self) -> int:
        """Number of blocks (of every stage, for Swin)."""
        for key in ('depth', 'layers'):  # ViTs, UniFormerV2
            if key in self.kwargs:
                return self.kwargs[key]
        arch = self.kwargs['arch']
        return arch['num_layers'] if 'num_layers' in arch else \
            sum(arch['depths'])

    def stock(self, seed: int = 0, **overrides) -> nn.Module:
        """The stock model, in eval mode, built right after
        ``torch.manual_seed(seed)``; then, drawing on (not reseeding) that
        generator in ``named_parameters`` order, every vector, CLS token,
        position table and relative-position table (and, with
        :attr:`random_zero_matrices`, every matrix that is all zero) is
        ``N(0, 0.2)``, plus 1 for LayerNorm weights. Other matrices keep
        their init."""
        torch.manual_seed(seed)
        model = self.stock_cls(**copy.deepcopy({**self.kwargs, **overrides}))
        norm_weights = {f'{name}.weight' for name, module in
                        model.named_modules()
                        if isinstance(module, nn.LayerNorm)}
        with torch.no_grad():
            for name, param in model.named_parameters():
                if param.dim() > 1 and \
                        name.rsplit('.', 1)[-1] not in RANDOM_TABLES and \
                        not (self.random_zero_matrices and not param.any()):
                    continue
                param.normal_(0.0, 0.2)
                if name in norm_weights:
                    param.add_(1.0)
        model.eval()  # mmpretrain's train() returns None: no chaining
        return model

    def build(self, method: Union[str, type], seed: int = 0,
              **own) -> nn.Module:
        """The registered ``<method><name>`` built as a config builds it,
        right after ``torch.manual_seed(seed)``.

        Args:
            method: A method's name (``'AdaptFormer'``; ``'Tunable'`` for the
                family itself) or a mixin of ``backbones.METHODS``.
            own: Arguments added to (or replacing) :attr:`kwargs`.
        """
        name = getattr(method, 'method_name', method)
        torch.manual_seed(seed)
        return self.registry.build(copy.deepcopy(
            {**self.kwargs, **own, 'type': name + self.name,
             '_scope_': self.scope}))

    def like(self, cls_or_method: Union[type, str], stock: nn.Module,
             **kwargs) -> nn.Module:
        """A tunable model with ``stock``'s weights (method tensors keep
        their init): a class is called with :attr:`kwargs` and ``kwargs``,
        a method name goes through :meth:`build` (``seed`` may be among
        ``kwargs``), as does a mixin of ``backbones.METHODS``. Every stock
        key loads into the same name."""
        if isinstance(cls_or_method, type) and \
                issubclass(cls_or_method, nn.Module):
            model = cls_or_method(**copy.deepcopy({**self.kwargs, **kwargs}))
        else:
            model = self.build(cls_or_method, **kwargs)
        stock_keys = set(stock.state_dict())
        missing, unexpected = model.load_state_dict(stock.state_dict(),
                                                    strict=False)
        assert unexpected == []
        assert not stock_keys & set(missing)
        return model

    def inputs(self, seed: int = 1) -> torch.Tensor:
        """A standard-normal batch of :attr:`input_shape`."""
        torch.manual_seed(seed)
        return torch.randn(*self.input_shape)


def family_id(value) -> Union[str, None]:
    """pytest ids: a family by its name (other values get pytest's own)."""
    return value.name if isinstance(value, TinyFamily) else None


def final_output(out) -> torch.Tensor:
    """A backbone's last output: video backbones return a tensor, image
    backbones a tuple (one entry per ``out_indices``)."""
    return out if torch.is_tensor(out) else out[-1]


# Full-size models built only to count them: the package's meta build.
on_meta_device = weights_on_meta


VIDEO_VIT = TinyFamily(
    'VideoViT', VIDEO_MODELS, 'mmaction', VideoMAEViT,
    dict(img_size=32, patch_size=16, embed_dims=64, depth=3, num_heads=4,
         num_frames=4, tubelet_size=2),
    (2, 3, 4, 32, 32))
VIT = TinyFamily(
    'ViT', IMAGE_MODELS, 'mmpretrain', VisionTransformer,
    dict(arch=dict(embed_dims=64, num_layers=2, num_heads=4,
                   feedforward_channels=256),
         img_size=32, patch_size=16),
    (2, 3, 32, 32))
SWIN_ARCH = dict(embed_dims=32, depths=[2, 2], num_heads=[2, 4])
VIDEO_SWIN = TinyFamily(
    'VideoSwin', VIDEO_MODELS, 'mmaction', SwinTransformer3D,
    dict(arch=SWIN_ARCH, patch_size=(2, 4, 4), window_size=(2, 4, 4),
         pretrained2d=False, drop_path_rate=0.0, out_indices=(1, )),
    (2, 3, 4, 32, 32))
SWIN = TinyFamily(
    'Swin', IMAGE_MODELS, 'mmpretrain', SwinTransformer,
    dict(arch=SWIN_ARCH, img_size=32, patch_size=4, window_size=4,
         drop_path_rate=0.0, out_indices=(1, )),
    (2, 3, 32, 32))
UNIFORMERV2 = TinyFamily(
    'UniFormerV2', VIDEO_MODELS, 'mmaction', UniFormerV2,
    dict(input_resolution=32, patch_size=8, width=64, layers=3, heads=4,
         t_size=4, no_lmhra=False, double_lmhra=True, return_list=[1, 2],
         n_layers=2, n_dim=64, n_head=4, mlp_dropout=[0.0, 0.0],
         clip_pretrained=False),
    (2, 3, 4, 32, 32), random_zero_matrices=True)
#: In the order of ``backbones.FAMILIES``.
TINY_FAMILIES = (VIDEO_VIT, VIT, VIDEO_SWIN, SWIN, UNIFORMERV2)
