"""veguard: flags violent-extremist content for human review."""

__version__ = "0.1.0"
