"""The contract every registered backbone x method satisfies.

One row per backbone and method (plus a few option variants); every check
below runs on every row, so a new backbone or method is one new ``Row``
(``test_every_registered_backbone_has_a_row`` fails until it has one). What
is particular to a method (its equations, oracle values, errors) stays in the
``test_<method>.py`` files beside this one (``test_adaptformer.py``,
``test_vpt.py``, ``test_baselines.py`` for the others; the families
themselves in ``test_tunable.py``, the Swins in ``test_swin.py``).

The contract:

1. the trainable set is decided at build and is what the row says (method
   tensors plus the named stock modules, or everything for full tuning); it
   does not move with ``init_weights``, loading or ``train()``;
2. with the stock model's weights, the output at init equals the stock
   mmaction2 / mmpretrain model's (VPT and the attentive probe: differs, see
   ``Row.equals_stock_at_init``);
3. after a training step, every frozen tensor is bit-identical and every
   trainable one moved (a trained BatchNorm's statistics move too);
4. the tunable-only state holds exactly the trainable tensors and restores a
   fresh model to the trained one, bit for bit, through a weights-only file
   and the production ``restore_tunable_state`` (checksum included), which
   refuses the state for a backbone with other frozen weights;
5. parameter counts equal formulas written here;
6. gradients reach exactly the trainable tensors;
7. GPU-readiness checked on the CPU: a train- and predict-mode forward with
   every tensor on a fake CUDA device; a compiled training step with no
   graph break (on the first row of each method x family cell); a bf16
   autocast step close to fp32.

Models are the tiny families of ``tiny_families.py``: ViTs of width 64 on
32x32 inputs with 16x16 patches (the video one 3 blocks deep over 4 frames
in tubelets of 2, the image one 2 layers deep), Swins of widths 32 and 64
with 2 + 2 blocks, a UniFormerV2 of width 64 (3 CLIP blocks with local
MHRAs, 2 global UniBlocks) on 4 frames of 32x32 in 8x8 patches; every vector
of the stock model is random so no identity LayerNorm or zero bias hides a
mistake. The sizes below are read from that
table, and every count is a formula of them. Every (method, family) cell of
``backbones.METHODS`` x ``backbones.FAMILIES`` has a row
(``test_every_registered_backbone_has_a_row``).
"""
import io
from dataclasses import dataclass, field
from typing import Optional, Tuple

import pytest
import torch
import torch.nn.functional as F
from mmaction.models.backbones.swin import \
    compute_mask as video_swin_compute_mask
from torch import nn
from torch._dynamo.utils import counters
from torch._subclasses.fake_tensor import FakeTensorMode

import adaptformer_mm.models.backbones as backbones
from adaptformer_mm.peft import (BackboneMismatchError, frozen_checksum,
                                 restore_tunable_state, summarize_parameters,
                                 tunable_state_dict)
from tests.models.backbones.tiny_families import (SWIN, TINY_FAMILIES,
                                                  UNIFORMERV2, VIDEO_SWIN,
                                                  VIDEO_VIT, VIT, TinyFamily,
                                                  final_output)

# ------------------------------------------------------------ sizes, counts
D = VIDEO_VIT.kwargs['embed_dims']  # width of both ViTs
assert VIT.kwargs['arch']['embed_dims'] == D
LV, LI = VIDEO_VIT.depth, VIT.depth  # blocks of the video and image ViT
PATCH, TUBELET = VIDEO_VIT.kwargs['patch_size'], \
    VIDEO_VIT.kwargs['tubelet_size']
