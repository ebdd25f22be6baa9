"""Image ViT checkpoints: timm / MAE layout to mmpretrain, and image to video.

:func:`convert_image_vit` reads the layout from the keys, never the file name:

* ``timm``: the layout of timm's ``VisionTransformer``, shared by MAE's
  released files (``mae_pretrain_vit_base.pth``: a ``model`` dict with
  ``cls_token``, ``pos_embed``, ``patch_embed.proj``, ``blocks.N.*``,
  ``norm``; full pre-training files also hold ``decoder_*`` and
  ``mask_token``, dropped) and timm's supervised ImageNet-21k ViT-B/16
  (``head`` with 21,843 classes, old files also ``pre_logits.fc``);
* ``mocov3``: a MoCo v3 pre-training file (the VPT paper's other
  self-supervised ViT-B): ``state_dict`` with DDP-prefixed
  ``module.base_encoder.*`` keys in the timm layout, plus
  ``module.momentum_encoder.*`` (the EMA copy) and ``module.predictor.*``.
  The base encoder is converted as a timm file; its projection MLP
  (``base_encoder.head.*``), the momentum encoder and the predictor are
  dropped, as MoCo v3's own linear-probe and DeiT conversions do. (A file
  already converted to DeiT by MoCo v3's script is a plain ``timm`` file.)
* ``mmpretrain``: ``backbone.layers.N.*`` keys; kept as they are.

Output keys are those of an mmpretrain ``ImageClassifier`` with a
``VisionTransformer`` backbone and a ``VisionTransformerClsHead``:

=============================  ===========================================
timm / MAE                     mmpretrain
=============================  ===========================================
``cls_token``, ``pos_embed``   ``backbone.cls_token``, ``backbone.pos_embed``
``patch_embed.proj``           ``backbone.patch_embed.projection``
``blocks.N.norm1`` / ``norm2`` ``backbone.layers.N.ln1`` / ``ln2``
``blocks.N.attn.qkv`` / proj   ``backbone.layers.N.attn.qkv`` / ``proj``
``blocks.N.mlp.fc1`` / ``fc2`` ``backbone.layers.N.ffn.layers.0.0`` / ``1``
``norm``                       ``backbone.ln1`` (final norm, read at CLS)
``fc_norm`` (MAE fine-tuned)   ``backbone.ln2`` (norm of the mean of patches,
                               ``out_type='avg_featmap'``)
``head``                       ``head.layers.head``
``pre_logits.fc``              ``head.layers.pre_logits`` (``hidden_dim``)
=============================  ===========================================

:func:`inflate_image_to_video` turns such an image ViT into mmaction2's
VideoMAE ``VisionTransformer`` (the paper's cross-modality experiment); see
its docstring for what happens to each tensor.
"""
import re
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Tuple

import torch
from mmaction.models.backbones.vit_mae import get_sinusoid_encoding
from mmpretrain.models.utils import resize_pos_embed
from torch import Tensor

from .convert import Conversion, find_state_dict, rename

IMAGE_LAYOUTS = ('timm', 'mocov3', 'mmpretrain')
POS_EMBED_MODES = ('tile', 'sinusoid')
VIDEO_FINAL_NORMS = ('fc_norm', 'norm')

# (pattern on the timm / MAE key, mmpretrain replacement)
_RULES = [
    (r'^cls_token$', 'backbone.cls_token'),
    (r'^pos_embed$', 'backbone.pos_embed'),
    (r'^patch_embed\.proj\.', 'backbone.patch_embed.projection.'),
    (r'^blocks\.(\d+)\.norm1\.', r'backbone.layers.\1.ln1.'),
    (r'^blocks\.(\d+)\.norm2\.', r'backbone.layers.\1.ln2.'),
    (r'^blocks\.(\d+)\.attn\.(qkv|proj)\.', r'backbone.layers.\1.attn.\2.'),
    (r'^blocks\.(\d+)\.mlp\.fc1\.', r'backbone.layers.\1.ffn.layers.0.0.'),
    (r'^blocks\.(\d+)\.mlp\.fc2\.', r'backbone.layers.\1.ffn.layers.1.'),
    (r'^norm\.', 'backbone.ln1.'),
    (r'^fc_norm\.', 'backbone.ln2.'),
    (r'^head\.(weight|bias)$', r'head.layers.head.\1'),
    (r'^pre_logits\.fc\.(weight|bias)$', r'head.layers.pre_logits.\1'),
]
# MAE pre-training keys that belong to the decoder, not the encoder.
_DECODER = re.compile(r'^(decoder_|decoder\.|mask_token$)')
# MoCo v3: the encoder that is kept, and its projection MLP (not kept).
_MOCO_ENCODER = 'base_encoder.'
_MOCO_PROJECTOR = 'base_encoder.head.'
_DROPPED_REASON = {
    'timm': 'MAE pre-training decoder and mask token',
    'mocov3': 'MoCo v3 momentum encoder, predictor and projection MLP',
}


