"""t-SNE in plain torch (calibrated affinities, clusters kept apart, the
picture written) and the tool over feature files,
``tools/analysis/tsne.py``: one PNG panel per file of one split."""
import math
import os.path as osp

import matplotlib.image
import numpy as np
import pytest
import torch

from adaptformer_mm.analysis.features import FeatureSet
from adaptformer_mm.analysis.tsne import (conditional_affinities, plot_tsne,
                                          subsample, tsne)

from ..conftest import run_tool

# Tiny tensors: one torch thread (conftest.py).
pytestmark = pytest.mark.usefixtures('one_torch_thread')


def clusters(n=30, dims=20, seed=0):
    """``3 * n`` points around three far-apart centres, and their labels."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(3), n)
    centres = rng.normal(size=(3, dims)) * 10
    return centres[labels] + rng.normal(size=(3 * n, dims)), labels


def feature_file(tmp_path, name, config='', n=4, seed=0, flip=False):
    """:func:`clusters` (8 dims) as a file of ``tools/extract_features.py``
    whose meta names ``config``; ``flip``: the samples in reverse order."""
    x, labels = clusters(n, dims=8, seed=seed)
    data = FeatureSet(torch.as_tensor(x, dtype=torch.float32),
                      torch.as_tensor(labels), dict(config=config,
                                                    classes=['a', 'b', 'c']))
    if flip:
        data = FeatureSet(data.features.flip(0), data.labels.flip(0),
                          data.meta)
    path = str(tmp_path / f'{name}.pth')
    data.save(path)
    return path


def two_panels(path):
    """Whether the PNG at ``path`` is two panels side by side."""
    image = matplotlib.image.imread(path)
    return image.ndim == 3 and image.shape[1] > 1.5 * image.shape[0]


# ----------------------------------------------------------------- t-SNE
def test_affinities_have_the_asked_perplexity():
    x, _ = clusters()
    d2 = torch.cdist(torch.as_tensor(x), torch.as_tensor(x)).pow(2)
    p = conditional_affinities(d2, perplexity=10.0)
    torch.testing.assert_close(p.sum(1), torch.ones(len(x),
                                                    dtype=p.dtype))
    assert p.diagonal().abs().max() == 0
    entropy = -(p * p.clamp_min(1e-300).log()).sum(1)
    assert (entropy - math.log(10.0)).abs().max() < 1e-4


def test_embedding_keeps_clusters_apart_and_is_deterministic():
    x, labels = clusters()
    y = tsne(x, perplexity=10)
    assert y.shape == (90, 2) and np.isfinite(y).all()
    # Every point's nearest neighbour in 2-D is of its own class.
    d = ((y[:, None] - y[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    assert (labels[d.argmin(1)] == labels).all()
    np.testing.assert_array_equal(y, tsne(x, perplexity=10))


def test_small_sets_cap_the_perplexity():
    x, _ = clusters(n=2)
    assert tsne(x, iterations=50).shape == (6, 2)  # perplexity 30 -> 5/3
    with pytest.raises(ValueError, match=r'N >= 3'):
        tsne(x[:2])


def test_subsample_keeps_every_class_share():
    labels = np.array([0] * 80 + [1] * 20)
    keep = subsample(labels, 10)
    assert sorted(np.bincount(labels[keep])) == [2, 8]
    assert len(subsample(labels, None)) == 100


def test_picture_has_one_panel_per_method(tmp_path):
    x, labels = clusters(n=10)
    path = str(tmp_path / 'out' / 'tsne.png')
    embeddings = plot_tsne({'a': x, 'b': -x}, labels, path,
                           class_names=['grow', 'shrink', 'turn'],
                           iterations=100)
    assert list(embeddings) == ['a', 'b']
    assert two_panels(path)
    with pytest.raises(ValueError, match='b: 29 feature rows for 30'):
        plot_tsne({'a': x, 'b': x[1:]}, labels, path)


# ------------------------------------------------------------------ tool
def test_tool_draws_one_panel_per_feature_file(tmp_path):
    files = [feature_file(tmp_path, 'lp', 'configs/demo/linear-probe_x.py',
                          n=8, seed=0),
             feature_file(tmp_path, 'vpt', 'configs/demo/vpt-deep-4_x.py',
                          n=8, seed=1)]
    out = str(tmp_path / 'tsne.png')
    run = run_tool('analysis/tsne',
                   files + ['--out', out, '--iterations', '100'])
    assert list(run.result) == ['linear-probe', 'vpt-deep-4']
    assert f'wrote {out}: 2 panel(s), 24 points each' in run.stdout
    assert two_panels(out)


def test_tool_refuses_files_of_other_samples_or_names(tmp_path):
    a = feature_file(tmp_path, 'a', 'a.py')
    b = feature_file(tmp_path, 'b', 'b.py', flip=True)
    out = str(tmp_path / 'x.png')
    with pytest.raises(ValueError, match='is not the same samples'):
        run_tool('analysis/tsne', [a, b, '--out', out])
    run = run_tool('analysis/tsne',
                   [a, '--out', out, '--names', 'one', 'two'], check=False)
    assert run.returncode == 2
    assert '--names gives 2 name(s) for 1 feature file(s)' in run.stderr
    assert not osp.exists(out)


def test_tool_overwrites_an_existing_picture_only_with_force(tmp_path):
    a = feature_file(tmp_path, 'a', 'a.py')
    out = tmp_path / 'tsne.png'
    out.write_bytes(b'my own picture')
    args = [a, '--out', str(out), '--iterations', '50']
    run = run_tool('analysis/tsne', args, check=False)
    assert run.returncode == 2
    assert f'--out {out} exists' in run.stderr
    assert out.read_bytes() == b'my own picture'
    run_tool('analysis/tsne', args + ['--force'])
    assert matplotlib.image.imread(str(out)).ndim == 3
