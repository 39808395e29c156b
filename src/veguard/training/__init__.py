"""Training: argument dataclasses, corpus sampling, the fine-tuning loop and the TF-IDF reference.

Entry point: `veguard train` (veguard.training.cli:main). Importing this package is cheap:
torch and sklearn load only in the modules that need them.
"""