IMAGE_PATCH = VIT.kwargs['patch_size']
FFN = VIT.kwargs['arch']['feedforward_channels']  # image MLP width
N = (VIT.kwargs['img_size'] // IMAGE_PATCH)**2  # patches per image
R, P = 8, 3  # adapter bottleneck, prompt tokens per set

NORM = 2 * D  # one LayerNorm
# VideoMAE: Conv3d tubelet embedding; blocks with qkv (no bias) + q/v bias,
# proj, 4x MLP, two norms; fc_norm after mean pooling; the sinusoid table is
# a buffer.
VIDEO_BLOCK = 3 * D * D + 2 * D + (D * D + D) + (8 * D * D + 5 * D) + 2 * NORM
VIDEO_STOCK = (3 * TUBELET * PATCH * PATCH * D + D) + LV * VIDEO_BLOCK + NORM
# mmpretrain ViT: Conv2d patch embedding, CLS, learnable table for 1 + N
# tokens; layers with biased qkv, proj, FFN d -> FFN -> d, two norms; one
# final norm (ln1, or ln2 with out_type='avg_featmap' and final_norm=False).
IMAGE_BLOCK = (3 * D * D + 3 * D) + (D * D + D) + (2 * D * FFN + FFN + D) + \
    2 * NORM
IMAGE_STOCK = (3 * IMAGE_PATCH * IMAGE_PATCH * D + D) + D + (1 + N) * D + \
    LI * IMAGE_BLOCK + NORM
# AdaptMLP: down (d -> r) and up (r -> d), both with bias, fixed scale.
ADAPTER = (D * R + R) + (R * D + D)
# VPT: p tokens of width d per prompted block.
PROMPTS = P * D


@dataclass(frozen=True)
class Row:
    """One registered backbone with one method configuration.

    Args:
        id: Test id.
        family: An entry of ``tiny_families.TINY_FAMILIES``.
        method: Method name (``'Tunable'`` for the family itself); the
            registered name is :attr:`type`.
        added: Parameters the method adds to the stock model (formula).
        trainable: Trainable parameters (formula).
        trained_stock: Stock modules (or single stock parameters, such as
            BitFit's biases) that train under ``tuning='peft'``; ``None``
            means full tuning (everything trains).
        stock: Arguments shared with the stock model.
        own: Arguments of the tunable backbone only.
        equals_stock_at_init: False for VPT: its prompts join attention from
            the first step (VPT Sec. 3.2), so no init reproduces the stock
            output; and for the attentive probe, whose pooler replaces the
            readout.
    """
    id: str
    family: TinyFamily
    method: str
    added: int
    trainable: int
    trained_stock: Optional[Tuple[str, ...]] = ()
    stock: dict = field(default_factory=dict)
    own: dict = field(default_factory=dict)
    equals_stock_at_init: bool = True

    @property
    def type(self) -> str:
        return self.method + self.family.name

    @property
    def stock_params(self) -> int:
        return STOCK_PARAMS[self.family.name]


ADAPT = dict(bottleneck=R)
ROWS = [
    # ------------------------------------------------------------ video
    Row('tunable-video-probe', VIDEO_VIT, 'Tunable', added=0,
        trainable=NORM, trained_stock=('fc_norm', )),
    Row('tunable-video-probe-eager', VIDEO_VIT, 'Tunable', added=0,
        trainable=NORM, trained_stock=('fc_norm', ),
        own=dict(attn_impl='eager')),
    Row('tunable-video-frozen-norm', VIDEO_VIT, 'Tunable', added=0,
        trainable=0, own=dict(train_final_norm=False)),
    Row('tunable-video-full', VIDEO_VIT, 'Tunable', added=0,
        trainable=VIDEO_STOCK, trained_stock=None, own=dict(tuning='full')),
    Row('adaptformer-video', VIDEO_VIT, 'AdaptFormer', added=LV * ADAPTER,
        trainable=LV * ADAPTER + NORM, trained_stock=('fc_norm', ),
        own=dict(adapter_cfg=ADAPT)),
    Row('adaptformer-video-sequential-block1', VIDEO_VIT, 'AdaptFormer',
        added=ADAPTER, trainable=ADAPTER + NORM, trained_stock=('fc_norm', ),
        own=dict(adapter_cfg=dict(ADAPT, mode='sequential', layers=[1]))),
    Row('adaptformer-video-full', VIDEO_VIT, 'AdaptFormer',
        added=LV * ADAPTER, trainable=VIDEO_STOCK + LV * ADAPTER,
        trained_stock=None, own=dict(tuning='full', adapter_cfg=ADAPT)),
    Row('vpt-video-deep', VIDEO_VIT, 'VPT', added=LV * PROMPTS,
        trainable=LV * PROMPTS + NORM, trained_stock=('fc_norm', ),
        own=dict(prompt_cfg=dict(num_tokens=P)), equals_stock_at_init=False),
    # ------------------------------------------------------------ image
    Row('tunable-image-probe', VIT, 'Tunable', added=0, trainable=0),
    Row('tunable-image-final-norm', VIT, 'Tunable', added=0,
        trainable=NORM, trained_stock=('ln1', ),
        own=dict(train_final_norm=True)),
    Row('tunable-image-full', VIT, 'Tunable', added=0,
        trainable=IMAGE_STOCK, trained_stock=None, own=dict(tuning='full')),
    Row('adaptformer-image', VIT, 'AdaptFormer', added=LI * ADAPTER,
        trainable=LI * ADAPTER, own=dict(adapter_cfg=ADAPT)),
    Row('adaptformer-image-sequential-avg', VIT, 'AdaptFormer',
        added=LI * ADAPTER, trainable=LI * ADAPTER,
        stock=dict(out_type='avg_featmap', final_norm=False),
        own=dict(adapter_cfg=dict(ADAPT, mode='sequential'))),
    Row('vpt-image-deep', VIT, 'VPT', added=LI * PROMPTS,
        trainable=LI * PROMPTS, own=dict(prompt_cfg=dict(num_tokens=P)),
        equals_stock_at_init=False),
    Row('vpt-image-shallow', VIT, 'VPT', added=PROMPTS,
        trainable=PROMPTS,
        own=dict(prompt_cfg=dict(num_tokens=P, deep=False)),
        equals_stock_at_init=False),
]

# ------------------------------ the VPT paper's baselines, LoRA, the probe
# Partial-k: the top k blocks and the final norm train (k = 1: the video
# ViT's block LV - 1, the image ViT's layer LI - 1).
# BitFit: every stock bias (by name below) and the video fc_norm train;
# VideoMAE has q and v biases but no k bias.
VIDEO_BLOCK_BIASES = ('norm1.bias', 'attn.q_bias', 'attn.v_bias',
                      'attn.proj.bias', 'norm2.bias', 'mlp.layers.0.0.bias',
                      'mlp.layers.1.bias')
IMAGE_BLOCK_BIASES = ('ln1.bias', 'attn.qkv.bias', 'attn.proj.bias',
                      'ln2.bias', 'ffn.layers.0.0.bias', 'ffn.layers.1.bias')
VIDEO_BIASES = ('patch_embed.projection.bias', ) + tuple(
    f'blocks.{i}.{n}' for i in range(LV) for n in VIDEO_BLOCK_BIASES)
IMAGE_BIASES = ('patch_embed.projection.bias', 'ln1.bias') + tuple(
    f'layers.{i}.{n}' for i in range(LI) for n in IMAGE_BLOCK_BIASES)
VIDEO_BIAS_COUNT = D + LV * (D + 2 * D + D + D + 4 * D + D)  # + fc_norm
IMAGE_BIAS_COUNT = D + LI * (D + 3 * D + D + D + FFN + D) + D
# LoRA, rank LR: A (r x in) and B (out x r) per adapted layer; qkv is
# d -> 3d, proj d -> d, fc1 d -> 4d, fc2 4d -> d.
LR = 4
LORA_ATTN = LR * (D + 3 * D) + LR * (D + D)
LORA_MLP = LR * (D + 4 * D) + LR * (4 * D + D)
# Attentive probe: query d, LayerNorm 2d, kv 2d*d + 2d, proj d*d + d.
PROBE = D + NORM + (2 * D * D + 2 * D) + (D * D + D)
ROWS += [
    Row('partial-video-top1', VIDEO_VIT, 'Partial', added=0,
        trainable=VIDEO_BLOCK + NORM,
        trained_stock=(f'blocks.{LV - 1}', 'fc_norm'),
        own=dict(partial_cfg=dict(num_blocks=1))),
    Row('partial-image-top1', VIT, 'Partial', added=0,
        trainable=IMAGE_BLOCK + NORM,
        trained_stock=(f'layers.{LI - 1}', 'ln1'),
        own=dict(partial_cfg=dict(num_blocks=1))),
    Row('bitfit-video', VIDEO_VIT, 'BitFit', added=0,
        trainable=VIDEO_BIAS_COUNT + NORM,
        trained_stock=VIDEO_BIASES + ('fc_norm', )),
    Row('bitfit-image', VIT, 'BitFit', added=0,
        trainable=IMAGE_BIAS_COUNT, trained_stock=IMAGE_BIASES),
    Row('lora-video', VIDEO_VIT, 'LoRA', added=LV * LORA_ATTN,
        trainable=LV * LORA_ATTN + NORM, trained_stock=('fc_norm', ),
        own=dict(lora_cfg=dict(rank=LR, alpha=2 * LR))),
    Row('lora-video-mlp-block1', VIDEO_VIT, 'LoRA',
        added=LORA_ATTN + LORA_MLP, trainable=LORA_ATTN + LORA_MLP + NORM,
        trained_stock=('fc_norm', ),
        own=dict(lora_cfg=dict(
            rank=LR, targets=['qkv', 'proj', 'layers.0.0', 'layers.1'],
            layers=[1]))),
    Row('lora-image', VIT, 'LoRA', added=LI * LORA_ATTN,
        trainable=LI * LORA_ATTN, own=dict(lora_cfg=dict(rank=LR))),
    Row('attentive-probe-video', VIDEO_VIT, 'AttentiveProbe',
        added=PROBE, trainable=PROBE + NORM, trained_stock=('fc_norm', ),
        equals_stock_at_init=False),
    Row('attentive-probe-image', VIT, 'AttentiveProbe', added=PROBE,
        trainable=PROBE, own=dict(probe_cfg=dict(num_heads=2)),
        equals_stock_at_init=False),
]
# ------------------------ end of the baselines (more rows may follow here)

# ------------------------------------------------------- hierarchical Swin
# Video Swin (mmaction2 SwinTransformer3D) and image Swin (mmpretrain
# SwinTransformer): 2 stages of 2 blocks, widths 32 and 64 (the final width
# is D, so the contract's head fits), windows that shift in stage 0.
SW_ARCH = SWIN.kwargs['arch']  # VIDEO_SWIN's too
SW_C = SW_ARCH['embed_dims']
SW_DEPTHS, SW_HEADS = tuple(SW_ARCH['depths']), tuple(SW_ARCH['num_heads'])
SW_WIDTHS = tuple(SW_C * 2**s for s in range(len(SW_DEPTHS)))
assert SW_WIDTHS[-1] == D


def swin_stock_params(patch_inputs: int, table: int) -> int:
    """Patch embedding (conv + LayerNorm); per block 2 norms, qkv (biased),
    proj, 4x MLP (12 c^2 + 13 c) and a relative-position table of ``table``
    rows per head; per patch merging a LayerNorm over 4c and a 4c -> 2c
    reduction without bias (8 c^2 + 8 c); the output norm of the last stage.
    """
    total = patch_inputs * SW_C + SW_C + 2 * SW_C
    for s, (c, n, h) in enumerate(zip(SW_WIDTHS, SW_DEPTHS, SW_HEADS)):
        total += n * (12 * c * c + 13 * c + table * h)
        if s < len(SW_DEPTHS) - 1:
            total += 8 * c * c + 8 * c
    return total + 2 * SW_WIDTHS[-1]


def swin_adapter(c: int, r: int) -> int:
    return (c * r + r) + (r * c + c)


# Patches of 2x4x4 (video) / 4x4 pixels; windows of 2x4x4 / 4x4, so
# (2 * 2 - 1) x (2 * 4 - 1)^2 / (2 * 4 - 1)^2 relative positions.
STOCK_PARAMS = {
    VIDEO_VIT.name: VIDEO_STOCK,
    VIT.name: IMAGE_STOCK,
    VIDEO_SWIN.name: swin_stock_params(3 * 2 * 4 * 4, 3 * 7 * 7),
    SWIN.name: swin_stock_params(3 * 4 * 4, 7 * 7),
}
# Default bottleneck: width // 12 per stage (2 and 5 here).
SW_ADAPT = sum(n * swin_adapter(c, c // 12)
               for c, n in zip(SW_WIDTHS, SW_DEPTHS))
# Blocks 1 (stage 0) and 2 (stage 1), bottlenecks [4, 8].
SW_ADAPT_LIST = swin_adapter(SW_WIDTHS[0], 4) + swin_adapter(SW_WIDTHS[1], 8)
# VPT: p tokens of the stage's width per prompted block.
SW_DEEP = P * sum(c * n for c, n in zip(SW_WIDTHS, SW_DEPTHS))
SW_SHALLOW = P * SW_WIDTHS[0]
SW_LAYERS_03 = P * SW_WIDTHS[0] + P * SW_WIDTHS[1]  # layers=[0, 3]
SW_OUT_NORM = 2 * SW_WIDTHS[-1]
ROWS += [
    Row('tunable-video-swin-probe', VIDEO_SWIN, 'Tunable', added=0,
        trainable=0),
    Row('tunable-video-swin-final-norm', VIDEO_SWIN, 'Tunable',
        added=0, trainable=SW_OUT_NORM, trained_stock=('norm1', ),
        own=dict(train_final_norm=True)),
    Row('tunable-video-swin-full', VIDEO_SWIN, 'Tunable', added=0,
        trainable=STOCK_PARAMS[VIDEO_SWIN.name], trained_stock=None,
        own=dict(tuning='full')),
    Row('adaptformer-video-swin', VIDEO_SWIN, 'AdaptFormer',
        added=SW_ADAPT, trainable=SW_ADAPT),
    Row('adaptformer-video-swin-sequential-list', VIDEO_SWIN,
        'AdaptFormer', added=SW_ADAPT_LIST, trainable=SW_ADAPT_LIST,
        own=dict(adapter_cfg=dict(bottleneck=[4, 8], mode='sequential',
                                  layers=[1, 2]))),
    Row('vpt-video-swin-deep', VIDEO_SWIN, 'VPT', added=SW_DEEP,
        trainable=SW_DEEP, own=dict(prompt_cfg=dict(num_tokens=P)),
        equals_stock_at_init=False),
    Row('vpt-video-swin-shallow', VIDEO_SWIN, 'VPT',
        added=SW_SHALLOW, trainable=SW_SHALLOW,
        own=dict(prompt_cfg=dict(num_tokens=P, deep=False)),
        equals_stock_at_init=False),
    Row('tunable-image-swin-probe', SWIN, 'Tunable', added=0,
        trainable=0),
    Row('tunable-image-swin-full', SWIN, 'Tunable', added=0,
        trainable=STOCK_PARAMS[SWIN.name], trained_stock=None,
        own=dict(tuning='full')),
    Row('adaptformer-image-swin', SWIN, 'AdaptFormer',
        added=SW_ADAPT, trainable=SW_ADAPT),
    Row('adaptformer-image-swin-int-final-norm', SWIN,
        'AdaptFormer', added=2 * swin_adapter(SW_WIDTHS[0], 4) +
        2 * swin_adapter(SW_WIDTHS[1], 4),
        trainable=2 * swin_adapter(SW_WIDTHS[0], 4) +
        2 * swin_adapter(SW_WIDTHS[1], 4) + SW_OUT_NORM,
        trained_stock=('norm1', ),
        own=dict(adapter_cfg=dict(bottleneck=4), train_final_norm=True)),
    Row('vpt-image-swin-deep', SWIN, 'VPT', added=SW_DEEP,
        trainable=SW_DEEP, own=dict(prompt_cfg=dict(num_tokens=P)),
        equals_stock_at_init=False),
    Row('vpt-image-swin-layers-0-3', SWIN, 'VPT',
        added=SW_LAYERS_03, trainable=SW_LAYERS_03,
        own=dict(prompt_cfg=dict(num_tokens=P, layers=[0, 3])),
        equals_stock_at_init=False),
]
# LoRA: 6 r c per adapted block (qkv c -> 3c, proj c -> c) at rank LR.
SW_LORA = sum(n * 6 * LR * c for c, n in zip(SW_WIDTHS, SW_DEPTHS))
# BitFit: the patch projection's and its norm's bias, per block norm1, qkv
# (3c), proj, norm2, fc1 (4c), fc2 = 11 c; the merging norm (4 c_0); the
# output norm's bias.
SW_BIAS_COUNT = 2 * SW_C + sum(
    11 * n * c for c, n in zip(SW_WIDTHS, SW_DEPTHS)) + 4 * SW_WIDTHS[0] + \
    SW_WIDTHS[-1]
SW_BLOCK_BIASES = dict(
    video=('norm1.bias', 'attn.qkv.bias', 'attn.proj.bias', 'norm2.bias',
           'mlp.fc1.bias', 'mlp.fc2.bias'),
    image=('norm1.bias', 'attn.w_msa.qkv.bias', 'attn.w_msa.proj.bias',
           'norm2.bias', 'ffn.layers.0.0.bias', 'ffn.layers.1.bias'))


def swin_biases(stages: str, patch_proj: str, kind: str) -> Tuple[str, ...]:
    blocks = tuple(
        f'{stages}.{s}.blocks.{j}.{name}'
        for s, n in enumerate(SW_DEPTHS) for j in range(n)
        for name in SW_BLOCK_BIASES[kind])
    return (f'patch_embed.{patch_proj}.bias', 'patch_embed.norm.bias',
            f'{stages}.0.downsample.norm.bias', 'norm1.bias') + blocks


def swin_block_params(c: int, heads: int, table: int) -> int:
    return 12 * c * c + 13 * c + table * heads


SW_TOP_VIDEO = swin_block_params(SW_WIDTHS[-1], SW_HEADS[-1], 3 * 7 * 7)
SW_TOP_IMAGE = swin_block_params(SW_WIDTHS[-1], SW_HEADS[-1], 7 * 7)
for family, name, stages, proj, kind, top in (
        (VIDEO_SWIN, 'video-swin', 'layers', 'proj', 'video', SW_TOP_VIDEO),
        (SWIN, 'image-swin', 'stages', 'projection', 'image', SW_TOP_IMAGE)):
    ROWS += [
        Row(f'lora-{name}', family, 'LoRA', added=SW_LORA,
            trainable=SW_LORA, own=dict(lora_cfg=dict(rank=LR))),
        Row(f'bitfit-{name}', family, 'BitFit', added=0,
            trainable=SW_BIAS_COUNT,
            trained_stock=swin_biases(stages, proj, kind)),
        Row(f'partial-{name}-top1', family, 'Partial',
            added=0, trainable=top + SW_OUT_NORM,
            trained_stock=(f'{stages}.1.blocks.1', 'norm1')),
        Row(f'attentive-probe-{name}', family, 'AttentiveProbe',
            added=PROBE, trainable=PROBE, equals_stock_at_init=False),
    ]
# ------------------------------------------------ end of hierarchical Swin

# ------------------------------------------------------- CLIP: UniFormerV2
# mmaction2 UniFormerV2: a Conv3d stem (no bias) of 1 x UP x UP patches, CLS,
# a position table for 1 + G tokens, ln_pre; CLIP blocks (biased in_proj
# d -> 3d, out_proj, 4x MLP, two norms: 12 d^2 + 13 d) each with two local
# MHRAs (BatchNorm3d, 1x1x1 conv d -> RE, depth-wise 3x1x1 conv, 1x1x1 conv
# RE -> d); UJ global UniBlocks (a depth-wise 3x3x3 DPE conv, an Extractor:
# biased in_proj, out_proj, 4x MLP, three norms), the temporal CLS token,
# the fusion weight `balance` and `norm`.
UV2 = UNIFORMERV2.kwargs
assert UV2['width'] == UV2['n_dim'] == D
UL, UJ, UP = UV2['layers'], UV2['n_layers'], UV2['patch_size']
G = (UV2['input_resolution'] // UP)**2  # patches per frame
RE = int(D // 1.5)  # the local MHRA's reduced width (dw_reduction 1.5)
LMHRA = 2 * D + (D * RE + RE) + (3 * RE + RE) + (RE * D + D)
UV2_CLIP_BLOCK = (3 * D * D + 3 * D) + (D * D + D) + (8 * D * D + 5 * D) + \
    2 * NORM
UV2_BLOCK = UV2_CLIP_BLOCK + 2 * LMHRA
UV2_GLOBAL = (27 * D + D) + (3 * D * D + 3 * D) + (D * D + D) + \
    (8 * D * D + 5 * D) + 3 * NORM  # DPE conv + Extractor, per UniBlock
# What train_uniblocks trains: every local MHRA, the temporal CLS token, the
# UniBlocks, balance and norm.
UNIBLOCKS = UL * 2 * LMHRA + D + UJ * UV2_GLOBAL + D + NORM
UNIBLOCK_NAMES = tuple(
    f'transformer.resblocks.{i}.lmhra{k}' for i in range(UL)
    for k in (1, 2)) + ('transformer.temporal_cls_token', 'transformer.dpe',
                        'transformer.dec', 'transformer.balance',
                        'transformer.norm')
STOCK_PARAMS[UNIFORMERV2.name] = (3 * UP * UP * D + D + (1 + G) * D + NORM +
                                  UL * UV2_BLOCK + D + UJ * UV2_GLOBAL + D +
                                  NORM)
# BitFit: ln_pre; per block in_proj (3d), out_proj, ln_1, c_fc (4d), c_proj,
# ln_2 and per local MHRA its BatchNorm, two RE-wide and one d-wide conv;
# per UniBlock the DPE conv, in_proj, out_proj, c_fc, c_proj, ln_1-3; norm.
UV2_BLOCK_BIASES = ('attn.in_proj_bias', 'attn.out_proj.bias', 'ln_1.bias',
                    'mlp.c_fc.bias', 'mlp.c_proj.bias', 'ln_2.bias') + tuple(
                        f'lmhra{k}.pos_embed.{i}.bias' for k in (1, 2)
                        for i in range(4))
UV2_GLOBAL_BIASES = ('attn.in_proj_bias', 'attn.out_proj.bias', 'ln_1.bias',
                     'mlp.c_fc.bias', 'mlp.c_proj.bias', 'ln_2.bias',
                     'ln_3.bias')
UV2_BIASES = ('ln_pre.bias', 'transformer.norm.bias') + tuple(
    f'transformer.resblocks.{i}.{n}' for i in range(UL)
    for n in UV2_BLOCK_BIASES) + tuple(
        f'transformer.dpe.{j}.bias' for j in range(UJ)) + tuple(
            f'transformer.dec.{j}.{n}' for j in range(UJ)
            for n in UV2_GLOBAL_BIASES)
UV2_BIAS_COUNT = D + UL * (11 * D + 2 * (2 * D + 2 * RE)) + \
    UJ * (D + 12 * D) + D
FROZEN_UNIBLOCKS = dict(train_uniblocks=False)
ROWS += [
    Row('tunable-uniformerv2', UNIFORMERV2, 'Tunable', added=0,
        trainable=UNIBLOCKS, trained_stock=UNIBLOCK_NAMES),
    Row('tunable-uniformerv2-probe', UNIFORMERV2, 'Tunable', added=0,
        trainable=0, own=FROZEN_UNIBLOCKS),
    Row('tunable-uniformerv2-probe-final-norm', UNIFORMERV2, 'Tunable',
        added=0, trainable=NORM, trained_stock=('transformer.norm', ),
        own=dict(FROZEN_UNIBLOCKS, train_final_norm=True)),
    Row('tunable-uniformerv2-full', UNIFORMERV2, 'Tunable', added=0,
        trainable=STOCK_PARAMS[UNIFORMERV2.name], trained_stock=None,
        own=dict(tuning='full')),
    Row('adaptformer-uniformerv2', UNIFORMERV2, 'AdaptFormer',
        added=UL * ADAPTER, trainable=UL * ADAPTER + UNIBLOCKS,
        trained_stock=UNIBLOCK_NAMES, own=dict(adapter_cfg=ADAPT)),
    Row('adaptformer-uniformerv2-frozen-uniblocks', UNIFORMERV2,
        'AdaptFormer', added=UL * ADAPTER, trainable=UL * ADAPTER,
        own=dict(FROZEN_UNIBLOCKS, adapter_cfg=ADAPT)),
    Row('vpt-uniformerv2-deep', UNIFORMERV2, 'VPT', added=UL * PROMPTS,
        trainable=UL * PROMPTS,
        own=dict(FROZEN_UNIBLOCKS, prompt_cfg=dict(num_tokens=P)),
        equals_stock_at_init=False),
    Row('vpt-uniformerv2-shallow', UNIFORMERV2, 'VPT', added=PROMPTS,
        trainable=PROMPTS + UNIBLOCKS, trained_stock=UNIBLOCK_NAMES,
        own=dict(prompt_cfg=dict(num_tokens=P, deep=False)),
        equals_stock_at_init=False),
    Row('lora-uniformerv2', UNIFORMERV2, 'LoRA', added=UL * LORA_ATTN,
        trainable=UL * LORA_ATTN,
        own=dict(FROZEN_UNIBLOCKS, lora_cfg=dict(rank=LR))),
    Row('bitfit-uniformerv2', UNIFORMERV2, 'BitFit', added=0,
        trainable=UV2_BIAS_COUNT, trained_stock=UV2_BIASES,
        own=FROZEN_UNIBLOCKS),
    Row('partial-uniformerv2-top1', UNIFORMERV2, 'Partial', added=0,
        trainable=UV2_BLOCK + NORM,
        trained_stock=(f'transformer.resblocks.{UL - 1}',
                       'transformer.norm'),
        own=FROZEN_UNIBLOCKS),
    Row('attentive-probe-uniformerv2', UNIFORMERV2, 'AttentiveProbe',
        added=PROBE, trainable=PROBE, own=FROZEN_UNIBLOCKS,
        equals_stock_at_init=False),
]
# ------------------------------------------------ end of CLIP: UniFormerV2
LABELS = torch.tensor([0, 2])


# ------------------------------------------------------------------ helpers
def make_stock(row: Row) -> nn.Module:
    """The stock pretrained model of ``row`` (random vectors, eval)."""
    return row.family.stock(**row.stock)


def build(row: Row, seed: int = 0) -> nn.Module:
    """``row``'s backbone through its registry, as a config builds it."""
    return row.family.build(row.method, seed, **row.stock, **row.own)


def build_pretrained(row: Row, stock: nn.Module, seed: int = 0) -> nn.Module:
    """Built, initialised, then given the stock weights (method modules keep
    their init); every stock key must load into the same name."""
    model = build(row, seed)
    model.init_weights()
    missing, unexpected = model.load_state_dict(
        stock.state_dict(), strict=False)
    assert unexpected == []
    assert not set(missing) & set(stock.state_dict())
    return model


def added_names(model: nn.Module, stock: nn.Module) -> set:
    return {n for n, _ in model.named_parameters()} - \
        {n for n, _ in stock.named_parameters()}


def expected_trainable(row: Row, model: nn.Module, stock: nn.Module) -> set:
    names = {n for n, _ in model.named_parameters()}
    if row.trained_stock is None:
        return names
    prefixes = tuple(m + '.' for m in row.trained_stock)
    return added_names(model, stock) | {
        n for n, _ in stock.named_parameters()
        if n.startswith(prefixes) or n in row.trained_stock}


def trainable(model: nn.Module) -> set:
    return {n for n, p in model.named_parameters() if p.requires_grad}


def batch_statistics(model: nn.Module, training: bool) -> set:
    """State keys of the running statistics of the BatchNorms of ``model``
    in train (or eval) mode."""
    return {f'{name}.{buffer}' for name, module in model.named_modules()
            if isinstance(module, nn.modules.batchnorm._BatchNorm)
            and module.training == training
            for buffer, _ in module.named_buffers(recurse=False)}


def randomize_added(model: nn.Module, stock: nn.Module, seed: int = 3):
    """Random method tensors, as after training (at init AdaptMLP's up is
    zero, which would leave its down without gradient)."""
    names = added_names(model, stock)
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name in names:
                param.normal_(0.0, 0.3)


def feature(out) -> torch.Tensor:
    """``(B, d)`` feature of a video (tensor) or image (tuple) output; a
    feature map ``(B, d, *grid)`` (Swin) is averaged over its grid."""
    out = final_output(out)
    return out.flatten(2).mean(-1) if out.dim() > 2 else out


def as_tuple(out) -> tuple:
    return (out, ) if torch.is_tensor(out) else tuple(out)


def inputs(row: Row) -> torch.Tensor:
    return row.family.inputs()


def loss_of(model: nn.Module, head: nn.Module, x) -> torch.Tensor:
    return F.cross_entropy(head(feature(model(x))), LABELS)


def training_step(model: nn.Module, x) -> None:
    """One SGD step of backbone + linear head (the head always trains, so a
    frozen-backbone row still takes a real step)."""
    torch.manual_seed(2)
    head = nn.Linear(D, 3)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params + list(head.parameters()), lr=0.1)
    optimizer.zero_grad()
    loss_of(model, head, x).backward()
    optimizer.step()


@pytest.fixture(params=ROWS, ids=[r.id for r in ROWS])
def row(request):
    return request.param


@pytest.fixture
def stock(row):
    return make_stock(row)


# ------------------------------------------------------------------- checks
def test_every_registered_backbone_has_a_row():
    registered = {
        name for name in backbones.__all__
        if isinstance(getattr(backbones, name), type)
        and issubclass(getattr(backbones, name), nn.Module)
    }
    assert {r.type for r in ROWS} == registered
    assert {r.type for r in ROWS if r.trained_stock is not None} == \
        registered, 'every backbone needs a parameter-efficient row'
    for family in TINY_FAMILIES:
        assert any(r.family is family and r.trained_stock is None
                   for r in ROWS), f'{family.name}: no full-tuning row'
    for r in ROWS:
        assert r.family.registry.get(r.type) is getattr(backbones, r.type)
    cells = {m.method_name + f.family_name
             for m in backbones.METHODS for f in backbones.FAMILIES}
    assert cells | {f.__name__ for f in backbones.FAMILIES} == registered
    # The table of tiny families is the package's list of families.
    assert [(f.name, f.stock_cls) for f in TINY_FAMILIES] == [
        (f.family_name, f.stock_backbone) for f in backbones.FAMILIES]


def test_trainable_set_is_decided_at_build(row, stock):
    model = build(row)
    expected = expected_trainable(row, model, stock)
    assert trainable(model) == expected
    assert bool(added_names(model, stock)) == (row.added > 0)
    model.init_weights()
    model.load_state_dict(stock.state_dict(), strict=False)
    model.train()
    assert trainable(model) == expected
    model.eval()
    assert trainable(model) == expected


def test_output_at_init_against_the_stock_model(row, stock):
    model = build_pretrained(row, stock)
    model.eval()
    x = inputs(row)
    with torch.no_grad():
        outs, refs = as_tuple(model(x)), as_tuple(stock(x))
    assert len(outs) == len(refs)
    for out, ref in zip(outs, refs):
        if row.equals_stock_at_init:
            assert out.shape == ref.shape
            assert (out - ref).abs().max() <= 1e-5
        else:  # the prompts (the pooler) do act
            assert feature(out).shape == feature(ref).shape
            assert (feature(out) - feature(ref)).abs().max() > 1e-3


def test_frozen_tensors_bit_identical_after_a_training_step(row, stock):
    model = build_pretrained(row, stock)
    randomize_added(model, stock)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    training_step(model, inputs(row))
    after = model.state_dict()
    assert set(after) == set(before)
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    # A BatchNorm that trains (UniFormerV2's local MHRA) updates its
    # statistics; every other buffer and every frozen tensor is unchanged.
    running = batch_statistics(model, training=True)
    assert changed - running == trainable(model)
    assert running <= changed


def test_tunable_only_state_round_trip(row, stock):
    trained = build_pretrained(row, stock, seed=0)
    randomize_added(trained, stock)
    training_step(trained, inputs(row))
    buffer = io.BytesIO()
    torch.save(tunable_state_dict(trained), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)

    params = dict(trained.named_parameters())
    assert {k for k in state if k in params} == trainable(trained)
    assert sum(state[k].numel() for k in state if k in params) == \
        row.trainable
    if row.trained_stock is not None:  # only method / trained stock state
        buffers = {n for n, _ in trained.named_buffers()}
        assert set(state) - trainable(trained) <= buffers

    fresh = build_pretrained(row, stock, seed=1)
    reference = trained.state_dict()
    if row.trainable:
        assert any(not torch.equal(v, reference[k])
                   for k, v in fresh.state_dict().items())
    checksum = frozen_checksum(trained)
    if row.trained_stock is not None:  # a backbone with other frozen weights
        other = build(row, seed=5)
        other.init_weights()
        with pytest.raises(BackboneMismatchError):
            restore_tunable_state(other, state, None, checksum)
    restore_tunable_state(fresh, state, None, checksum)
    restored = fresh.state_dict()
    assert set(restored) == set(reference)
    for key, value in reference.items():
        assert torch.equal(restored[key], value), key
    trained.eval()
    fresh.eval()
    x = inputs(row)
    with torch.no_grad():
        for a, b in zip(as_tuple(trained(x)), as_tuple(fresh(x))):
            assert torch.equal(a, b)


def test_parameter_counts_follow_the_formulas(row, stock):
    assert sum(p.numel() for p in stock.parameters()) == row.stock_params
    model = build(row)
    summary = summarize_parameters(model)
    assert summary.total == row.stock_params + row.added
    assert summary.trainable == row.trainable
    assert model.tunable_summary().headline() == summary.headline()


def test_gradients_reach_exactly_the_trainable_tensors(row, stock):
    model = build_pretrained(row, stock)
    randomize_added(model, stock)
    model.train()
    torch.manual_seed(2)
    head = nn.Linear(D, 3)
    loss_of(model, head, inputs(row)).backward()
    with_grad = {n for n, p in model.named_parameters() if p.grad is not None}
    assert with_grad == trainable(model)
    silent = [n for n, p in model.named_parameters()
              if p.grad is not None and not p.grad.abs().sum() > 0]
    assert silent == []
    assert head.weight.grad.abs().sum() > 0


# ------------------------------------------------- GPU-readiness on the CPU
def to_fake_cuda(model: nn.Module) -> None:
    """Replace every parameter and buffer of ``model`` by an empty tensor on
    the fake CUDA device (call inside a ``FakeTensorMode``)."""
    for module in model.modules():
        for name, param in list(module._parameters.items()):
            if param is not None:
                module._parameters[name] = nn.Parameter(
                    torch.empty(param.shape, dtype=param.dtype,
                                device='cuda'),
                    requires_grad=param.requires_grad)
        for name, buf in list(module._buffers.items()):
            if buf is not None:
                module._buffers[name] = torch.empty(
                    buf.shape, dtype=buf.dtype, device='cuda')


def test_forward_with_every_tensor_on_a_fake_gpu(row):
    """A tensor the forward makes on the CPU (a mask, a table, an index)
    meets the CUDA ones and raises."""
    model = build(row)
    # mmaction2 caches Video Swin's shift mask per shape and device: a mask
    # from another (fake) mode would be handed back.
    video_swin_compute_mask.cache_clear()
    with FakeTensorMode():
        to_fake_cuda(model)
        x = torch.empty(*row.family.input_shape, device='cuda')
        model.train()
        outs = as_tuple(model(x))
        model.eval()
        with torch.no_grad():
            outs += as_tuple(model(x))
    assert all(out.device.type == 'cuda' for out in outs)


def ready_to_train(row: Row, stock: nn.Module):
    """``row``'s pretrained model in train mode with random method tensors,
    a linear head and the input."""
    model = build_pretrained(row, stock)
    randomize_added(model, stock)
    model.train()
    torch.manual_seed(2)
    return model, nn.Linear(D, 3), inputs(row)


def first_row_of_each_cell():
    """One row per (method, family) cell: compiling costs seconds a row,
    and an option variant of a cell (a block subset, a mode) changes only
    which Python branches dynamo traces, not what it can trace."""
    first = {}
    for r in ROWS:
        first.setdefault((r.family.name, r.method), r)
    return list(first.values())


CELLS = first_row_of_each_cell()


@pytest.mark.parametrize('row', CELLS, ids=[r.id for r in CELLS])
def test_compiled_training_step_has_no_graph_break(row, stock):
    model, head, x = ready_to_train(row, stock)
    torch._dynamo.reset()
    counters.clear()
    step = torch.compile(lambda x: loss_of(model, head, x), backend='eager')
    for _ in range(2):
        step(x).backward()
    assert dict(counters['graph_break']) == {}
    assert all(p.grad is not None for p in model.parameters()
               if p.requires_grad)


def test_bf16_autocast_step_is_close_to_fp32(row, stock):
    model, head, x = ready_to_train(row, stock)
    reference = loss_of(model, head, x).item()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        loss = loss_of(model, head, x)
    loss.backward()
    assert torch.isfinite(loss)
    assert abs(loss.item() - reference) <= 0.05 * max(1.0, abs(reference))
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(torch.isfinite(g).all() for g in grads)


# ------------------------------------------ heads: MLP-k on frozen features
# The MLP-k baseline is a head on the linear-probe backbones (rows
# 'tunable-video-probe' / 'tunable-image-probe' above). Its own contract:
# the count formula, and one step of backbone + head moves exactly the
# trainable tensors of both (the BatchNorm of MLPHead has no parameters).
C = 3  # classes


def mlp_params(k: int) -> int:
    """MLP-k with hidden width d: (k - 1) * (d*d + d) + d*C + C."""
    return (k - 1) * (D * D + D) + D * C + C


HEAD_ROWS = [
    ('mlp3-video', 'tunable-video-probe', 'MLPHead', 3),
    ('mlp1-video', 'tunable-video-probe', 'MLPHead', 1),
    ('mlp3-image', 'tunable-image-probe', 'MLPClsHead', 3),
]


@pytest.mark.parametrize('backbone_id, head_type, k',
                         [r[1:] for r in HEAD_ROWS],
                         ids=[r[0] for r in HEAD_ROWS])
def test_mlp_head_rows(backbone_id, head_type, k):
    row = next(r for r in ROWS if r.id == backbone_id)
    stock = make_stock(row)
    model = build_pretrained(row, stock)
    torch.manual_seed(4)
    head = row.family.registry.build(dict(
        type=head_type, _scope_=row.family.scope, num_classes=C,
        in_channels=D, mlp_cfg=dict(num_layers=k)))
    head.init_weights()
    assert sum(p.numel() for p in head.parameters()) == mlp_params(k)
    assert all(p.requires_grad for p in head.parameters())

    x = inputs(row)
    net = nn.ModuleDict(dict(backbone=model, head=head))
    before = {k_: v.clone() for k_, v in net.state_dict().items()}
    model.train()
    head.train()
    params = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=0.1)
    feats = model(x)
    logits = head(feats) if head_type == 'MLPClsHead' else head(feature(
        feats))
    F.cross_entropy(logits, LABELS).backward()
    with_grad = {n for n, p in net.named_parameters() if p.grad is not None}
    assert with_grad == {n for n, p in net.named_parameters()
                         if p.requires_grad}
    optimizer.step()
    after = net.state_dict()
    moved = {n for n in before if not torch.equal(before[n], after[n])}
    buffers = {n for n, _ in net.named_buffers()}
    assert moved - buffers == with_grad  # BatchNorm statistics may move
