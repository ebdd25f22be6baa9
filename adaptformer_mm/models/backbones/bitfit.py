"""Bias tuning (BitFit, arXiv 2106.10199; the VPT paper's "Bias" baseline)
on every family.

:class:`BitFitMixin` adds nothing to the model: after the base freezes the
stock model at build, the stock biases (chosen from the stock model's
structure, :func:`~adaptformer_mm.peft.bias_parameter_names`) train again.
"""
from adaptformer_mm.peft import BitFitConfig, bias_parameter_names

from .tunable_base import method_class, method_config_mixin
from .tunable_swin import TunableSwin
from .tunable_uniformerv2 import TunableUniFormerV2
from .tunable_video_swin import TunableVideoSwin
from .tunable_video_vit import TunableVideoViT
from .tunable_vit import TunableViT

__all__ = [
    'BitFitMixin', 'BitFitVideoViT', 'BitFitViT', 'BitFitVideoSwin',
    'BitFitSwin',
    'BitFitUniFormerV2'
]


class BitFitMixin(method_config_mixin(BitFitConfig)):
    """Every bias of the stock backbone trains; every other stock tensor is
    frozen (the final norm too, unless the family trains it anyway with
    ``train_final_norm``, as the video ViT does by default).

    ViT-B: 94,464 trainable VideoMAE parameters (93,696 biases, ``fc_norm``'s
    included, + its weight; VideoMAE has q and v biases, no k bias), 102,912
    image ViT biases. A Swin trains every ``*bias`` vector (its
    relative-position tables are not biases: 2-D, they stay frozen).

    The frozen modules stay in eval mode (no dropout or drop-path on the
    frozen path); with a trained patch-embedding bias every block records a
    graph.

    Args:
        bitfit_cfg (dict | BitFitConfig): Overrides of the defaults of
            :class:`~adaptformer_mm.peft.BitFitConfig`. Kept as the
            frozen ``self.bitfit_cfg``; the trained bias names are
            ``self.bias_names``.
        **kwargs: Arguments of the family (``tuning`` must stay
            ``'peft'``).
    """

    method_name = 'BitFit'

    def build_method_modules(self) -> None:
        if self.tuning != 'peft':
            raise ValueError(
                f'{type(self).__name__}: bitfit_cfg needs tuning=\'peft\' '
                f'(tuning=\'full\' trains every tensor), got '
                f'{self.tuning!r}')
        super().build_method_modules()
        stock = set(self._stock_keys)
        self.bias_names = [
            n for n in bias_parameter_names(self, self.bitfit_cfg.norm_bias)
            if n in stock
        ]

    def _freeze(self) -> None:
        super()._freeze()
        params = dict(self.named_parameters())
        for name in self.bias_names:
            params[name].requires_grad_(True)


BitFitVideoViT = method_class(BitFitMixin, TunableVideoViT)
BitFitViT = method_class(BitFitMixin, TunableViT)
BitFitVideoSwin = method_class(BitFitMixin, TunableVideoSwin)
BitFitSwin = method_class(BitFitMixin, TunableSwin)
BitFitUniFormerV2 = method_class(BitFitMixin, TunableUniFormerV2)
