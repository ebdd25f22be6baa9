"""Write the ablation configs under ``configs/ablations/`` and
``configs/image/ablations/`` (run once; the outputs are committed, and a test
checks that they match this script).

    python tools/misc/make_ablation_configs.py [--out-dir configs]

Every video file inherits the AdaptFormer-64 (or VPT) SSv2 experiment, where
the AdaptFormer paper ran its ablations, and overrides one setting; the image
files (VPT's location, depth and output sweeps, which the VPT paper ran on
images) inherit the VPT-deep-1 CIFAR-100 experiment on the supervised
ImageNet-21k ViT-B/16. Each sweep folder is complete, including the value of
the main config, so that
``for f in configs/ablations/adaptformer_bottleneck/*.py`` runs the sweep.
"""
import argparse
import os
import os.path as osp
from typing import Tuple

STEM = 'vit-base-p16_videomae-k400-pre_8xb128-8x4x1-90e_ssv2'
IMAGE_STEM = 'vit-base-p16_sup-in21k_8xb128-sgd-coslr-100e_cifar100'
ADAPTFORMER = f'../../adaptformer/adaptformer-64_{STEM}.py'
VPT = f'../../vpt/vpt-deep-1_{STEM}.py'
IMAGE_VPT = f'../../vpt/vpt-deep-1_{IMAGE_STEM}.py'
VIDEO, IMAGE = 'ablations', osp.join('image', 'ablations')
DEPTH = 12
WIDTH = 768


def adapter_params(bottleneck: int, layers: int = DEPTH) -> int:
    """Down (d*r + r) + up (r*d + d) per adapted block."""
    return layers * (2 * WIDTH * bottleneck + bottleneck + WIDTH)


def config(comment: str, base: str, body: str) -> str:
    folder, name = base.rsplit('/', 1)
    return f"{comment}\n_base_ = ['{folder}/'\n          '{name}']\n\n{body}"


def method_ablation(rel: str, comment: str, base: str, method_cfg: str,
                    image: bool = False, **fields) -> Tuple[str, str]:
    """``(path, text)`` of one ablation, the path under ``configs/``:
    ``base`` with these fields of its backbone's ``method_cfg``
    (``adapter_cfg``, ``prompt_cfg``) set."""
    values = ', '.join(f'{key}={value!r}' for key, value in fields.items())
    folder, stem = (IMAGE, IMAGE_STEM) if image else (VIDEO, STEM)
    return (osp.join(folder, f'{rel}_{stem}.py'),
            config(comment, base, f'model = dict(backbone=dict({method_cfg}'
                   f'=dict({values})))\n'))


def bottleneck_sweep():
    for r in (1, 4, 8, 16, 32, 64, 128, 256, 512):
        comment = (
            f'# Ablation, bottleneck width: r = {r} in all 12 blocks '
            f'({adapter_params(r):,} adapter\n# parameters, '
            f'{adapter_params(r) / 1e6:.2f}M).')
        if r == 64:
            comment += ' The main AdaptFormer-64 setting.'
        yield method_ablation(f'adaptformer_bottleneck/adaptformer-{r}',
                              comment, ADAPTFORMER, 'adapter_cfg',
                              bottleneck=r)


def layers_sweep():
    for count in (1, 2, 4, 6, 8, 12):
        for where in ('top', 'bottom'):
            if count == DEPTH and where == 'bottom':
                continue  # all 12 blocks: one config
            layers = list(range(DEPTH - count, DEPTH)) if where == 'top' \
                else list(range(count))
            if count == DEPTH:
                layers = None  # spelled as the main config does
            name = 'all' if count == DEPTH else f'{where}{count}'
            comment = (
                f'# Ablation, adapted blocks: the {where} {count} of 12 '
                f'({adapter_params(64, count):,} adapter parameters).\n'
                '# The paper: more adapted blocks is better, and at equal '
                'count the top\n# (last) blocks beat the bottom ones.')
            if count == DEPTH:
                comment = '# Ablation, adapted blocks: all 12 (the main setting).'
            yield method_ablation(
                f'adaptformer_layers/adaptformer-64-{name}', comment,
                ADAPTFORMER, 'adapter_cfg', layers=layers)


