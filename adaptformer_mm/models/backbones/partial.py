"""Partial-k fine-tuning on a tunable ViT (the VPT paper's "Partial-1",
arXiv 2203.12119, Sec. 4.1), written once for video and image.

:class:`PartialMixin` adds nothing to the model: it only names more stock
modules that train under ``tuning='peft'`` (the top ``k`` blocks and the
final norm), so freezing is still decided at build, from the stock module
names, by :class:`~.tunable_base.TunableBackboneMixin`.
"""
from typing import Iterable, List

from adaptformer_mm.peft import PartialConfig

from .tunable_base import method_config_mixin

__all__ = ['PartialMixin', 'PartialConfig']


class PartialMixin(method_config_mixin(PartialConfig)):
    """The last ``k`` blocks (and the final norm) train; the rest is frozen.

    The trained blocks run in train mode (their dropout and drop-path
    apply, as under full fine-tuning); everything below them stays in eval
    mode and, with ``skip_frozen_grad``, runs without autograd.

    Args:
        partial_cfg (dict | PartialConfig): Overrides of ``num_blocks=1,
            final_norm=True`` (see
            :class:`~adaptformer_mm.peft.PartialConfig`). Kept as the frozen
            ``self.partial_cfg``; the trained blocks, resolved against the
            depth, are ``self.partial_layers``.
        **kwargs: Arguments of the backbone the mixin is combined with
            (``tuning`` must stay ``'peft'``).
    """

    def setup_tunable(self, tuning: str, trained_stock: Iterable[str] = (),
                      *args, **kwargs) -> None:
        if tuning != 'peft':
            raise ValueError(
                f'{type(self).__name__}: partial_cfg needs tuning=\'peft\' '
                f'(tuning=\'full\' trains every block), got {tuning!r}')
        blocks = self.tunable_blocks
        self.partial_layers = self.partial_cfg.resolve_blocks(len(blocks))
        prefix = next(n for n, m in self.named_children() if m is blocks)
        self._partial_modules = [f'{prefix}.{i}' for i in self.partial_layers]
        extra = list(self._partial_modules)
        if self.partial_cfg.final_norm and self.final_norm_name is not None:
            extra.append(self.final_norm_name)
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
