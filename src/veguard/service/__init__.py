"""`veguard serve`: the moderation HTTP API, the human review queue and the reviewer page.

    >>> from veguard.service import create_app
    >>> from veguard.testing import FakeClassifier
    >>> app = create_app(FakeClassifier())   # in-memory queue, default settings

See docs/SERVICE.md. The real model is imported only by `veguard serve` (cli.py).
"""

from veguard.service.app import create_app
from veguard.service.settings import Settings

__all__ = ["Settings", "create_app"]
