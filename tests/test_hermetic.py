"""The test run writes only under temporary directories (tests/conftest.py): its NB101 cache, other programs'
caches and its working directory are the run's own, never the user's."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import platformdirs

from suite import data

ROOT = Path(__file__).resolve().parents[1]


def test_the_cache_and_the_working_directory_are_the_test_runs_own():
    temp = Path(tempfile.gettempdir()).resolve()
    for path in (data.cache_dir(), Path(os.environ["XDG_CACHE_HOME"]), Path(os.environ["MPLCONFIGDIR"]),
                 Path(os.environ["DASK_CONFIG"]), Path.cwd()):
        assert temp in path.resolve().parents, path
    assert Path(platformdirs.user_cache_dir("nasrepro")).resolve() != data.cache_dir().resolve()
    assert ROOT not in Path.cwd().resolve().parents and Path.cwd().resolve() != ROOT


def test_a_subprocess_sees_the_same_cache():
    code = "from suite import data; print(data.cache_dir())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert Path(done.stdout.strip()) == data.cache_dir()