def detect_image_layout(ckpt: Mapping) -> Tuple[str, Dict[str, Tensor]]:
    """Return ``(layout, state_dict)`` of an image ViT file from its keys.

    Raises ``ValueError`` naming the keys (and the video tool for a video
    file) when no image layout matches.
    """
    state = find_state_dict(ckpt)
    weight = state.get('backbone.patch_embed.projection.weight',
                       state.get('patch_embed.proj.weight'))
    if weight is not None and weight.dim() == 5:
        raise ValueError(
            'this is a video checkpoint (5-d patch projection '
            f'{tuple(weight.shape)}); convert it with tools/convert_ckpt.py')
    if 'backbone.patch_embed.projection.weight' in state and any(
            k.startswith('backbone.layers.') for k in state):
        return 'mmpretrain', state
    if 'patch_embed.proj.weight' in state and 'blocks.0.attn.qkv.weight' \
            in state:
        return 'timm', state
    if _MOCO_ENCODER + 'patch_embed.proj.weight' in state:
        return 'mocov3', state
    if any(k.startswith(_MOCO_ENCODER) for k in state):
        raise ValueError(
            'a MoCo v3 checkpoint whose base encoder is not a ViT with a '
            f'linear patch embedding (no `{_MOCO_ENCODER}patch_embed.proj.'
            'weight`: a ResNet, or the conv-stem vit_conv_*?): only ViT '
            'encoders with a linear patch embedding convert; first keys: '
            f'{list(state)[:8]}')
    raise ValueError(
        'unrecognised image checkpoint layout; expected timm / MAE keys '
        '(`patch_embed.proj.weight`, `blocks.0.attn.qkv.weight`), MoCo v3 '
        f'keys (`module.{_MOCO_ENCODER}patch_embed.proj.weight`) or '
        'mmpretrain keys (`backbone.patch_embed.projection.weight`, '
        f'`backbone.layers.*`); first keys: {list(state)[:8]}')


def _mocov3_encoder(state: Mapping[str, Tensor]
                    ) -> Tuple[Dict[str, Tensor], List[str]]:
    """The base encoder of a MoCo v3 state in the timm layout, and the keys
    left out (momentum encoder, predictor, projection MLP)."""
    encoder, dropped = OrderedDict(), []
    for key, value in state.items():
        if key.startswith(_MOCO_ENCODER) and not key.startswith(
                _MOCO_PROJECTOR):
            encoder[key[len(_MOCO_ENCODER):]] = value
        else:
            dropped.append(key)
    return encoder, dropped


def convert_image_vit(ckpt: Mapping,
                      img_size: Optional[int] = None) -> Conversion:
    """Convert a loaded timm / MAE / MoCo v3 / mmpretrain ViT file to
    mmpretrain keys.

    Args:
        ckpt (Mapping): The loaded file.
        img_size (int, optional): Resize ``backbone.pos_embed`` (bicubic,
            CLS position kept) to the grid of this input size. mmpretrain's
            ViT also resizes a mismatched table when it loads, so this is only
            needed to ship a file for another resolution.

    Returns:
        Conversion: keys renamed; ``unknown`` lists keys no rule converts
        (the tool refuses to write the file unless told to drop them).
    """
    layout, state = detect_image_layout(ckpt)
    out, dropped, unknown, notes = OrderedDict(), [], [], []
    if layout == 'mmpretrain':
        out.update(state)
    else:
        if layout == 'mocov3':
            state, dropped = _mocov3_encoder(state)
        for key, value in state.items():
            if _DECODER.match(key):
                dropped.append(key)
                continue
            new = rename(key, _RULES)
            if new is None:
                unknown.append(key)
            else:
                out[new] = value
    if img_size is not None and 'backbone.pos_embed' in out:
        notes += _resize_image_pos_embed(out, img_size)
    return Conversion(
        layout,
        out,
        dropped=dropped,
        unknown=unknown,
        dropped_reason=_DROPPED_REASON.get(layout, ''),
        notes=notes)


