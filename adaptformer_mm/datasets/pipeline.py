"""Helpers for reading pipeline and dataset configs, shared by the datasets,
the tools and the benchmarks (so that neither imports the other for them).

* :func:`step_name`: a pipeline step's type without its scope;
* :func:`decode_steps`: where a pipeline's decode part ends (what
  ``RepeatedAugDataset`` runs once per video);
* :func:`unwrap_dataset_cfg` (configs) and :func:`unwrap_dataset` (built
  datasets): the dataset inside every wrapper, and the wrappers on the way
  as :class:`DatasetLevel` records that say which collate function and
  which pipeline steps belong to each (:data:`DATASET_WRAPPERS`).
"""
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple


def step_name(transform) -> str:
    """A pipeline step's type without its scope (``'mmaction.Resize'`` ->
    ``'Resize'``), from its config dict or the built transform."""
    if isinstance(transform, dict):
        return str(transform.get('type', '')).split('.')[-1]
    return type(transform).__name__


def decode_steps(pipeline: Sequence,
                 num_decode_steps: Optional[int] = None) -> int:
    """How many leading steps of ``pipeline`` (configs or built transforms)
    are its decode part: ``num_decode_steps`` when given, else up to and
    including the last step whose type ends with ``Decode``
    (``DecordDecode``, ``ScaledDecordDecode``, ``PyAVDecode``, ...). Both
    parts must be non-empty; else a ``ValueError`` naming the steps."""
    names = [step_name(t) for t in pipeline]
    if num_decode_steps is None:
        decodes = [i for i, n in enumerate(names) if n.endswith('Decode')]
        if not decodes:
            raise ValueError(
                f'pipeline {names} has no *Decode step: set '
                'num_decode_steps to the number of steps to run once')
        num_decode_steps = decodes[-1] + 1
    if not 0 < num_decode_steps < len(names):
        raise ValueError(
            f'num_decode_steps={num_decode_steps} must leave steps on '
            f'both sides of the split of {names}')
    return num_decode_steps


# --------------------------------------------------------- dataset wrappers
@dataclass(frozen=True)
class WrapperRole:
    """What a dataset wrapper does with the dataset it holds (under the key
    ``dataset`` of its config, the attribute ``dataset`` when built).

    Args:
        repeats: its items repeat the inner samples (K augmented views of
            one video, the dataset repeated or oversampled), so a tool that
            needs every sample once (a feature cache) reads the inner
            dataset instead; False: it chooses samples (a subset) or passes
            them on.
        collate_fn: the collate function a loader over the wrapper needs
            (its items are not single samples); None: that of the dataset
            inside.
        own_pipeline: the attribute of the built wrapper that holds the
            pipeline steps it runs itself on each item of the dataset inside
            (``RepeatedAugDataset``: ``augment``, the steps after
            :func:`decode_steps` of that dataset's configured pipeline,
            which then runs only the decode part); None: it runs none.
    """
    repeats: bool = False
    collate_fn: Optional[str] = None
    own_pipeline: Optional[str] = None


#: The wrappers whose role is known, by type. Any other dataset config with
#: a ``dataset`` dict (any built dataset with a ``dataset`` attribute) is a
#: wrapper too, of role :data:`OTHER_WRAPPER`.
DATASET_WRAPPERS: Dict[str, WrapperRole] = {
    # adaptformer_mm.datasets: K augmented clips per decoded video, and a
    # data-scale subset.
    'RepeatedAugDataset': WrapperRole(
        repeats=True, collate_fn='repeated_aug_collate',
        own_pipeline='augment'),
    'ClassBalancedSubset': WrapperRole(),
    # mmengine's: the dataset N times, and oversampling of rare classes.
    'RepeatDataset': WrapperRole(repeats=True),
    'ClassBalancedDataset': WrapperRole(repeats=True),
}
OTHER_WRAPPER = WrapperRole()


