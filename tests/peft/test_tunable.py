import torch
from torch import nn

from adaptformer_mm.peft import (AdaptMLP, frozen_checksum, keep_in_eval,
                                 restore_tunable_state, set_trainable,
                                 summarize_parameters, trainable_groups,
                                 tunable_state_dict)


class Toy(nn.Module):

    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList()
        for _ in range(3):
            block = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.5))
            block.add_module('adapter', AdaptMLP(8, bottleneck=2))
            self.blocks.append(block)
        self.norm = nn.LayerNorm(8)
        self.head = nn.Sequential(nn.BatchNorm1d(8, affine=False),
                                  nn.Linear(8, 3))


def peft_toy():
    toy = Toy()
    set_trainable(toy, lambda n: 'adapter' in n or n.startswith(
        ('norm.', 'head.')))
    return toy


def test_summary_counts_and_hf_headline():
    summary = summarize_parameters(peft_toy())
    adapter = 8 * 2 + 2 + 2 * 8 + 8
    assert summary.trainable == 3 * adapter + 16 + 27
    assert summary.total == summary.trainable + 3 * 72
    assert summary.headline() == (
        f'trainable params: {summary.trainable:,} || all params: '
        f'{summary.total:,} || trainable%: '
        f'{100 * summary.trainable / summary.total:.4f}')
    text = summary.format()
    assert 'blocks.{0-2}.adapter' in text
    assert f'3 x {adapter:,} = {3 * adapter:,}' in text
    assert 'norm' in text and 'head' in text


def test_summary_merges_each_index_on_its_own():
    """Two indices (Swin's stages.i.blocks.j): each # gets its own range;
    stages whose blocks differ in count or width get a line each, stages
    that agree share one; a two-index name inside a block (an FFN's
    layers.0.0) keeps the block range."""
    from adaptformer_mm.peft import ParamSummary
    groups = {f'stages.{s}.blocks.{b}.adaptmlp': (10, 10, 20, 20)[s]
              for s, depth in enumerate((2, 2, 3, 2)) for b in range(depth)}
    groups.update({f'layers.{i}.ffn.layers.0.0.bias': 4 for i in range(3)})
    text = ParamSummary(trainable=1, total=2, groups=groups).format()
    rows = [line.split() for line in text.splitlines()[2:]]
    assert rows == [
        ['stages.{0-1}.blocks.{0-1}.adaptmlp', '4', 'x', '10', '=', '40'],
        ['stages.{2}.blocks.{0-2}.adaptmlp', '3', 'x', '20', '=', '60'],
        ['stages.{3}.blocks.{0-1}.adaptmlp', '2', 'x', '20', '=', '40'],
        ['layers.{0-2}.ffn.layers.{0}.{0}.bias', '3', 'x', '4', '=', '12'],
    ]


def test_groups_are_shallowest_fully_trainable_modules():
    toy = peft_toy()
    assert trainable_groups(toy) == [
        'blocks.0.adapter', 'blocks.1.adapter', 'blocks.2.adapter', 'norm',
        'head'
    ]
    set_trainable(toy, lambda n: True)
    assert trainable_groups(toy) == ['']
    assert '(whole model)' in summarize_parameters(toy).format()
    set_trainable(toy, lambda n: False)
    assert summarize_parameters(toy).format().endswith('none')


def test_tunable_state_dict_roundtrip_keeps_head_buffers():
    torch.manual_seed(0)
    toy = peft_toy()
    toy.head.train()(torch.randn(4, 8))  # running stats leave their init
    with torch.no_grad():  # trainable tensors unlike a fresh model's
        for param in toy.parameters():
            if param.requires_grad:
                param.add_(1)
    state = tunable_state_dict(toy)
    assert 'head.0.running_mean' in state
    assert not any(k.startswith('blocks.0.0') for k in state)
    torch.manual_seed(0)
    other = peft_toy()  # the same frozen weights
    restore_tunable_state(other, state, None, frozen_checksum(toy))
    for key, value in toy.state_dict().items():
        assert torch.equal(other.state_dict()[key], value), key


def test_keep_in_eval_is_not_recursive():
    toy = Toy().train()
    keep_in_eval(toy, ['blocks.0', 'blocks.0.1'])
    assert not toy.blocks[0].training and not toy.blocks[0][1].training
    assert toy.blocks[0].adapter.training
