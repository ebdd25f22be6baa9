"""A training set smaller than one batch per process with drop_last=True is
stopped before training, naming the keys (mmengine would stop in its
scheduler with "`epoch_length` must be a positive integer, but got 0")."""
import pytest

from ..conftest import DEMO_CONFIG, load_tool, tiny_demo_overrides


def test_an_epoch_without_a_batch_names_the_keys(synthetic_root, tmp_path,
                                                 one_torch_thread):
    options = tiny_demo_overrides(synthetic_root)
    options += ['train_dataloader.drop_last=True',
                'train_dataloader.batch_size=32']  # 16 clips
    with pytest.raises(ValueError) as raised:
        load_tool('train').main([DEMO_CONFIG, '--work-dir',
                                 str(tmp_path / 'wd')] + options)
    message = str(raised.value)
    assert message.startswith('train_dataloader gives no batch: 16 training '
                              'sample(s) on 1 process(es) at '
                              'train_dataloader.batch_size=32 with '
                              'train_dataloader.drop_last=True')
    assert 'train_dataloader.drop_last=False' in message
