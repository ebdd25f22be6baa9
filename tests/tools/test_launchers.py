"""tools/dist_{train,test}.sh and tools/slurm_{train,test}.sh: the command
each starts (torchrun / srun replaced by a stub that prints its arguments),
the environment they read and the usage errors. Bash only, no training."""
import os
import os.path as osp
import subprocess

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

STUB = '''#!/bin/bash
echo "PYTHONPATH=$PYTHONPATH MASTER_PORT=${MASTER_PORT:-unset}"
for a in "$(basename "$0")" "$@"; do printf '%s\\n' "$a"; done
'''


@pytest.fixture
def launch(tmp_path):
    """Run a launcher with PYTHON and srun stubbed: ``(status, lines)``."""
    for name in ('python-stub', 'srun'):
        path = tmp_path / name
        path.write_text(STUB)
        path.chmod(0o755)

    def run(script, *args, **env):
        full = dict(os.environ, PATH=f'{tmp_path}:{os.environ["PATH"]}',
                    PYTHON=str(tmp_path / 'python-stub'), **env)
        for key in ('NNODES', 'NODE_RANK', 'MASTER_ADDR', 'PORT',
                    'MASTER_PORT', 'GPUS', 'GPUS_PER_NODE', 'CPUS_PER_TASK',
                    'SRUN_ARGS', 'PYTHONPATH'):
            if key not in env:
                full.pop(key, None)
        out = subprocess.run(['bash', f'tools/{script}', *args], cwd=REPO,
                             env=full, capture_output=True, text=True)
        return out.returncode, (out.stdout + out.stderr).splitlines()

    return run


def test_dist_train_and_test_start_torchrun(launch):
    rc, lines = launch('dist_train.sh', 'cfg.py', '2', '--work-dir', 'a b')
    assert rc == 0, lines
    assert lines == [
        'PYTHONPATH=tools/.. MASTER_PORT=unset', 'python-stub', '-m',
        'torch.distributed.run', '--nnodes=1', '--node_rank=0',
        '--master_addr=127.0.0.1', '--nproc_per_node=2',
        '--master_port=29500', 'tools/train.py', 'cfg.py', '--launcher',
        'pytorch', '--work-dir', 'a b']
    rc, lines = launch('dist_test.sh', 'cfg.py', 'ck.pth', '4', '--dump',
                       'x.pkl', NNODES='2', NODE_RANK='1',
                       MASTER_ADDR='10.0.0.1', PORT='1234', PYTHONPATH='/p')
    assert rc == 0, lines
    assert lines[0] == 'PYTHONPATH=tools/..:/p MASTER_PORT=unset'
    assert lines[4:] == [
        '--nnodes=2', '--node_rank=1', '--master_addr=10.0.0.1',
        '--nproc_per_node=4', '--master_port=1234', 'tools/test.py',
        'cfg.py', 'ck.pth', '--launcher', 'pytorch', '--dump', 'x.pkl']


def test_slurm_train_and_test_start_srun(launch):
    rc, lines = launch('slurm_train.sh', 'part', 'job', 'cfg.py', '--resume',
                       GPUS='16', MASTER_PORT='5555',
                       SRUN_ARGS='--qos=high --time=1')
    assert rc == 0, lines
    assert lines == [
        'PYTHONPATH=tools/.. MASTER_PORT=5555', 'srun', '-p', 'part',
        '--job-name=job', '--gres=gpu:8', '--ntasks=16',
        '--ntasks-per-node=8', '--cpus-per-task=8', '--kill-on-bad-exit=1',
        '--qos=high', '--time=1', lines[12], '-u', 'tools/train.py',
        'cfg.py', '--launcher', 'slurm', '--resume']
    assert lines[12].endswith('python-stub')
    rc, lines = launch('slurm_test.sh', 'part', 'job', 'cfg.py', 'ck.pth',
                       GPUS_PER_NODE='4', CPUS_PER_TASK='2')
    assert rc == 0, lines
    port = int(lines[0].split('MASTER_PORT=')[1])
    assert 12000 <= port < 32000  # a random port when none is set
    assert lines[5:10] == ['--gres=gpu:4', '--ntasks=8',
                           '--ntasks-per-node=4', '--cpus-per-task=2',
                           '--kill-on-bad-exit=1']
    assert lines[-5:] == ['tools/test.py', 'cfg.py', 'ck.pth', '--launcher',
                          'slurm']


@pytest.mark.parametrize('script,args,usage', [
    ('dist_train.sh', ['cfg.py'], 'CONFIG GPUS'),
    ('dist_test.sh', ['cfg.py', 'ck.pth'], 'CONFIG CHECKPOINT GPUS'),
    ('slurm_train.sh', ['part'], 'PARTITION JOB_NAME CONFIG ['),
    ('slurm_test.sh', ['p', 'j', 'c'], 'PARTITION JOB_NAME CONFIG CHECKPOINT'),
])
def test_too_few_arguments_print_the_usage(launch, script, args, usage):
    rc, lines = launch(script, *args)
    assert rc == 2 and len(lines) == 1
    assert lines[0].startswith(f'usage: tools/{script} {usage}')
