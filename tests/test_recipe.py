"""Training recipes as data: one dataclass per trainer, TOML files, precedence, the shipped recipe in sync."""
import argparse
import dataclasses
import json
import tomllib
from pathlib import Path

import pytest

import htr.train.rec as rec
from htr.errors import UsageError
from htr.train.data import Mix
from htr.train.recipe import read_recipe, recipe_of, write_recipe

ROOT = Path(__file__).resolve().parents[1]


def parse(argv):
    return rec.configure_parser(argparse.ArgumentParser()).parse_args(argv)


def test_a_recipe_file_round_trips_and_bad_ones_are_refused(tmp_path):
    recipe = rec.RecRecipe(data=["a:2", "b"], lr=8e-4, packed=True, init="w.pt").resolved()
    write_recipe(tmp_path / "r.toml", recipe, "a header\nof two lines")
    assert (tmp_path / "r.toml").read_text().startswith("# a header\n# of two lines\n")
    assert rec.RecRecipe(**read_recipe(tmp_path / "r.toml", rec.RecRecipe)) == recipe
    (tmp_path / "typo.toml").write_text("learning_rate = 1e-3\n")
    with pytest.raises(UsageError, match="unknown option 'learning_rate'"):
        read_recipe(tmp_path / "typo.toml", rec.RecRecipe)
    (tmp_path / "type.toml").write_text('steps = "many"\n')
    with pytest.raises(UsageError, match="steps = 'many' is not"):
        read_recipe(tmp_path / "type.toml", rec.RecRecipe)
    (tmp_path / "bad.toml").write_text("steps = \n")
    with pytest.raises(UsageError, match="not valid TOML"):
        read_recipe(tmp_path / "bad.toml", rec.RecRecipe)
    (tmp_path / "int.toml").write_text("lr = 1\nsynth_final = 0\n")  # integers where floats are due
    assert read_recipe(tmp_path / "int.toml", rec.RecRecipe) == {"lr": 1.0, "synth_final": 0.0}


def test_command_line_over_config_over_saved_over_defaults(tmp_path):
    (tmp_path / "r.toml").write_text('lr = 5e-4\nwarmup = 10\nbf16 = "auto"\n')
    saved = {"lr": 1e-4, "warmup": 20, "steps": 99, "seed": 7, "out": "ignored", "func": None}  # an old "args"
    r = recipe_of(rec.RecRecipe, parse(["--config", str(tmp_path / "r.toml"), "--warmup", "30"]), saved)
    assert (r.lr, r.warmup, r.bf16, r.steps, r.seed, r.batch_size) == (5e-4, 30, "auto", 99, 7, 16)
    fresh = recipe_of(rec.RecRecipe, parse([])).resolved()  # from scratch: the curriculum is Mix's
    assert (fresh.synth_steps, fresh.ramp_steps, fresh.synth_final) == (Mix().synth_steps, Mix().ramp_steps,
                                                                        Mix().synth_final)
    (tmp_path / "tune.toml").write_text('init = "~/w.pt"\ndata = ["~/c/a:2", "b"]\n')
    tuned = recipe_of(rec.RecRecipe, parse(["--config", str(tmp_path / "tune.toml")])).resolved()
    assert tuned.synth == "off" and tuned.lr == rec.FINETUNE["lr"]
    assert tuned.init == str(Path.home() / "w.pt") and tuned.data == [str(Path.home() / "c/a:2"), "b"]


def test_help_states_the_dataclass_defaults():
    parser = rec.configure_parser(argparse.ArgumentParser())
    helps = {action.dest: action.help for action in parser._actions}
    for field in dataclasses.fields(rec.RecRecipe):
        if field.default is not None and field.type != "bool":
            assert f"(default: {field.default}" in helps[field.name], field.name
    assert helps["batch_size"] == "(default: 16)" and "(default: 1.5e-3; 2e-3 with --init)" in helps["lr"]
    assert parse([]) == argparse.Namespace(out="runs/rec", config=None, export=None)  # defaults: not set here


def test_shipped_recipe_names_every_corpus_source_and_reads():
    recipe = rec.RecRecipe(**read_recipe(ROOT / "training/recipes/rec-v2-cycle.toml", rec.RecRecipe)).resolved()
    with open(ROOT / "training/corpus.toml", "rb") as f:
        corpus = tomllib.load(f)
    trained = {s["name"] for s in corpus["source"] if not s.get("holdout") and not s.get("first_used")} | {
        "hooker", "testaments"}
    named = {Path(spec.rpartition(":")[0]).name for spec in recipe.data}
    assert named == trained
    assert recipe.init == "htr/weights/rec.pt" and recipe.synth_steps == 0 and recipe.lr == 8e-4


def test_shipped_detector_recipes_are_the_runs_that_made_it():
    from htr.train.det import DetRecipe
    stage2 = read_recipe(ROOT / "training/recipes/det-v1-stage2.toml", DetRecipe)

    logged = json.loads((ROOT / "checkpoints/det/stage2_run.json").read_text())  # the run's own record
    for name, value in stage2.items():
        if name != "init":  # the run named the weights' old path
            assert logged[name] == value, name
    assert DetRecipe(**read_recipe(ROOT / "training/recipes/det-v1-stage1.toml", DetRecipe)).steps == 6500

    def homeless(value):  # the folders' names and weights: the run's home folder is not this machine's
        return [Path(v).name for v in value] if isinstance(value, list) else value

    v2 = read_recipe(ROOT / "training/recipes/det-v2.toml", DetRecipe)
    logged = json.loads((ROOT / "checkpoints/det/run.json").read_text())
    for name, value in v2.items():
        assert homeless(logged[name]) == homeless(value), name
    with open(ROOT / "training/corpus.toml", "rb") as f:
        corpus = tomllib.load(f)
    trained = {s["name"] for s in corpus["source"] if not s.get("holdout") and not s.get("first_used")} | {
        "hooker", "testaments"}
    assert {Path(spec.rpartition(":")[0]).name for spec in v2["data"]} == trained


def test_v3_recipe_names_every_corpus_source_and_reads():
    recipe = rec.RecRecipe(**read_recipe(ROOT / "training/recipes/rec-v3-cycle.toml", rec.RecRecipe)).resolved()
    with open(ROOT / "training/corpus.toml", "rb") as f:
        corpus = tomllib.load(f)
    trained = {s["name"] for s in corpus["source"] if not s.get("holdout")} | {"hooker", "testaments"}
    assert {Path(spec.rpartition(":")[0]).name for spec in recipe.data} == trained
    assert all("corpus64/" in spec for spec in recipe.data) and recipe.synth_steps == 0 and recipe.bf16 == "auto"
