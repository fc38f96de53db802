"""Memory-mapped files that never kill the process.

A drop-in for CPython 3.13's ``mmap`` module (``import safemmap as mmap``)
on Python 3.9 and later.
"""

from safemmap._safemmap import *  # noqa: F401,F403
from safemmap._safemmap import __version__, error, mmap  # noqa: F401
