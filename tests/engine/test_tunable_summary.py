"""TunableSummaryHook writes what trains to the work dir as plain data, the
numbers it logs (adaptformer_mm/engine/hooks/tunable_summary.py)."""
import json
from types import SimpleNamespace

from mmengine.logging import MMLogger
from torch import nn

from adaptformer_mm.engine import TunableSummaryHook
from adaptformer_mm.peft import summarize_parameters


def test_summary_json_holds_the_logged_counts(tmp_path):
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2), nn.Linear(2, 2))
    for param in model[0].parameters():
        param.requires_grad = False
    model[2].bias.requires_grad = False
    runner = SimpleNamespace(model=model, work_dir=str(tmp_path),
                             logger=MMLogger.get_instance('summary_json'))
    TunableSummaryHook().before_train(runner)
    data = json.load(open(tmp_path / 'tunable_summary.json'))
    # frozen: 4*3+3 and the last bias; trainable: 3*2+2 and the last weight
    assert data['trainable'] == 3 * 2 + 2 + 2 * 2
    assert data['total'] == 4 * 3 + 3 + 3 * 2 + 2 + 2 * 2 + 2
    assert data['groups'] == {'1': 8, '2.weight': 4}
    summary = summarize_parameters(model)
    assert summary.headline().startswith(
        f'trainable params: {data["trainable"]:,} || all params: '
        f'{data["total"]:,}')
