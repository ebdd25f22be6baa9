"""The other VideoMAE widths (ViT-S/16, ViT-L/16, ViT-H/16) and VideoMAE V2's
ViT-g/14: their model files have the published shapes, their recipe configs
are the ViT-B recipe at another width, and tools/count_params.py prints the
exact counts of every method on them. Big models are built on the meta
device (shapes only, no weights), so nothing here allocates a ViT-g.
"""
import copy
import glob
import os.path as osp
import re

import pytest
from mmengine.config import Config

import adaptformer_mm  # noqa: F401  (registrations + stack fixes)
from adaptformer_mm.engine.strategy import prepare_strategy

from ..conftest import REPO, load_tool

CONFIGS = osp.join(REPO, 'configs')
MODELS = osp.join(CONFIGS, '_base_', 'models')
# name in the file names -> (width file, recipe file, embed_dims, depth,
# heads, patch, MLP hidden width, backbone_pretrain part of the file names)
WIDTHS = {
    'small': ('videomae_vit-small-p16.py',
              'videomae_vit-small-p16_k400-pre_8x4x1.py', 384, 12, 6, 16,
              1536, 'vit-small-p16_videomae-k400-pre'),
    'large': ('videomae_vit-large-p16.py',
              'videomae_vit-large-p16_k400-pre_8x4x1.py', 1024, 24, 16, 16,
              4096, 'vit-large-p16_videomae-k400-pre'),
    'huge': ('videomae_vit-huge-p16.py',
             'videomae_vit-huge-p16_k400-pre_8x4x1.py', 1280, 32, 16, 16,
             5120, 'vit-huge-p16_videomae-k400-pre'),
    # VideoMAE V2's vit_giant_patch14_224: mlp_ratio 48/11 -> 6144.
    'giant': ('videomaev2_vit-giant-p14.py',
              'videomaev2_vit-giant-p14_hybrid-pre_8x4x1.py', 1408, 40, 16,
              14, 6144, 'vit-giant-p14_videomaev2-hybrid-pre'),
}
METHODS = {  # folder -> method part of the file names
    'adaptformer': 'adaptformer-64', 'vpt': 'vpt-deep-1',
    'linear_probe': 'linear-probe', 'full_finetune': 'full-finetune'}
NUM_CLASSES = {'ssv2': 174, 'hmdb51-split1': 51, 'k400': 400}
VIT_B = 'vit-base-p16_videomae-k400-pre'
SCHEDULE = '8xb128-8x4x1-90e'


def config_path(folder, width, dataset, schedule=SCHEDULE):
    return osp.join(CONFIGS, folder, f'{METHODS[folder]}_{width}_'
                    f'{schedule}_{dataset}.py')


SCALE_CONFIGS = [(folder, width, dataset) for folder in METHODS
                 for width in WIDTHS for dataset in NUM_CLASSES]

_cache = {}


def load(path):
    if path not in _cache:
        _cache[path] = Config.fromfile(path)
    return copy.deepcopy(_cache[path])


@pytest.fixture(scope='module')
def count_params():
    return load_tool('count_params')


def stock_params(d, depth, patch, hidden, tubelet=2):
    """Parameters of mmaction2's VideoMAE ``VisionTransformer`` (pos_embed
    is a buffer): Conv3d patch embedding ``3 t p p d + d``; per block two
    LayerNorms ``4d``, qkv without bias ``3d^2`` plus q/v biases ``2d``,
    proj ``d^2 + d``, MLP ``2 d h + h + d``; fc_norm ``2d``."""
    block = 4 * d + 3 * d * d + 2 * d + d * d + d + 2 * d * hidden \
        + hidden + d
    return 3 * tubelet * patch * patch * d + d + depth * block + 2 * d


