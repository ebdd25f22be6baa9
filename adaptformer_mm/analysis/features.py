"""Pooled features of a frozen backbone, cached once, and heads trained on
them in seconds (``tools/extract_features.py``).

* :func:`extract`: one pass of a model's backbone over a dataloader, ``(N, d)``
  pooled features (a video's clips x crops averaged) and ``(N,)`` labels,
  batched, with a progress bar;
* :func:`split_dataloader_cfg`: the dataloader of a config's split, in order,
  one view per sample, and for ``'train'`` with the val pipeline (a cache
  cannot re-augment);
* :func:`cached_features`: the features of (config, checkpoint, split)
  written once to a file keyed by all three (:func:`feature_key`: the model,
  the dataset with its wrappers and pipeline, the checkpoint's bytes) and
  reused; a file of another key is never overwritten unless ``force``;
* :class:`FeatureSet` (the file's content) and :class:`CachedFeatureDataset`
  (a torch dataset over it);
* :func:`train_probe`: the project's ``BNLinearHead`` (linear probe) or
  ``MLPHead`` trained on cached features by an mmengine ``Runner``
  (:class:`FeatureProbe` is the model it trains): the frozen-backbone
  protocol minus augmentation.

The t-SNE pictures of such features are :mod:`.tsne`.
"""
import copy
import hashlib
import json
import os
import os.path as osp
import tempfile
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModel
from torch import Tensor, nn
from torch.utils.data import Dataset

from adaptformer_mm.datasets.pipeline import step_name, unwrap_dataset_cfg

FORMAT = 'adaptformer_mm.features/1'
SPLITS = ('train', 'val', 'test')


# --------------------------------------------------------------- the file
@dataclass
class FeatureSet:
    """Features of one split: ``features (N, d)`` float32, ``labels (N,)``
    int64 in dataset order, and plain-data ``meta`` (config, checkpoint,
    split, ``key``, ``classes``, ...)."""

    features: Tensor
    labels: Tensor
    meta: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.features.dim() != 2 or self.labels.shape != (
                len(self.features), ):
            raise ValueError(
                f'features must be (N, d) and labels (N,), got '
                f'{tuple(self.features.shape)} and '
                f'{tuple(self.labels.shape)}')

    @property
    def classes(self) -> List[str]:
        return list(self.meta.get('classes') or [])

    def save(self, path: str) -> None:
        """Write atomically (a partial file never looks like a cache)."""
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        tmp = f'{path}.tmp{os.getpid()}'
        torch.save(
            dict(format=FORMAT, features=self.features.float().cpu(),
                 labels=self.labels.long().cpu(), meta=self.meta), tmp)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str) -> 'FeatureSet':
        """Read a file :meth:`save` wrote (tensors and plain data only)."""
        if not osp.isfile(path):
            raise FileNotFoundError(f'feature file not found: {path}')
        data = torch.load(path, map_location='cpu', weights_only=True)
        if not isinstance(data, dict) or data.get('format') != FORMAT:
            raise ValueError(f'{path} is not a feature file of '
                             f'tools/extract_features.py ({FORMAT})')
        return cls(data['features'], data['labels'], data['meta'])


class CachedFeatureDataset(Dataset):
    """``(feature, label)`` pairs of a :class:`FeatureSet` or its file: the
    training set of :func:`train_probe`'s Runner, or of any torch loop over
    cached features."""

    def __init__(self, features: Union[str, FeatureSet]) -> None:
        self.data = FeatureSet.load(features) if isinstance(
            features, str) else features

    @property
    def metainfo(self) -> Dict[str, Any]:
        """The class names, as mmengine's datasets give them (a Runner
        hands them to its visualizer)."""
        return dict(classes=self.data.classes)

    def __len__(self) -> int:
        return len(self.data.labels)

    def __getitem__(self, index: int) -> Tuple[Tensor, Tensor]:
        return self.data.features[index], self.data.labels[index]


