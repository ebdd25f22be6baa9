"""The MLP-k head (the VPT paper's "MLP-k" baseline) for mmaction2 and for
mmpretrain: two thin registered heads around one pure-PyTorch
:class:`~adaptformer_mm.peft.MLP`.

* ``MLPHead`` (mmaction2): the video recipe's head with ``k`` linear layers:
  ``MLP(BatchNorm1d(x))``, the BatchNorm without affine parameters as in
  ``BNLinearHead``, so ``num_layers=1`` is exactly ``BNLinearHead``.
* ``MLPClsHead`` (mmpretrain): ``MLP(x)`` on the last feature; the image
  recipe's BatchNorm is its neck (``ClsBatchNormNeck``).

Both train on the frozen features of the linear-probe backbones
(``TunableVideoViT`` / ``TunableViT`` with ``tuning='peft'``).
"""
from typing import Tuple, Union

from mmaction.models.heads.base import BaseHead
from mmaction.registry import MODELS as VIDEO_MODELS
from mmaction.utils import ConfigType
from mmpretrain.models.heads import ClsHead
from mmpretrain.registry import MODELS as IMAGE_MODELS
from torch import Tensor, nn

from adaptformer_mm.peft import MLP, MLPHeadConfig

from .bn_linear_head import check_batch_statistics

__all__ = ['MLPHead', 'MLPClsHead']


@VIDEO_MODELS.register_module()
class MLPHead(BaseHead):
    """``MLP(BatchNorm1d(x))`` for mmaction2 recognizers.

    Args:
        num_classes (int): Number of classes.
        in_channels (int): Feature width ``d``.
        mlp_cfg (dict | MLPHeadConfig): Overrides of ``num_layers=3,
            hidden_dims=None (d), dropout=0.0`` (see
            :class:`~adaptformer_mm.peft.MLPHeadConfig`).
        loss_cls (dict): Loss config. Defaults to cross entropy.
        init_std (float): Std of the classifier's trunc-normal weight
            (paper: 0.01); hidden layers start as PyTorch's Linear default.
        bn_eps (float): BatchNorm epsilon (paper: 1e-6).
        **kwargs: ``BaseHead`` arguments (``average_clips``, ...).

    Parameters: see :class:`~adaptformer_mm.peft.MLPHeadConfig` (the
    BatchNorm has none). Shape: ``(N, d) -> (N, num_classes)``. A training
    batch of one sample is an error naming ``train_dataloader.drop_last``,
    as in ``BNLinearHead``.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 mlp_cfg: Union[None, dict, MLPHeadConfig] = None,
                 loss_cls: ConfigType = dict(type='CrossEntropyLoss'),
                 init_std: float = 0.01,
                 bn_eps: float = 1e-6,
                 **kwargs) -> None:
        super().__init__(num_classes, in_channels, loss_cls, **kwargs)
        self.mlp_cfg = MLPHeadConfig.from_cfg(mlp_cfg)
        self.bn = nn.BatchNorm1d(in_channels, affine=False, eps=bn_eps)
        self.mlp = MLP(in_channels, num_classes, self.mlp_cfg, init_std)

    def init_weights(self) -> None:
        self.mlp.reset_parameters()

    def forward(self, x: Tensor, **kwargs) -> Tensor:
        check_batch_statistics(type(self).__name__, self.bn, x)
        return self.mlp(self.bn(x))


@IMAGE_MODELS.register_module()
class MLPClsHead(ClsHead):
    """``MLP(x)`` on the last feature, for mmpretrain classifiers.

    Args: ``num_classes``, ``in_channels``, ``mlp_cfg`` and ``init_std`` as
    :class:`MLPHead`; ``**kwargs``: ``ClsHead`` arguments (``loss``,
    ``topk``, ...).

    Shape: ``(N, d)`` (the last of a tuple of features) ``-> (N,
    num_classes)``.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 mlp_cfg: Union[None, dict, MLPHeadConfig] = None,
                 init_std: float = 0.01,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.mlp_cfg = MLPHeadConfig.from_cfg(mlp_cfg)
        self.mlp = MLP(in_channels, num_classes, self.mlp_cfg, init_std)

    def init_weights(self) -> None:
        self.mlp.reset_parameters()

    def forward(self, feats: Tuple[Tensor, ...]) -> Tensor:
        return self.mlp(self.pre_logits(feats))
