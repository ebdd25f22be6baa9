"""Config checks shared by the tunable backbones (errors name the key)."""
from typing import List, Optional, Sequence


def merge_cfg(key: str, defaults: dict, cfg: Optional[dict]) -> dict:
    """``defaults`` updated by ``cfg``; an unknown field is a ``ValueError``
    naming ``key.<field>`` and the valid fields."""
    cfg = dict(cfg or {})
    unknown = sorted(set(cfg) - set(defaults))
    if unknown:
        raise ValueError(f'{key} has unknown field(s) {unknown}; valid '
                         f'fields: {sorted(defaults)}')
    return {**defaults, **cfg}


def check_layers(key: str, layers: Optional[Sequence[int]],
                 depth: int) -> List[int]:
    """``None`` -> every block; otherwise sorted unique indices in
    ``[0, depth)``, or a ``ValueError`` naming ``key``."""
    if layers is None:
        return list(range(depth))
    if isinstance(layers, int) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in layers):
        raise ValueError(f'{key} must be None (every block) or a list of '
                         f'block indices in [0, {depth}), got {layers!r}')
    layers = list(layers)
    bad = [i for i in layers if not 0 <= i < depth]
    if bad or not layers or len(set(layers)) != len(layers):
        raise ValueError(
            f'{key} must be None (every block) or a non-empty list of '
            f'distinct block indices in [0, {depth}) (depth={depth}), got '
            f'{layers!r}')
    return sorted(layers)
