"""t-SNE pictures of final features, one panel per method, coloured by class,
as in VPT's visualisation (arXiv 2203.12119, Sec. 4): ``tools/analysis/
tsne.py``; the built-in comparison draws one for its methods.

:func:`tsne` is exact t-SNE (van der Maaten & Hinton, 2008) in plain torch:
perplexity-calibrated Gaussian affinities, Student-t similarities in 2-D,
early exaggeration 12 for 250 iterations, momentum 0.5 then 0.8, adaptive
gains, learning rate ``max(N / 48, 50)`` (``N / exaggeration / 4``, as
scikit-learn's "auto") and a PCA start (Kobak & Linderman 2021). O(N^2)
memory and time: a few thousand points take seconds to a minute on a CPU.
scikit-learn is not a dependency of the project for this one function.
"""
import math
from typing import Dict, Mapping, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from .plotting import pyplot, save_figure

EXAGGERATION = 12.0
EXAGGERATION_ITERS = 250


def _pca(x: Tensor, dims: int) -> Tensor:
    x = x - x.mean(0)
    if x.shape[1] <= dims:
        return x
    _, _, v = torch.linalg.svd(x, full_matrices=False)
    return x @ v[:dims].T


def conditional_affinities(sq_dists: Tensor, perplexity: float,
                           steps: int = 64) -> Tensor:
    """Row-stochastic ``P[j|i]`` with ``exp(-beta_i d_ij)``, each row's
    ``beta_i`` found by bisection so that its entropy is ``log(perplexity)``
    (the diagonal is 0)."""
    n = sq_dists.shape[0]
    d = sq_dists / sq_dists.mean().clamp_min(1e-12)
    d = d + torch.diag(torch.full((n, ), math.inf, dtype=d.dtype))
    d = d - d.min(1, keepdim=True).values  # nearest neighbour at 0
    target = math.log(perplexity)
    lo = torch.full((n, 1), -30.0, dtype=d.dtype)  # log(beta)
    hi = torch.full((n, 1), 30.0, dtype=d.dtype)
    for _ in range(steps):
        mid = (lo + hi) / 2
        beta = mid.exp()
        w = torch.exp(-beta * d)
        s = w.sum(1, keepdim=True)
        p = w / s
        entropy = s.log() + beta * torch.where(
            p > 0, d * p, torch.zeros_like(p)).sum(1, keepdim=True)
        too_flat = entropy > target  # beta too small
        lo = torch.where(too_flat, mid, lo)
        hi = torch.where(too_flat, hi, mid)
    return p


def tsne(features,
         dims: int = 2,
         perplexity: float = 30.0,
         iterations: int = 1000,
         seed: int = 0,
         pca_dims: int = 50) -> np.ndarray:
    """A ``(N, dims)`` t-SNE embedding of ``(N, d)`` features.

    ``perplexity`` is capped at ``(N - 1) / 3`` (a neighbourhood cannot hold
    more points than there are); features are first reduced to ``pca_dims``
    principal components. Deterministic for a given ``seed`` (which only
    breaks ties of the PCA start).
    """
    x = torch.as_tensor(np.asarray(features), dtype=torch.float64)
    if x.dim() != 2 or len(x) < 3:
        raise ValueError(f't-SNE needs (N >= 3, d) features, got '
                         f'{tuple(x.shape)}')
    n = len(x)
    perplexity = max(1.0, min(float(perplexity), (n - 1) / 3.0))
    x = _pca(x, pca_dims)
    p = conditional_affinities(torch.cdist(x, x).pow(2), perplexity)
    p = ((p + p.T) / (2 * n)).clamp_min(1e-12)

    generator = torch.Generator().manual_seed(seed)
    start = _pca(x, dims)
    if start.shape[1] < dims:
        start = torch.cat((start, torch.zeros(n, dims - start.shape[1],
                                              dtype=start.dtype)), 1)
    start = start + 1e-6 * torch.randn(n, dims, generator=generator,
                                       dtype=start.dtype)
    y = start / start[:, 0].std().clamp_min(1e-12) * 1e-4
    lr = max(n / EXAGGERATION / 4, 50.0)
    update = torch.zeros_like(y)
    gains = torch.ones_like(y)
    eye = torch.eye(n, dtype=torch.bool)
    for it in range(iterations):
        early = it < EXAGGERATION_ITERS
        target = p * EXAGGERATION if early else p
        num = 1.0 / (1.0 + torch.cdist(y, y).pow(2))
        num = num.masked_fill(eye, 0.0)
        q = (num / num.sum()).clamp_min(1e-12)
        w = (target - q) * num
        grad = 4.0 * (w.sum(1, keepdim=True) * y - w @ y)
        gains = torch.where((grad > 0) != (update > 0), gains + 0.2,
                            gains * 0.8).clamp_min(0.01)
        update = (0.5 if early else 0.8) * update - lr * gains * grad
        y = y + update
        y = y - y.mean(0)
    return y.numpy()


