"""Runs one in-process benchmark function in its own process, for clean CPU and memory numbers.

``python -m bench.batch_child <module>:<function> <n> [<json kwargs>]`` calls
``function(n, **kwargs)`` and prints what it returns as JSON on the last line of stdout.
"""

from __future__ import annotations

import importlib
import json
import sys


def main(argv: list[str]) -> int:
    target, size, *rest = argv
    kwargs = json.loads(rest[0]) if rest else {}
    module_name, function_name = target.split(":")
    function = getattr(importlib.import_module(module_name), function_name)
    result = function(int(size), **kwargs)
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
