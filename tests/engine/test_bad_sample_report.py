"""BadSampleReportHook lives with the other hooks; configs name it by its
registered name."""
from mmengine.registry import HOOKS

import adaptformer_mm  # noqa: F401


def test_config_name_finds_the_engine_hook():
    from adaptformer_mm.engine import BadSampleReportHook
    from adaptformer_mm.engine.hooks.bad_sample_report import \
        BadSampleReportHook as own
    assert BadSampleReportHook is own
    assert HOOKS.get('BadSampleReportHook') is own


def test_hook_finds_checked_datasets_inside_wrappers():
    from adaptformer_mm.datasets import BadSampleMixin
    from adaptformer_mm.engine.hooks.bad_sample_report import \
        checked_datasets

    class Checked(BadSampleMixin):
        def __init__(self):  # no annotation list needed here
            pass

    class Wrapper:
        def __init__(self, dataset=None, datasets=None):
            self.dataset, self.datasets = dataset, datasets

    a, b = Checked(), Checked()
    assert checked_datasets(a) == [a]
    assert checked_datasets(Wrapper(datasets=[a, object()],
                                    dataset=Wrapper(dataset=b))) == [a, b]
    assert checked_datasets(object()) == []
