"""t-SNE in plain torch: calibrated affinities, clusters kept apart, the
picture written (the tool: tests/tools/test_tsne.py)."""
import math

import numpy as np
import pytest
import torch

from adaptformer_mm.analysis.tsne import (conditional_affinities, plot_tsne,
                                       subsample, tsne)


# Tiny tensors: one torch thread (conftest.py).
pytestmark = pytest.mark.usefixtures('one_torch_thread')


def clusters(n=30, dims=20, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(3), n)
    centres = rng.normal(size=(3, dims)) * 10
    return centres[labels] + rng.normal(size=(3 * n, dims)), labels


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
    import matplotlib.image
    x, labels = clusters(n=10)
    path = str(tmp_path / 'out' / 'tsne.png')
    embeddings = plot_tsne({'a': x, 'b': -x}, labels, path,
                           class_names=['grow', 'shrink', 'turn'],
                           iterations=100)
    assert list(embeddings) == ['a', 'b']
    image = matplotlib.image.imread(path)
    assert image.shape[1] > 1.5 * image.shape[0]  # two panels side by side
    with pytest.raises(ValueError, match='b: 29 feature rows for 30'):
        plot_tsne({'a': x, 'b': x[1:]}, labels, path)