def position_sweep():
    for mode in ('parallel', 'sequential'):
        comment = (
            f'# Ablation, adapter placement: {mode}. Parallel reads the '
            'residual stream\n# beside the MLP; sequential reads the MLP '
            'output. The paper: parallel is\n# 0.85 top-1 better on SSv2.')
        yield method_ablation(f'adaptformer_position/adaptformer-64-{mode}',
                              comment, ADAPTFORMER, 'adapter_cfg', mode=mode)


def scale_sweep():
    for s in (0.01, 0.05, 0.1, 0.2, 0.5, 1.0):
        comment = f'# Ablation, adapter output scale: fixed s = {s}.'
        if s == 0.1:
            comment += ' The main setting.'
        yield method_ablation(f'adaptformer_scale/adaptformer-64-s{s}',
                              comment, ADAPTFORMER, 'adapter_cfg', scale=s)
    comment = ('# Ablation, adapter output scale: one learnable s per '
               'adapter, starting at 1.0\n# as in the reference code.')
    yield (osp.join(VIDEO,
                    f'adaptformer_scale/adaptformer-64-s-learnable_{STEM}.py'),
           config(comment, ADAPTFORMER,
                  'model = dict(\n    backbone=dict(adapter_cfg=dict('
                  'scale=1.0, learnable_scale=True)))\n'))


def frames_sweep():
    for frames in (2, 4, 8):
        stem = STEM.replace('8x4x1', f'{frames}x4x1')
        comment = (
            f'# Ablation, input frames: {frames} at stride 4 '
            f'(tubelet 2: {frames // 2} x 14 x 14 tokens).')
        if frames == 8:
            comment += '\n# The main setting.'
        comment += ('\n# The backbone and every SampleFrames step change; '
                    'the rest of each pipeline\n# is the inherited one.')
        body = f'num_frames = {frames}\n'
        body += 'model = dict(backbone=dict(num_frames=num_frames))\n'
        for loader in ('train', 'val', 'test'):
            body += (
                f'{loader}_dataloader = dict(dataset=dict(pipeline=[\n'
                "    {**step, 'clip_len': num_frames}\n"
                "    if step['type'] == 'SampleFrames' else step\n"
                f'    for step in _base_.{loader}_dataloader.dataset.pipeline'
                ']))\n')
        yield (osp.join(VIDEO, f'adaptformer_frames/adaptformer-64_{stem}.py'),
               config(comment, ADAPTFORMER, body))


def vpt_sweep():
    for deep in (False, True):
        kind = 'deep' if deep else 'shallow'
        for tokens in (1, 2, 4, 8, 16, 32):
            params = tokens * WIDTH * (DEPTH if deep else 1)
            where = 'before every block' if deep else 'before block 1 only'
            comment = (f'# Ablation, VPT-{kind} with {tokens} token(s) '
                       f'{where} ({params:,} prompt\n# parameters).')
            if deep and tokens == 1:
                comment += ' The Table 1 VPT setting.'
            if tokens >= 8:
                comment += ('\n# AdaptFormer reports that VPT collapses on '
                            'SSv2 with 8 or more tokens.')
            yield method_ablation(f'vpt_tokens/vpt-{kind}-{tokens}', comment,
                                  VPT, 'prompt_cfg', num_tokens=tokens,
                                  deep=deep)


def vpt_location_sweep(image: bool = False):
    """VPT Sec. 4.3 "Prompt Location" (Fig. 5): prepend (the method), add
    (one prompt per patch token: 4 x 14 x 14 = 784 on the video input,
    14 x 14 = 196 on the image one), prepend in pixel space (shallow
    only)."""
    patches = 14 * 14 if image else 4 * 14 * 14
    pixel, patch = ((3 * 16 * 16, '3x16x16 pixel patch') if image else
                    (3 * 2 * 16 * 16, '3x2x16x16 pixel tubelet'))
    for name, fields, params, text in (
            ('deep-1-prepend', dict(location='prepend'), DEPTH * WIDTH,
             'prepended to the tokens before every\n# block (the method; '
             'the main setting)'),
            ('shallow-1-prepend', dict(location='prepend', deep=False),
             WIDTH, 'prepended to the tokens before block\n# 1 only'),
            ('deep-add', dict(location='add', num_tokens=None),
             DEPTH * patches * WIDTH,
             f'added element-wise to the {patches} patch\n# tokens before '
             'every block (one prompt per token; the sequence length is\n# '
             'unchanged)'),
            ('shallow-add', dict(location='add', num_tokens=None,
                                 deep=False), patches * WIDTH,
             f'added element-wise to the {patches} patch\n# tokens before '
             'block 1 (one prompt per token)'),
            ('shallow-1-prepend-pixel',
             dict(location='prepend_pixel', deep=False), pixel,
             f'one {patch} through\n# the frozen patch '
             'embedding, prepended before block 1 (no position\n# '
             'embedding)')):
        comment = (f'# Ablation, VPT prompt location: {text}.\n'
                   f'# {params:,} prompt parameters. VPT (Fig. 5): prepend '
                   'beats add and pixel space.')
        yield method_ablation(f'vpt_location/vpt-{name}', comment,
                              IMAGE_VPT if image else VPT, 'prompt_cfg',
                              image=image, **fields)


