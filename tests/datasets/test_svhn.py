import numpy as np
import pytest
from mmengine.registry import DefaultScope
from scipy.io import savemat

import adaptformer_mm  # noqa: F401  (registers SVHN)
from adaptformer_mm.datasets import SVHN
from mmpretrain.registry import DATASETS


def write_svhn(root, split='train', labels=(10, 1, 2, 9)):
    """An official-format file: X (32, 32, 3, N) uint8, y (N, 1) in 1..10."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (32, 32, 3, len(labels)), dtype=np.uint8)
    savemat(str(root / f'{split}_32x32.mat'),
            {'X': images, 'y': np.array(labels).reshape(-1, 1)})
    return images


def test_reads_official_mat_and_maps_label_10_to_digit_0(tmp_path):
    images = write_svhn(tmp_path, 'test')
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        dataset = DATASETS.build(dict(type='SVHN', data_root=str(tmp_path),
                                      split='test'))
    assert isinstance(dataset, SVHN) and len(dataset) == 4
    assert [dataset.get_data_info(i)['gt_label'] for i in range(4)] == [
        0, 1, 2, 9]
    assert np.array_equal(dataset.get_data_info(1)['img'], images[..., 1])
    assert dataset.metainfo['classes'] == tuple('0123456789')


def test_errors_name_the_split_and_the_file(tmp_path):
    with pytest.raises(ValueError, match=r"split must be one of \('train', "
                       r"'test', 'extra'\), got 'val'"):
        SVHN(data_root=str(tmp_path), split='val')
    with pytest.raises(FileNotFoundError, match='train_32x32.mat not found'):
        SVHN(data_root=str(tmp_path))
    savemat(str(tmp_path / 'extra_32x32.mat'), {'X': np.zeros((1, 1))})
    with pytest.raises(KeyError, match="no 'y' array"):
        SVHN(data_root=str(tmp_path), split='extra')