# ------------------------------------------------------------ extraction
def pooled_features(model: nn.Module, inputs: Tensor) -> Tensor:
    """The backbone's pooled feature per sample, ``(B, d)``.

    mmaction2 recognizers get ``(B, V, C, [T,] H, W)``: the ``V`` views
    (clips x crops) of a video go through the backbone and their features
    are averaged, as the scores are at test time. An image classifier gets
    ``(B, C, H, W)``; a tuple output (mmpretrain's ``out_indices``) gives its
    last entry. A hierarchical backbone (Swin, ``token_layout='windows'``)
    gives a feature map ``(N, C, [T,] H, W)``, averaged over its grid as the
    Swin recipes' heads do (I3DHead's ``'avg'``, GlobalAveragePooling).
    """
    views = 1
    batch = inputs.shape[0]
    if hasattr(model, 'cls_head'):  # mmaction2: views in dim 1
        views = inputs.shape[1]
        inputs = inputs.flatten(0, 1)
    out = model.backbone(inputs)
    if isinstance(out, (tuple, list)):
        out = out[-1]
    if out.dim() > 2 and getattr(model.backbone, 'token_layout',
                                 None) == 'windows':
        out = out.flatten(2).mean(-1)
    if out.dim() != 2:
        raise ValueError(
            f'the backbone gives {tuple(out.shape)}, not pooled (N, d) '
            f'features: use return_feat_map=False (video) or out_type '
            f"'cls_token' / 'avg_featmap' (image)")
    return out.reshape(batch, views, -1).mean(1)


def _label(sample) -> Tensor:
    label = sample.gt_label
    label = torch.as_tensor(label).reshape(-1)
    if label.numel() != 1:
        raise ValueError(f'one label per sample expected, got {label}')
    return label.long().cpu()


@torch.no_grad()
def extract(model: nn.Module,
            dataloader: Any,
            progress: bool = True) -> Tuple[Tensor, Tensor]:
    """Features ``(N, d)`` (float32, CPU) and labels ``(N,)`` of every
    sample of ``dataloader``, in its order, with ``model`` in eval mode.

    ``model`` is an mmaction2 recognizer or an mmpretrain classifier; its
    ``data_preprocessor`` moves and normalises each batch (on the model's
    device). ``progress`` shows mmengine's progress bar.
    """
    from mmengine.utils import ProgressBar
    model.eval()
    bar = ProgressBar(len(dataloader.dataset)) if progress else None
    features, labels = [], []
    for batch in dataloader:
        data = model.data_preprocessor(batch, False)
        features.append(pooled_features(model, data['inputs']).float().cpu())
        labels.append(torch.cat([_label(s) for s in data['data_samples']]))
        if bar is not None:
            bar.update(len(labels[-1]))
    if bar is not None:
        print()
    if not features:
        raise ValueError('the dataloader gave no batch')
    return torch.cat(features), torch.cat(labels)


def split_dataloader_cfg(cfg, split: str,
                         batch_size: Optional[int] = None,
                         num_workers: Optional[int] = None) -> dict:
    """The ``{split}_dataloader`` of ``cfg``, in dataset order, every sample
    once (no ``drop_last``) as one view (a feature cache cannot re-augment).

    Wrappers that repeat samples (``RepeatedAugDataset``'s K views,
    mmengine's ``RepeatDataset``: :class:`~.pipeline.WrapperRole`) are
    dropped, and with them the loader's ``collate_fn`` when it is theirs
    (``repeated_aug_collate``); a data-scale subset stays. ``'train'``
    reads its annotations through the val pipeline (that of the dataset
    inside every wrapper of ``val_dataloader``).
    """
    if split not in SPLITS:
        raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
    loader = cfg.get(f'{split}_dataloader')
    if not loader:
        raise KeyError(f'config {cfg.filename or "(text)"} has no '
                       f'{split}_dataloader')
    loader = copy.deepcopy(loader.to_dict() if hasattr(loader, 'to_dict')
                           else dict(loader))
    inner, chain = unwrap_dataset_cfg(loader['dataset'],
                                      f'{split}_dataloader.dataset')
    if split == 'train':
        val = cfg.get('val_dataloader')
        if not val:
            raise KeyError('--split train uses the val pipeline; the config '
                           'has no val_dataloader')
        inner['pipeline'] = copy.deepcopy(
            unwrap_dataset_cfg(val['dataset'])[0]['pipeline'])
    dataset = inner
    for level in reversed(chain):
        if not level.role.repeats:
            dataset = dict(level.dataset, dataset=dataset)
    loader['dataset'] = dataset
    dropped = {level.collate_fn for level in chain
               if level.role.repeats and level.collate_fn}
    if _collate_name(loader.get('collate_fn')) in dropped:
        del loader['collate_fn']  # the Runner's default: pseudo_collate
    loader['sampler'] = dict(type='DefaultSampler', shuffle=False)
    loader.pop('batch_sampler', None)
    loader.pop('drop_last', None)  # every sample, the last batch included
    if batch_size is not None:
        loader['batch_size'] = batch_size
    if num_workers is not None:
        loader['num_workers'] = num_workers
    if not loader.get('num_workers'):
        loader['persistent_workers'] = False
    return loader


