"""Every parameter-efficient recipe saves tunable-only checkpoints
(TunableCheckpointHook) by default; full fine-tuning keeps full ones."""
import glob
import os
import os.path as osp

import pytest
from mmengine.config import Config

from ..conftest import REPO

CONFIG_ROOT = osp.join(REPO, 'configs')
# The demo stages choose their checkpoints themselves (tools/run_demo.py).
RECIPES = sorted(
    osp.relpath(p, CONFIG_ROOT)
    for p in glob.glob(osp.join(CONFIG_ROOT, '**', '*.py'), recursive=True)
    if '_base_' not in osp.relpath(p, CONFIG_ROOT).split(os.sep)
    and not osp.relpath(p, CONFIG_ROOT).startswith('demo' + os.sep))


@pytest.mark.parametrize('rel', RECIPES, ids=RECIPES)
def test_parameter_efficient_recipes_save_tunable_only(rel):
    cfg = Config.fromfile(osp.join(CONFIG_ROOT, rel))
    hooks = [h['type'] for h in cfg.get('custom_hooks', [])]
    # TunableVideoViT / TunableViT default to tuning='peft'.
    full = cfg.model.backbone.get('tuning', 'peft') == 'full'
    assert hooks.count('TunableCheckpointHook') == (0 if full else 1), hooks
    assert 'TunableSummaryHook' in hooks
    if cfg.default_scope == 'mmaction':
        assert 'BadSampleReportHook' in hooks


def test_the_recipes_cover_every_method():
    methods = {rel.split(os.sep)[0] for rel in RECIPES}
    assert {'adaptformer', 'vpt', 'linear_probe', 'full_finetune',
            'image', 'cross_modality', 'ablations', 'examples'} <= methods
