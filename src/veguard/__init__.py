"""veguard: flags violent-extremist content for human review.

`from veguard import Classifier` imports torch and transformers only when `Classifier` is
first touched, so `import veguard` (the CLI, the service's schemas, tests with a fake) stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Classifier", "__version__"]

if TYPE_CHECKING:
    from veguard.modeling import Classifier


def __getattr__(name: str) -> Any:
    if name == "Classifier":
        from veguard.modeling import Classifier

        return Classifier
    raise AttributeError(f"module 'veguard' has no attribute {name!r}")