@dataclass(frozen=True)
class DatasetLevel:
    """One wrapper on the way to the dataset inside.

    Attributes:
        type: its type, without scope (``'ClassBalancedSubset'``).
        key: where it sits under the loader or the key given to
            :func:`unwrap_dataset_cfg` (``'train_dataloader.dataset'``);
            the dataset it holds is at :attr:`inner_key`.
        dataset: its config dict (the same object: changing it changes the
            config) or the built wrapper.
        role: :class:`WrapperRole`.
        inner_pipeline: for a config, the configured pipeline of the dataset
            it holds (that of the first level below with one), which a
            wrapper with :attr:`WrapperRole.own_pipeline` splits when built.
    """
    type: str
    key: str
    dataset: Any
    role: WrapperRole
    inner_pipeline: Optional[Sequence] = None

    @property
    def collate_fn(self) -> Optional[str]:
        """The collate function a loader over this level needs (None: that
        of the dataset inside)."""
        return self.role.collate_fn

    @property
    def pipeline(self) -> Optional[Any]:
        """The steps this wrapper runs itself on each item of the dataset
        inside, which runs the rest of its pipeline: for
        ``RepeatedAugDataset`` the augment part (config dicts, or the built
        ``Compose``); None: none. A config whose pipeline cannot be split
        is a ``ValueError`` (:func:`decode_steps`), as building it is."""
        if self.role.own_pipeline is None:
            return None
        if not isinstance(self.dataset, dict):
            return getattr(self.dataset, self.role.own_pipeline)
        if self.inner_pipeline is None:
            return None
        steps = list(self.inner_pipeline)
        return steps[decode_steps(steps,
                                  self.dataset.get('num_decode_steps')):]

    @property
    def inner_key(self) -> str:
        return f'{self.key}.dataset'

    def __str__(self) -> str:
        if isinstance(self.dataset, dict):
            settings = ', '.join(
                f'{k}={v!r}' for k, v in self.dataset.items()
                if k not in ('type', 'dataset', '_delete_'))
            return f'{self.type}({settings}) at {self.key}'
        return f'{self.type} at {self.key}'


def _wraps_cfg(dataset_cfg: Any) -> bool:
    return isinstance(dataset_cfg, dict) and isinstance(
        dataset_cfg.get('dataset'), dict)


def unwrap_dataset_cfg(dataset_cfg: dict, key: str = 'dataset'
                       ) -> Tuple[dict, List[DatasetLevel]]:
    """The dataset config inside every wrapper, and the wrappers.

    Args:
        dataset_cfg: a dataset config (``cfg.train_dataloader.dataset``).
        key: where ``dataset_cfg`` sits, for :attr:`DatasetLevel.key` and
            messages.

    Returns:
        ``(inner, chain)``: the innermost dataset config (the same dict
        object: changing it changes ``dataset_cfg``) and one
        :class:`DatasetLevel` per wrapper, outermost first (empty when
        ``dataset_cfg`` wraps nothing). A wrapper is a config with a
        ``dataset`` dict; one of several datasets (``ConcatDataset``'s
        ``datasets`` list) is where the walk stops.
    """
    found = []
    while _wraps_cfg(dataset_cfg):
        found.append((dataset_cfg, key))
        dataset_cfg, key = dataset_cfg['dataset'], f'{key}.dataset'
    chain = []
    for depth, (level, level_key) in enumerate(found):
        name = step_name(level)
        below = [lv for lv, _ in found[depth + 1:]] + [dataset_cfg]
        steps = next((lv['pipeline'] for lv in below
                      if lv.get('pipeline') is not None), None)
        chain.append(DatasetLevel(
            name, level_key, level, DATASET_WRAPPERS.get(name, OTHER_WRAPPER),
            steps))
    return dataset_cfg, chain


def _wraps(dataset: Any) -> bool:
    inner = getattr(dataset, 'dataset', None)
    return inner is not None and not isinstance(inner, (str, dict)) and \
        hasattr(inner, '__getitem__') and hasattr(inner, '__len__')


def unwrap_dataset(dataset: Any, key: str = 'dataset'
                   ) -> Tuple[Any, List[DatasetLevel]]:
    """The built dataset inside every wrapper, and the wrappers
    (:func:`unwrap_dataset_cfg` for built datasets: a wrapper is a dataset
    whose ``dataset`` attribute is a dataset)."""
    chain = []
    while _wraps(dataset):
        name = type(dataset).__name__
        chain.append(DatasetLevel(
            name, key, dataset, DATASET_WRAPPERS.get(name, OTHER_WRAPPER)))
        dataset, key = dataset.dataset, f'{key}.dataset'
    return dataset, chain


def innermost_dataset_cfg(dataset_cfg: dict) -> dict:
    """The dataset config inside every wrapper (the same dict object, so that
    changing it changes ``dataset_cfg``): ``unwrap_dataset_cfg(...)[0]``."""
    return unwrap_dataset_cfg(dataset_cfg)[0]
