#!/usr/bin/env python3
"""Run moto_server the testbed's way:

  scripts/moto_child.py [--exit-with-parent] [moto_server arguments: -H 127.0.0.1 -p PORT]

* applies the fidelity patches of scripts/moto_patches.py (responses as real AWS sends
  them where moto's would break the AWS SDK for Rust);
* with --exit-with-parent, exits when the process that started it goes away: the Rust
  test harness (tests/support/moto.rs) uses it, so that a test binary killed before its
  Drop runs (timeout, SIGKILL) leaves no moto_server behind.

scripts/moto.sh and tests/support/moto.rs both start moto through this script.
"""

import os
import runpy
import signal
import sys
import threading
import time
from pathlib import Path


def watch_parent(parent: int) -> None:
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(2)
            os._exit(0)


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["--exit-with-parent"]:
        args = args[1:]
        threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import moto_patches

    applied = moto_patches.apply()
    print(f"moto_child: patches applied: {', '.join(applied) or 'none'}", file=sys.stderr, flush=True)
    sys.argv = ["moto_server", *args]
    runpy.run_module("moto.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
