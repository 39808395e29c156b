"""The metrics moved to `veguard.metrics` (shared with calibration); this name stays importable.

Leaves out everything: it only re-exports `veguard.metrics`.
"""

from veguard.metrics import *
from veguard.metrics import _arrays  # noqa: F401