def vpt_depth_sweep(image: bool = False):
    """VPT Sec. 4.3 "Prompt Depth" (Fig. 6): blocks i -> j (1-based) get a
    prompt set, 1 token each."""
    for first, last in ((1, 1), (1, 3), (1, 6), (1, 9), (1, 12), (3, 12),
                        (6, 12), (9, 12), (12, 12)):
        layers = list(range(first - 1, last))
        comment = (f'# Ablation, VPT prompt depth: blocks {first} -> {last} '
                   f'of 12 get 1 prompt token\n# ({len(layers) * WIDTH:,} '
                   'prompt parameters).')
        if (first, last) == (1, DEPTH):
            layers = None  # spelled as the main config does
            comment += ' The main setting.'
        comment += ('\n# VPT (Fig. 6): deeper is better; prompts in early '
                    'blocks matter more.')
        yield method_ablation(f'vpt_depth/vpt-deep-1-blocks{first}-{last}',
                              comment, IMAGE_VPT if image else VPT,
                              'prompt_cfg', image=image, layers=layers)


def vpt_output_sweep():
    """VPT Sec. 4.3 "Final Output" (Fig. 8) on the video ViT (no CLS
    token)."""
    for output, text in (
            ('image_pool', 'the mean of the patch outputs (the main\n'
             '# setting)'),
            ('prompt_pool', 'the mean of the prompt outputs'),
            ('global_pool', 'the mean of the prompt and patch\n# outputs')):
        comment = (f'# Ablation, VPT final output: {text}, then fc_norm.\n'
                   '# VPT (Fig. 8): pooling that includes the prompt '
                   'outputs loses accuracy.')
        name = output.replace('_', '-')
        yield method_ablation(f'vpt_output/vpt-deep-1-{name}', comment, VPT,
                              'prompt_cfg', output=output)


def image_vpt_output_sweep():
    """VPT Sec. 4.3 "Final Output" (Fig. 8) on the image ViT, where the CLS
    token is the main setting."""
    for output, text in (
            ('cls', 'the CLS token after the final\n# norm (VPT\'s default '
             'on the image ViT; the main setting)'),
            ('global_pool', 'the mean of the prompt and\n# patch outputs '
             '(CLS excluded) after the final norm'),
            ('image_pool', 'the mean of the patch outputs\n# after the '
             'final norm'),
            ('prompt_pool', 'the mean of the prompt outputs\n# after the '
             'final norm')):
        comment = (f'# Ablation, VPT final output on the image ViT: {text}.\n'
                   '# VPT (Fig. 8, supervised ImageNet-21k ViT-B/16): CLS '
                   'and image-pool are on a\n# par; pooling that includes '
                   'the prompt outputs loses up to 8 points.')
        name = output.replace('_', '-')
        yield method_ablation(f'vpt_output/vpt-deep-1-{name}', comment,
                              IMAGE_VPT, 'prompt_cfg', image=True,
                              output=output)


def all_configs():
    for sweep in (bottleneck_sweep, layers_sweep, position_sweep,
                  scale_sweep, frames_sweep, vpt_sweep, vpt_location_sweep,
                  vpt_depth_sweep, vpt_output_sweep):
        yield from sweep()
    yield from vpt_location_sweep(image=True)
    yield from vpt_depth_sweep(image=True)
    yield from image_vpt_output_sweep()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--out-dir',
        default=osp.join(
            osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
            'configs'),
        help='the configs folder: writes OUT/ablations/ and '
        'OUT/image/ablations/')
    args = parser.parse_args(argv)
    for rel, text in all_configs():
        path = osp.join(args.out_dir, rel)
        os.makedirs(osp.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            f.write(text)
    print(f'wrote {len(list(all_configs()))} configs under {args.out_dir}')


if __name__ == '__main__':
    main()
