"""The AdaptFormer paper's classification head (the MAE linear-probe head)."""
from mmaction.models.heads.base import BaseHead
from mmaction.registry import MODELS
from mmaction.utils import ConfigType
from mmengine.model.weight_init import trunc_normal_init
from torch import Tensor, nn


@MODELS.register_module()
class BNLinearHead(BaseHead):
    """``Linear(BatchNorm1d(x))``: BatchNorm without affine parameters, then a
    linear classifier (AdaptFormer's recipe, taken from MAE's linear probe).

    A drop-in replacement for ``TimeSformerHead``: the classifier is also
    named ``fc_cls``, so converted VideoMAE heads (``head.*``) load into it.
    The BatchNorm normalises the frozen features with batch statistics while
    training, so a training batch needs more than one sample per GPU.

    Args:
        num_classes (int): Number of classes.
        in_channels (int): Feature width ``d``.
        loss_cls (dict): Loss config. Defaults to cross entropy.
        init_std (float): Std of the truncated-normal classifier weight
            (paper: 0.01); the bias starts at 0.
        bn_eps (float): BatchNorm epsilon (paper: 1e-6).
        dropout_ratio (float): Dropout before the classifier (default 0).
        **kwargs: ``BaseHead`` arguments (``average_clips``, ...).

    Shape:
        ``(N, in_channels) -> (N, num_classes)``.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 loss_cls: ConfigType = dict(type='CrossEntropyLoss'),
                 init_std: float = 0.01,
                 bn_eps: float = 1e-6,
                 dropout_ratio: float = 0.0,
                 **kwargs) -> None:
        super().__init__(num_classes, in_channels, loss_cls, **kwargs)
        if not 0.0 <= dropout_ratio < 1.0:
            raise ValueError(
                f'dropout_ratio must be in [0, 1), got {dropout_ratio!r}')
        self.init_std = init_std
        self.bn = nn.BatchNorm1d(in_channels, affine=False, eps=bn_eps)
        self.dropout = nn.Dropout(dropout_ratio) if dropout_ratio else None
        self.fc_cls = nn.Linear(in_channels, num_classes)

    def init_weights(self) -> None:
        trunc_normal_init(self.fc_cls, std=self.init_std, bias=0.0)

    def forward(self, x: Tensor, **kwargs) -> Tensor:
        x = self.bn(x)
        if self.dropout is not None:
            x = self.dropout(x)
        return self.fc_cls(x)
