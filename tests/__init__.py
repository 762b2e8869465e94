"""The tests. This runs before tests/conftest.py, in pytest's process and in each worker."""

import os
import sys

# Every process of the suite (pytest, its workers, the bots and /chart drawings the tests start
# as processes) imports the same few hundred modules. Where PYTHONDONTWRITEBYTECODE is set (as
# in CI's image) and the installer compiled nothing (uv does not by default), each process would
# compile them all from source again: about a second of CPU per process. So the bytecode is
# written as they are imported, first by pytest's own process, before its workers start; the
# processes started after it inherit the setting. (__pycache__ is ignored by git.)
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
