"""The AdaptFormer paper's classification head (the MAE linear-probe head)."""
from mmaction.models.heads.base import BaseHead
from mmaction.registry import MODELS
from mmaction.utils import ConfigType
from mmengine.model.weight_init import trunc_normal_init
from torch import Tensor, nn

__all__ = ['BNLinearHead', 'check_batch_statistics']


def check_batch_statistics(head: str, bn: nn.Module, x: Tensor) -> None:
    """Refuse a batch of one sample where ``bn`` normalises with batch
    statistics (training), naming the cause and the config key that avoids
    it; torch's own error (``Expected more than 1 value per channel``) names
    neither.

    ``SyncBatchNorm`` is left alone: its statistics are over every GPU's
    batch, so one sample on one GPU is not an error there.
    """
    if bn.training and x.shape[0] == 1 and \
            not isinstance(bn, nn.SyncBatchNorm):
        raise ValueError(
            f'{head}: a training batch of 1 sample, but its BatchNorm1d '
            f'normalises with batch statistics and needs 2 or more. Either '
            f'train_dataloader.batch_size is 1, or this is the last batch of '
            f'an epoch and this GPU\'s share of the training set is one more '
            f'than a multiple of the batch size. Set '
            f'train_dataloader.drop_last=True (as the video recipes do, like '
            f'the reference code: the last incomplete batch is dropped), or '
            f'change train_dataloader.batch_size or the GPU count.')


@MODELS.register_module()
class BNLinearHead(BaseHead):
    """``Linear(BatchNorm1d(x))``: BatchNorm without affine parameters, then a
    linear classifier (AdaptFormer's recipe, taken from MAE's linear probe).

    A drop-in replacement for ``TimeSformerHead``: the classifier is also
    named ``fc_cls``, so converted VideoMAE heads (``head.*``) load into it.

    The BatchNorm normalises the frozen features with batch statistics while
    training, so a training batch needs more than one sample per GPU. A batch
    of one (an epoch's last batch when a GPU's share leaves one clip over)
    raises a ``ValueError`` naming ``train_dataloader.drop_last`` rather than
    being handled here: normalising that one clip another way (say with the
    running statistics) would silently change the method for it, and the
    reference recipe (AdaptFormer's and VideoMAE's video training) drops the
    last incomplete batch instead, as the video dataset configs here do. At
    test time (running statistics) any batch size works.

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
        check_batch_statistics(type(self).__name__, self.bn, x)
        x = self.bn(x)
        if self.dropout is not None:
            x = self.dropout(x)
        return self.fc_cls(x)
