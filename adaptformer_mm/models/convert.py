"""Convert original VideoMAE checkpoints to mmaction2 keys.

The layout is read from the keys, never from the file name:

* ``mmaction2``: ``state_dict`` with ``backbone.*`` keys; kept as is.
* ``videomae-pretrain``: a ``model`` dict with ``encoder.*`` keys (the
  decoder, ``encoder_to_decoder`` and ``mask_token`` are dropped).
* ``videomae-finetune``: a ``module`` or ``model`` dict with unprefixed
  ``patch_embed.proj.*`` / ``blocks.*`` keys and a ``head.*`` classifier.

Output keys are those of a mmaction2 ``Recognizer3D`` with the VideoMAE
``VisionTransformer`` (``backbone.*``, ``cls_head.fc_cls.*``).
"""
import argparse
import re
import sys
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Optional, Tuple

import torch
from mmaction.models.backbones.vit_mae import get_sinusoid_encoding
from torch import Tensor

from adaptformer_mm.compat import safe_torch_load

LAYOUTS = ('mmaction2', 'videomae-pretrain', 'videomae-finetune')

# (pattern on the unprefixed VideoMAE key, mmaction2 replacement)
_RULES = [
    (r'^patch_embed\.proj\.', 'backbone.patch_embed.projection.'),
    (r'^blocks\.(\d+)\.mlp\.fc1\.', r'backbone.blocks.\1.mlp.layers.0.0.'),
    (r'^blocks\.(\d+)\.mlp\.fc2\.', r'backbone.blocks.\1.mlp.layers.1.'),
    (r'^(blocks\.\d+\.(?:norm1|norm2|attn|gamma_1|gamma_2)(?:\.|$))',
     r'backbone.\1'),
    (r'^(norm|fc_norm)\.', r'backbone.\1.'),
    (r'^pos_embed$', 'backbone.pos_embed'),
    (r'^head\.(weight|bias)$', r'cls_head.fc_cls.\1'),
]


@dataclass
class Conversion:
    """Result of a conversion (:func:`convert_videomae`,
    :func:`~adaptformer_mm.models.convert_image.convert_image_vit`,
    :func:`~adaptformer_mm.models.convert_image.inflate_image_to_video`)."""
    layout: str
    state_dict: 'OrderedDict[str, Tensor]'
    dropped: List[str] = field(default_factory=list)
    unknown: List[str] = field(default_factory=list)
    generated: List[str] = field(default_factory=list)
    #: Why ``dropped`` keys were dropped (printed in the report).
    dropped_reason: str = 'pre-training decoder and mask token'
    #: Anything else the user must know (e.g. a tensor changed meaning).
    notes: List[str] = field(default_factory=list)

    def report(self) -> str:
        lines = [f'layout: {self.layout}',
                 f'converted tensors: {len(self.state_dict)}']
        if self.generated:
            lines.append(f'generated: {self.generated}')
        if self.dropped:
            lines.append(f'dropped ({len(self.dropped)}, '
                         f'{self.dropped_reason}): {_abbrev(self.dropped)}')
        lines += [f'note: {n}' for n in self.notes]
        if self.unknown:
            lines.append(f'UNKNOWN keys not converted: {self.unknown}')
        return '\n'.join(lines)


def _abbrev(keys: List[str], n: int = 6) -> str:
    return ', '.join(keys[:n]) + (f', ... (+{len(keys) - n})'
                                  if len(keys) > n else '')


def load_checkpoint_file(path: str) -> Mapping:
    """Load with ``weights_only=True``; VideoMAE training files also hold
    their ``argparse.Namespace``, which is plain data and allowed here."""
    with torch.serialization.safe_globals([argparse.Namespace]):
        return safe_torch_load(path, map_location='cpu')


def _tensor_dict(obj) -> bool:
    return isinstance(obj, Mapping) and len(obj) > 0 and all(
        isinstance(v, Tensor) for v in obj.values())


def find_state_dict(ckpt: Mapping) -> Dict[str, Tensor]:
    """The tensor dict of a loaded file: under ``state_dict``, ``module`` or
    ``model`` (or the file itself), without a DDP ``module.`` prefix.

    Raises ``ValueError`` listing the top-level keys when there is none.
    """
    state = None
    for wrapper in ('state_dict', 'module', 'model'):
        if isinstance(ckpt, Mapping) and _tensor_dict(ckpt.get(wrapper)):
            state = dict(ckpt[wrapper])
            break
    if state is None and _tensor_dict(ckpt):
        state = dict(ckpt)
    if state is None:
        top = list(ckpt) if isinstance(ckpt, Mapping) else type(ckpt)
        raise ValueError(
            'no state dict found: expected a `state_dict`, `module` or '
            f'`model` dict of tensors (or a bare one); top-level keys: {top}')
    if all(k.startswith('module.') for k in state):
        state = {k[len('module.'):]: v for k, v in state.items()}
    return state


