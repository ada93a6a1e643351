"""The experiment plan: every run a notebook trains is named once, the notebooks and the plan agree on who reads
what, and the README's table is the plan's."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

from evalib import plan
from evalib.models import count_params, create
from evalib.profiles import PROFILES, Profile

ROOT = Path(__file__).resolve().parents[1]


def asked(notebook: Path) -> set[str]:
    """The plan names a notebook passes to ex.run / ex.run_seeds / ex.planned: string literals, or the values of
    the notebook's PLANNED dict (label -> plan name, literals) where a call takes its name from it."""
    tree = ast.parse(notebook.read_text(encoding="utf-8"))
    planned = [node.value for node in ast.walk(tree) if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict)
               and any(isinstance(t, ast.Name) and t.id == "PLANNED" for t in node.targets)]
    names = set()
    for call in ast.walk(tree):
        if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                and call.func.attr in ("run", "run_seeds", "planned") and len(call.args) >= 2):
            arg = call.args[1]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                names.add(arg.value)
                continue
            assert len(planned) == 1, (f"{notebook.name}:{call.lineno}: a planned run is named by a literal, or "
                                       "taken from the notebook's one PLANNED dict of literals, so the plan can list it")
            for value in planned[0].values:
                assert isinstance(value, ast.Constant) and isinstance(value.value, str), \
                    f"{notebook.name}: PLANNED's values must be plan names written out"
                names.add(value.value)
    return names


@pytest.mark.parametrize("notebook", sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py")), ids=lambda p: p.stem)
def test_a_notebook_reads_exactly_the_runs_the_plan_lists_for_it(notebook):
    listed = {e.name for e in plan.of_notebook(notebook.stem)}
    assert asked(notebook) == listed, (f"{notebook.name} asks for {sorted(asked(notebook))}, the plan lists "
                                       f"{sorted(listed)} for it (the settings cell and the main job read the plan)")


def test_every_planned_run_is_read_and_the_notebooks_train_nothing_else():
    read = set().union(*(asked(p) for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.py")))
    assert read == set(plan.PLAN)
    for path in (ROOT / "notebooks").glob("[0-9][0-9]_*.py"):  # no hidden training outside the plan
        text = path.read_text(encoding="utf-8")
        assert "ex.train(" not in text.replace("`ex.train(", "") and "train_seeds(" not in text, path.name


def test_the_planned_width_matches_dnn2s_parameters_and_the_long_run_its_speedup():
    with torch.random.fork_rng():
        target = count_params(create("dnn2"))
        best = min(range(8, 33), key=lambda w: abs(count_params(create("dsconv_deep", width=w)) - target))
    assert plan.DSCONV_WIDTH == best
    long = plan.get("dsconv_deep_long")
    assert long.epochs(10) == round(10 * min(plan.MAX_SPEEDUP, plan.SPEEDS["dsconv_deep"] / plan.SPEEDS["dnn2"]))


def test_seeds_budgets_and_configs_follow_the_entry():
    s_cpu = plan.get("dnn2_custom")  # a family's reference: more seeds for the pooled spread
    assert s_cpu.seeds("cpu") == tuple(range(plan.REFERENCE_SEEDS)) and s_cpu.seeds("smoke") == (0,)
    assert plan.get("dnn2_mse").seeds("cpu") == tuple(range(plan.ARM_SEEDS)) == (0, 1, 2)
    assert plan.get("best_heldout").seeds_for("12_best_model", "cpu") == (0,)
    assert plan.get("best_heldout").seeds_for("13_with_background", "cpu") == (0, 1, 2)
    # a write-up-recipe arm: the same network and loss under Adam at the write-up's constant rate
    wr, sound = plan.get("dnn2_dice_writeup"), plan.get("dnn2_dice")
    assert (wr.model, wr.loss, wr.recipe) == (sound.model, sound.loss, "writeup")
    assert {k: wr.options[k] for k in ("optimizer", "schedule", "lr")} == {"optimizer": "adam", "schedule": "constant",
                                                                         "lr": 2e-4}
    assert plan.get("dnn2_custom").images("cpu") == 24_000
    from evalib.train import TrainConfig

    base = TrainConfig(profile="smoke", epochs=4)
    cfg = plan.config(base, "dsconv_deep_long", seed=1)
    assert (cfg.model, cfg.seed, cfg.epochs, cfg.model_options) == ("dsconv_deep", 1, plan.get(
        "dsconv_deep_long").epochs(4), {"width": plan.DSCONV_WIDTH})
    with pytest.raises(ValueError, match="range test"):
        plan.config(base, "dnn1_l1sum")  # its rate comes from a range test: it must be given
    assert plan.config(base, "dnn1_l1sum", lr=3e-4).lr == 3e-4
    with pytest.raises(ValueError, match="no run 'nope' in the plan"):
        plan.get("nope")
    with pytest.raises(ValueError, match="lr_from"):
        plan.Planned("x", ("02_first_net",), lr_from="unknown")


def test_profiles_are_built_with_keywords_and_checked():
    with pytest.raises(TypeError):
        Profile("x", "d", 10, 64, 32, 8, 1, 0.5, 0, 8)  # positional: which 10 is which?
    with pytest.raises(ValueError, match="epochs"):
        Profile(name="x", dataset="d", dataset_count=10, dataset_size=64, image_size=32, batch_size=8, epochs=0,
                fraction=0.5, num_workers=0, lr_test_steps=8)
    assert PROFILES["cpu"].epochs == 10 and PROFILES["cpu"].image_size == 64


def test_the_readme_shows_the_plans_table():
    assert plan.markdown("cpu") in (ROOT / "README.md").read_text(encoding="utf-8"), \
        "README's plan table is stale: paste `python -m evalib evidence plan` into it"


def test_the_best_run_is_the_best_recipe_at_the_profiles_budget():
    from evalib.train import TrainConfig
    from evalib.train.config import RECIPES

    cfg = plan.config(TrainConfig(profile="cpu"), "best_heldout")
    budget = ("epochs", "fraction", "size", "batch_size", "channels_last")  # the profile's; the layout a machine's
    assert {k: getattr(cfg, k) for k in RECIPES["best"] if k not in budget} == {
        k: v for k, v in RECIPES["best"].items() if k not in budget}
