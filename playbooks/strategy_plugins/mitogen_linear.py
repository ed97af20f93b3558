"""Ansible's linear strategy, run through Mitogen (see _mitogen.py)."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from _mitogen import strategy_class  # noqa: E402

StrategyModule = strategy_class("linear")
