"""Bias tuning (BitFit, arXiv 2106.10199; the VPT paper's "Bias" baseline,
arXiv 2203.12119, Sec. 4.1): every bias of the backbone trains, every other
pretrained tensor stays frozen.

:class:`BitFitConfig` holds the setting (``bitfit_cfg`` in configs) and
:func:`bias_parameter_names` says which parameters of a model are biases,
from the model's structure: the ``bias`` of a module (Linear, Conv, LayerNorm
...) and the separate ``*_bias`` vectors some attentions keep (VideoMAE's
``q_bias`` / ``v_bias``). Pure PyTorch.
"""
import dataclasses
from typing import List

from torch import nn

from .config import MethodConfig

#: Normalisation layers whose bias ``norm_bias=False`` leaves frozen.
NORM_TYPES = (nn.LayerNorm, nn.GroupNorm, nn.modules.batchnorm._NormBase)


@dataclasses.dataclass(frozen=True)
class BitFitConfig(MethodConfig):
    """BitFit's settings (``bitfit_cfg`` in configs), checked once.

    Args:
        norm_bias (bool): The normalisation layers' biases (LayerNorm
            ``beta``) train too. Default True, as BitFit trains every bias
            term. ViT-B/16 backbone biases: 102,912 (image) / 93,696
            (VideoMAE, ``fc_norm`` included) with them, 83,712 / 74,496
            without.
    """

    key = 'bitfit_cfg'

    norm_bias: bool = True

    def check(self) -> None:
        if not isinstance(self.norm_bias, bool):
            raise ValueError(f'{self.key}.norm_bias must be True or False, '
                             f'got {self.norm_bias!r}')


def bias_parameter_names(model: nn.Module,
                         norm_bias: bool = True) -> List[str]:
    """Names (as in ``model.named_parameters()``) of the 1-D parameters
    named ``bias`` or ``*_bias`` on their module; with ``norm_bias=False``
    the biases of normalisation layers (:data:`NORM_TYPES`) are left out."""
    names = []
    for prefix, module in model.named_modules():
        if not norm_bias and isinstance(module, NORM_TYPES):
            continue
        for name, param in module.named_parameters(recurse=False):
            if param.dim() == 1 and (name == 'bias' or name.endswith('_bias')):
                names.append(f'{prefix}.{name}' if prefix else name)
    return names
