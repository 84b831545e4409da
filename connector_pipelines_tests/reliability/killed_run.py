"""``connector-pipelines`` in a process that SIGKILLs itself right after its n-th target write landed, at the
kill point of the pipeline's sandbox recipe: the target took the write, the run never heard back, and
nothing of the run's own cleanup runs. The point is counted in writes, not in seconds.

    python -m connector_pipelines_tests.reliability.killed_run PIPELINE N ARGS...

runs ``connector-pipelines ARGS...`` that way (the chaos suite's killed runs, ``test_chaos.py``).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any


def die_after_writes(pipeline: str, writes: int) -> None:
    """From now on, this process dies by SIGKILL once the recipe's kill point returned ``writes`` times."""
    from connector_pipelines.pipelines.catalog import pipeline_recipe

    kill = pipeline_recipe(pipeline).kill
    write = getattr(kill.cls, kill.method)
    landed = 0
    lock = threading.Lock()  # publishing threads may write at once

    def write_then_die(writer: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal landed
        result = write(writer, *args, **kwargs)
        with lock:
            landed += 1
            if landed >= writes:
                os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(kill.cls, kill.method, write_then_die)


def main(argv: list[str]) -> None:
    from connector_pipelines.cli import main as cli

    pipeline, writes, *args = argv
    die_after_writes(pipeline, int(writes))
    cli(args=args, prog_name="connector-pipelines")


if __name__ == "__main__":
    main(sys.argv[1:])
