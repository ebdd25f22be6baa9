"""tools/demo.py on camera-like footage (non-square, noisy, mp4 and avi) and
tools/multitask_demo.py with two tasks on one backbone."""
import os.path as osp

import pytest
import torch

from adaptformer_mm.apis import inference, init_model
from adaptformer_mm.peft.task_file import write_task_file
from ..apis.tiny_tasks import (load_tool, noisy_video, save_full_checkpoint,
                               tiny_cfg, trained_model, write_backbone)
from ..conftest import REPO, run_tool


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('demo')
    backbone = write_backbone(str(tmp / 'pretrained.pth'))
    files = {}
    for name, classes, seed in (('walk', 3, 1), ('wave', 5, 2)):
        cfg = tiny_cfg(classes, classes=[f'{name}{i}' for i in
                                         range(classes)])
        model = trained_model(cfg, backbone, seed)
        config = str(tmp / f'{name}.py')
        cfg.dump(config)
        write_task_file(str(tmp / f'{name}.pth'), model,
                        config=cfg.pretty_text)
        full = save_full_checkpoint(model, cfg, str(tmp / f'{name}_full.pth'))
        files[name] = dict(config=config, task=str(tmp / f'{name}.pth'),
                           full=full)
    return dict(
        tmp=tmp, backbone=backbone, files=files, demo=load_tool('demo'),
        mp4=noisy_video(str(tmp / 'camera.mp4'), 320, 240, frames=40),
        avi=noisy_video(str(tmp / 'camera.avi'), 640, 360, frames=30))


def test_demo_with_task_file_matches_full_model(setup, capsys):
    walk = setup['files']['walk']
    pred = setup['demo'].main([setup['mp4'], walk['config'],
                               setup['backbone'], '--task-file',
                               walk['task'], '--topk', '2'])
    full = init_model(walk['config'], walk['full'])
    expected = inference(full, setup['mp4'])
    assert torch.equal(pred.scores, expected.scores)
    out = capsys.readouterr().out
    assert 'top-2 of 3 classes' in out
    best = pred.topk(1)[0]
    assert f'  1. {best[1]:<30} {best[2]:.4f}' in out
    assert best[1].startswith('walk')  # names come from the config


def test_demo_writes_labelled_avi_input_and_refuses_overwrite(setup, capsys):
    import decord
    wave = setup['files']['wave']
    out = str(setup['tmp'] / 'labelled.mp4')
    labels = setup['tmp'] / 'labels.txt'
    labels.write_text('\n'.join('abcde'))
    args = [setup['avi'], wave['config'], wave['full'], '--out-video', out,
            '--label-file', str(labels)]
    pred = setup['demo'].main(args)
    assert pred.scores.shape == (5, )
    assert pred.classes == list('abcde')
    reader = decord.VideoReader(out)
    assert len(reader) == 30 and reader[0].shape == (360, 640, 3)
    assert 'labelled video:' in capsys.readouterr().out
    before = open(out, 'rb').read()
    with pytest.raises(SystemExit):
        setup['demo'].main(args)
    assert f'--out-video {out} exists' in capsys.readouterr().err
    assert open(out, 'rb').read() == before
    with pytest.raises(SystemExit):
        setup['demo'].main(args[:3] + ['--out-video', 'x.gif'])
    assert "use one of ['.avi', '.mp4']" in capsys.readouterr().err


def test_multitask_demo_answers_every_task_from_one_backbone(setup, capsys):
    files = setup['files']
    run = run_tool('multitask_demo', [setup['mp4'], setup['backbone'],
                                      files['walk']['task'],
                                      f'gesture={files["wave"]["task"]}',
                                      '--topk', '1'])
    lines = [ln for ln in run.stdout.splitlines() if ln.startswith('[')]
    assert [ln.split(']')[0] for ln in lines] == ['[walk', '[gesture']
    expected = inference(
        init_model(files['wave']['config'], files['wave']['full']),
        setup['mp4'])
    name, score = lines[1].split('] ')[1].split()
    assert name == expected.topk(1)[0][1]
    assert float(score) == pytest.approx(expected.topk(1)[0][2], abs=1e-4)
    tool = load_tool('multitask_demo')
    with pytest.raises(SystemExit):
        tool.parse_args([setup['mp4'], setup['backbone'],
                         files['walk']['task'], files['walk']['task']])
    assert "two task files are named 'walk'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        tool.parse_args([setup['mp4'], setup['backbone'],
                         files['walk']['task'], '--task', 'run'])
    assert "--task ['run']: not among the task files ['walk']" in \
        capsys.readouterr().err


def test_out_video_is_refused_for_an_image_config(tmp_path):
    import cv2
    import numpy as np
    image = str(tmp_path / 'cat.png')
    cv2.imwrite(image, np.zeros((8, 8, 3), np.uint8))
    config = osp.join(REPO, 'configs', 'image', 'adaptformer',
                      'adaptformer-64_vit-base-p16_mae-in1k_8xb128-sgd-'
                      'coslr-100e_cifar100.py')
    with pytest.raises(ValueError, match='--out-video draws the labels on a '
                       'video, and .* is an image config'):
        load_tool('demo').main([image, config, str(tmp_path / 'none.pth'),
                                '--out-video', str(tmp_path / 'out.mp4')])
