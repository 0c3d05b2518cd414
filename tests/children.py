"""Python children that run beside each other, their output in log files.

Logs go to files rather than pipes: a child blocked on a full pipe would stall, and with it any
child waiting on it (the multi-worker collectives)."""

import subprocess
import sys

from paths import ROOT


def start(args, log_path, cwd=ROOT, env=None) -> tuple:
    """`python ARGS...`, started with stdout and stderr written to log_path: (process, log_path),
    as wait_all takes them."""
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, *args], cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    return process, log_path


def wait_all(children: dict, timeout: float) -> dict:
    """{name: (process, log_path)} -> {name: (exit code, output)} once all have ended; any child
    still running after a failure (a timeout, an interrupt) is killed."""
    try:
        codes = {name: process.wait(timeout=timeout) for name, (process, _) in children.items()}
    finally:
        for process, _ in children.values():
            if process.poll() is None:
                process.kill()
    return {name: (codes[name], open(log).read()) for name, (_, log) in children.items()}
