"""The CLIP video family: mmaction2's UniFormerV2, made tunable.

UniFormerV2 (arXiv 2211.09552) arms a CLIP image ViT for video. Its CLIP
blocks (``nn.MultiheadAttention``, ``ln_1`` / ``ln_2``, an MLP of ``c_fc`` /
``c_proj`` with QuickGELU) run frame by frame; optionally a *local MHRA*
(depth-wise temporal convolutions over the token grid, ``lmhra1`` before the
attention, ``lmhra2`` after it) sits inside each block; *global UniBlocks*
(``Extractor``: a running video token cross-attending to the tokens of all
frames, after a depth-wise 3D convolution, the DPE) read chosen layers
(``return_list``); the output fuses the running token with the frames' mean
CLS token, ``norm((1 - w) g + w mean_t CLS_t)``, ``w = sigmoid(balance)``.

:class:`TunableUniFormerV2` subclasses the stock class and keeps every
parameter name, so mmaction2's UniFormerV2 checkpoints (K400, K710: a
recognizer's ``backbone.*``) and its CLIP visual encoders
(``vit-base-p16-res224_clip-rgb_20221219-b8a5da86.pth``: bare keys, a 2-D
``conv1``, inflated at load as the stock ``_load_pretrained`` does) load
unchanged; method tensors get new names. Build-time freezing, frozen-in-eval,
no graph below the first trainable block, activation checkpointing, summaries
and load reports come from :class:`~.tunable_base.TunableBackboneMixin`; this
file holds the family's hooks and these choices:

* **Token layout.** The stock model carries ``(L, N*T, C)`` (sequence first);
  here the blocks see ``(N*T, n, C)``, a frame per row, tokens ``[CLS,
  patches]`` (``num_prefix_tokens = 1``), so every method reads a frame as it
  reads an image ViT's sequence. The patches are always the *last* ``H*W``
  tokens of a frame.
* **Attention.** The CLIP attention is computed from the stock module's
  tensors (fused ``scaled_dot_product_attention``, the same math as
  ``nn.MultiheadAttention``); the in-projection, a Parameter
  (``in_proj_weight``), goes through
  :func:`~adaptformer_mm.peft.lora.apply_projection` and ``out_proj`` is
  called as a module, so LoRA reaches both.
* **One branch before the MLP.** ``attn_branch`` is everything the block
  adds before ``ln_2``: the first local MHRA, the attention and the second
  local MHRA, summed. ``x + attn_branch(x)`` is the stream entering ``ln_2``,
  so AdaptFormer's adapter reads exactly that ``x'`` (spec: after attention,
  before ``LN2``), outside drop-path.
* **Local MHRA and extra tokens.** The local MHRA convolves the patch grid
  only; the CLS token (stock) and any other token (VPT's prompts) pass it
  unchanged: they are stripped before the grid is formed and re-attached
  after. Following the stock treatment of CLS: a prompt has no place on the
  ``T x H x W`` grid.
* **Global UniBlocks.** A UniBlock reads the CLS token and the patch grid of
  every frame (DPE added to the grid), as the stock model does; other tokens
  (prompts) are dropped before it reads a layer, as they are dropped before
  the readout (VPT: prompts never reach the pooled feature).
* **Readout.** ``pool`` (the attentive probe, VPT's output ablation)
  replaces the per-frame CLS readout: it gets each frame's tokens, CLS
  first, as on the image ViT; the temporal mean and the fusion follow.
* **Drop-path** acts per frame (a row of ``(N*T, n, C)``) in the attention
  and MLP branches; the stock model, sequence first, drops single tokens.
  With the published rate 0 (and frozen blocks in eval mode) both are the
  identity.
* **What trains under** ``tuning='peft'``: ``train_uniblocks`` (see the
  class).

``TunableUniFormerV2(tuning='peft', train_uniblocks=False)`` is linear
probing; ``train_uniblocks=True`` (default) is frozen CLIP with UniFormerV2's
own modules trained; ``tuning='full'`` full fine-tuning.
"""
import dataclasses
import math
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmaction.models.backbones.uniformerv2 import (_MODELS,
                                                   ResidualAttentionBlock,
                                                   UniFormerV2)
from mmaction.registry import MODELS
from torch import Tensor, nn

