"""What the VPT paper's baselines, LoRA and the attentive probe train on a
stock Swin (video or image), read off the stock model itself, for the Swin
rows of test_video_configs.py and test_image_configs.py.

Each method is stated in stock terms, independently of the code that
builds it: BitFit trains every parameter whose name ends in ``bias`` (the
relative-position tables end in ``table``); Partial-1 the last block of the
last stage and the output norm; LoRA adds ``r (in + out)`` to every block's
``qkv`` and ``proj`` Linear; the attentive probe adds ``3 d^2 + 6 d`` on the
last stage's width ``d``.
"""

import torch
from torch import nn

from adaptformer_mm.apis import weights_on_meta

#: folder -> the backbone argument that configures the method
METHOD_KEYS = {'lora': 'lora_cfg', 'bitfit': 'bitfit_cfg',
               'partial': 'partial_cfg', 'attentive_probe': 'probe_cfg'}
#: folder -> the registered classes' prefix (``LoRAVideoSwin``, ``LoRASwin``)
CLASS_PREFIXES = {'lora': 'LoRA', 'bitfit': 'BitFit', 'partial': 'Partial',
                  'attentive_probe': 'AttentiveProbe'}
LORA_RANK = 8
#: What a method config shares with its AdaptFormer sibling besides the model.
RECIPE_KEYS = ('train_dataloader', 'val_dataloader', 'test_dataloader',
               'optim_wrapper', 'param_scheduler', 'train_cfg',
               'auto_scale_lr', 'custom_hooks', 'default_hooks')


def header(path):
    """The leading comment of a config file as one line (wraps joined)."""
    lines = []
    with open(path) as f:
        for line in f:
            if not line.startswith('#'):
                break
            lines.append(line[1:].strip())
    return ' '.join(lines)


def assert_is_the_recipe(cfg, recipe):
    """``cfg`` is ``recipe`` (the AdaptFormer Swin config of the same data)
    with another backbone type and method argument, nothing else."""
    for backbone in (cfg.model.backbone, recipe.model.backbone):
        for key in ('type', 'adapter_cfg', *METHOD_KEYS.values()):
            backbone.pop(key, None)
    assert cfg.model == recipe.model
    for key in RECIPE_KEYS:
        assert cfg[key] == recipe[key], key


def stock_backbone(registry, stock_type, backbone, meta=False):
    """The stock Swin that a method config's ``backbone`` extends (its
    arguments without the method's), on the meta device if ``meta``."""
    cfg = {k: v for k, v in backbone.items()
           if k not in ('type', 'init_cfg', *METHOD_KEYS.values())}
    cfg.update(type=stock_type, _scope_=registry.scope)
    if not meta:
        return registry.build(cfg)
    with weights_on_meta():
        return registry.build(cfg)


def stock_part(folder, stock):
    """(names of the stock parameters the method trains, parameters it adds
    to the stock model) for the method of ``folder`` on ``stock``."""
    params = dict(stock.named_parameters())
    stages = stock.layers if hasattr(stock, 'layers') else stock.stages
    last_stage = len(stages) - 1
    final_norm = getattr(stock, f'norm{last_stage}')
    if folder == 'bitfit':
        return {n for n in params if n.endswith('bias')}, 0
    if folder == 'partial':
        last_block = stages[last_stage].blocks[-1]
        modules = {id(m) for m in (last_block, final_norm)}
        return {f'{prefix}.{n}' for prefix, m in stock.named_modules()
                if id(m) in modules
                for n, _ in m.named_parameters()}, 0
    if folder == 'lora':
        return set(), sum(
            LORA_RANK * (m.in_features + m.out_features)
            for name, m in stock.named_modules()
            if isinstance(m, nn.Linear) and '.blocks.' in name
            and name.rsplit('.', 1)[-1] in ('qkv', 'proj'))
    if folder == 'attentive_probe':
        d = final_norm.normalized_shape[0]
        return set(), d + 2 * d + (2 * d * d + 2 * d) + (d * d + d)
    raise KeyError(f'{folder!r}: no stock description; valid: '
                   f'{sorted(METHOD_KEYS)}')


def assert_trains_its_part(folder, backbone, stock):
    """The method's backbone trains exactly the stock parameters of
    :func:`stock_part` plus new ones of the stated size; returns the count
    of trainable backbone parameters."""
    stock_names = set(dict(stock.named_parameters()))
    trainable = {n: p for n, p in backbone.named_parameters()
                 if p.requires_grad}
    trained_stock, added = stock_part(folder, stock)
    assert set(trainable) & stock_names == trained_stock, folder
    assert sum(p.numel() for n, p in trainable.items()
               if n not in stock_names) == added, folder
    assert stock_names <= set(dict(backbone.named_parameters())), \
        'the stock keys must load unchanged'
    return sum(p.numel() for p in trainable.values())


def assert_loss_reaches_the_trainable(model, inputs, samples, loss_key):
    """One training loss of the recognizer / classifier: finite, and its
    gradient reaches exactly the backbone's trainable parameters."""
    model.train()
    loss = model(inputs, samples, mode='loss')[loss_key]
    loss.backward()
    assert torch.isfinite(loss)
    params = dict(model.backbone.named_parameters())
    assert {n for n, p in params.items() if p.grad is not None} == \
        {n for n, p in params.items() if p.requires_grad}
