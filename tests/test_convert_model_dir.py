"""What `python -m fast_scnn_tf.convert ... --model-dir D --overwrite` may replace: only a run
folder this project wrote (its config.json schema, and nothing inside that a run does not hold).
No torch needed: the folder is checked before any weights are read."""

import json
import os

import keras
import pytest

import fabricate
from fast_scnn_tf import convert
from fast_scnn_tf.config import Config


def _tiny_model():
    inputs = keras.Input((None, None, 3))
    return keras.Model(inputs, keras.layers.Conv2D(2, 1)(inputs))


def _contents(folder):
    return {
        os.path.relpath(os.path.join(root, name), folder): open(
            os.path.join(root, name), "rb"
        ).read()
        for root, _, names in os.walk(folder)
        for name in names
    }


def _foreign_config(folder):
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "checkpoints" / "epoch3.pt").write_bytes(b"weights")
    (folder / "config.json").write_text('{"lr": 0.1, "epochs": 3}')


def _own_config_with_a_foreign_file(folder):
    fabricate.run_folder(folder, num_classes=3)


@pytest.mark.parametrize(
    "make",
    [_foreign_config, _own_config_with_a_foreign_file],
    ids=["another tool's config.json", "a file no run holds"],
)
def test_overwrite_keeps_a_folder_that_only_looks_like_a_run(tmp_path, make):
    """Another tool's config.json beside a checkpoints/ folder counted as a run folder, and
    --overwrite deleted everything else in it (thesis.tex, src/)."""
    mine = tmp_path / "mine"
    make(mine)
    (mine / "thesis.tex").write_text("keep me")
    (mine / "src").mkdir()
    (mine / "src" / "train.py").write_text("print('mine')")
    before = _contents(mine)
    with pytest.raises(FileExistsError) as error:
        convert.write_run_folder(_tiny_model(), "ffnet18_dAAC", str(mine), overwrite=True)
    message = str(error.value)
    assert "--model-dir" in message and "\n" not in message
    assert "config.json" in message or "thesis.tex" in message or "src" in message
    assert _contents(mine) == before
    assert sorted(os.listdir(tmp_path)) == ["mine"]  # no temporary folder left


def test_cli_refuses_it_before_reading_the_weights(tmp_path, capsys):
    mine = tmp_path / "mine"
    _foreign_config(mine)
    code = convert.main(
        [
            "ffnet",
            "--variant",
            "ffnet18_dAAC",
            "--weights",
            str(tmp_path / "absent.pth"),
            "--model-dir",
            str(mine),
            "--overwrite",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and "--model-dir" in err and "config.json" in err and err.count("\n") == 1


def test_overwrite_replaces_a_run_folder_this_project_wrote(tmp_path):
    """A converted run, and a trained one with its logs, val history, lock and metrics files."""
    run = tmp_path / "run"
    convert.write_run_folder(_tiny_model(), "ffnet18_dAAC", str(run))
    convert.write_run_folder(_tiny_model(), "ffnet18_dAAC", str(run), overwrite=True)
    trained = tmp_path / "trained"
    fabricate.run_folder(trained, num_classes=3)
    (trained / "logs").mkdir()
    (trained / "logs" / "events.out.tfevents.1.host.2.v2").write_bytes(b"")
    for name in ("train_log.jsonl", "train.lock", "metrics.json", "metrics_test_scale0.5.json"):
        (trained / name).write_text("{}")
    convert.write_run_folder(_tiny_model(), "ffnet18_dAAC", str(trained), overwrite=True)
    assert sorted(os.listdir(trained)) == ["best", "config.json"]
    with open(trained / "config.json") as f:
        assert Config.from_dict(json.load(f)).model.name == "ffnet18_dAAC"


def test_each_family_that_declares_foreign_weights_gets_a_subcommand(monkeypatch, tmp_path):
    """The command is the family table's: a new family with `foreign_weights` is converted by
    name, with its own variants, and its converter receives what the .pth holds."""
    from fast_scnn_tf.convert import pth
    from fast_scnn_tf.model import families
    from fast_scnn_tf.model.contract import Family, ForeignWeights, Published

    received = {}

    def convert_weights(variant, state_dict):
        received.update(variant=variant, state_dict=state_dict)
        return _tiny_model()

    toy = Family(
        build=None,
        test_variant="toy_a",
        variants={"toy_a": Published((64, 64), None), "toy_b": Published((64, 64), None)},
        foreign_weights=ForeignWeights(convert_weights, "toy state dicts", "toy_b", 100),
    )
    monkeypatch.setitem(families.FAMILIES, "toy", toy)
    monkeypatch.setattr(pth, "load_torch_state_dict", lambda path, weights, family: {"w": path})
    weights = tmp_path / "toy.pth"
    weights.write_bytes(b"")
    argv = ["toy", "--variant", "toy_b", "--weights", str(weights)]
    assert convert.main([*argv, "--model-dir", str(tmp_path / "run")]) == 0
    assert received == {"variant": "toy_b", "state_dict": {"w": str(weights)}}
    assert json.load(open(tmp_path / "run" / "config.json"))["model"]["name"] == "toy_b"
    with pytest.raises(SystemExit):  # a family without foreign_weights has no subcommand
        convert.parse_args(["fast_scnn", "--variant", "fast_scnn", "--weights", "w.pth"])
