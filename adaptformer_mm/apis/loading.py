"""Build a model from a config and fill it from any checkpoint we write.

Three kinds of checkpoint reach inference: a full one (mmengine's, every
tensor), a tunable-only one (``TunableCheckpointHook``) and a task file
(``tools/export_peft.py``). The last two need the pretrained backbone for the
frozen tensors and must have been trained on exactly that backbone (checked
by checksum); both are restored by
:func:`adaptformer_mm.peft.tunable_state.restore_tunable_state`, the one path
the checkpoint hook and task files use too.
"""
import logging
import os.path as osp
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Union

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import MODELS, init_default_scope
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

import adaptformer_mm  # noqa: F401  (stack fixes + registrations)
from adaptformer_mm.engine.checkpoint_io import safe_torch_load
from adaptformer_mm.peft.task_file import (TaskFile, load_task_file,
                                           read_task_file, tunable_only_info)
from adaptformer_mm.peft.tunable_state import (backbone_state,
                                               pretrained_backbone_file,
                                               restore_tunable_state,
                                               strip_module_prefix)

ConfigLike = Union[str, Config]


def load_config(config: ConfigLike) -> Config:
    """A :class:`Config` from a file path, config text (as stored in a
    checkpoint's ``meta.cfg``) or a Config."""
    if isinstance(config, Config):
        return config
    if not isinstance(config, str) or not config.strip():
        raise ValueError(f'config must be a file path, config text or a '
                         f'mmengine Config, got {config!r}')
    if '\n' not in config and config.endswith('.py'):
        if not osp.isfile(config):
            raise FileNotFoundError(f'config file not found: {config}')
        return Config.fromfile(config)
    return Config.fromstring(config, file_format='.py')


def build_model(config: ConfigLike, device: str = 'cpu') -> nn.Module:
    """``cfg.model`` built in the config's ``default_scope`` (mmaction for
    video, mmpretrain for image configs), in eval mode, with ``model.cfg``
    set. No weights are initialised or loaded."""
    cfg = load_config(config)
    if 'model' not in cfg:
        raise KeyError(f'config {cfg.filename or "(text)"} has no `model`')
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    model = MODELS.build(cfg.model)
    model.cfg = cfg
    return model.to(device).eval()


# The factories modules make their weights with. Anything else (linspace,
# arange, tensor) stays on the CPU: constructors read such small tensors
# back (mmaction2's ViT takes its drop-path rates from linspace(...).item()
# and builds its sinusoid table from arange), which a meta tensor cannot give.
_WEIGHT_FACTORIES = (torch.empty, torch.zeros, torch.ones, torch.full,
                     torch.rand, torch.randn, torch.randint, torch.normal)


