"""tools/analysis/tsne.py: one PNG panel per feature file of one split."""
import os.path as osp

import pytest
import torch

from adaptformer_mm.analysis.features import FeatureSet

from ..conftest import REPO


# Tiny tensors: one torch thread (conftest.py).
pytestmark = pytest.mark.usefixtures('one_torch_thread')


def tool():
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'tool_tsne', osp.join(REPO, 'tools', 'analysis', 'tsne.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def feature_file(tmp_path, name, config, seed, labels):
    g = torch.Generator().manual_seed(seed)
    features = torch.randn(len(labels), 8, generator=g) + 3 * labels[:, None]
    path = str(tmp_path / f'{name}.pth')
    FeatureSet(features, labels, dict(config=config,
                                      classes=['a', 'b', 'c'])).save(path)
    return path


def test_one_panel_per_method(tmp_path, capsys):
    import matplotlib.image
    labels = torch.arange(3).repeat_interleave(8)
    files = [feature_file(tmp_path, 'lp', 'configs/demo/linear-probe_x.py',
                          0, labels),
             feature_file(tmp_path, 'vpt', 'configs/demo/vpt-deep-4_x.py',
                          1, labels)]
    out = str(tmp_path / 'tsne.png')
    embeddings = tool().main(files + ['--out', out, '--iterations', '100'])
    assert list(embeddings) == ['linear-probe', 'vpt-deep-4']
    assert f'wrote {out}: 2 panel(s), 24 points each' in \
        capsys.readouterr().out
    image = matplotlib.image.imread(out)
    assert image.shape[1] > 1.5 * image.shape[0]


def test_files_of_other_samples_or_names_are_refused(tmp_path):
    labels = torch.arange(3).repeat_interleave(4)
    a = feature_file(tmp_path, 'a', 'a.py', 0, labels)
    b = feature_file(tmp_path, 'b', 'b.py', 0, labels.flip(0))
    out = str(tmp_path / 'x.png')
    with pytest.raises(ValueError, match='is not the same samples'):
        tool().main([a, b, '--out', out])
    with pytest.raises(SystemExit):
        tool().main([a, '--out', out, '--names', 'one', 'two'])
    assert not osp.exists(out)


def test_an_existing_picture_is_overwritten_only_with_force(tmp_path,
                                                            capsys):
    import matplotlib.image
    labels = torch.arange(3).repeat_interleave(4)
    a = feature_file(tmp_path, 'a', 'a.py', 0, labels)
    out = tmp_path / 'tsne.png'
    out.write_bytes(b'my own picture')
    args = [a, '--out', str(out), '--iterations', '50']
    with pytest.raises(SystemExit):
        tool().main(args)
    assert f'--out {out} exists' in capsys.readouterr().err
    assert out.read_bytes() == b'my own picture'
    tool().main(args + ['--force'])
    assert matplotlib.image.imread(str(out)).ndim == 3