# ------------------------------------------------------------ model files
@pytest.mark.parametrize('width', WIDTHS)
def test_width_files_build_the_published_shapes(width, count_params):
    stock, _, d, depth, heads, patch, hidden, _ = WIDTHS[width]
    cfg = load(osp.join(MODELS, stock))
    backbone = cfg.model.backbone
    assert backbone.type == 'VisionTransformer'  # mmaction2's own
    assert (backbone.embed_dims, backbone.depth, backbone.num_heads,
            backbone.patch_size) == (d, depth, heads, patch)
    model = count_params.build_on_meta(cfg)
    block = model.backbone.blocks[0]
    # mmaction2 sizes the MLP as int(d * mlp_ratio): 1408 x 48/11 = 6144
    assert block.mlp.layers[0][0].out_features == hidden
    # 224 / 14 = 16 x 16 patches per tubelet of 2 frames
    assert model.backbone.grid_size == (224 // patch, ) * 2
    assert model.backbone.pos_embed.shape == \
        (1, 8 * (224 // patch)**2, d)
    assert all(p.is_meta for p in model.parameters())
    head = d * 400 + 400  # TimeSformerHead: Linear(d, 400)
    total = sum(p.numel() for p in model.parameters())
    assert total == stock_params(d, depth, patch, hidden) + head


def test_giant_is_one_billion_parameters():
    # VideoMAE V2 reports ViT-g at 1.0B (backbone without head).
    assert round(stock_params(1408, 40, 14, 6144) / 1e9, 2) == 1.01


@pytest.mark.parametrize('width', WIDTHS)
def test_recipe_files_are_the_vit_b_recipe_at_another_width(width):
    stock, recipe, d, depth, heads, patch, _, name = WIDTHS[width]
    cfg = load(osp.join(MODELS, recipe))
    vit_b = load(osp.join(MODELS, 'videomae_vit-base-p16_k400-pre_8x4x1.py'))
    arch = load(osp.join(MODELS, stock)).model.backbone
    backbone = cfg.model.backbone
    for key in ('embed_dims', 'depth', 'num_heads', 'patch_size',
                'mlp_ratio'):
        assert backbone[key] == arch[key], key
    assert cfg.model.cls_head.in_channels == d
    checkpoint = backbone.init_cfg.checkpoint
    assert checkpoint.startswith('checkpoints/') and \
        checkpoint.endswith('_mmaction.pth')
    assert name.split('_')[0] in checkpoint  # e.g. vit-large-p16
    assert checkpoint not in open(osp.join(MODELS, stock)).read()
    # everything else is the ViT-B recipe: 8 frames, BN + Linear head
    # averaging logits, Pretrained backbone.* only
    for key in ('embed_dims', 'depth', 'num_heads', 'patch_size',
                'mlp_ratio', 'init_cfg'):
        backbone.pop(key, None)
        vit_b.model.backbone.pop(key, None)
    assert backbone == vit_b.model.backbone
    head = cfg.model.cls_head
    head.pop('in_channels')
    vit_b.model.cls_head.pop('in_channels')
    assert head == vit_b.model.cls_head
    assert load(osp.join(MODELS, recipe)).model.backbone.init_cfg == dict(
        type='Pretrained', checkpoint=checkpoint, prefix='backbone.')


# ------------------------------------------------------- method configs
def test_every_method_width_and_dataset_has_a_config():
    missing = [config_path(f, WIDTHS[w][7], ds)
               for f, w, ds in SCALE_CONFIGS
               if not osp.isfile(config_path(f, WIDTHS[w][7], ds))]
    assert not missing
    for folder, width, dataset in SCALE_CONFIGS:  # OpenMMLab: 5 parts
        name = osp.basename(config_path(folder, WIDTHS[width][7], dataset))
        method, backbone, pretrain, schedule, data = name[:-3].split('_')
        assert (method, f'{backbone}_{pretrain}', schedule, data) == (
            METHODS[folder], WIDTHS[width][7], SCHEDULE, dataset)


SSV2_CONFIGS = [(f, w) for f, w, ds in SCALE_CONFIGS if ds == 'ssv2']


@pytest.mark.parametrize('folder, width', SSV2_CONFIGS,
                         ids=[f'{f}-{w}' for f, w in SSV2_CONFIGS])
def test_method_configs_differ_from_vit_b_only_in_width(folder, width):
    """Same method settings, data, schedule and runtime as the ViT-B
    config of the same method; only the backbone width, its checkpoint and
    the head's input differ."""
    _, recipe, d, *_ = WIDTHS[width]
    path = config_path(folder, WIDTHS[width][7], 'ssv2')
    cfg = load(path)
    ref = load(config_path(folder, VIT_B, 'ssv2'))
    assert f"'../_base_/models/{recipe}'" in open(path).read()
    for key in ('optim_wrapper', 'param_scheduler', 'train_cfg',
                'train_dataloader', 'val_dataloader', 'test_dataloader',
                'custom_hooks', 'default_hooks', 'auto_scale_lr'):
        assert cfg[key] == ref[key], key
    recipe_cfg = load(osp.join(MODELS, recipe))
    for key, value in cfg.model.backbone.items():
        if key in recipe_cfg.model.backbone and key != 'type':
            assert value == recipe_cfg.model.backbone[key], key
        else:
            assert value == ref.model.backbone[key], key  # method settings
    head = cfg.model.cls_head
    assert (head.in_channels, head.num_classes) == (d, 174)


DATASET_FILES = {'ssv2': 'ssv2_video.py',
                 'hmdb51-split1': 'hmdb51-split1_video.py',
                 'k400': 'kinetics400_video.py'}
DATASET_NAMES = {'ssv2': 'Something-Something v2',
                 'hmdb51-split1': 'HMDB51 split 1', 'k400': 'Kinetics-400'}


@pytest.mark.parametrize('folder, width', SSV2_CONFIGS,
                         ids=[f'{f}-{w}' for f, w in SSV2_CONFIGS])
def test_other_datasets_change_only_data_and_classes(folder, width):
    """The HMDB51 and K400 configs are the SSv2 one with the dataset file,
    its name and the class count replaced (read as text: no build)."""
    name = WIDTHS[width][7]
    ssv2 = open(config_path(folder, name, 'ssv2')).read()
    for dataset in ('hmdb51-split1', 'k400'):
        text = open(config_path(folder, name, dataset)).read()
        upstream = re.compile(r'# Upstream.*?top-1\.\n', re.S)
        expected = upstream.sub('', ssv2).replace(
            DATASET_FILES['ssv2'], DATASET_FILES[dataset]).replace(
                DATASET_NAMES['ssv2'], DATASET_NAMES[dataset]).replace(
                    'num_classes=174', f'num_classes={NUM_CLASSES[dataset]}')
        assert upstream.sub('', text) == expected, dataset


# ------------------------------------------------------ exact counts
def _expected(folder, d, depth, patch, hidden, classes):
    """(trainable, total) for a method config, head included. The head is
    BNLinearHead: BatchNorm1d(affine=False) has no parameters, then
    Linear(d, classes)."""
    head = d * classes + classes
    fc_norm = 2 * d
    stock = stock_params(d, depth, patch, hidden)
    if folder == 'adaptformer':
        # e.g. AdaptFormer-64 on ViT-L: 24 x (2 x 1024 x 64 + 64 + 1024)
        method = depth * (2 * d * 64 + 64 + d)
        return method + fc_norm + head, stock + method + head
    if folder == 'vpt':
        method = depth * 1 * d  # one deep prompt token per block
        return method + fc_norm + head, stock + method + head
    if folder == 'linear_probe':
        return fc_norm + head, stock + head
    return stock + head, stock + head  # full fine-tuning


@pytest.mark.parametrize('folder', METHODS)
@pytest.mark.parametrize('width', WIDTHS)
def test_count_params_prints_exact_counts(folder, width, count_params,
                                          capsys):
    _, _, d, depth, _, patch, hidden, name = WIDTHS[width]
    path = config_path(folder, name, 'ssv2')
    summary = count_params.main([path])
    out = capsys.readouterr().out
    trainable, total = _expected(folder, d, depth, patch, hidden, 174)
    assert (summary.trainable, summary.total) == (trainable, total)
    assert f'trainable params: {trainable:,} || all params: {total:,}' in out
    # the count a config's comment states is the one it builds
    stated = re.search(r'=\s*(?:#\s*)?([\d,]+) (?:prompt )?parameters',
                       open(path).read())
    if folder in ('adaptformer', 'vpt'):
        assert int(stated.group(1).replace(',', '')) == \
            trainable - 2 * d - (d * 174 + 174)


def test_adaptformer_64_on_vit_l_is_the_issue_formula(count_params, capsys):
    summary = count_params.main([config_path(
        'adaptformer', WIDTHS['large'][7], 'ssv2')])
    assert '24 x 132,160 = 3,171,840' in capsys.readouterr().out
    assert summary.trainable == 24 * (2 * 1024 * 64 + 64 + 1024) \
        + 2 * 1024 + 1024 * 174 + 174


# ------------------------------------------------------------ FSDP configs
FSDP = sorted(glob.glob(osp.join(CONFIGS, 'fsdp', '*.py')))


@pytest.mark.parametrize('path', FSDP, ids=[osp.basename(p) for p in FSDP])
def test_fsdp_configs_are_their_recipe_plus_a_strategy(path):
    cfg = load(path)
    name = osp.basename(path)
    folder = 'adaptformer' if name.startswith('adaptformer') else \
        'full_finetune'
    plain = load(osp.join(CONFIGS, folder, name.replace('_fsdp-', '_')))
    assert cfg.strategy.type == 'FSDPStrategy'
    assert cfg.strategy.model_wrapper.use_orig_params is True
    assert cfg.strategy.state_dict_cfg == 'full'
    assert cfg.model.backbone.pop('with_cp') is True
    assert cfg.model == plain.model
    assert cfg.optim_wrapper == plain.optim_wrapper
    cfg.launcher = 'pytorch'
    prepare_strategy(cfg)  # a setting FSDP cannot train would raise here
    assert cfg.strategy.model_wrapper.get('auto_wrap_policy') is None