def _collate_name(collate_fn: Any) -> Optional[str]:
    """A loader's ``collate_fn`` by name: its config's type without scope,
    or the function's name."""
    if collate_fn is None:
        return None
    if isinstance(collate_fn, dict):
        return step_name(collate_fn)
    return getattr(collate_fn, '__name__', None)


# ----------------------------------------------------------------- cache
def file_checksum(path: str) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def feature_key(cfg, loader_cfg: dict, checkpoint_sha: str, split: str,
                backbone_only: bool) -> str:
    """What decides the features, hashed: the model config, the split's
    dataset as the config writes it (every wrapper with its settings: the
    repeats, a subset's fraction or shots, fold and seed), the dataset
    ``loader_cfg`` reads (:func:`split_dataloader_cfg`: its pipeline) and
    its collate function, the checkpoint's bytes, the split and how the
    checkpoint loads; not the batch size or the workers."""
    written = cfg[f'{split}_dataloader']['dataset']
    collate = loader_cfg.get('collate_fn')
    plain = json.dumps(
        dict(model=_plain(cfg.model), dataset=_plain(written),
             read=_plain(loader_cfg.get('dataset')),
             # a config as written; a function by name (not its address)
             collate_fn=_plain(collate) if isinstance(collate, dict)
             else _collate_name(collate),
             checkpoint=checkpoint_sha, split=split,
             backbone_only=backbone_only),
        sort_keys=True, default=repr)
    return hashlib.sha256(plain.encode()).hexdigest()


def _plain(value: Any) -> Any:
    return value.to_dict() if hasattr(value, 'to_dict') else value


def load_backbone_only(model: nn.Module, checkpoint: str) -> None:
    """The ``backbone.`` tensors of ``checkpoint`` into ``model.backbone``;
    every stock backbone tensor must be there (method tensors, absent from
    a pre-training checkpoint, keep their init)."""
    from adaptformer_mm.apis import read_backbone
    state = {k[len('backbone.'):]: v
             for k, v in read_backbone(checkpoint).items()}
    if not state:
        raise KeyError(f'{checkpoint} has no backbone.* tensors')
    backbone = model.backbone
    stock = set(getattr(backbone, '_stock_keys', ()))
    deterministic = set(getattr(backbone, 'deterministic_keys',
                                lambda: ())())
    missing, _ = backbone.load_state_dict(state, strict=False)
    missing = [k for k in missing
               if (not stock or k in stock) and k not in deterministic]
    if missing:
        raise KeyError(f'{checkpoint} lacks {len(missing)} backbone '
                       f'tensor(s) (first: {missing[:5]})')


