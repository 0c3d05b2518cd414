"""experiments/long_run.py: a run in stages on "different machines" (the run folder deleted
between them), each resuming from the carried state, recorded in the plan; the carry folder goes
once the run has ended."""

import json
import shutil

import pytest

import children
from experiments import long_run


@pytest.mark.slow  # two train.py processes of a few steps, ~30 s on 2 cores
def test_two_stages_carry_the_run_across_machines_and_record_themselves(
    synthetic_cityscapes, tmp_path
):
    data = synthetic_cityscapes(num_train=6, num_val=2)
    run, carried = tmp_path / "run", tmp_path / "carry"
    plan = tmp_path / "plan.json"
    command = (
        f"python train.py --data-dir {data} --model-dir {run} --epochs 2 --batch-size 2 "
        "--crop-size 64 96 --deterministic --eval-every 0 --checkpoint-every 100 --no-progress"
    )
    plan.write_text(
        json.dumps({"command": command, "total_steps": 6, "carry": str(carried), "why": "test"})
    )
    assert long_run.main([str(plan), "--stop-at-step", "3"]) == 0
    assert json.loads((carried / "carry.json").read_text())["step"] == 3
    assert "val_curve" not in json.loads(plan.read_text())  # no validation before the end
    shutil.rmtree(run)  # the next session's machine has only what was committed
    assert long_run.main([str(plan)]) == 0
    stages = json.loads(plan.read_text())["stages"]
    assert [(s["start_step"], s["end_step"], s["exit"]) for s in stages] == [(0, 3, 0), (3, 6, 0)]
    assert stages[0]["command"].endswith("--stop-at-step 3") and stages[1]["command"] == command
    assert all(s["wall_seconds"] >= 0 and s["code"] and s["machine"] for s in stages)
    assert not carried.exists() and (run / "checkpoints").is_dir()
    (point,) = json.loads(plan.read_text())["val_curve"]  # the plan keeps the curve so far
    assert point["epoch"] == 2 and 0 <= point["miou"] <= 1
    assert long_run.main([str(plan)]) == 0  # an ended run: nothing to do, nothing recorded
    assert len(json.loads(plan.read_text())["stages"]) == 2


def test_a_plan_without_its_fields_is_one_line(tmp_path, capsys):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"command": "python train.py --model-dir x"}))
    assert long_run.main([str(plan)]) == 1
    err = capsys.readouterr().err
    assert "lacks total_steps, carry, why" in err and err.count("\n") == 1


def test_minutes_end_the_stage_as_sigterm_does(tmp_path):
    # The child stands in for train.py: it exits 143 on SIGTERM, as train.py does after saving.
    run = tmp_path / "run"
    run.mkdir()
    child = (
        "import signal, sys, time; "
        "signal.signal(signal.SIGTERM, lambda *a: sys.exit(143)); time.sleep(120)"
    )
    command = f"python -c '{child}' --model-dir {run}"
    plan = tmp_path / "plan.json"
    plan.write_text(
        json.dumps({"command": command, "total_steps": 6, "carry": str(tmp_path / "c"), "why": "t"})
    )
    assert long_run.main([str(plan), "--minutes", "0.02"]) == 0
    (stage,) = json.loads(plan.read_text())["stages"]
    assert stage["exit"] == 143 and stage["wall_seconds"] < 60


def _plan(tmp_path, **fields) -> str:
    plan = {
        "command": "python train.py --model-dir x",
        "total_steps": 4500,
        "carry": "c",
        "why": "t",
    }
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({**plan, **fields}))
    return str(path)


def test_status_says_where_the_run_stands_and_what_is_left(tmp_path, capsys):
    stages = [
        {"start_step": 0, "end_step": 900, "wall_seconds": 600, "exit": 143},
        {"start_step": 900, "end_step": 1800, "wall_seconds": 900, "exit": 143},
    ]
    curve = [
        {"epoch": 10.0, "step": 450, "miou": 0.40},
        {"epoch": 20.0, "step": 900, "miou": 0.55},
        {"epoch": 30.0, "step": 1350, "miou": 0.50},
    ]
    assert long_run.main([_plan(tmp_path, stages=stages, val_curve=curve), "--status"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "step 1800 of 4500 (epoch 40.0 of 100), 2 stages, 25 min of training",
        "val mIoU: best 55.00% at epoch 20, last 50.00% at epoch 30",
        "left: 2700 steps; at the pace so far (0.83 s a step) about 0.6 h",
    ]


def test_status_of_a_plan_not_started(tmp_path, capsys):
    assert long_run.main([_plan(tmp_path), "--status"]) == 0
    assert capsys.readouterr().out.splitlines() == ["step 0 of 4500: not started"]


def test_minutes_must_be_positive(capsys):
    with pytest.raises(SystemExit):
        long_run.main(["plan.json", "--minutes", "-1"])
    assert "--minutes" in capsys.readouterr().err


@pytest.mark.slow  # a child process importing TensorFlow, ~4 s on 2 cores
def test_the_stage_runner_starts_without_tensorflows_start_up_lines():
    """A long run's log begins with the runner's own lines, as train.py's does."""
    result = children.run_as_users_do(["-m", "experiments.long_run", "--help"])
    assert result.returncode == 0 and "usage" in result.stdout
    assert not children.start_up_lines(result.stderr), result.stderr[-2000:]
