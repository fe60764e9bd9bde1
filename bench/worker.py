"""``python -m bench.worker TASK PARAMS_JSON``: one measurement in a clean, pinned process.

The runner starts this under ``taskset -c 0`` so single-core figures are taken
on one core, in a process that imports what ``cough-monitor`` imports (no
torch). Only the chosen task's module is imported (the memory probe needs a
bare interpreter). The answer is one JSON line on stdout.
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Final

TASKS: Final[dict[str, str]] = {
    "replay": "bench.replay_cli:task_replay",
    "paced": "bench.replay_cli:task_paced",
    "breakdown": "bench.breakdown:task_breakdown",
    "latency": "bench.scoring_tasks:task_latency",
    "runs": "bench.scoring_tasks:task_runs",
    "imports": "bench.memory_probe:task_imports",
    "gemm_peak": "bench.ceiling:task_gemm_peak",
}
"""Task name -> ``module:function`` taking and returning a JSON-ready dict."""


def main(argv: list[str]) -> int:
    """Run the task named by ``argv[0]`` with the JSON parameters in ``argv[1]``."""
    if len(argv) != 2 or argv[0] not in TASKS:
        print(f"usage: python -m bench.worker {{{','.join(TASKS)}}} PARAMS_JSON", file=sys.stderr)
        return 2
    module, function = TASKS[argv[0]].split(":")
    result = getattr(importlib.import_module(module), function)(json.loads(argv[1]))
    result["torch_imported"] = "torch" in sys.modules  # must stay False: a monitor-like process
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
