import pytest
import torch

from adaptformer_mm.peft import PromptTokens, xavier_prompt_bound


def count(module):
    return sum(p.numel() for p in module.parameters())


def test_vit_b_counts_deep_and_shallow():
    fan_in = 3 * 2 * 16 * 16
    assert count(PromptTokens(12, 768, fan_in, num_tokens=50)) == 460_800
    assert count(PromptTokens(1, 768, fan_in, num_tokens=50)) == 38_400


def test_xavier_bounds_2d_and_tubelet():
    assert xavier_prompt_bound(3 * 16 * 16, 768) == pytest.approx(0.0625)
    assert xavier_prompt_bound(3 * 2 * 16 * 16, 768) == pytest.approx(
        0.051, abs=5e-4)
    torch.manual_seed(0)
    prompts = PromptTokens(2, 768, 3 * 2 * 16 * 16, num_tokens=100)
    bound = xavier_prompt_bound(3 * 2 * 16 * 16, 768)
    assert prompts.prompts.abs().max() <= bound
    assert prompts.prompts.abs().max() > 0.95 * bound


def test_forward_shape_projection_and_per_sample_dropout():
    prompts = PromptTokens(3, 32, 48, num_tokens=5, project_dim=8,
                           dropout=0.5)
    assert prompts.prompts.shape == (3, 5, 8)
    assert count(prompts) == 3 * 5 * 8 + 8 * 32 + 32
    prompts.eval()
    out = prompts(1, batch_size=4)
    assert out.shape == (4, 5, 32)
    torch.testing.assert_close(out[0], prompts.proj(prompts.prompts[1]))
    prompts.train()
    torch.manual_seed(0)
    out = prompts(1, batch_size=4)
    # One dropout mask per sample, as VPT drops after expanding to the batch.
    assert not torch.equal(out[0] == 0, out[1] == 0)


@pytest.mark.parametrize('kwargs, key', [
    (dict(num_tokens=0), 'prompt_cfg.num_tokens'),
    (dict(init='xavier'), "prompt_cfg.init must be one of"),
    (dict(dropout=-0.1), 'prompt_cfg.dropout'),
    (dict(project_dim=0), 'prompt_cfg.project_dim'),
])
def test_bad_arguments_name_the_key(kwargs, key):
    args = dict(num_sets=1, embed_dims=8, patch_fan_in=12, num_tokens=2)
    with pytest.raises(ValueError, match=key):
        PromptTokens(**{**args, **kwargs})
