"""VPT's prompts inside window attention (VPT, arXiv 2203.12119, on Swin).

A Swin block attends within local windows, so a prompt cannot simply be
prepended to "the" sequence. VPT's released Swin code
(``src/models/vit_prompt/swin_transformer.py`` in KMnP/vpt) is the
reference; re-implemented from its description:

* ``PromptedSwinTransformerBlock.forward``: the prompts go through the
  block's first LayerNorm with the patch tokens, then the *same* prompts are
  prepended to every window: ``[P, window tokens]``;
* ``PromptedWindowAttention.forward``: the relative position bias and the
  shifted-window mask get zero rows and columns for the prompts (prompts sit
  at no position and are never masked);
* ``PromptedSwinTransformerBlock.forward``: a prompt's output is the mean of
  its outputs over all windows; prompts then take the block's residual and
  MLP like any token.

:func:`prompted_window_attention` is that attention on windows already
partitioned (each backbone partitions with its own stock code), and
:class:`StagePromptTokens` a stage's prompt sets with VPT's init bound. One
deliberate difference from the released code, which would make a sample's
output depend on the rest of its batch: there the prompts are expanded to
the windows window-major (``nW, B``) while the windows are sample-major
(``B, nW``), so from the second sample on a window meets another sample's
prompts and a prompt's output averages windows of several samples. Here
each sample's windows meet that sample's prompts. (With prompts that are
the same for every sample, as the input of each deep set is, the patch
outputs agree with the released code's.)

Pure PyTorch.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .prompt import PromptConfig, PromptTokens, xavier_prompt_bound


def prompted_window_attention(
        windows: Tensor,
        prompts: Optional[Tensor],
        *,
        qkv: nn.Module,
        proj: nn.Module,
        num_heads: int,
        scale: float,
        bias: Tensor,
        mask: Optional[Tensor] = None,
        attn_drop: Optional[nn.Module] = None,
        proj_drop: Optional[nn.Module] = None
) -> Tuple[Tensor, Optional[Tensor]]:
    """Window multi-head self-attention (Swin's W-MSA / SW-MSA) with VPT's
    prompts joining every window.

    With ``prompts=None`` this is the stock Swin window attention (the same
    operations in the same order). With prompts ``P`` (``p`` tokens), each
    window ``w`` of sample ``b`` attends over ``[P_b, w]``; the bias and the
    mask are zero in the prompts' rows and columns.

    Args:
        windows: ``(B * nW, N, C)``, sample-major (what Swin's
            ``window_partition`` returns), already normalised.
        prompts: ``(B, p, C)`` (normalised like the windows) or None.
        qkv, proj: the stock attention's ``Linear(C, 3C)`` and
            ``Linear(C, C)``.
        num_heads, scale: the stock attention's head count and ``q`` scale.
        bias: relative position bias ``(heads, N, N)``.
        mask: shifted-window mask ``(nW, N, N)`` (0 / -100) or None.
        attn_drop, proj_drop: the stock attention's dropouts.

    Returns:
        ``(window outputs (B * nW, N, C), prompt outputs (B, p, C))``, a
        prompt's output being the mean over the sample's windows (None
        without prompts).
    """
    bw, n, c = windows.shape
    tokens = windows
    p = 0
    if prompts is not None:
        b, p, _ = prompts.shape
        num_windows = bw // b
        per_window = prompts.unsqueeze(1).expand(b, num_windows, p, c)
        tokens = torch.cat((per_window.reshape(bw, p, c), windows), dim=1)
        bias = F.pad(bias, (p, 0, p, 0))
        if mask is not None:
            mask = F.pad(mask, (p, 0, p, 0))
    t = p + n
    q, k, v = qkv(tokens).reshape(bw, t, 3, num_heads,
                                  c // num_heads).permute(2, 0, 3, 1, 4)
    q = q * scale
    attn = q @ k.transpose(-2, -1)
    attn = attn + bias.unsqueeze(0)
    if mask is not None:
        nw = mask.shape[0]
        attn = attn.view(bw // nw, nw, num_heads, t, t) + \
            mask.unsqueeze(1).unsqueeze(0)
        attn = attn.view(-1, num_heads, t, t)
    attn = attn.softmax(dim=-1)
    if attn_drop is not None:
        attn = attn_drop(attn)
    out = (attn @ v).transpose(1, 2).reshape(bw, t, c)
    out = proj(out)
    if proj_drop is not None:
        out = proj_drop(out)
    if prompts is None:
        return out, None
    prompt_out = out[:, :p].reshape(b, num_windows, p, c).mean(1)
    return out[:, p:], prompt_out


class StagePromptTokens(PromptTokens):
    """The prompt sets of one Swin stage (width ``d_s``), with VPT's Swin
    init: ``U(-v, v)``, ``v = sqrt(6 / (fan_in + d_0))`` where ``d_0`` is the
    width of stage 0 for *every* stage (``PromptedSwinTransformer.__init__``
    computes one ``val`` from ``embed_dim`` for all its deep prompt tensors).

    Args:
        num_sets (int): Prompted blocks of the stage.
        embed_dims (int): The stage's width ``d_s``.
        patch_fan_in (int): Input size of one patch projection (``3*4*4`` for
            Swin's 4x4 patches, ``3*2*4*4`` for Video Swin's 2x4x4).
        config (PromptConfig): ``num_tokens``, ``init``, ``dropout``.
        bound_dims (int): ``d_0`` of the bound.

    Shape:
        ``forward(index, batch_size)`` returns ``(batch_size, p, d_s)``.
    """

    def __init__(self, num_sets: int, embed_dims: int, patch_fan_in: int,
                 config: PromptConfig, bound_dims: int) -> None:
        # Read by reset_parameters() during super().__init__.
        self.bound_dims = bound_dims
        super().__init__(num_sets, embed_dims, patch_fan_in, config)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if self.init == 'uniform':
            bound = xavier_prompt_bound(self.patch_fan_in, self.bound_dims)
            nn.init.uniform_(self.prompts, -bound, bound)

    init_weights = reset_parameters

    def extra_repr(self) -> str:
        return super().extra_repr() + f', bound_dims={self.bound_dims}'
