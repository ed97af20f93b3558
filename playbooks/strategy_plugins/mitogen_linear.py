"""Ansible's linear strategy, run through Mitogen (see _mitogen.py, run by path: Ansible loads
strategy plugins by file, so this directory is not on the import path and is not put there)."""

import runpy
from pathlib import Path

_shim = runpy.run_path(str(Path(__file__).with_name("_mitogen.py")))
StrategyModule = _shim["strategy_class"]("linear")
