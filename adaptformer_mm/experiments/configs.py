"""Methods from config files: read, checked against each other, and given a
training-set size.

Every check runs before any stage starts and names the file, the key and
what would be valid (:class:`~.plan.ComparisonError`):

* a config that cannot be read, lacks a key a comparison needs
  (:data:`REQUIRED_KEYS`), or names a model, backbone, head or dataset type
  that is not registered in its ``default_scope`` (it would not build);
* configs that disagree on the training data (the train dataset's type,
  ``ann_file``, ``data_root`` or synthetic ``task``, inside any wrapper) or
  on the number of classes (the head's ``num_classes``).

A method's key is the first field of its file name (OpenMMLab's
``{method}_{backbone}_..._{dataset}.py``, e.g. ``adaptformer-64``), or the
whole name where two configs share that field.

Data sizes (the VPT paper's downstream data scales) go through
:class:`~adaptformer_mm.datasets.ClassBalancedSubset`, as the configs of
``configs/data_scales/`` do: an int is k training samples per class, a float
in (0, 1] a class-balanced fraction. A training set that is a subset already
gets the new size; any other is wrapped. The last batch is kept
(``drop_last=False``), as the data-scale configs do, so a small subset still
makes a step.
"""
import os.path as osp
from typing import Dict, List, Sequence, Tuple, Union

from .plan import ComparisonError, Size

#: Keys a config needs in a comparison (train, val and test splits, an
#: optimizer whose lr the grid sets).
REQUIRED_KEYS = ('model', 'train_dataloader.dataset', 'val_dataloader.dataset',
                 'test_dataloader.dataset', 'val_evaluator', 'test_evaluator',
                 'train_cfg', 'optim_wrapper.optimizer')
HEAD_KEYS = ('model.cls_head', 'model.head')  # mmaction2, mmpretrain
#: Train-set settings the methods must share.
DATASET_KEYS = ('type', 'ann_file', 'data_root', 'task')
_MISSING = object()


def lookup(cfg, key: str):
    """``cfg`` at a dotted key, or ``_MISSING``."""
    value = cfg
    for name in key.split('.'):
        if not hasattr(value, 'keys') or name not in value:
            return _MISSING
        value = value[name]
    return value


def read_config(path: str):
    """``Config.fromfile`` with a message naming the file."""
    from mmengine.config import Config
    if not osp.isfile(path):
        raise ComparisonError(f'{path}: no such config file')
    try:
        return Config.fromfile(path)
    except Exception as e:
        raise ComparisonError(f'{path}: cannot be read as a config '
                              f'({type(e).__name__}: {e})') from e


def _registered_types(cfg) -> List[Tuple[str, str, object]]:
    """(key, type, registry) of the model parts and datasets a run builds."""
    from mmengine.registry import DATASETS, MODELS

    from adaptformer_mm.datasets.pipeline import unwrap_dataset_cfg
    found = []
    for key in ('model', 'model.backbone') + HEAD_KEYS:
        part = lookup(cfg, key)
        if hasattr(part, 'keys') and 'type' in part:
            found.append((f'{key}.type', part['type'], MODELS))
    for split in ('train', 'val', 'test'):
        key = f'{split}_dataloader.dataset'
        inner, chain = unwrap_dataset_cfg(lookup(cfg, key), key)
        for level in chain:
            found.append((f'{level.key}.type', level.dataset.get('type'),
                          DATASETS))
        found.append((f'{chain[-1].inner_key if chain else key}.type',
                      inner.get('type'), DATASETS))
    return found


def check_config(path: str, cfg) -> None:
    """The keys a comparison needs, and registered types (module
    docstring)."""
    import adaptformer_mm  # noqa: F401  (registrations)
    for key in REQUIRED_KEYS:
        if lookup(cfg, key) in (_MISSING, None):
            raise ComparisonError(
                f'{path}: no `{key}`; a comparison needs {list(REQUIRED_KEYS)}'
                ' (the lr grid is scored on val, the seeds on test)')
    if all(lookup(cfg, k) is _MISSING for k in HEAD_KEYS):
        raise ComparisonError(f'{path}: no head ({" or ".join(HEAD_KEYS)})')
    scope = cfg.get('default_scope', 'mmaction')
    for key, kind, registry in _registered_types(cfg):
        name = kind if not isinstance(kind, str) or '.' in kind else \
            f'{scope}.{kind}'
        if not isinstance(kind, str) or registry.get(name) is None:
            raise ComparisonError(
                f'{path}: {key}={kind!r} is not a registered type in scope '
                f'{scope!r}: the config does not build')


def num_classes(path: str, cfg) -> Tuple[str, object]:
    """(key, value) of the head's number of classes."""
    for key in HEAD_KEYS:
        value = lookup(cfg, f'{key}.num_classes')
        if value is not _MISSING:
            return f'{key}.num_classes', value
    raise ComparisonError(f'{path}: no {" or ".join(HEAD_KEYS)}.num_classes')


