"""Bias tuning (BitFit, arXiv 2106.10199; the VPT paper's "Bias" baseline)
on a tunable ViT, written once for video and image.

:class:`BitFitMixin` adds nothing to the model: after the base freezes the
stock model at build, the stock biases (chosen from the stock model's
structure, :func:`~adaptformer_mm.peft.bias_parameter_names`) train again.
"""
from adaptformer_mm.peft import BitFitConfig, bias_parameter_names

from .tunable_base import method_config_mixin

__all__ = ['BitFitMixin', 'BitFitConfig']


class BitFitMixin(method_config_mixin(BitFitConfig)):
    """Every bias of the stock backbone trains; every other stock tensor is
    frozen (the final norm too, unless the backbone trains it anyway: the
    video ``fc_norm`` with ``train_fc_norm``, the image one with
    ``train_final_norm``).

    The frozen modules stay in eval mode (no dropout or drop-path on the
    frozen path); with a trained patch-embedding bias every block records a
    graph.

    Args:
        bitfit_cfg (dict | BitFitConfig): Overrides of ``norm_bias=True``
            (see :class:`~adaptformer_mm.peft.BitFitConfig`). Kept as the
            frozen ``self.bitfit_cfg``; the trained bias names are
            ``self.bias_names``.
        **kwargs: Arguments of the backbone the mixin is combined with
            (``tuning`` must stay ``'peft'``).
    """

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