from adaptformer_mm.peft.lora import apply_projection
from adaptformer_mm.peft.prompt import PromptConfig
from .tunable_base import TunableBackboneMixin, check_build_kwargs

__all__ = ['TunableUniFormerV2', 'UniFormerV2PromptConfig', 'FRAME_PROMPTS']

#: Prompt locations on UniFormerV2 (``prompt_cfg.location``).
FRAME_PROMPTS = ('prepend', 'add')


@dataclasses.dataclass(frozen=True)
class UniFormerV2PromptConfig(PromptConfig):
    """VPT's settings on UniFormerV2 (``prompt_cfg``): those of
    :class:`~adaptformer_mm.peft.PromptConfig`, without
    ``location='prepend_pixel'``. Its pixel prompts go through the patch
    embedding alone; UniFormerV2's stem is ``conv1`` then ``ln_pre`` over
    the position-embedded tokens, and with ``temporal_downsample=True``
    ``conv1`` spans 3 frames at stride 2 with padding, so one pixel tubelet
    does not give one token."""

    def check(self) -> None:
        super().check()
        if self.location not in FRAME_PROMPTS:
            raise ValueError(
                f'{self.key}.location must be one of {FRAME_PROMPTS} on '
                f'UniFormerV2 (its stem has no patch embedding of its own to '
                f'run pixel prompts through), got {self.location!r}')


@dataclasses.dataclass
class ClipLayout:
    """What the blocks' readers need of a batch: ``batch`` clips of
    ``frames`` frames of ``grid`` = ``(H, W)`` patches, and the running
    token of the global UniBlocks ``(1, N, C)`` once one has run."""
    batch: int
    frames: int
    grid: Tuple[int, int]
    token: Optional[Tensor] = None


