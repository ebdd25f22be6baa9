"""Install adaptformer_mm with its configs and tools for ``mim``.

``mim train adaptformer_mm CONFIG`` looks for ``tools/train.py`` and
``configs/`` inside the installed package, under ``adaptformer_mm/.mim``. As in
OpenMMLab's own packages they are copied there when a wheel is built
(``pip install .``). An editable install (``pip install -e .``, PEP 660) never
runs this step, so ``mim`` cannot find them after one (README, stack note 3).
"""
import os
import os.path as osp
import shutil

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))
MIM_DIRS = ('configs', 'tools')


def read_version() -> str:
    scope: dict = {}
    with open(osp.join(HERE, 'adaptformer_mm', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


def read_requirements(path: str) -> list:
    reqs = []
    with open(osp.join(HERE, path)) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            if line.startswith('-r '):
                nested = osp.join(osp.dirname(path), line[3:].strip())
                reqs += read_requirements(nested)
            else:
                reqs.append(line)
    return reqs


def copy_mim_files() -> None:
    """Copy configs/ and tools/ to adaptformer_mm/.mim for the wheel."""
    mim_root = osp.join(HERE, 'adaptformer_mm', '.mim')
    os.makedirs(mim_root, exist_ok=True)
    for name in MIM_DIRS:
        src, dst = osp.join(HERE, name), osp.join(mim_root, name)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns(
            '__pycache__', '*.pyc'))


if __name__ == '__main__':
    copy_mim_files()
    setup(
        name='adaptformer_mm',
        version=read_version(),
        description='AdaptFormer and VPT for VideoMAE / ViT on OpenMMLab '
        '(mmengine, mmaction2, mmpretrain)',
        long_description=open(osp.join(HERE, 'README.md')).read(),
        long_description_content_type='text/markdown',
        python_requires='>=3.9',
        packages=find_packages(exclude=('tests', 'tests.*', 'configs',
                                        'tools')),
        include_package_data=True,
        package_data={'adaptformer_mm': ['.mim/**/*', '.mim/**/**/*']},
        install_requires=read_requirements('requirements/runtime.txt'),
        extras_require={'tests': ['pytest']},
        license='Apache License 2.0',
        zip_safe=False,
    )
