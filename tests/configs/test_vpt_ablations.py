"""VPT's design ablations (Sec. 4.3) as configs: prompt location, depth and
final output on the video ViT (configs/ablations/vpt_*/, built and run with
the other video configs by test_video_configs.py), final output on the image
ViT (configs/image/ablations/vpt_output/, built and run here)."""
import functools
import glob
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import adaptformer_mm  # noqa: F401  (registrations + stack fixes)
from adaptformer_mm.peft import PromptConfig

from ..conftest import REPO

ABLATIONS = osp.join(REPO, 'configs', 'ablations')
IMAGE_OUTPUT = osp.join(REPO, 'configs', 'image', 'ablations', 'vpt_output')
PATCHES, PIXEL = 4 * 14 * 14, 3 * 2 * 16 * 16  # 8x224x224, 2x16x16 tubelets


def sweep(folder):
    return sorted(glob.glob(osp.join(ABLATIONS, folder, '*.py')))


@functools.lru_cache(maxsize=None)
def prompt_cfg(path):
    return PromptConfig.from_cfg(
        Config.fromfile(path).model.backbone.prompt_cfg)


def test_the_sweeps_are_the_papers():
    names = {folder: [osp.basename(p).split('_')[0] for p in sweep(folder)]
             for folder in ('vpt_location', 'vpt_depth', 'vpt_output')}
    assert sorted(names['vpt_location']) == sorted([
        'vpt-deep-1-prepend', 'vpt-shallow-1-prepend', 'vpt-deep-add',
        'vpt-shallow-add', 'vpt-shallow-1-prepend-pixel'])
    assert len(names['vpt_depth']) == 9  # VPT Fig. 6
    assert sorted(names['vpt_output']) == [
        'vpt-deep-1-global-pool', 'vpt-deep-1-image-pool',
        'vpt-deep-1-prompt-pool']
    assert sorted(osp.basename(p).split('_')[0] for p in glob.glob(
        osp.join(IMAGE_OUTPUT, '*.py'))) == [
            'vpt-deep-1-cls', 'vpt-deep-1-global-pool',
            'vpt-deep-1-image-pool', 'vpt-deep-1-prompt-pool']


@pytest.mark.parametrize('name, location, deep, output', [
    ('vpt-deep-add', 'add', True, None),
    ('vpt-shallow-add', 'add', False, None),
    ('vpt-shallow-1-prepend-pixel', 'prepend_pixel', False, None),
    ('vpt-deep-1-prepend', 'prepend', True, None),
    ('vpt-deep-1-prompt-pool', 'prepend', True, 'prompt_pool'),
    ('vpt-deep-1-global-pool', 'prepend', True, 'global_pool'),
])
def test_each_config_sets_what_its_name_says(name, location, deep, output):
    path, = glob.glob(osp.join(ABLATIONS, 'vpt_*', name + '_*.py'))
    cfg = prompt_cfg(path)
    assert (cfg.location, cfg.deep, cfg.output) == (location, deep, output)


@pytest.mark.parametrize('path', sweep('vpt_location') + sweep('vpt_depth'),
                         ids=osp.basename)
def test_stated_prompt_counts_are_the_vit_b_ones(path):
    cfg = prompt_cfg(path)
    stated = int(re.search(r'([\d,]+) prompt parameters',
                           open(path).read()).group(1).replace(',', ''))
    width = PIXEL if cfg.location == 'prepend_pixel' else 768
    sets = len(cfg.resolve_layers(12))
    assert stated == sets * cfg.resolve_num_tokens(PATCHES) * width
    name = osp.basename(path).split('_')[0]
    if 'blocks' in name:  # blocks i -> j (1-based)
        first, last = map(int, name.split('blocks')[1].split('-'))
        assert cfg.resolve_layers(12) == tuple(range(first - 1, last))


def test_add_holds_one_prompt_per_token_of_the_vit_b_input():
    path, = glob.glob(osp.join(ABLATIONS, 'vpt_location', 'vpt-deep-add_*'))
    backbone = Config.fromfile(path).model.backbone
    backbone.pop('init_cfg')
    backbone.update(depth=2, embed_dims=64, num_heads=4)  # same input
    init_default_scope('mmaction')
    from mmaction.registry import MODELS
    model = MODELS.build(backbone)
    assert model.prompts.prompts.shape == (2, PATCHES, 64)


def test_image_output_configs_build_and_read_their_tokens():
    init_default_scope('mmpretrain')
    from mmpretrain.registry import MODELS
    torch.manual_seed(0)
    images = torch.randn(2, 3, 32, 32)
    outs = {}
    for path in sorted(glob.glob(osp.join(IMAGE_OUTPUT, '*.py'))):
        cfg = Config.fromfile(path)
        assert cfg.default_scope == 'mmpretrain'
        backbone = cfg.model.backbone
        backbone.update(arch=dict(embed_dims=64, num_layers=2, num_heads=4,
                                  feedforward_channels=128), init_cfg=None,
                        img_size=32)
        torch.manual_seed(0)
        model = MODELS.build(backbone).eval()
        name = osp.basename(path).split('_')[0][len('vpt-deep-1-'):]
        assert model.prompt_cfg.output == name.replace('-', '_')
        with torch.no_grad():
            outs[name] = model(images)[0]
        assert outs[name].shape == (2, 64)
    values = list(outs.values())  # same weights, four different readouts
    assert all((a - b).abs().max() > 1e-4
               for i, a in enumerate(values) for b in values[i + 1:])
