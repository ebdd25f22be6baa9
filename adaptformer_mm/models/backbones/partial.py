"""Partial-k fine-tuning (the VPT paper's "Partial-1", arXiv 2203.12119,
Sec. 4.1) on every family.

:class:`PartialMixin` adds nothing to the model: it only names more stock
modules that train under ``tuning='peft'`` (the top ``k`` blocks and the
final norm), so freezing is still decided at build, from the stock module
names, by :class:`~.tunable_base.TunableBackboneMixin`.
"""
from typing import Iterable, List

from adaptformer_mm.peft import PartialConfig

from .tunable_base import method_class, method_config_mixin
from .tunable_swin import TunableSwin
from .tunable_uniformerv2 import TunableUniFormerV2
from .tunable_video_swin import TunableVideoSwin
from .tunable_video_vit import TunableVideoViT
from .tunable_vit import TunableViT

__all__ = [
    'PartialMixin', 'PartialVideoViT', 'PartialViT', 'PartialVideoSwin',
    'PartialSwin',
    'PartialUniFormerV2'
]


class PartialMixin(method_config_mixin(PartialConfig)):
    """The last ``k`` blocks (and the final norm) train; the rest is frozen.

    Blocks count over all stages on Swin (its last block is the last
    stage's; a patch merging between trained blocks stays frozen) and the
    final norms are the family's (video ``fc_norm``, image ``ln1`` / ``ln2``,
    Swin ``norm{i}`` per ``out_indices``). ViT-B, k=1: 7,087,104 (VideoMAE)
    or 7,087,872 (image) block parameters + 1,536 norm parameters.

    The trained blocks run in train mode (their dropout and drop-path
    apply, as under full fine-tuning); everything below them stays in eval
    mode and, with ``skip_frozen_grad``, runs without autograd.

    Args:
        partial_cfg (dict | PartialConfig): Overrides of the defaults of
            :class:`~adaptformer_mm.peft.PartialConfig`. Kept as the frozen
            ``self.partial_cfg``; the trained blocks, resolved against the
            depth, are ``self.partial_layers``.
        **kwargs: Arguments of the family (``tuning`` must stay
            ``'peft'``).
    """

    method_name = 'Partial'

    def setup_tunable(self, tuning: str, trained_stock: Iterable[str] = (),
                      *args, **kwargs) -> None:
        if tuning != 'peft':
            raise ValueError(
                f'{type(self).__name__}: partial_cfg needs tuning=\'peft\' '
                f'(tuning=\'full\' trains every block), got {tuning!r}')
        names = self.block_names()
        self.partial_layers = self.partial_cfg.resolve_blocks(len(names))
        self._partial_modules = [names[i] for i in self.partial_layers]
        extra = list(self._partial_modules)
        if self.partial_cfg.final_norm:
            extra += [n for n in self.final_norm_names() if n is not None]
        super().setup_tunable(tuning, [*trained_stock, *extra], *args,
                              **kwargs)

    def _freeze(self) -> None:
        super()._freeze()
        # The base keeps every stock module but the named ones in eval; the
        # submodules of a trained block (its drop-path, dropouts) train too.
        inside = tuple(m + '.' for m in self._partial_modules)
        self._frozen_modules: List[str] = [
            n for n in self._frozen_modules if not n.startswith(inside)
        ]


PartialVideoViT = method_class(PartialMixin, TunableVideoViT)
PartialViT = method_class(PartialMixin, TunableViT)
PartialVideoSwin = method_class(PartialMixin, TunableVideoSwin)
PartialSwin = method_class(PartialMixin, TunableSwin)
PartialUniFormerV2 = method_class(PartialMixin, TunableUniFormerV2)
