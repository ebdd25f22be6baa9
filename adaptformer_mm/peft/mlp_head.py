"""The MLP-k classification head (the VPT paper's "MLP-k" baseline, arXiv
2203.12119, Sec. 4.1): a k-layer MLP instead of a linear classifier on the
frozen features.

:class:`MLPHeadConfig` holds the settings (``mlp_cfg`` of the registered
heads ``MLPHead`` / ``MLPClsHead``) and their checks, once; :class:`MLP` is
the pure-PyTorch module both heads use.
"""
import dataclasses
import math
from typing import Optional

from torch import Tensor, nn

from .config import MethodConfig, check_count, check_dropout


@dataclasses.dataclass(frozen=True)
class MLPHeadConfig(MethodConfig):
    """MLP-k's settings (``mlp_cfg`` in configs), checked once.

    Args:
        num_layers (int): ``k``, the number of linear layers (>= 1; 1 is the
            linear classifier). VPT reports MLP-3.
        hidden_dims (int, optional): Width of the hidden layers; None (the
            default): the feature width ``d``, as VPT.
        dropout (float): Dropout after each hidden ReLU. Default 0.

    Parameters (feature width ``d``, ``C`` classes), with ``h = d``:
    ``(k - 1) * (d*d + d) + d*C + C``; with another ``h`` and ``k >= 2``:
    ``(d*h + h) + (k - 2) * (h*h + h) + h*C + C``. ViT-B MLP-3 on 174
    classes: 1,314,990.
    """

    key = 'mlp_cfg'

    num_layers: int = 3
    hidden_dims: Optional[int] = None
    dropout: float = 0.0

    def check(self) -> None:
        key = self.key
        check_count(f'{key}.num_layers', self.num_layers,
                    note=' (1 is a linear head; VPT reports MLP-3)')
        check_count(f'{key}.hidden_dims', self.hidden_dims,
                    none='the feature width')
        check_dropout(f'{key}.dropout', self.dropout)


class MLP(nn.Module):
    """``[Linear -> ReLU -> Dropout] x (k - 1) -> Linear``.

    Hidden layers start as PyTorch's Linear default (Kaiming-uniform); the
    classifier ``fc_cls`` as the paper's head (trunc-normal ``init_std``,
    bias 0), so MLP-1 is exactly the recipe's linear classifier.

    Args:
        in_features (int): Feature width ``d``.
        num_classes (int): Output width ``C``.
        config (MLPHeadConfig): ``num_layers``, ``hidden_dims``, ``dropout``.
        init_std (float): Std of the classifier's trunc-normal init.

    Shape: ``(N, d) -> (N, C)``.
    """

    def __init__(self, in_features: int, num_classes: int,
                 config: MLPHeadConfig, init_std: float = 0.01) -> None:
        super().__init__()
        self.config = config
        self.init_std = init_std
        width = config.hidden_dims or in_features
        layers = []
        for i in range(config.num_layers - 1):
            layers += [nn.Linear(in_features if i == 0 else width, width),
                       nn.ReLU(inplace=False), nn.Dropout(config.dropout)]
        self.hidden = nn.Sequential(*layers)
        self.fc_cls = nn.Linear(width if layers else in_features,
                                num_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for layer in self.hidden:
            if isinstance(layer, nn.Linear):
                nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5))
                bound = 1.0 / math.sqrt(layer.in_features)
                nn.init.uniform_(layer.bias, -bound, bound)
        nn.init.trunc_normal_(self.fc_cls.weight, std=self.init_std)
        nn.init.zeros_(self.fc_cls.bias)

    # After a parent's init_cfg (TruncNormal on every Linear): the spec init.
    init_weights = reset_parameters

    def forward(self, x: Tensor) -> Tensor:
        return self.fc_cls(self.hidden(x))