def cached_features(config: Union[str, Any],
                    checkpoint: str,
                    split: str = 'val',
                    out: Optional[str] = None,
                    force: bool = False,
                    backbone_only: bool = False,
                    batch_size: Optional[int] = None,
                    num_workers: Optional[int] = None,
                    device: str = 'cpu',
                    progress: bool = True) -> Tuple[FeatureSet, str, bool]:
    """The features of ``split`` under ``checkpoint``, extracted once.

    Args:
        config: config file, text or ``Config`` (overrides already merged).
        checkpoint: a checkpoint of ``config`` (full, tunable-only or task
            file: :func:`adaptformer_mm.apis.load_weights`), or with
            ``backbone_only`` any checkpoint whose ``backbone.*`` tensors fit
            (a pre-training run's, say).
        out: the feature file; default
            ``{work_dir}/features/{split}_{key[:12]}.pth`` (``work_dir``:
            the config's, else ``work_dirs/{config name}``).
        force: re-extract and overwrite ``out`` whatever it holds.

    Returns:
        ``(features, path, reused)``. An existing ``out`` of the same key
        is read, not recomputed; one of another key is a
        ``FileExistsError`` unless ``force``.
    """
    from adaptformer_mm.apis import build_model, load_config, load_weights
    from mmengine.runner import Runner
    cfg = load_config(config)
    loader_cfg = split_dataloader_cfg(cfg, split, batch_size, num_workers)
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
    sha = file_checksum(checkpoint)
    key = feature_key(cfg, loader_cfg, sha, split, backbone_only)
    if out is None:
        name = osp.splitext(osp.basename(cfg.filename or 'config'))[0]
        work_dir = cfg.get('work_dir') or osp.join('work_dirs', name)
        out = osp.join(work_dir, 'features', f'{split}_{key[:12]}.pth')
    if osp.exists(out) and not force:
        try:
            old = FeatureSet.load(out)
        except Exception as e:  # noqa: BLE001 (any unreadable file)
            raise FileExistsError(
                f'{out} exists and is not a feature file ({e}); pass '
                f'--force to overwrite it') from e
        if old.meta.get('key') != key:
            raise FileExistsError(
                f'{out} holds features of another config, checkpoint or '
                f'split (key {str(old.meta.get("key"))[:12]}, this run '
                f'{key[:12]}); pass --force to overwrite it')
        return old, out, True
    model = build_model(cfg, device)
    if backbone_only:
        # Method modules keep the init they got at build (no init_weights:
        # it would read the config's own Pretrained file).
        load_backbone_only(model, checkpoint)
    else:
        load_weights(model, checkpoint)
    dataloader = Runner.build_dataloader(loader_cfg)
    features, labels = extract(model.to(device), dataloader, progress)
    dataset = dataloader.dataset
    classes = list((getattr(dataset, 'metainfo', None) or {}).get(
        'classes') or [])
    meta = dict(key=key, config=cfg.filename or '', checkpoint=checkpoint,
                checkpoint_sha256=sha, split=split,
                backbone_only=backbone_only,
                backbone=type(model.backbone).__name__,
                classes=[str(c) for c in classes],
                num_samples=len(labels), feature_dims=features.shape[1])
    result = FeatureSet(features, labels, meta)
    result.save(out)
    return result, out, False


# ----------------------------------------------------------------- probe
class FeatureProbe(BaseModel):
    """One of the project's heads (``BNLinearHead``, ``MLPHead``) on cached
    features, as the model an mmengine ``Runner`` trains.

    A batch is ``[features (B, d), labels (B,)]``, items of
    :class:`CachedFeatureDataset` stacked by ``default_collate``.
    ``mode='loss'`` gives the head's own ``loss_cls`` (cross-entropy) of its
    scores; ``'tensor'`` and ``'predict'`` give the scores ``(B, C)``.
    """

    def __init__(self, head: nn.Module) -> None:
        super().__init__()
        self.head = head

    def forward(self, inputs: Tensor, labels: Optional[Tensor] = None,
                mode: str = 'tensor') -> Union[Tensor, Dict[str, Tensor]]:
        scores = self.head(inputs)
        if mode == 'loss':
            return dict(loss_cls=self.head.loss_cls(scores, labels))
        return scores


def top1(head: nn.Module, data: FeatureSet) -> float:
    """Top-1 accuracy of ``head`` (eval mode) on ``data``."""
    head.eval()
    with torch.no_grad():
        pred = head(data.features).argmax(1)
    return (pred == data.labels).float().mean().item()


