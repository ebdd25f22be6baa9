"""The measuring tools of the benchmarks: FLOPs equal to hand counts, and
the timer times the steps, not the warmup."""
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from adaptformer_mm.benchmark import measure
from adaptformer_mm.benchmark.measure import count_flops, timed
from adaptformer_mm.models.backbones import TunableVideoViT
# After adaptformer_mm: its stack fixes make mmaction2 importable.
from mmaction.models.backbones.vit_mae import VisionTransformer

# Tiny tensors: one torch thread (conftest.py).
pytestmark = pytest.mark.usefixtures('one_torch_thread')


def vit_forward_flops(tokens: int, embed_dims: int, depth: int,
                      mlp_ratio: float, patch_inputs: int,
                      num_classes: int = 0) -> int:
    """Matmul FLOPs of one clip through a ViT, as ``FlopCounterMode`` counts.

    ``patch_inputs`` is ``C * t * p * p`` (the Conv3d patch embedding's
    fan-in). Per block: qkv ``2Nd*3d``, ``QK^T`` and ``AV`` ``2 * 2N^2 d``,
    projection ``2Nd^2``, MLP ``2 * 2Nd*rd``; plus the patch embedding
    ``2Nd * patch_inputs`` and the linear head ``2d * classes``.
    """
    n, d = tokens, embed_dims
    hidden = int(d * mlp_ratio)
    block = 2 * n * d * 3 * d + 2 * 2 * n * n * d + 2 * n * d * d + \
        2 * 2 * n * d * hidden
    return 2 * n * d * patch_inputs + depth * block + 2 * d * num_classes


@pytest.mark.parametrize('attn_impl', ['sdpa', 'eager'])
def test_forward_flops_equal_the_analytic_count(attn_impl):
    vit = dict(img_size=64, patch_size=16, embed_dims=64, depth=2,
               num_heads=4, num_frames=8, tubelet_size=2)
    tokens = (8 // 2) * (64 // 16)**2
    expected = 2 * vit_forward_flops(tokens, 64, 2, 4, 3 * 2 * 16 * 16)
    x = torch.randn(2, 3, 8, 64, 64)
    ours = TunableVideoViT(attn_impl=attn_impl, **vit).eval()
    stock = VisionTransformer(**vit).eval()
    with torch.no_grad():
        # The CPU flash-attention kernel of SDPA is counted too (torch's
        # counter alone gives it 0 FLOPs).
        assert count_flops(lambda: ours(x)) == expected
        assert count_flops(lambda: stock(x)) == expected


def test_a_training_step_counts_only_the_gradients_it_computes():
    """A Linear's forward is ``2BIO``; its backward adds ``2BIO`` per
    gradient: the weight's if it trains, the input's if that needs one."""
    batch, fan_in, fan_out = 4, 8, 5
    forward = 2 * batch * fan_in * fan_out

    def step(layer, x):
        return lambda: layer(x).sum().backward()

    layer = nn.Linear(fan_in, fan_out)
    x = torch.randn(batch, fan_in)
    assert count_flops(step(layer, x)) == 2 * forward  # + weight gradient
    x.requires_grad_(True)
    assert count_flops(step(layer, x)) == 3 * forward  # + input gradient
    layer.requires_grad_(False)
    assert count_flops(step(layer, x)) == 2 * forward  # frozen: input only


def test_timed_times_the_steps_after_the_warmup(monkeypatch):
    """On a clock that each call advances by one second, 3 timed steps take
    3 s whatever the warmup; every call runs."""
    clock = [0.0]

    def step():
        clock[0] += 1.0

    monkeypatch.setattr(measure, 'time',
                        SimpleNamespace(perf_counter=lambda: clock[0]))
    cpu = torch.device('cpu')
    assert timed(step, steps=3, warmup=2, device=cpu) == 3.0
    assert clock[0] == 5.0
    assert timed(step, steps=3, warmup=0, device=cpu) == 3.0
