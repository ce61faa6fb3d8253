#!/usr/bin/env python3
"""Run moto_server (same arguments as `python3 -m moto.server`) and make it exit when
the process that started it goes away.

The Rust test harness (tests/support/moto.rs) starts moto through this wrapper: if a
test binary is killed (timeout, SIGKILL) before its Drop runs, the orphaned moto_server
notices within a second and exits, instead of lingering on the machine.
"""

import os
import runpy
import signal
import sys
import threading
import time


def watch_parent(parent: int) -> None:
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(2)
            os._exit(0)


def main() -> None:
    threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()
    sys.argv = ["moto_server", *sys.argv[1:]]
    runpy.run_module("moto.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
