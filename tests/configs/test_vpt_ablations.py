"""VPT's design ablations (Sec. 4.3) as configs: prompt location, depth and
final output on the video ViT (configs/ablations/vpt_*/, built and run with
the other video configs by test_video_configs.py) and on the image ViT
(configs/image/ablations/vpt_*/, built and run here)."""
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
IMAGE_ABLATIONS = osp.join(REPO, 'configs', 'image', 'ablations')
IMAGE_OUTPUT = osp.join(IMAGE_ABLATIONS, 'vpt_output')
# (patch tokens, pixel prompt size): 8x224x224 clips in 2x16x16 tubelets;
# 224x224 images in 16x16 patches.
VIDEO_INPUT, IMAGE_INPUT = (4 * 14 * 14, 3 * 2 * 16 * 16), (14 * 14,
                                                            3 * 16 * 16)


def sweep(folder, root=ABLATIONS):
    return sorted(glob.glob(osp.join(root, folder, '*.py')))


def image_sweep(folder):
    return sweep(folder, IMAGE_ABLATIONS)


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
    for folder in ('vpt_location', 'vpt_depth'):  # the same sweeps on images
        assert [osp.basename(p).split('_')[0]
                for p in image_sweep(folder)] == [
                    osp.basename(p).split('_')[0] for p in sweep(folder)]


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


@pytest.mark.parametrize(
    'path', sweep('vpt_location') + sweep('vpt_depth') +
    image_sweep('vpt_location') + image_sweep('vpt_depth'),
    ids=lambda p: osp.relpath(p, REPO))
def test_stated_prompt_counts_are_the_vit_b_ones(path):
    cfg = prompt_cfg(path)
    stated = int(re.search(r'([\d,]+) prompt parameters',
                           open(path).read()).group(1).replace(',', ''))
    patches, pixel = (IMAGE_INPUT if path.startswith(IMAGE_ABLATIONS) else
                      VIDEO_INPUT)
    width = pixel if cfg.location == 'prepend_pixel' else 768
    sets = len(cfg.resolve_layers(12))
    assert stated == sets * cfg.resolve_num_tokens(patches) * width
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
    assert model.prompts.prompts.shape == (2, VIDEO_INPUT[0], 64)


def build_tiny_image(path):
    """The image config's backbone at embed 64, depth 2, 32x32 input (four
    patches), seeded."""
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmpretrain'
    backbone = cfg.model.backbone
    backbone.update(arch=dict(embed_dims=64, num_layers=2, num_heads=4,
                              feedforward_channels=128), init_cfg=None,
                    img_size=32)
    init_default_scope('mmpretrain')
    from mmpretrain.registry import MODELS
    torch.manual_seed(0)
    return MODELS.build(backbone).eval()


def test_image_output_configs_build_and_read_their_tokens():
    torch.manual_seed(0)
    images = torch.randn(2, 3, 32, 32)
    outs = {}
    for path in sorted(glob.glob(osp.join(IMAGE_OUTPUT, '*.py'))):
        model = build_tiny_image(path)
        name = osp.basename(path).split('_')[0][len('vpt-deep-1-'):]
        assert model.prompt_cfg.output == name.replace('-', '_')
        with torch.no_grad():
            outs[name] = model(images)[0]
        assert outs[name].shape == (2, 64)
    values = list(outs.values())  # same weights, four different readouts
    assert all((a - b).abs().max() > 1e-4
               for i, a in enumerate(values) for b in values[i + 1:])


@pytest.mark.parametrize('name, location, deep, layers, shape', [
    ('vpt-deep-1-prepend', 'prepend', True, (0, 1), (2, 1, 64)),
    ('vpt-shallow-1-prepend', 'prepend', False, (0, ), (1, 1, 64)),
    ('vpt-deep-add', 'add', True, (0, 1), (2, 4, 64)),
    ('vpt-shallow-add', 'add', False, (0, ), (1, 4, 64)),
    ('vpt-shallow-1-prepend-pixel', 'prepend_pixel', False, (0, ),
     (1, 1, 3 * 16 * 16)),
    ('vpt-deep-1-blocks1-1', 'prepend', True, (0, ), (1, 1, 64)),
])
def test_image_location_and_depth_configs_build_and_run(
        name, location, deep, layers, shape):
    """Each image config sets what its name says; on the tiny model (2
    blocks, 4 patches) its prompts have the shape that location gives
    (sets x tokens x width; pixel prompts hold a 3x16x16 patch), and it
    runs."""
    path, = glob.glob(osp.join(IMAGE_ABLATIONS, 'vpt_*', name + '_*.py'))
    cfg = prompt_cfg(path)
    assert (cfg.location, cfg.deep) == (location, deep)
    model = build_tiny_image(path)
    assert model.prompt_cfg.resolve_layers(2) == layers
    assert tuple(model.prompts.prompts.shape) == shape
    with torch.no_grad():
        out = model(torch.randn(2, 3, 32, 32))[0]
    assert out.shape == (2, 64) and torch.isfinite(out).all()


def test_image_depth_config_outside_the_depth_is_refused_by_name():
    path, = glob.glob(osp.join(IMAGE_ABLATIONS, 'vpt_depth',
                               'vpt-deep-1-blocks12-12_*.py'))
    with pytest.raises(ValueError, match=r'prompt_cfg\.layers'):
        build_tiny_image(path)  # block 12 of a 2-block model
