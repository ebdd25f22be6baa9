"""Tiny VideoMAE ViTs for CPU tests (embed 64, heads 4, 16x16 patches)."""
import pytest
import torch

import adaptformer_mm  # noqa: F401  (repairs the stack, registers models)
from mmaction.models.backbones.vit_mae import VisionTransformer

TINY = dict(
    img_size=32,
    patch_size=16,
    embed_dims=64,
    depth=3,
    num_heads=4,
    num_frames=4,
    tubelet_size=2)


def randomized_stock(seed: int = 0, **overrides) -> VisionTransformer:
    """Stock mmaction2 VideoMAE ViT with every parameter random (LayerNorms
    and q/v biases included, so no identity hides a mistake)."""
    torch.manual_seed(seed)
    model = VisionTransformer(**{**TINY, **overrides})
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.dim() > 1:
                continue  # matrices keep PyTorch's default init
            param.normal_(0.0, 0.2)
            if 'norm' in name and name.endswith('weight'):
                param.add_(1.0)
    return model.eval()


def tuned_like(cls, stock: VisionTransformer, **kwargs):
    """``cls`` with the stock model's weights (method modules at init)."""
    model = cls(**{**TINY, **kwargs})
    missing, unexpected = model.load_state_dict(
        stock.state_dict(), strict=False)
    assert not unexpected
    stock_keys = set(stock.state_dict())
    assert not [k for k in missing if k in stock_keys]
    return model


@pytest.fixture
def video():
    torch.manual_seed(1)
    return torch.randn(2, 3, 4, 32, 32)


class Tiny:
    """Handles for tests (conftest helpers are reached through fixtures)."""
    kwargs = TINY
    stock = staticmethod(randomized_stock)
    like = staticmethod(tuned_like)


@pytest.fixture
def tiny():
    return Tiny
