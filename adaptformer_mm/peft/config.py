"""What every method config shares: built once from a config's dict, frozen,
checked once, written back as plain data.

A method's config (:class:`~.adapter.AdapterConfig`,
:class:`~.prompt.PromptConfig`) is a frozen dataclass holding every default
and every check of its fields, in the manner of HF peft's ``LoraConfig``.
Config files keep writing ``adapter_cfg=dict(bottleneck=64)``; the backbone
turns that dict into the typed config the moment it enters the code
(:meth:`MethodConfig.from_cfg`), and the modules, the forward pass and the
task-file metadata (:meth:`MethodConfig.to_dict`) all read that one object.

Pure Python: nothing here knows about torch, mmengine or OpenMMLab.
"""
import dataclasses
from typing import (Any, ClassVar, Dict, List, Mapping, Optional, Sequence,
                    Tuple, TypeVar, Union)

C = TypeVar('C', bound='MethodConfig')


@dataclasses.dataclass(frozen=True)
class MethodConfig:
    """Base of the frozen per-method configs.

    A subclass sets :attr:`key` (the config-file name of its dict, used in
    every error message: ``adapter_cfg.bottleneck must be ...``) and checks
    its fields in :meth:`check`, which runs once, when the config is made.
    """

    #: Name of the config dict in config files and errors (``adapter_cfg``).
    key: ClassVar[str] = 'method_cfg'

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Raise ``ValueError`` naming ``key.<field>`` and the valid values.
        Called once by the constructor; nothing else validates fields."""

    @classmethod
    def field_names(cls) -> List[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_cfg(cls: 'type[C]',
                 cfg: Union[None, Mapping[str, Any], 'MethodConfig'] = None,
                 **defaults: Any) -> C:
        """The config from what a config file gives.

        Args:
            cfg: ``None`` (every default), a dict of overrides as config files
                write it (``adapter_cfg=dict(bottleneck=8)``), or a config of
                this type (returned as it is).
            **defaults: defaults of the caller that differ from the class's
                (the image backbone's adapter dropout 0.1); fields in ``cfg``
                override them.

        Raises:
            ValueError: ``cfg`` has a field this config does not know (the
                message names it and every valid field), or a field's value
                is invalid (see :meth:`check`).
        """
        if isinstance(cfg, cls):
            return cfg
        if cfg is not None and not isinstance(cfg, Mapping):
            raise ValueError(f'{cls.key} must be a dict of '
                             f'{sorted(cls.field_names())} or a '
                             f'{cls.__name__}, got {cfg!r}')
        cfg = dict(cfg or {})
        valid = cls.field_names()
        unknown = sorted(set(cfg) - set(valid))
        if unknown:
            raise ValueError(f'{cls.key} has unknown field(s) {unknown}; '
                             f'valid fields: {sorted(valid)}')
        return cls(**{**defaults, **cfg})

    @classmethod
    def given(cls: 'type[C]', owner: str, config: Optional['MethodConfig'],
              fields: Mapping[str, Any]) -> C:
        """The config a module was given: one of this type, or its fields
        by name (``AdaptMLP(64, bottleneck=8)``), not both."""
        if config is not None and fields:
            raise TypeError(f'{owner} takes a {cls.__name__} or its fields '
                            f'by name, not both (got {sorted(fields)})')
        if config is None:
            return cls.from_cfg(fields)
        if not isinstance(config, cls):
            raise TypeError(f'{owner} config must be of type {cls.__name__}, '
                            f'got {type(config).__name__} (build one with '
                            f'{cls.__name__}.from_cfg(dict(...)))')
        return config

    def to_dict(self) -> Dict[str, Any]:
        """Plain data (tuples as lists), as a config file would write it and
        as task files store it; :meth:`from_cfg` reads it back."""
        return {
            f.name: _plain(getattr(self, f.name))
            for f in dataclasses.fields(self)
        }

    def replace(self: C, **changes: Any) -> C:
        """A copy with ``changes`` (checked again)."""
        return dataclasses.replace(self, **changes)


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def is_int(value: Any) -> bool:
    """An ``int`` that is not a ``bool``."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """An ``int`` or ``float`` that is not a ``bool``."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_choice(key: str, value: Any, valid: Sequence[Any]) -> None:
    if value not in valid:
        raise ValueError(f'{key} must be one of {valid}, got {value!r}')


def check_count(key: str, value: Any, none: Optional[str] = None,
                note: str = '') -> None:
    """``value`` must be an int >= 1; with ``none`` (what None means, e.g.
    "the backbone's"), None too. ``note`` follows the rule in the message."""
    if value is None and none is not None:
        return
    if not is_int(value) or value < 1:
        rule = f'None ({none}) or an int >= 1' if none else 'an int >= 1'
        raise ValueError(f'{key} must be {rule}{note}, got {value!r}')


def check_dropout(key: str, value: Any) -> None:
    if not is_number(value) or not 0.0 <= value < 1.0:
        raise ValueError(
            f'{key} must be a number in [0, 1), got {value!r}')


def layers_field(key: str, layers: Any) -> Optional[Tuple[int, ...]]:
    """A ``layers`` field as stored in a frozen config: None (every block)
    or a tuple of ints; anything else is a ``ValueError`` naming ``key``.
    Range and duplicates need the depth: see :func:`resolve_layers`."""
    if layers is None:
        return None
    if isinstance(layers, (str, bytes, Mapping)) or not isinstance(
            layers, Sequence) or not all(is_int(i) for i in layers):
        raise ValueError(f'{key} must be None (every block) or a list of '
                         f'block indices, got {layers!r}')
    return tuple(layers)


def resolve_layers(key: str, layers: Optional[Sequence[int]],
                   depth: int) -> Tuple[int, ...]:
    """The blocks a ``layers`` field selects in a model of ``depth`` blocks.

    ``None`` -> every block; otherwise the indices sorted. Indices outside
    ``[0, depth)``, an empty list or a repeated index are a ``ValueError``
    naming ``key`` and the valid range (duplicates are refused, not merged:
    ``[1, 1]`` is more likely a typo than a wish).
    """
    if layers is None:
        return tuple(range(depth))
    layers = list(layers)
    bad = [i for i in layers if not 0 <= i < depth]
    if bad or not layers or len(set(layers)) != len(layers):
        raise ValueError(
            f'{key} must be None (every block) or a non-empty list of '
            f'distinct block indices in [0, {depth}) (depth={depth}), got '
            f'{layers!r}')
    return tuple(sorted(layers))
