"""AdaptFormer's settings for a hierarchical (Swin) backbone.

A Swin backbone doubles its width at every stage, so one bottleneck for all
blocks does not fit: :class:`SwinAdapterConfig` is :class:`AdapterConfig`
with a per-stage ``bottleneck``. The authors' advice for Swin is
``bottleneck = dim // 12`` in each stage (AdaptFormer issue #4, "For Swin, we
use bottleneck=dim // 12, which can bring similar amount of parameters
compared with plain ViT"), the default here. Everything else (scale, init,
layernorm, dropout, parallel / sequential) is :class:`AdapterConfig`'s, with
its checks.

Pure Python: the stage widths come from the backbone at build.
"""
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Tuple, Union

from .adapter import AdapterConfig
from .config import MethodConfig, is_int

#: Default bottleneck of a stage of width ``d``: ``d // SWIN_WIDTH_DIVISOR``.
SWIN_WIDTH_DIVISOR = 12


@dataclasses.dataclass(frozen=True)
class SwinAdapterConfig(AdapterConfig):
    """:class:`AdapterConfig` with one bottleneck per Swin stage.

    Args:
        bottleneck (None | int | list[int]): None (default): ``width // 12``
            in each stage (at least 1), the authors' advice (AdaptFormer
            issue #4); Swin-B's stages of width 128/256/512/1024 get 10, 21,
            42, 85. An int: that width in every stage. A list: one int per
            stage, checked against the backbone's stage count at build
            (:meth:`stage_bottlenecks`).
        **fields: the other :class:`AdapterConfig` fields, with their
            defaults and checks (``layers`` counts blocks over all stages,
            stage 0 first).
    """

    bottleneck: Union[None, int, Tuple[int, ...]] = None

    def check(self) -> None:
        value = self.bottleneck
        if isinstance(value, Sequence) and not isinstance(value, str):
            if not value or not all(is_int(b) and b > 0 for b in value):
                raise ValueError(
                    f'{self.key}.bottleneck must be None (width // '
                    f'{SWIN_WIDTH_DIVISOR} per stage), a positive int or a '
                    f'list of positive ints (one per stage), got {value!r}')
            object.__setattr__(self, 'bottleneck', tuple(value))
        elif value is not None and (not is_int(value) or value <= 0):
            raise ValueError(
                f'{self.key}.bottleneck must be None (width // '
                f'{SWIN_WIDTH_DIVISOR} per stage), a positive int or a list '
                f'of positive ints (one per stage), got {value!r}')
        # Every other field: AdapterConfig's own checks, once, on a plain
        # config of the same fields (its layers tuple is kept).
        plain = self.for_stage(1)
        object.__setattr__(self, 'layers', plain.layers)

    @classmethod
    def from_cfg(cls,
                 cfg: Union[None, Mapping, MethodConfig] = None,
                 **defaults: Any) -> 'SwinAdapterConfig':
        """As :meth:`MethodConfig.from_cfg`; a plain :class:`AdapterConfig`
        is taken field by field."""
        if type(cfg) is AdapterConfig:
            cfg = cfg.to_dict()
        return super().from_cfg(cfg, **defaults)

    def stage_bottlenecks(self, widths: Sequence[int]) -> Tuple[int, ...]:
        """The bottleneck of each stage of a backbone whose stages have
        ``widths``; a list of another length is a ``ValueError`` naming the
        key, the value and what would be valid."""
        widths = tuple(widths)
        if self.bottleneck is None:
            return tuple(max(1, w // SWIN_WIDTH_DIVISOR) for w in widths)
        if is_int(self.bottleneck):
            return (self.bottleneck, ) * len(widths)
        if len(self.bottleneck) != len(widths):
            raise ValueError(
                f'{self.key}.bottleneck must be one int or a list of '
                f'{len(widths)} ints (one per stage; this backbone has '
                f'{len(widths)} stages of widths {list(widths)}), got '
                f'{list(self.bottleneck)!r}')
        return self.bottleneck

    def stage_configs(self, widths: Sequence[int]
                      ) -> Tuple[AdapterConfig, ...]:
        """The plain config of each stage's AdaptMLPs
        (:meth:`stage_bottlenecks`, :meth:`for_stage`)."""
        return tuple(self.for_stage(r) for r in self.stage_bottlenecks(widths))

    def for_stage(self, bottleneck: int) -> AdapterConfig:
        """The plain :class:`AdapterConfig` of a stage's AdaptMLPs."""
        fields = {
            name: getattr(self, name)
            for name in AdapterConfig.field_names()
        }
        fields['bottleneck'] = bottleneck
        return AdapterConfig(**fields)