def _patch_size(state: Mapping[str, Tensor]) -> int:
    return state['backbone.patch_embed.projection.weight'].shape[-1]


def _grid(num_tokens: int, key: str) -> int:
    side = int(round(num_tokens**0.5))
    if side * side != num_tokens:
        raise ValueError(f'{key}: {num_tokens} patch positions are not a '
                         f'square grid; cannot resize or tile the table')
    return side


def _resize_image_pos_embed(out: Dict[str, Tensor], img_size: int) -> list:
    table = out['backbone.pos_embed']
    extra = 1 if 'backbone.cls_token' in out else 0
    src = _grid(table.shape[1] - extra, 'backbone.pos_embed')
    dst = img_size // _patch_size(out)
    if src == dst:
        return []
    out['backbone.pos_embed'] = resize_pos_embed(
        table, (src, src), (dst, dst), mode='bicubic', num_extra_tokens=extra)
    return [f'backbone.pos_embed resized (bicubic) from a {src}x{src} to a '
            f'{dst}x{dst} patch grid for img_size={img_size}']


def inflate_image_to_video(ckpt: Mapping,
                           num_frames: int = 8,
                           tubelet_size: int = 2,
                           img_size: int = 224,
                           pos_embed: str = 'tile',
                           final_norm: str = 'fc_norm') -> Conversion:
    """An image ViT (timm / MAE / mmpretrain file) as mmaction2's VideoMAE
    ``VisionTransformer`` (keys ``backbone.*``), for the cross-modality runs.

    * Patch projection ``(d, 3, p, p)`` -> ``(d, 3, t, p, p)``: the 2D kernel
      replicated over the ``t`` frames of a tubelet and divided by ``t``, so
      a static video gives exactly the image's patch embedding; the bias is
      kept.
    * ``qkv.bias`` ``(3d,)`` -> ``q_bias`` and ``v_bias``. VideoMAE's
      attention has no key bias; dropping it is exact, because
      ``q_i . (k_j + b) = q_i . k_j + q_i . b`` shifts all logits of query
      ``i`` by the same amount and softmax ignores that. Its size is noted.
      A file without qkv bias gets zero q/v biases (listed as generated).
    * ``ln1/ln2/attn.proj/ffn`` -> ``norm1/norm2/attn.proj/mlp.layers``.
    * The image's final norm (applied to every token, read at CLS) becomes
      ``fc_norm`` (applied to the mean of patch tokens; VideoMAE's
      ``use_mean_pooling=True``) or, with ``final_norm='norm'``, ``norm``
      (``use_mean_pooling=False``).
    * The CLS token and its position, and the classifier, are dropped: the
      video backbone has no CLS token and the task has other classes.
    * Position table, ``pos_embed='tile'`` (default): the learned 2D table of
      the patches (resized to ``img_size`` if needed) repeated for each of
      the ``num_frames // tubelet_size`` temporal positions, shape
      ``(1, T'*h*w, d)``; build the video backbone with
      ``use_learnable_pos_emb=True``. Every frame then starts with the
      positions the image model knows. Frozen, this table carries no time
      order (and the inflated kernel averages the two frames of a tubelet),
      so a frozen backbone sees frame order only through what the method
      learns. ``pos_embed='sinusoid'``: VideoMAE's fixed spatio-temporal
      sinusoid table instead (``use_learnable_pos_emb=False``), which tells
      time apart but is new to the image weights.

    Args:
        ckpt (Mapping): The loaded image file.
        num_frames (int): Frames of the video model (8 in the spec's recipe).
        tubelet_size (int): Frames per tubelet ``t`` (2).
        img_size (int): Input size of the video model (224).
        pos_embed (str): One of ``POS_EMBED_MODES``.
        final_norm (str): One of ``VIDEO_FINAL_NORMS``.
    """
    if pos_embed not in POS_EMBED_MODES:
        raise ValueError(f'pos_embed must be one of {POS_EMBED_MODES}, got '
                         f'{pos_embed!r}')
    if final_norm not in VIDEO_FINAL_NORMS:
        raise ValueError(f'final_norm must be one of {VIDEO_FINAL_NORMS}, got '
                         f'{final_norm!r}')
    if num_frames % tubelet_size:
        raise ValueError(f'num_frames ({num_frames}) must be a multiple of '
                         f'tubelet_size ({tubelet_size})')
    image = convert_image_vit(ckpt)
    src = image.state_dict
    out, generated, notes = OrderedDict(), [], []
    dropped = list(image.dropped)
    k_bias_max = 0.0
    for key, value in src.items():
        if not key.startswith('backbone.'):
            dropped.append(key)  # the classifier
            continue
        name = key[len('backbone.'):]
        if name in ('cls_token', 'pos_embed'):
            continue  # handled below
        if name == 'patch_embed.projection.weight':
            out['backbone.' + name] = value.unsqueeze(2).repeat(
                1, 1, tubelet_size, 1, 1) / tubelet_size
            continue
        if name == 'patch_embed.projection.bias':
            out['backbone.' + name] = value
            continue
        m = re.match(r'^layers\.(\d+)\.(.+)$', name)
        if m:
            block, rest = m.groups()
            if rest == 'attn.qkv.bias':
                q, k, v = value.chunk(3)
                out[f'backbone.blocks.{block}.attn.q_bias'] = q
                out[f'backbone.blocks.{block}.attn.v_bias'] = v
                k_bias_max = max(k_bias_max, float(k.abs().max()))
                continue
            for old, new in (('ln1.', 'norm1.'), ('ln2.', 'norm2.'),
                             ('attn.', 'attn.'),
                             ('ffn.layers.0.0.', 'mlp.layers.0.0.'),
                             ('ffn.layers.1.', 'mlp.layers.1.')):
                if rest.startswith(old):
                    out[f'backbone.blocks.{block}.{new}'
                        f'{rest[len(old):]}'] = value
                    break
            else:
                image.unknown.append(key)
            continue
        m = re.match(r'^ln1\.(weight|bias)$', name)
        if m:
            out[f'backbone.{final_norm}.{m.group(1)}'] = value
            continue
        if name.startswith('ln2.'):
            dropped.append(key)  # avg-pool norm of a fine-tuned MAE file
            continue
        image.unknown.append(key)

    depth = len({k.split('.')[2] for k in out
                 if k.startswith('backbone.blocks.')})
    for i in range(depth):
        prefix = f'backbone.blocks.{i}.attn.'
        if prefix + 'q_bias' not in out:
            dims = out[prefix + 'qkv.weight'].shape[1]
            out[prefix + 'q_bias'] = torch.zeros(dims)
            out[prefix + 'v_bias'] = torch.zeros(dims)
            generated.append(f'{prefix}{{q,v}}_bias (zeros: the image ViT '
                             f'has no qkv bias)')
    if k_bias_max:
        notes.append(f'key bias of qkv dropped (VideoMAE has none; exact, '
                     f'softmax is invariant to it): max |k_bias| = '
                     f'{k_bias_max:.4g}')
    if 'backbone.cls_token' in src:
        dropped.append('backbone.cls_token')

    weight = out['backbone.patch_embed.projection.weight']
    dims, patch = weight.shape[0], weight.shape[-1]
    temporal = num_frames // tubelet_size
    side = img_size // patch
    if pos_embed == 'tile':
        table = src['backbone.pos_embed']
        extra = 1 if 'backbone.cls_token' in src else 0
        grid = _grid(table.shape[1] - extra, 'backbone.pos_embed')
        table = resize_pos_embed(table, (grid, grid), (side, side),
                                 mode='bicubic', num_extra_tokens=extra)
        out['backbone.pos_embed'] = table[:, extra:].repeat(1, temporal, 1)
        resized = '' if grid == side else \
            f', resized (bicubic) to {side}x{side}'
        notes.append(
            f'backbone.pos_embed: the image table ({grid}x{grid}{resized}, '
            f'CLS position dropped) tiled over {temporal} temporal positions: '
            f'a {temporal}x{side}x{side} (T x H x W) table for {num_frames} '
            f'frames at {img_size} px; build the video backbone with '
            f'use_learnable_pos_emb=True (one for another frame count or '
            f'size resizes the table over space and time as it loads)')
    else:
        out['backbone.pos_embed'] = get_sinusoid_encoding(
            temporal * side * side, dims)
        generated.append(f'backbone.pos_embed (sinusoid, {num_frames} frames '
                         f'x {img_size}^2; the image table is discarded)')
    notes.append(f'patch projection inflated to a {tubelet_size}x{patch}x'
                 f'{patch} tubelet (2D kernel / {tubelet_size} per frame)')
    return Conversion(
        f'{image.layout} image ViT -> mmaction2 VideoMAE',
        out,
        dropped=dropped,
        unknown=image.unknown,
        generated=generated,
        dropped_reason='MAE decoder, CLS token, classifier or avg-pool norm: '
        'no place in the video backbone',
        notes=notes)
