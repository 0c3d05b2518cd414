"""Tools run as child processes: beside each other, their output in log files (rather than
pipes: a child blocked on a full pipe would stall, and with it any child waiting on it, as in the
multi-worker collectives); or as a user's shell runs them, to find TensorFlow's start-up lines
in their output."""

import os
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


# What TensorFlow's C++ start-up prints unless a tool hides it (fast_scnn_tf.quiet).
START_UP_LINES = ("absl::InitializeLog", "cuInit", "cuda drivers", "oneDNN custom operations")


def start_up_lines(output: str) -> list[str]:
    """The lines of `output` that TensorFlow's start-up printed."""
    return [line for line in output.splitlines() if any(s in line for s in START_UP_LINES)]


def run_as_users_do(args, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python ARGS...` from the repository, with TF_CPP_MIN_LOG_LEVEL unset as in a user's
    shell (make test sets it), its output captured as text."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