def train_dataset(cfg) -> Dict[str, object]:
    """The settings of :data:`DATASET_KEYS` of the training set (inside any
    wrapper), the type without its scope."""
    from adaptformer_mm.datasets.pipeline import step_name, unwrap_dataset_cfg
    inner, _ = unwrap_dataset_cfg(cfg.train_dataloader.dataset)
    out = {k: inner.get(k) for k in DATASET_KEYS}
    out['type'] = step_name(inner)
    return out


def check_agree(paths: Sequence[str], cfgs: Sequence) -> None:
    """Every config trains on the data and classes of the first."""
    first = paths[0]
    data0, (head_key, classes0) = train_dataset(cfgs[0]), num_classes(
        first, cfgs[0])
    for path, cfg in zip(paths[1:], cfgs[1:]):
        data = train_dataset(cfg)
        for key in DATASET_KEYS:
            if data[key] != data0[key]:
                raise ComparisonError(
                    f'{path} and {first} disagree on the training data: '
                    f'train_dataloader.dataset.{key} is {data[key]!r} and '
                    f'{data0[key]!r}; the methods of a comparison train on '
                    'one dataset')
        key, classes = num_classes(path, cfg)
        if classes != classes0:
            raise ComparisonError(
                f'{path} and {first} disagree on the number of classes: '
                f'{key}={classes!r}, {head_key}={classes0!r}')


def method_keys(paths: Sequence[str]) -> List[str]:
    """Each config's key (module docstring); an error for one file given
    twice."""
    stems = [osp.splitext(osp.basename(p))[0] for p in paths]
    firsts = [s.split('_')[0] for s in stems]
    keys = [f if firsts.count(f) == 1 else s for f, s in zip(firsts, stems)]
    seen: Dict[str, str] = {}
    for path, key in zip(paths, keys):
        if key in seen:
            raise ComparisonError(
                f'CONFIG: {seen[key]} and {path} have the same file name '
                f'({key}); give each method its own config file name')
        seen[key] = path
    return keys


def task_name(paths: Sequence[str], cfgs: Sequence) -> str:
    """The dataset field of the config names (their last field) when they
    share it, else the training set's type."""
    lasts = {osp.splitext(osp.basename(p))[0].split('_')[-1] for p in paths}
    if len(lasts) == 1 and len(paths) > 1:
        return lasts.pop()
    return train_dataset(cfgs[0])['type']


def parse_data_sizes(values: Sequence[str]) -> Tuple[Tuple[Size, ...], str]:
    """``--data-sizes`` values: all ints (k shots per class) or all numbers
    in (0, 1] with a decimal point (fractions); ``(sizes, unit)``."""
    sizes: List[Union[int, float]] = []
    for text in values:
        try:
            sizes.append(float(text) if '.' in text or 'e' in text.lower()
                         else int(text))
        except ValueError:
            raise ComparisonError(
                f'--data-sizes: {text!r} is not a number; give k samples '
                'per class (16) or fractions (0.1)') from None
    shots = [s for s in sizes if isinstance(s, int)]
    if shots and len(shots) != len(sizes):
        raise ComparisonError(
            f'--data-sizes: {list(values)} mixes samples per class (ints) '
            'and fractions; give one kind')
    if shots and min(shots) < 1:
        raise ComparisonError(f'--data-sizes: {list(values)}; samples per '
                              'class must be >= 1')
    if not shots and not all(0 < s <= 1 for s in sizes):
        raise ComparisonError(f'--data-sizes: {list(values)}; fractions '
                              'must be in (0, 1]')
    if len(set(sizes)) != len(sizes):
        raise ComparisonError(f'--data-sizes: {list(values)}; give each '
                              'once')
    return tuple(sizes), 'shots' if shots else 'fraction'


def data_size_options(cfg, size: Size) -> Dict[str, object]:
    """Options that train ``cfg`` on ``size`` (module docstring)."""
    from adaptformer_mm.datasets.pipeline import unwrap_dataset_cfg
    if size is None:
        return {}
    setting = dict(shots=size, fraction=None) if isinstance(size, int) else \
        dict(shots=None, fraction=size)
    options = {'train_dataloader.drop_last': False}
    key = 'train_dataloader.dataset'
    _, chain = unwrap_dataset_cfg(cfg.train_dataloader.dataset, key)
    subset = [lv for lv in chain if lv.type == 'ClassBalancedSubset']
    if subset:
        options.update({f'{subset[0].key}.{k}': v
                        for k, v in setting.items()})
    else:
        dataset = cfg.train_dataloader.dataset
        options[key] = dict(_delete_=True, type='ClassBalancedSubset',
                            dataset=dataset.to_dict() if hasattr(
                                dataset, 'to_dict') else dict(dataset),
                            **{k: v for k, v in setting.items()
                               if v is not None})
    return options
