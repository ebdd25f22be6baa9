"""A stand-in stage runner for the harness and the demo: records each stage
it is given and writes the files its run would leave (:mod:`.fake_runs`),
val from the lr and the method, test from the seed and the data size."""
from adaptformer_mm.experiments import Runner

from .fake_runs import fake_val, write_results


class FakeRunner(Runner):
    """Raises after ``fail_after`` stages, as a killed comparison stops."""

    def __init__(self, fail_after=None):
        self.calls, self.fail_after = [], fail_after

    def command(self, stage):
        return f'fake {stage.stage_config}'

    def run(self, todo, done):
        for stage, resume in todo:
            if len(self.calls) == self.fail_after:
                raise RuntimeError('killed')
            info = stage.info
            self.calls.append((info['method'], info['lr'], info['seed'],
                               resume))
            write_results(stage.work_dir, fake_val(info['lr'],
                                                   info['method']),
                          0.3 + 0.01 * info['seed'] +
                          (info.get('size') or 0) / 1000)
            done(stage, 0)
        return ''