@MODELS.register_module()
class TunableUniFormerV2(TunableBackboneMixin, UniFormerV2):
    """UniFormerV2 with build-time freezing and no wasted autograd. Linear
    probing, frozen CLIP with trained UniBlocks and full fine-tuning are
    configurations of it.

    Accepts every argument of mmaction2's ``UniFormerV2`` (by keyword;
    unknown keywords are an error) plus:

    Args:
        tuning (str): ``'peft'``: the stock model is frozen except what
            ``train_uniblocks`` / ``train_final_norm`` name; the method's
            modules train. ``'full'``: everything trains.
        train_uniblocks (bool): Under ``'peft'``, train the modules
            UniFormerV2 adds to CLIP: the local MHRA of every block
            (``lmhra1`` / ``lmhra2``), the global UniBlocks (``dpe``, ``dec``,
            ``temporal_cls_token``) and the fusion (``balance``, ``norm``);
            the CLIP part (``conv1``, ``class_embedding``,
            ``positional_embedding``, ``ln_pre``, the blocks' attention, norms
            and MLP) stays frozen. Default True: from a CLIP encoder these
            modules are new (UniFormerV2 starts its projections at zero), and
            frozen they add nothing. False: everything but the method is
            frozen (from a K400 / K710 UniFormerV2 checkpoint they are
            pretrained). B/16 at the published settings (no local MHRA, 4
            UniBlocks of width 768): 28,446,720 parameters.
        train_final_norm (bool): Under ``'peft'``, train ``transformer.norm``
            (the norm of the fused feature, as the video recipe trains
            ``fc_norm``) even with ``train_uniblocks=False``.
        with_cp (bool): Activation checkpointing of every block that runs
            with autograd during training.
        skip_frozen_grad (bool): Run the embedding and all blocks below the
            lowest block holding a trainable parameter under
            ``torch.no_grad()`` (same gradients). Default True.

    Shapes:
        input ``(N, 3, T, H, W)`` with ``T = t_size`` (``2 t_size`` with
        ``temporal_downsample``) and ``H = W = input_resolution``; output
        ``(N, C)``.
    """

    convert_hint = ('none needed: mmaction2 UniFormerV2 checkpoints load with '
                    'init_cfg prefix="backbone.", its CLIP files without')
    stock_backbone = UniFormerV2
    registry = MODELS
    family_name = 'UniFormerV2'
    num_prefix_tokens = 1
    embed_attrs = ('conv1', 'class_embedding', 'positional_embedding',
                   'ln_pre')
    final_norm_name = 'transformer.norm'
    method_configs = {'prompt_cfg': UniFormerV2PromptConfig}
    # nn.MultiheadAttention's projections: the in-projection Parameter and
    # out_proj (there is no 'qkv' / 'proj' here).
    method_defaults = {'lora_cfg': dict(targets=('in_proj', 'out_proj'))}

    def __init__(self,
                 *,
                 tuning: str = 'peft',
                 train_uniblocks: bool = True,
                 train_final_norm: bool = False,
                 with_cp: bool = False,
                 skip_frozen_grad: bool = True,
                 **kwargs) -> None:
        stock = check_build_kwargs(type(self), tuning, kwargs)
        for key, value in (('train_uniblocks', train_uniblocks),
                           ('train_final_norm', train_final_norm)):
            if not isinstance(value, bool):
                raise ValueError(
                    f'{key} must be True or False, got {value!r}')
        check_stock_settings(stock)
        super().__init__(**kwargs)
        self.embed_dims = stock['width']
        self.train_uniblocks = train_uniblocks
        self.train_final_norm = train_final_norm
        # Block index -> the global UniBlock that reads it (the stock model
        # counts them in block order).
        self.uniblock_of: Dict[int, int] = {
            layer: j for j, layer in enumerate(sorted(stock['return_list']))
        }
        self.setup_tunable(
            tuning,
            self.uniblock_names() if train_uniblocks else (),
            with_cp=with_cp,
            skip_frozen_grad=skip_frozen_grad,
            train_final_norm=train_final_norm)

    def uniblock_names(self) -> List[str]:
        """The stock modules and parameters UniFormerV2 adds to CLIP (what
        ``train_uniblocks`` trains)."""
        names = [
            f'transformer.resblocks.{i}.{name}'
            for i, block in enumerate(self.transformer.resblocks)
            for name in ('lmhra1', 'lmhra2') if hasattr(block, name)
        ]
        return names + [
            'transformer.temporal_cls_token', 'transformer.dpe',
            'transformer.dec', 'transformer.balance', 'transformer.norm'
        ]

    # ------------------------------------------------------------ structure
    @property
    def tunable_blocks(self) -> nn.ModuleList:
        """The CLIP blocks (``transformer.resblocks``)."""
        return self.transformer.resblocks

    @property
    def patch_fan_in(self) -> int:
        """Inputs of one ``conv1`` kernel (``3 * 1 * 16 * 16`` for B/16:
        VPT's bound 0.0625 at width 768, as on an image ViT-B/16)."""
        return math.prod(self.conv1.weight.shape[1:])

    @property
    def num_patch_tokens(self) -> int:
        """Patch tokens of a frame (the position table's, less CLS)."""
        return self.positional_embedding.shape[0] - 1

    def cls_readout_error(self) -> Optional[str]:
        return None  # the fusion reads each frame's CLS token

    # -------------------------------------------------------------- forward
    def embed(self, inputs: Tensor) -> Tuple[Tensor, ClipLayout]:
        """``conv1``, CLS, position table, ``ln_pre``: ``(N*T, 1+H*W, C)``
        frames, and the :class:`ClipLayout` the readers need."""
        x = self.conv1(inputs)
        n, c, t, h, w = x.shape
        if t != self.transformer.T or h * w != self.num_patch_tokens:
            side = math.isqrt(self.num_patch_tokens)
            raise ValueError(
                f'{type(self).__name__}: the input gives {t} frames of '
                f'{h}x{w} patches after conv1; the backbone was built for '
                f'{self.transformer.T} frames (t_size, halved by '
                f'temporal_downsample) of {side}x{side} patches '
                f'(input_resolution={self.input_resolution})')
        x = x.permute(0, 2, 3, 4, 1).reshape(n * t, h * w, c)
        cls = self.class_embedding.to(x.dtype) + x.new_zeros(n * t, 1, c)
        x = torch.cat((cls, x), dim=1) + self.positional_embedding.to(x.dtype)
        return self.ln_pre(x), ClipLayout(n, t, (h, w))

    def attn_branch(self, block: ResidualAttentionBlock, x: Tensor) -> Tensor:
        """Everything the block adds before ``ln_2``, as one branch: the
        first local MHRA, ``DropPath(Attn(LN1(.)))``, the second local MHRA.
        ``x + attn_branch(block, x)`` is the stream entering ``ln_2``."""
        branch = self.local_mhra(block, 'lmhra1', x)
        y = x if branch is None else x + branch
        attn = block.drop_path(self.attention(block.attn, block.ln_1(y)))
        branch = attn if branch is None else branch + attn
        second = self.local_mhra(block, 'lmhra2', x + branch)
        return branch if second is None else branch + second

    def mlp_branch(self, block: ResidualAttentionBlock, x: Tensor) -> Tensor:
        """``DropPath(MLP(LN2(x)))``."""
        return block.drop_path(block.mlp(block.ln_2(x)))

    def local_mhra(self, block: ResidualAttentionBlock, name: str,
                   x: Tensor) -> Optional[Tensor]:
        """``DropPath(block.<name>(grid))`` on the patch grid of ``x``, zero
        on the other tokens (CLS, prompts), ``(N*T, n, C)``; None when the
        block has no such local MHRA."""
        lmhra = getattr(block, name, None)
        if lmhra is None:
            return None
        rows, n, c = x.shape
        t = self.transformer.T
        side = math.isqrt(self.num_patch_tokens)
        patches = self.num_patch_tokens
        grid = x[:, n - patches:].reshape(rows // t, t, side, side, c)
        out = block.drop_path(lmhra(grid.permute(0, 4, 1, 2, 3)))
        out = out.permute(0, 2, 3, 4, 1).reshape(rows, patches, c)
        return F.pad(out, (0, 0, n - patches, 0))

    def attention(self, attn: nn.MultiheadAttention, x: Tensor) -> Tensor:
        """Self-attention of the stock module's tensors, ``(B, n, C) -> (B,
        n, C)``: ``nn.MultiheadAttention``'s math, batch first."""
        b, n, c = x.shape
        qkv = apply_projection(attn, 'in_proj', x)
        q, k, v = qkv.reshape(b, n, 3, attn.num_heads, c // attn.num_heads
                              ).permute(2, 0, 3, 1, 4).unbind(0)
        drop = attn.dropout if attn.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=drop)
        return attn.out_proj(y.transpose(1, 2).reshape(b, n, c))

    def after_block(self, index: int, x: Tensor, layout: ClipLayout,
                    outs: List[Tensor]) -> Tensor:
        """The global UniBlock reading block ``index`` (if one does), then
        the readout after the last block."""
        j = self.uniblock_of.get(index)
        if j is not None:
            layout.token = self.global_block(j, x, layout)
        if index == len(self.tunable_blocks) - 1:
            outs.append(self.readout(x, layout, index))
        return x

    def global_block(self, j: int, x: Tensor, layout: ClipLayout) -> Tensor:
        """UniBlock ``j`` on the frames ``x`` ``(N*T, n, C)``: it reads every
        frame's CLS token and patch grid (plus ``dpe[j]`` of the grid),
        ``T*(1+H*W)`` tokens frame by frame, as the stock model; other tokens
        are not read. Returns the running token ``(1, N, C)``."""
        tr = self.transformer
        (h, w), n, t = layout.grid, layout.batch, layout.frames
        c = x.shape[-1]
        cls = x[:, :1].reshape(n, t, 1, c)
        grid = x[:, x.shape[1] - h * w:].reshape(n, t, h, w, c)
        dpe = tr.dpe[j](grid.permute(0, 4, 1, 2, 3)).permute(0, 2, 3, 4, 1)
        grid = (grid + dpe).reshape(n, t, h * w, c)
        frames = torch.cat((cls, grid), dim=2).reshape(n, -1, c)
        # The stock Extractor, sequence first.
        return tr.dec[j](self.global_token(layout), frames.transpose(0, 1))

    def global_token(self, layout: ClipLayout) -> Tensor:
        """The running token of the UniBlocks, ``temporal_cls_token`` before
        the first (made here, under the caller's grad mode: it may train)."""
        if layout.token is not None:
            return layout.token
        return self.transformer.temporal_cls_token.repeat(1, layout.batch, 1)

    def readout(self, x: Tensor, layout: ClipLayout, index: int,
                pool: Optional[Callable[[Tensor, int], Tensor]] = None
                ) -> Tensor:
        """The stock output ``norm((1 - w) g + w mean_t CLS_t)`` from the
        frames ``x`` ``(N*T, n, C)`` and the UniBlocks' token ``g``,
        ``w = sigmoid(balance)``: ``(N, C)``. ``pool`` replaces each frame's
        CLS readout: it maps the frame's tokens, CLS first, to ``(N*T, C)``.
        """
        tr = self.transformer
        frames = x[:, 0] if pool is None else pool(x, self.num_prefix_tokens)
        residual = frames.reshape(layout.batch, layout.frames, -1).mean(1)
        weight = tr.sigmoid(tr.balance)
        return tr.norm((1 - weight) * self.global_token(layout)[0] +
                       weight * residual)

    # -------------------------------------------------------------- loading
    def _load_from_state_dict(self, state_dict, prefix, local_metadata,
                              strict, missing_keys, unexpected_keys,
                              error_msgs) -> None:
        key = prefix + 'conv1.weight'
        weight = state_dict.get(key)
        if weight is not None and weight.dim() == 4 and \
                self.conv1.weight.dim() == 5:
            # A CLIP image encoder: inflate its patch kernel over time, as
            # the stock _load_pretrained does (centre frame).
            state_dict[key] = self._inflate_weight(
                weight, self.conv1.weight.shape[2]).to(weight.dtype)
        self._check_shapes(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def _check_shapes(self, state_dict, prefix: str) -> None:
        """Refuse a checkpoint for another size of model, naming its keys,
        shapes and what this backbone was built with (mmengine's loader
        would only warn and keep the initial values)."""
        own = self.state_dict()
        bad = [(k, tuple(state_dict[prefix + k].shape), tuple(v.shape))
               for k, v in own.items()
               if prefix + k in state_dict and
               tuple(state_dict[prefix + k].shape) != tuple(v.shape)]
        if not bad:
            return
        width = state_dict.get(prefix + 'class_embedding')
        theirs = (f'; the checkpoint\'s width is {width.shape[0]} '
                  f'({prefix}class_embedding)' if width is not None and
                  width.dim() == 1 else '')
        listed = ', '.join(f'{prefix}{k}: checkpoint {a}, backbone {b}'
                           for k, a, b in bad[:4])
        more = f' ... ({len(bad)} in all)' if len(bad) > 4 else ''
        raise ValueError(
            f'{type(self).__name__}: the checkpoint does not fit: {listed}'
            f'{more}. This backbone was built with width={self.embed_dims}, '
            f'input_resolution={self.input_resolution}, patch_size='
            f'{self.conv1.kernel_size[-1]}, t_size={self.transformer.T}'
            f'{theirs}; build it with the checkpoint\'s settings (CLIP '
            f'ViT-B/16: width=768, heads=12, layers=12, patch_size=16; '
            f'ViT-L/14: width=1024, heads=16, layers=24, patch_size=14)')


def check_stock_settings(stock: Dict[str, Any]) -> None:
    """Refuse, at build, settings the stock model would take and then fail
    on or silently ignore: a ``return_list`` index outside the blocks (that
    UniBlock would never run), repeated, or not one per UniBlock; UniBlocks
    of another width than the blocks they read; ``clip_pretrained`` without
    one of the CLIP encoders the stock loader knows (it fails at
    ``init_weights``)."""
    if stock['clip_pretrained'] and stock['pretrained'] not in _MODELS:
        raise ValueError(
            f'clip_pretrained=True loads (downloads) the CLIP encoder named '
            f'by pretrained: one of {sorted(_MODELS)}, got '
            f'pretrained={stock["pretrained"]!r}; for a local file set '
            f'clip_pretrained=False and init_cfg=dict(type=\'Pretrained\', '
            f'checkpoint=...)')
    layers, return_list = stock['layers'], list(stock['return_list'])
    if any(not isinstance(i, int) or not 0 <= i < layers
           for i in return_list) or len(set(return_list)) != len(
               return_list) or len(return_list) != stock['n_layers']:
        raise ValueError(
            f'return_list must hold n_layers={stock["n_layers"]} distinct '
            f'block indices in [0, {layers}) (layers={layers}): the blocks '
            f'the global UniBlocks read; got {return_list!r}')
    if stock['n_dim'] != stock['width']:
        raise ValueError(
            f'n_dim must equal width={stock["width"]} (the global UniBlocks '
            f'read the blocks\' tokens), got n_dim={stock["n_dim"]!r}')