class _WeightsOnMeta(TorchFunctionMode):
    """Weight factories without a device make ``meta`` tensors."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func in _WEIGHT_FACTORIES and kwargs.get('device') is None:
            kwargs['device'] = 'meta'
        return func(*args, **kwargs)


@contextmanager
def weights_on_meta() -> Iterator[None]:
    """Modules built inside have their parameters (and the tensor buffers
    the weight factories make) on the meta device: shapes and trainable
    flags, no storage."""
    with _WeightsOnMeta():
        yield


def build_on_meta(config: ConfigLike) -> nn.Module:
    """:func:`build_model` with meta weights: the shapes and trainable flags
    of the model without allocating them (a ViT-g counts in a second)."""
    with weights_on_meta():
        return build_model(config, 'meta')


def read_backbone(path: str, prefix: str = 'backbone.') -> Dict[str, Tensor]:
    """Backbone tensors of a pretrained file, keyed as in the whole model
    (see :func:`adaptformer_mm.peft.tunable_state.backbone_state`)."""
    return backbone_state(safe_torch_load(path, map_location='cpu'), prefix)


def _inner_dataset(cfg: Config, loader: str) -> dict:
    """The dataset config of ``cfg.<loader>`` inside its wrappers ({} when
    there is none)."""
    from ..datasets.pipeline import unwrap_dataset_cfg
    dataset = (cfg.get(loader) or {}).get('dataset') or {}
    return unwrap_dataset_cfg(dataset)[0]


def test_pipeline_cfg(cfg: Config) -> List[dict]:
    """The config's test pipeline: ``test_pipeline``, else the pipeline of
    ``test_dataloader`` / ``val_dataloader``."""
    if cfg.get('test_pipeline'):
        return list(cfg.test_pipeline)
    for loader in ('test_dataloader', 'val_dataloader'):
        pipeline = _inner_dataset(cfg, loader).get('pipeline')
        if pipeline:
            return list(pipeline)
    raise KeyError(
        f'config {cfg.filename or "(text)"} has no test pipeline: set '
        '`test_pipeline` or `test_dataloader.dataset.pipeline`')


def config_classes(cfg: Config) -> List[str]:
    """Class names a config states (``dataset.metainfo.classes`` or the
    dataset's ``classes``, inside any wrapper), else []."""
    for loader in ('test_dataloader', 'val_dataloader', 'train_dataloader'):
        dataset = _inner_dataset(cfg, loader)
        classes = (dataset.get('metainfo') or {}).get('classes') or \
            dataset.get('classes')
        if isinstance(classes, (list, tuple)):
            return [str(c) for c in classes]
    return []


def read_label_file(path: str) -> List[str]:
    """One class name per line (index = label); blank lines are skipped."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'label file not found: {path}')
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def load_weights(model: nn.Module,
                 checkpoint: str,
                 task_file: Optional[Union[str, TaskFile]] = None,
                 backbone: Optional[str] = None,
                 loaded: Optional[dict] = None) -> List[str]:
    """Fill ``model`` from a checkpoint; returns the class names the files
    carry ([] when none).

    * ``task_file`` given: ``checkpoint`` is the pretrained backbone and the
      task file supplies the trainable tensors.
    * ``checkpoint`` tunable-only (a task file, or saved by
      ``TunableCheckpointHook``): the frozen tensors come from ``backbone``,
      else the config's ``model.backbone.init_cfg`` Pretrained file.
    * ``checkpoint`` full: every tensor comes from it; a missing tensor is a
      ``KeyError`` naming it.

    ``loaded`` is ``checkpoint`` already read (saves a second read).
    Mismatching backbones raise ``BackboneMismatchError`` naming both
    checksums.
    """
    if task_file is not None:
        if backbone is not None:
            raise ValueError('with a task file, CHECKPOINT is the backbone; '
                             'do not pass a second backbone')
        task = read_task_file(task_file) if isinstance(task_file, str) \
            else task_file
        load_task_file(model, task, read_backbone(checkpoint), checkpoint)
        return task.classes
    ckpt = loaded if loaded is not None else safe_torch_load(
        checkpoint, map_location='cpu')
    meta = ckpt.get('meta') or {}
    classes = list(meta.get('classes') or
                   (meta.get('dataset_meta') or {}).get('classes') or [])
    classes = [str(c) for c in classes]
    info = tunable_only_info(ckpt)
    state = ckpt.get('state_dict', ckpt)
    if info is not None:
        backbone = backbone or pretrained_backbone_file(
            getattr(model, 'cfg', {})) or info.get('pretrained')
        if not backbone:
            raise ValueError(
                f'{checkpoint} holds only the trainable tensors; name the '
                'pretrained backbone they were trained on (--backbone FILE, '
                'or model.backbone.init_cfg in the config)')
        prefix = info.get('backbone_prefix', 'backbone.')
        restore_tunable_state(model, state, read_backbone(backbone, prefix),
                              info['backbone_checksum'], checkpoint, backbone)
        return classes
    if backbone is not None:
        raise ValueError(f'{checkpoint} is a full checkpoint (every tensor); '
                         '--backbone applies to tunable-only ones')
    missing, unexpected = model.load_state_dict(
        dict(strip_module_prefix(state)), strict=False)
    if missing:
        raise KeyError(
            f'{checkpoint} lacks {len(missing)} tensor(s) of the model '
            f'(first: {missing[:5]}); is it a checkpoint of this config?')
    if unexpected:
        print_log(f'{checkpoint}: ignored tensors the model does not have: '
                  f'{unexpected[:10]}', logger='current',
                  level=logging.WARNING)
    return classes


def init_model(config: ConfigLike,
               checkpoint: Optional[str] = None,
               task_file: Optional[str] = None,
               backbone: Optional[str] = None,
               device: str = 'cpu') -> nn.Module:
    """Build ``config``'s model and load weights (see :func:`load_weights`).
    ``model.classes`` holds the class names found in the files."""
    model = build_model(config, device)
    model.classes = []
    if checkpoint is not None:
        model.classes = load_weights(model, checkpoint, task_file, backbone)
    elif task_file is not None:
        raise ValueError('a task file needs the backbone checkpoint too')
    return model.eval()

