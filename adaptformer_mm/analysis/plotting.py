"""matplotlib without a display, shared by the comparison's figures
(:mod:`adaptformer_mm.experiments.report`) and the t-SNE pictures
(:mod:`.tsne`)."""
import os
import os.path as osp


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (files only, no window);
    imported on first use so that nothing else pays for matplotlib."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def save_figure(plt, fig, path: str) -> None:
    """Lay out, write ``path`` (its folder made if missing) and close."""
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
