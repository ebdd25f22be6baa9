"""Convert original VideoMAE and VideoMAE V2 checkpoints to mmaction2 keys.

The layout is read from the keys, never from the file name:

* ``mmaction2``: ``state_dict`` with ``backbone.*`` keys; kept as is.
* ``videomae-pretrain``: a ``model`` dict with ``encoder.*`` keys (the
  decoder, ``encoder_to_decoder`` and ``mask_token`` are dropped).
* ``videomae-finetune``: a ``module`` or ``model`` dict with unprefixed
  ``patch_embed.proj.*`` / ``blocks.*`` keys and a ``head.*`` classifier.

VideoMAE V2 (OpenGVLab/VideoMAEv2, ``models/modeling_pretrain.py`` and
``modeling_finetune.py``) saves the same keys as VideoMAE: its pre-training
files (``vit_g_hybrid_pt_1200e.pth``) are ``videomae-pretrain``, its
fine-tuned and distilled files (``vit_s_k710_dl_from_giant.pth``: a ``module``
dict with a 710-class Kinetics-710 head) are ``videomae-finetune``. What V2's
own loader also accepts is accepted here: a ``_orig_mod.`` prefix
(``torch.compile``) and VideoMAE keys under a ``backbone.`` prefix. V2's
cosine attention (``cos_attn=True``: ``blocks.N.attn.scale``) has no
mmaction2 counterpart and is reported as unknown. The width, depth, patch and
MLP size are read from the tensors and reported with the matching
``configs/_base_/models`` file (:func:`describe_architecture`).

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

from adaptformer_mm.engine.checkpoint_io import safe_torch_load

LAYOUTS = ('mmaction2', 'videomae-pretrain', 'videomae-finetune')

# (pattern on the unprefixed VideoMAE key, mmaction2 replacement). Attention
# tensors are named one by one: VideoMAE V2's cosine attention adds a learnt
# ``attn.scale`` that mmaction2's Attention has not, so it stays unknown.
_RULES = [
    (r'^patch_embed\.proj\.', 'backbone.patch_embed.projection.'),
    (r'^blocks\.(\d+)\.mlp\.fc1\.', r'backbone.blocks.\1.mlp.layers.0.0.'),
    (r'^blocks\.(\d+)\.mlp\.fc2\.', r'backbone.blocks.\1.mlp.layers.1.'),
    (r'^(blocks\.\d+\.(?:norm1\.|norm2\.|gamma_1$|gamma_2$|'
     r'attn\.(?:qkv\.|proj\.|q_bias$|v_bias$)))', r'backbone.\1'),
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
    ``model`` (or the file itself), without a DDP ``module.`` or a
    ``torch.compile`` ``_orig_mod.`` prefix.

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
    for prefix in ('module.', '_orig_mod.'):
        if all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    return state


def detect_layout(ckpt: Mapping) -> Tuple[str, Dict[str, Tensor]]:
    """Return ``(layout, state_dict)`` from the keys of a loaded file.

    VideoMAE keys under a ``backbone.`` prefix (which VideoMAE V2's loader
    strips) are returned without it, as ``videomae-finetune``.

    Raises ``ValueError`` listing the keys when no layout matches.
    """
    state = find_state_dict(ckpt)
    keys = list(state)
    if 'backbone.patch_embed.proj.weight' in state:
        state = {k[len('backbone.'):] if k.startswith('backbone.') else k: v
                 for k, v in state.items()}
        return 'videomae-finetune', state
    if any(k.startswith('backbone.') for k in keys):
        return 'mmaction2', state
    if 'encoder.patch_embed.proj.weight' in state:
        return 'videomae-pretrain', state
    if 'patch_embed.proj.weight' in state:
        return 'videomae-finetune', state
    raise ValueError(
        'unrecognised checkpoint layout; expected `backbone.*` (mmaction2), '
        '`encoder.patch_embed.proj.weight` (VideoMAE / VideoMAE V2 '
        'pre-training) or `patch_embed.proj.weight` (VideoMAE / VideoMAE V2 '
        f'fine-tuned or distilled); first keys: {keys[:8]}')


# (embed_dims, depth, patch) -> the width's file in configs/_base_/models.
WIDTH_CONFIGS = {
    (384, 12, 16): 'videomae_vit-small-p16.py',
    (768, 12, 16): 'videomae_vit-base-p16.py',
    (1024, 24, 16): 'videomae_vit-large-p16.py',
    (1280, 32, 16): 'videomae_vit-huge-p16.py',
    (1408, 40, 14): 'videomaev2_vit-giant-p14.py',
}


@dataclass(frozen=True)
class Architecture:
    """The VideoMAE ViT shape a converted state dict holds."""
    embed_dims: int
    depth: int
    patch_size: int
    tubelet_size: int
    mlp_hidden: int

    @property
    def config(self) -> Optional[str]:
        """The ``configs/_base_/models`` file of this shape, if there is
        one."""
        return WIDTH_CONFIGS.get(
            (self.embed_dims, self.depth, self.patch_size))

    def __str__(self) -> str:
        text = (f'{self.embed_dims} wide, {self.depth} blocks, patch '
                f'{self.patch_size}, tubelet {self.tubelet_size}, MLP '
                f'{self.mlp_hidden}')
        return text + (f' (configs/_base_/models/{self.config})'
                       if self.config else ' (no width file of this shape)')


def describe_architecture(
        state: Mapping[str, Tensor]) -> Optional[Architecture]:
    """Shape of the VideoMAE ViT in ``state`` (mmaction2 keys, as
    :func:`convert_videomae` returns them), or None when it holds none."""
    proj = state.get('backbone.patch_embed.projection.weight')
    fc1 = state.get('backbone.blocks.0.mlp.layers.0.0.weight')
    if proj is None or fc1 is None:
        return None
    blocks = {m.group(1) for m in
              (re.match(r'^backbone\.blocks\.(\d+)\.', k) for k in state)
              if m}
    embed_dims, _, tubelet, patch, _ = proj.shape
    return Architecture(embed_dims, len(blocks), patch, tubelet,
                        fc1.shape[0])


def convert_videomae(ckpt: Mapping,
                     num_frames: int = 16,
                     img_size: int = 224) -> Conversion:
    """Convert a loaded checkpoint to mmaction2 keys.

    ``num_frames`` and ``img_size`` size the fixed sinusoid ``pos_embed``
    that VideoMAE does not save (mmaction2 keeps it as a buffer); tubelet and
    patch size are read from the patch projection. The notes of the result
    name the architecture found (:func:`describe_architecture`) and a
    Kinetics-710 head.
    """
    layout, state = detect_layout(ckpt)
    if layout == 'mmaction2':
        return Conversion(layout, OrderedDict(state),
                          notes=_notes(state))
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
    return Conversion(layout, out, dropped, unknown, generated,
                      notes=_notes(out))


def _notes(state: Mapping[str, Tensor]) -> List[str]:
    notes = []
    arch = describe_architecture(state)
    if arch is not None:
        notes.append(f'architecture: {arch}')
    head = state.get('cls_head.fc_cls.weight')
    if head is not None and head.shape[0] == 710:
        notes.append(
            'cls_head.fc_cls has 710 classes: Kinetics-710 (VideoMAE V2 '
            'distilled or post-pre-trained); the recipes load backbone.* '
            "only (init_cfg prefix='backbone.')")
    return notes


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