def subsample(labels, max_points: Optional[int], seed: int = 0) -> np.ndarray:
    """Indices of at most ``max_points`` samples, the same share of every
    class (all when ``max_points`` is None or not smaller)."""
    labels = np.asarray(labels)
    if max_points is None or len(labels) <= max_points:
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        k = max(1, round(len(idx) * max_points / len(labels)))
        keep.append(rng.choice(idx, size=min(k, len(idx)), replace=False))
    return np.sort(np.concatenate(keep))


def plot_tsne(features_by_method: Mapping[str, object],
              labels,
              path: str,
              class_names: Optional[Sequence[str]] = None,
              perplexity: float = 30.0,
              iterations: int = 1000,
              max_points: Optional[int] = 2000,
              seed: int = 0,
              title: Optional[str] = None) -> Dict[str, np.ndarray]:
    """Write a PNG with one t-SNE panel per method, points coloured by class.

    Args:
        features_by_method: panel title -> ``(N, d)`` features of the same
            ``N`` samples (one split, one order) for every method.
        labels: ``(N,)`` class indices of those samples.
        path: the PNG to write (folders are made).
        class_names: legend names by class index (default: the indices).
        max_points: at most this many samples (class-balanced, the same
            for every panel); None: all.

    Returns:
        panel title -> its ``(n, 2)`` embedding.
    """
    labels = np.asarray(labels).reshape(-1)
    if not features_by_method:
        raise ValueError('plot_tsne needs features of at least one method')
    for name, feats in features_by_method.items():
        if len(feats) != len(labels):
            raise ValueError(f'{name}: {len(feats)} feature rows for '
                             f'{len(labels)} labels')
    keep = subsample(labels, max_points, seed)
    labels = labels[keep]
    embeddings = {
        name: tsne(np.asarray(feats)[keep], perplexity=perplexity,
                   iterations=iterations, seed=seed)
        for name, feats in features_by_method.items()
    }
    classes = np.unique(labels)
    names = [str(class_names[c]) if class_names is not None
             and c < len(class_names) else str(c) for c in classes]
    plt = pyplot()
    panels = len(embeddings)
    fig, axes = plt.subplots(1, panels, figsize=(4 * panels, 4.3),
                             squeeze=False)
    cmap = plt.get_cmap('tab10' if len(classes) <= 10 else 'tab20')
    for ax, (name, y) in zip(axes[0], embeddings.items()):
        for i, (c, label) in enumerate(zip(classes, names)):
            sel = labels == c
            ax.scatter(y[sel, 0], y[sel, 1], s=6,
                       color=cmap(i % cmap.N), label=label)
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
    if len(classes) <= 20:
        axes[0][-1].legend(loc='center left', bbox_to_anchor=(1.0, 0.5),
                           fontsize=8, markerscale=2, frameon=False)
    if title:
        fig.suptitle(title)
    save_figure(plt, fig, path)
    return embeddings