def train_probe(train: FeatureSet,
                val: FeatureSet,
                hidden_layers: int = 0,
                hidden_dims: Optional[int] = None,
                epochs: int = 100,
                lr: float = 1e-3,
                weight_decay: float = 1e-4,
                batch_size: int = 256,
                seed: int = 0) -> Tuple[nn.Module, float]:
    """A head trained on cached ``train`` features by an mmengine
    ``Runner``; returns it (on the CPU, eval mode) and its top-1 on ``val``.

    The head is the recipes' own: ``BNLinearHead`` (MAE's linear probe,
    ``BatchNorm1d(affine=False)`` then ``Linear``) for ``hidden_layers=0``,
    else ``MLPHead`` with ``hidden_layers + 1`` linear layers of width
    ``hidden_dims`` (default ``d``). The Runner trains it with AdamW
    (``lr``, ``weight_decay``, constant rate) on cross-entropy for
    ``epochs`` epochs of shuffled batches of ``batch_size`` (the last
    incomplete batch dropped: the BatchNorm needs two samples or more),
    seeded by ``seed`` (the same seed, the same weights). Its work dir is a
    temporary folder, removed after; no checkpoint is saved.

    Seconds on a CPU for thousands of samples, but not the configs'
    recipe: one un-augmented view per sample, and whatever the checkpoint's
    backbone ends with (a trained ``fc_norm``, say) stays as it is.
    """
    from mmengine.runner import Runner

    from adaptformer_mm.models.heads import BNLinearHead, MLPHead
    if train.features.shape[1] != val.features.shape[1]:
        raise ValueError(f'train and val features differ in width: '
                         f'{train.features.shape[1]} vs '
                         f'{val.features.shape[1]}')
    if hidden_layers < 0:
        raise ValueError(f'hidden_layers must be >= 0, got {hidden_layers}')
    num_classes = max(len(train.classes),
                      int(torch.cat((train.labels, val.labels)).max()) + 1)
    dims = train.features.shape[1]
    if hidden_layers == 0:
        head = BNLinearHead(num_classes, dims)
    else:
        head = MLPHead(num_classes, dims, mlp_cfg=dict(
            num_layers=hidden_layers + 1, hidden_dims=hidden_dims))
    probe = FeatureProbe(head)
    with tempfile.TemporaryDirectory(prefix='probe_') as work_dir:
        runner = Runner(
            model=probe,
            work_dir=work_dir,
            # A unique name: mmengine keeps one logger and message hub per
            # name for the process.
            experiment_name=osp.basename(work_dir),
            train_dataloader=dict(
                dataset=CachedFeatureDataset(train), batch_size=batch_size,
                sampler=dict(type='DefaultSampler', shuffle=True),
                collate_fn=dict(type='default_collate'),
                drop_last=len(train.labels) > batch_size, num_workers=0),
            optim_wrapper=dict(optimizer=dict(
                type='AdamW', lr=lr, weight_decay=weight_decay)),
            train_cfg=dict(by_epoch=True, max_epochs=epochs),
            default_hooks=dict(checkpoint=None, logger=None),
            randomness=dict(seed=seed),
            log_level='WARNING',
            # The caller's registry scope stays the current one.
            default_scope=None)
        try:
            runner.train()
        finally:
            _forget_runner(runner)
    probe.cpu()
    return head, top1(head, val)


def _forget_runner(runner: Any) -> None:
    """Close the Runner's log file (in its work dir, about to be removed)
    and forget its logger, message hub and visualizer: mmengine keeps them
    for the process, the latest as the 'current' one that a later
    ``print_log`` writes through (this one's level is WARNING)."""
    from mmengine.logging import MessageHub, MMLogger
    from mmengine.visualization import Visualizer
    for handler in list(runner.logger.handlers):
        runner.logger.removeHandler(handler)
        handler.close()
    for cls in (MMLogger, MessageHub, Visualizer):
        cls._instance_dict.pop(runner.experiment_name, None)


def same_samples(sets: Sequence[FeatureSet], names: Sequence[str]) -> Tensor:
    """The labels every set shares (the same split in the same order), else
    a ``ValueError`` naming the first set that differs."""
    labels = sets[0].labels
    for data, name in zip(sets[1:], names[1:]):
        if not torch.equal(data.labels, labels):
            raise ValueError(
                f'{name} is not the same samples as {names[0]} '
                f'({len(data.labels)} vs {len(labels)} labels, or another '
                f'order): extract the same split of the same dataset')
    return labels
