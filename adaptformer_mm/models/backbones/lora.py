"""Where LoRA goes in a ViT (arXiv 2106.09685), written once for video and
image.

:class:`LoRAMixin` needs only ``tunable_blocks``: in each chosen block it
replaces the target linear layers by :class:`~adaptformer_mm.peft.LoRALinear`
(same ``weight`` / ``bias`` tensors and names; the new keys are
``<layer>.lora.down`` / ``<layer>.lora.up``). Stock module code
calls those layers as before, so nothing else changes; the video backbone
adds the one place VideoMAE applies ``qkv.weight`` directly.
"""
from typing import Dict, List, Sequence

from adaptformer_mm.peft import LoRAConfig, LoRALinear, add_lora, merge_lora

from .tunable_base import method_config_mixin

__all__ = ['LoRAMixin', 'LoRAConfig']


class LoRAMixin(method_config_mixin(LoRAConfig)):
    """``W x + b + (alpha / r) B A x`` on the target layers of each chosen
    block; the stock model is frozen, ``A`` and ``B`` train (``B = 0`` at
    init: the model equals the pretrained one).

    :meth:`merge_lora` folds every update into its frozen weight for
    inference: afterwards the backbone holds exactly the stock modules and
    keys and runs at the stock cost.

    Args:
        lora_cfg (dict | LoRAConfig): Overrides of ``rank=8, alpha=8,
            dropout=0.0, targets=('qkv', 'proj'), layers=None`` (see
            :class:`~adaptformer_mm.peft.LoRAConfig`; ``'layers.0.0'`` /
            ``'layers.1'`` add the MLP). Kept as the frozen
            ``self.lora_cfg``; the chosen blocks are ``self.lora_layers``,
            the adapted layers per block ``self.lora_targets``.
        **kwargs: Arguments of the backbone the mixin is combined with.
    """

    def build_method_modules(self) -> None:
        super().build_method_modules()
        cfg = self.lora_cfg
        blocks = self.tunable_blocks
        self.lora_layers = cfg.resolve_layers(len(blocks))
        self.lora_targets: Dict[int, List[str]] = {
            i: add_lora(blocks[i], cfg, where=f'block {i}')
            for i in self.lora_layers
        }

    @property
    def lora_merged(self) -> bool:
        """True once :meth:`merge_lora` ran (no LoRA layer left)."""
        return not any(isinstance(m, LoRALinear) for m in self.modules())

    def merge_lora(self):
        """Fold each ``(alpha / r) B A`` into its frozen weight, in place;
        returns ``self``. The merged backbone's state has the stock keys
        only (it loads into the stock model or ``TunableVideoViT`` /
        ``TunableViT``) and gives the unmerged outputs up to float rounding.
        Training it further trains only what was already trained outside
        the backbone (the LoRA tensors are gone)."""
        merge_lora(self)
        return self

    @property
    def lora_layer_names(self) -> Sequence[str]:
        """Full names of the adapted layers (``blocks.0.attn.qkv``, ...)."""
        prefix = next(n for n, m in self.named_children()
                      if m is self.tunable_blocks)
        return [f'{prefix}.{i}.{name}'
                for i, names in self.lora_targets.items() for name in names]
