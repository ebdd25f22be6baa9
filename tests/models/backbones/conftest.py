"""Tiny mmpretrain ViTs for the image backbone tests (embed 64, 2 blocks,
32x32 inputs, 16x16 patches)."""
import pytest
import torch
from mmpretrain.models import VisionTransformer

import adaptformer_mm  # noqa: F401  (repairs the stack, registers models)

IMAGE_TINY = dict(
    arch=dict(embed_dims=64, num_layers=2, num_heads=4,
              feedforward_channels=256),
    img_size=32,
    patch_size=16)


def randomized_image_stock(seed: int = 0, **overrides) -> VisionTransformer:
    """Stock mmpretrain ViT with every parameter random (CLS, position
    table, LayerNorms and biases included, so no identity hides a
    mistake)."""
    torch.manual_seed(seed)
    model = VisionTransformer(**{**IMAGE_TINY, **overrides})
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.dim() > 1 and name not in ('cls_token', 'pos_embed'):
                continue  # matrices keep their init
            param.normal_(0.0, 0.2)
            if 'ln' in name and name.endswith('weight'):
                param.add_(1.0)
    model.eval()  # mmpretrain backbones return None from train()
    return model


def image_like(cls, stock: VisionTransformer, **kwargs):
    """``cls`` with the stock model's weights (method modules at init)."""
    model = cls(**{**IMAGE_TINY, **kwargs})
    missing, unexpected = model.load_state_dict(
        stock.state_dict(), strict=False)
    assert not unexpected
    assert not set(missing) & set(stock.state_dict())
    return model


class ImageTiny:
    kwargs = IMAGE_TINY
    stock = staticmethod(randomized_image_stock)
    like = staticmethod(image_like)


@pytest.fixture
def image_tiny():
    return ImageTiny


@pytest.fixture
def images():
    torch.manual_seed(1)
    return torch.randn(2, 3, 32, 32)


@pytest.fixture
def randomize_adapters():
    """Give every adapter parameter random values (at init the up-projection
    is zero and an adapter would hide a wrong formula)."""

    def randomize(model, seed=0):
        torch.manual_seed(seed)
        with torch.no_grad():
            for name, param in model.named_parameters():
                if 'adaptmlp' in name:
                    param.normal_(0.0, 0.3)

    return randomize
