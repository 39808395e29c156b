"""`veguard` command line: a table of subcommands, each owned by the module that does the work.

Only the chosen subcommand's module is imported, so `veguard score` does not pay for the
service's imports and `veguard --help` is instant.
"""

from __future__ import annotations

import importlib
import sys

# name -> (module:function taking argv, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "score": ("veguard.scoring:main",
              "score texts or a file with a model (the shipped one by default)"),
    "data": ("veguard.data.cli:main", "build the processed training corpus and its data card"),
    "train": ("veguard.training.cli:main",
              "fine-tune a model (or the TF-IDF reference) from a YAML config"),
    "eval": ("veguard.evaluation.cli:main", "run evaluation suites and write a report"),
    "serve": ("veguard.service.cli:serve_main", "start the moderation API and review queue"),
    "queue": ("veguard.service.cli:queue_main",
              "review-queue admin: export decisions, create/list/revoke keys"),
    "export": ("veguard.export:main", "export a model to ONNX"),
    "cascade": ("veguard.cascade:main",
                "join a larger model and a fast one: the fast one clears, the larger decides"),
    "bank": ("veguard.banks.cli:main", "banks of known content: create, add, match, import..."),
}


def _usage() -> str:
    lines = ["usage: veguard <command> [options]", "", "commands:"]
    lines += [f"  {name:<8} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "Run `veguard <command> --help` for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    if argv[0] == "--version":
        from veguard import __version__

        print(__version__)
        return 0
    name = argv[0]
    if name not in COMMANDS:
        print(f"veguard: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module, func = COMMANDS[name][0].split(":")
    rc = getattr(importlib.import_module(module), func)(argv[1:])
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
