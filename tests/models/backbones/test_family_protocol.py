"""The family protocol, proven on a backbone the project has never seen.

A minimal pre-norm transformer, defined here, becomes a family by setting
the protocol's items (``docs/adding_a_method.md``); then every method of
``backbones.METHODS`` builds on it through ``method_class``, with no change to
any method file, takes a training step that moves exactly its trainable
tensors, and round-trips its tunable-only state through the production
``restore_tunable_state``.
"""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from adaptformer_mm.models.backbones import METHODS, method_class
from adaptformer_mm.models.backbones.tunable_base import StandardTunableMixin
from adaptformer_mm.peft import (frozen_checksum, restore_tunable_state,
                                 tunable_state_dict)

D, HEADS, PATCH, SIZE = 32, 4, 8, 32
N = (SIZE // PATCH)**2


class PatchEmbed(nn.Module):

    def __init__(self, dims: int) -> None:
        super().__init__()
        self.projection = nn.Conv2d(3, dims, PATCH, stride=PATCH)

    def forward(self, x):
        return self.projection(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):

    def __init__(self, dims: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dims, 3 * dims)
        self.proj = nn.Linear(dims, dims)

    def forward(self, x):
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, -1).permute(
            2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class Block(nn.Module):

    def __init__(self, dims: int, num_heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dims)
        self.attn = Attention(dims, num_heads)
        self.norm2 = nn.LayerNorm(dims)
        self.mlp = nn.Sequential(
            nn.Linear(dims, 2 * dims), nn.GELU(), nn.Linear(2 * dims, dims))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TinyTransformer(nn.Module):
    """The user's stock backbone: patches, a learnable position table, pre-norm
    blocks, a final norm, the mean of the tokens."""

    def __init__(self, embed_dims: int = D, depth: int = 2,
                 num_heads: int = HEADS) -> None:
        super().__init__()
        self.embed_dims = embed_dims
        self.patch_embed = PatchEmbed(embed_dims)
        self.pos_embed = nn.Parameter(torch.randn(1, N, embed_dims) * 0.02)
        self.blocks = nn.ModuleList(
            Block(embed_dims, num_heads) for _ in range(depth))
        self.norm = nn.LayerNorm(embed_dims)

    def forward(self, x):
        x = self.patch_embed(x) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.norm(x).mean(1)


class TunableTiny(StandardTunableMixin, TinyTransformer):
    """The family: the protocol's items and nothing else."""
    stock_backbone = TinyTransformer
    family_name = 'Tiny'
    blocks_attr = 'blocks'
    embed_attrs = ('patch_embed', 'pos_embed')
    final_norm_name = 'norm'

    def embed(self, x):
        return self.patch_embed(x) + self.pos_embed, None

    def attn_branch(self, block, x):
        return block.attn(block.norm1(x))

    def mlp_branch(self, block, x):
        return block.mlp(block.norm2(x))

    def readout(self, x, ctx, index, pool=None):
        x = self.norm(x)
        return x.mean(1) if pool is None else pool(x, 0)


#: Methods whose model equals the stock one at init (prompts and the
#: attentive pooler act from the start).
EQUAL_AT_INIT = {'AdaptFormer', 'LoRA', 'BitFit', 'Partial'}
LABELS = torch.tensor([0, 1])


def stock_model() -> TinyTransformer:
    torch.manual_seed(0)
    model = TinyTransformer()
    with torch.no_grad():
        for param in model.parameters():
            if param.dim() == 1:
                param.normal_(0.0, 0.2)
    return model.eval()


def tuned(cls, stock, seed=0):
    torch.manual_seed(seed)
    model = cls()
    missing, unexpected = model.load_state_dict(stock.state_dict(),
                                                strict=False)
    assert unexpected == [] and not set(missing) & set(stock.state_dict())
    return model


def step(model, head, x):
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params + list(head.parameters()), lr=0.1)
    F.cross_entropy(head(model(x)), LABELS).backward()
    optimizer.step()


@pytest.mark.parametrize('method', METHODS, ids=lambda m: m.method_name)
def test_every_method_builds_trains_and_round_trips_on_a_new_family(method):
    cls = method_class(method, TunableTiny)
    assert cls.__name__ == f'{method.method_name}Tiny'
    stock = stock_model()
    model = tuned(cls, stock)
    torch.manual_seed(1)
    x = torch.randn(2, 3, SIZE, SIZE)
    model.eval()
    with torch.no_grad():
        diff = (model(x) - stock(x)).abs().max()
    if method.method_name in EQUAL_AT_INIT:
        assert diff <= 1e-5
    else:
        assert diff > 1e-3

    added = set(model.state_dict()) - set(stock.state_dict())
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and trainable != {n for n, _ in model.named_parameters()}
    assert added <= trainable  # the method's own tensors all train
    with torch.no_grad():  # as after training (AdaptMLP's up starts at 0)
        for name, param in model.named_parameters():
            if name in added:
                param.normal_(0.0, 0.3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(2)
    step(model, nn.Linear(D, 2), x)
    moved = {k for k, v in model.state_dict().items()
             if not torch.equal(v, before[k])}
    assert moved == trainable

    fresh = tuned(cls, stock, seed=3)
    restore_tunable_state(fresh, tunable_state_dict(model), None,
                          frozen_checksum(model))
    model.eval()
    fresh.eval()
    with torch.no_grad():
        assert torch.equal(model(x), fresh(x))


def test_a_family_missing_a_hook_is_refused_by_name():

    class NoReadout(StandardTunableMixin, TinyTransformer):
        stock_backbone = TinyTransformer
        family_name = 'NoReadout'
        blocks_attr = 'blocks'

        def embed(self, x):
            return self.patch_embed(x), None

        attn_branch = TunableTiny.attn_branch
        mlp_branch = TunableTiny.mlp_branch

    with pytest.raises(TypeError, match=r"NoReadout is not a complete "
                       r"tunable family: it lacks \['readout'\]"):
        method_class(METHODS[0], NoReadout)


def test_vpt_refuses_a_family_of_unknown_token_layout():
    grid = type('GridTiny', (TunableTiny, ), dict(token_layout='grid'))
    vpt = next(m for m in METHODS if m.method_name == 'VPT')
    with pytest.raises(TypeError, match=r"VPT cannot run on GridTiny: its "
                       r"token_layout is 'grid'; valid: \['sequence', "
                       r"'windows'\]"):
        method_class(vpt, grid)