def detect_layout(ckpt: Mapping) -> Tuple[str, Dict[str, Tensor]]:
    """Return ``(layout, state_dict)`` from the keys of a loaded file.

    Raises ``ValueError`` listing the keys when no layout matches.
    """
    state = find_state_dict(ckpt)
    keys = list(state)
    if any(k.startswith('backbone.') for k in keys):
        return 'mmaction2', state
    if 'encoder.patch_embed.proj.weight' in state:
        return 'videomae-pretrain', state
    if 'patch_embed.proj.weight' in state:
        return 'videomae-finetune', state
    raise ValueError(
        'unrecognised checkpoint layout; expected `backbone.*` (mmaction2), '
        '`encoder.patch_embed.proj.weight` (VideoMAE pre-training) or '
        '`patch_embed.proj.weight` (VideoMAE fine-tuned); first keys: '
        f'{keys[:8]}')


def convert_videomae(ckpt: Mapping,
                     num_frames: int = 16,
                     img_size: int = 224) -> Conversion:
    """Convert a loaded checkpoint to mmaction2 keys.

    ``num_frames`` and ``img_size`` size the fixed sinusoid ``pos_embed``
    that VideoMAE does not save (mmaction2 keeps it as a buffer); tubelet and
    patch size are read from the patch projection.
    """
    layout, state = detect_layout(ckpt)
    if layout == 'mmaction2':
        return Conversion(layout, OrderedDict(state))
    out, dropped, unknown = OrderedDict(), [], []
    for key, value in state.items():
        if layout == 'videomae-pretrain':
            if not key.startswith('encoder.'):
                dropped.append(key)
                continue
            key = key[len('encoder.'):]
        new = rename(key, _RULES)
        if new is None:
            unknown.append(key)
        else:
            out[new] = value
    generated = []
    if 'backbone.pos_embed' not in out:
        embed_dims, _, tubelet, patch, _ = out[
            'backbone.patch_embed.projection.weight'].shape
        num_tokens = (num_frames // tubelet) * (img_size // patch)**2
        out['backbone.pos_embed'] = get_sinusoid_encoding(
            num_tokens, embed_dims)
        generated.append(f'backbone.pos_embed (sinusoid, {num_frames} '
                         f'frames x {img_size}^2)')
    return Conversion(layout, out, dropped, unknown, generated)


def rename(key: str, rules) -> Optional[str]:
    """``key`` renamed by the first ``(pattern, replacement)`` rule that
    matches it, or None when no rule does."""
    for pattern, repl in rules:
        new, hits = re.subn(pattern, repl, key)
        if hits:
            return new
    return None


def convert_file(src: str, dst: str, convert: Callable[[Mapping], Conversion],
                 target: str, ignore_unknown: bool = False) -> int:
    """What every converter tool does: read ``src`` safely, convert it, print
    the report, refuse keys no rule knows (unless ``ignore_unknown``) and
    write ``dst``. Returns the tool's exit status; errors name ``src``.

    Args:
        convert: checkpoint mapping -> :class:`Conversion`.
        target: what the keys are converted to, for the error message
            (e.g. ``'mmaction2'``).
    """
    try:
        conversion = convert(load_checkpoint_file(src))
    except (ValueError, RuntimeError, FileNotFoundError) as e:
        print(f'error: {src}: {e}', file=sys.stderr)
        return 1
    print(conversion.report())
    if conversion.unknown and not ignore_unknown:
        print(f'error: {src}: no {target} name for {conversion.unknown}; '
              f'rerun with --ignore-unknown to drop them', file=sys.stderr)
        return 1
    save_converted(conversion, dst)
    print(f'saved {dst}')
    return 0


def save_converted(conversion: Conversion, path: str) -> None:
    """Write ``{'state_dict': ..., 'meta': ...}``, loadable with
    ``torch.load(weights_only=True)``."""
    torch.save(
        dict(
            state_dict=conversion.state_dict,
            meta=dict(converted_from=conversion.layout,
                      notes=list(conversion.notes))), path)
