"""A training run longer than one machine's session, in stages: each stage resumes the run from
its carried state, trains until the run ends or the stage is stopped (SIGTERM or Ctrl+C: train.py
saves first), records itself in the plan and carries the state on.

    python -m experiments.long_run experiments/plans/camvid1000_dabnet.json [--minutes M]
    (--minutes, or SIGTERM, ends the stage before the session does; then commit the plan and its
    carry folder)
    python -m experiments.long_run experiments/plans/camvid1000_dabnet.json --status

The plan is a JSON file fixed before the first stage: `command` (the train.py command line,
`--model-dir` included, run from the repository root), `total_steps`, `carry` (the carry folder,
committed between sessions) and `why` (the schedule and what will ship, written down before it
starts). Each stage appends {started, command, start_step, end_step, wall_seconds, code, machine,
exit} to the plan's `stages`, in the form experiments/camvid.py records a run's stages, and
writes the validations so far into its `val_curve` (`experiments.camvid.val_curve`). When the
run has ended the carry folder is removed: the run folder holds the result.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time

from experiments import camvid
from fast_scnn_tf.files import write_json
from fast_scnn_tf.training import carry  # imports TensorFlow quietly, before benchmarks.speed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLAN_KEYS = ("command", "total_steps", "carry", "why")


def read_plan(path: str) -> dict:
    with open(path) as f:
        plan = json.load(f)
    missing = [key for key in PLAN_KEYS if key not in plan]
    if missing:
        raise ValueError(f"plan '{path}' lacks {', '.join(missing)}: expected {PLAN_KEYS}")
    return plan


def model_dir(command: str) -> str:
    """The --model-dir of a train.py command line."""
    args = shlex.split(command)
    if "--model-dir" not in args[:-1]:
        raise ValueError(f"the plan's command names no --model-dir: {command}")
    return args[args.index("--model-dir") + 1]


def carried_step(run_dir: str) -> int:
    """The step of the run's latest checkpoint (`ckpt-<step>`; 0 before the first one)."""
    try:
        return int(carry.latest_prefix(run_dir).rsplit("-", 1)[1])
    except ValueError:  # no checkpoint yet
        return 0


def code_version() -> str:
    result = subprocess.run(
        ["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True, text=True
    )
    return result.stdout.strip() or "unknown"


def run_stage(plan_path: str, stop_at_step: int = 0, minutes: float = 0) -> int:
    from benchmarks.speed import device_name  # imports TensorFlow: after carry has, quietly

    plan = read_plan(plan_path)
    run_dir = os.path.join(ROOT, model_dir(plan["command"]))
    carry_dir = os.path.join(ROOT, plan["carry"])
    if not os.path.isdir(run_dir) and os.path.isdir(carry_dir):
        carry.unpack(carry_dir, run_dir)
    start_step = carried_step(run_dir)
    if start_step >= plan["total_steps"]:
        print(f"the run has ended (step {start_step}); nothing to do")
        return 0
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    code = code_version()  # the code this stage runs, before anyone commits during it
    tic = time.perf_counter()
    command = plan["command"] + (f" --stop-at-step {stop_at_step}" if stop_at_step else "")
    child = subprocess.Popen(
        [sys.executable, *shlex.split(command)[1:]],
        cwd=ROOT,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
    )

    def forward(signum, frame):  # train.py saves before it stops
        child.send_signal(signal.SIGTERM)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)
    try:
        exit_code = child.wait(timeout=minutes * 60 or None)
    except subprocess.TimeoutExpired:
        print(f"{minutes:g} minutes are up: stopping the stage (train.py saves first)")
        child.send_signal(signal.SIGTERM)
        exit_code = child.wait()
    end_step = carried_step(run_dir)
    plan.setdefault("stages", []).append(
        {
            "started": started,
            "command": command,
            "start_step": start_step,
            "end_step": end_step,
            "wall_seconds": round(time.perf_counter() - tic),
            "code": code,
            "machine": f"{device_name()}, {os.cpu_count()} cores",
            "exit": exit_code,
        }
    )
    if os.path.exists(os.path.join(run_dir, "train_log.jsonl")):
        plan["val_curve"] = camvid.val_curve(run_dir)
    if end_step >= plan["total_steps"]:
        if os.path.isdir(carry_dir):
            carry.read_manifest(carry_dir)  # a carry folder, not something else at that path
            shutil.rmtree(carry_dir)
    elif end_step > start_step:
        manifest = carry.pack(run_dir, carry_dir)
        print(f"carried step {manifest['step']} to {plan['carry']}")
    write_json(plan_path, plan)
    print(f"stage: steps {start_step}-{end_step} of {plan['total_steps']}, exit {exit_code}")
    return 0 if exit_code in (0, 128 + signal.SIGTERM, 128 + signal.SIGINT) else exit_code


def status(plan: dict) -> str:
    """Where the run stands: its step (and epoch, once validated), its best and last validation,
    and the time left at the pace of its stages so far."""
    stages, curve, total = plan.get("stages", []), plan.get("val_curve", []), plan["total_steps"]
    if not stages:
        return f"step 0 of {total}: not started"
    step = stages[-1]["end_step"]
    minutes = sum(s["wall_seconds"] for s in stages) / 60
    where = f"step {step} of {total}"
    if curve:
        per_epoch = curve[-1]["step"] / curve[-1]["epoch"]
        where += f" (epoch {step / per_epoch:.1f} of {total / per_epoch:g})"
    lines = [f"{where}, {len(stages)} stages, {minutes:.0f} min of training"]
    if curve:
        best = max(curve, key=lambda e: e["miou"])
        lines.append(
            f"val mIoU: best {100 * best['miou']:.2f}% at epoch {best['epoch']:g}, "
            f"last {100 * curve[-1]['miou']:.2f}% at epoch {curve[-1]['epoch']:g}"
        )
    trained = sum(s["end_step"] - s["start_step"] for s in stages)
    if step >= total:
        lines.append("the run has ended")
    elif trained > 0:
        pace = 60 * minutes / trained  # pauses and shared CPUs included
        lines.append(
            f"left: {total - step} steps; at the pace so far ({pace:.2f} s a step) "
            f"about {(total - step) * pace / 3600:.1f} h"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("plan", help="the plan's JSON file (experiments/plans/NAME.json)")
    parser.add_argument(
        "--stop-at-step",
        type=int,
        default=0,
        help="end this stage at that step (train.py --stop-at-step; the schedule is unchanged)",
    )
    parser.add_argument(
        "--minutes",
        type=float,
        default=0,
        help="end this stage after that many minutes, as SIGTERM does (0: when the run ends)",
    )
    parser.add_argument(
        "--status",
        action="store_true",
        help="print where the run stands (steps, validations, time left), then stop",
    )
    args = parser.parse_args(argv)
    if args.stop_at_step < 0:
        parser.error("--stop-at-step must be >= 0")
    if args.minutes < 0:
        parser.error("--minutes must be >= 0")
    try:
        if args.status:
            print(status(read_plan(args.plan)))
            return 0
        return run_stage(args.plan, args.stop_at_step, args.minutes)
    except (OSError, ValueError) as e:
        print(f"long_run: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
