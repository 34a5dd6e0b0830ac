"""TrainConfig: strict TOML, typed values with named errors, TOML/JSON round trips, example configs."""

from __future__ import annotations

from pathlib import Path

import pytest

from irstudio.data.degradations import Degradation, Jpeg, Noise
from irstudio.training import (
    ConfigError,
    PatchStage,
    TrainSection,
    config_from_json,
    config_to_json,
    config_to_toml,
    load_config,
    parse_toml,
    with_overrides,
)
from tests.training.helpers import tiny_config

REPO = Path(__file__).resolve().parents[2]
MINIMAL = 'name = "run"\n[model]\nid = "compacter-x1"\n[data]\nclean = "photos"\n'


def test_minimal_file_gets_defaults_and_paths_relative_to_the_file(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    config = load_config(path)
    assert config.data.clean == tmp_path / "photos"
    assert config.optim.lr == 2e-4 and config.loss.kind == "l1_fft" and config.loss.fft_weight == 0.1
    assert config.degradation is None and config.degradation_for("denoise", 1) == Degradation.for_task(
        "denoise"
    )
    assert config.output_dir == Path("runs") and config.run_dir == Path("runs/run")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("[optim]\nlearning_rate = 1e-3\n", "unknown key 'optim.learning_rate'"),
        ("[optim]\nlrr = 1e-3\n", "did you mean 'lr'"),
        ("colour = 1\n", "unknown key 'colour'"),
        ("[runtime]\nprecision = 'fp16'\n", "runtime.precision must be one of"),
        ("[optim]\nlr = 'fast'\n", "optim.lr must be a number"),
        ("[optim]\nlr = -0.1\n", r"optim.lr must be in \(0, 1\)"),
        ("[data]\nclean = 'a'\nbatch_size = 0\n", "data.batch_size must be >= 1"),
        ("[data]\nclean = 'a'\naugment = 1\n", "data.augment must be true or false"),
        ("[loss]\nkind = 'l2'\n", "loss.kind must be one of"),
        ("[train]\nsteps = 1.5\n", "train.steps must be an integer"),
        ("[[train.progressive]]\nstep = 10\n", "'train.progressive\\[0\\].patch' is required"),
        ("[[degradation.steps]]\nkind = 'noise'\nsgma = 5\n", "unknown key 'sgma'"),
        ("[[degradation.steps]]\nkind = 'snow'\n", "unknown kind 'snow'"),
        (
            "[[degradation.steps]]\nkind = 'jpeg'\nquality = [50, 10]\n",
            r"jpeg.quality must be .* low <= high",
        ),
    ],
)
def test_bad_values_and_unknown_keys_are_named(extra: str, message: str) -> None:
    text = MINIMAL.replace('[data]\nclean = "photos"\n', "") if "[data]" in extra else MINIMAL
    text = extra + text if not extra.startswith("[") else text + extra  # top-level keys come first
    with pytest.raises(ConfigError, match=message):
        parse_toml(text)


def test_missing_sections_and_conflicting_data_are_refused() -> None:
    with pytest.raises(ConfigError, match="'model' is required"):
        parse_toml('name = "x"\n[data]\nclean = "a"\n')
    with pytest.raises(ConfigError, match="either 'clean'"):
        parse_toml('name = "x"\n[model]\nid = "m"\n[data]\nclean = "a"\ninput = "b"\ntarget = "c"\n')
    with pytest.raises(ConfigError, match="name must be"):
        parse_toml('name = "a/b"\n[model]\nid = "m"\n[data]\nclean = "a"\n')
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse_toml("name = ")
    with pytest.raises(ConfigError, match=r"model\.transfer needs model\.weights"):
        parse_toml('name = "x"\n[model]\nid = "m"\ntransfer = true\n[data]\nclean = "a"\n')


def test_round_trips_through_toml_and_json(tmp_path: Path) -> None:
    config = tiny_config(
        tmp_path,
        degradation=Degradation((Noise(sigma=(5.0, 30.0), gray_probability=0.5), Jpeg(quality=(30, 60)))),
        train=TrainSection(
            steps=50, progressive=(PatchStage(step=10, patch=32), PatchStage(step=20, patch=48, batch_size=4))
        ),
    )
    assert parse_toml(config_to_toml(config)) == config
    assert config_from_json(config_to_json(config)) == config
    assert config.patch_at(0) == (16, 2) and config.patch_at(15) == (32, 2) and config.patch_at(49) == (48, 4)
    assert config.stage_ends() == [10, 20, 50]


@pytest.mark.parametrize("example", sorted((REPO / "configs").rglob("*.toml")), ids=lambda p: p.name)
def test_example_configs_are_valid(example: Path) -> None:
    config = load_config(example)
    assert parse_toml(config_to_toml(config)) == config


def test_overrides_change_settings_with_typed_values_and_paths_from_the_given_folder(tmp_path: Path) -> None:
    path = tmp_path / "recipe" / "run.toml"
    path.parent.mkdir()
    path.write_text(MINIMAL, encoding="utf-8")
    base = load_config(path)
    changed = with_overrides(
        base,
        ["train.steps=20000", "data.batch_size = 32", "optim.betas=[0.9, 0.999]", "data.clean=packs/train"],
        base_dir=tmp_path / "here",
    )
    assert changed.train.steps == 20000 and changed.data.batch_size == 32
    assert changed.optim.betas == (0.9, 0.999)
    assert changed.data.clean == (tmp_path / "here" / "packs" / "train").resolve()
    assert changed.model == base.model and changed.optim.lr == base.optim.lr  # the rest as in the file
    with_runtime = with_overrides(base, ["runtime.device=cuda", "runtime.precision=bf16"])
    assert with_runtime.runtime.device == "cuda" and with_runtime.runtime.precision == "bf16"


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("train.steps", "write it as section.key=value"),
        ("=3", "write it as section.key=value"),
        ("train.stepz=3", "unknown key 'train.stepz'"),
        ("train.steps=many", "train.steps must be an integer"),
        ("name.first=x", "'name' is not a table"),
        ("degradation.steps.kind=noise", "'steps' is not a table"),
    ],
)
def test_bad_overrides_are_named(assignment: str, message: str) -> None:
    config = parse_toml(MINIMAL + "[[degradation.steps]]\nkind = 'noise'\n")
    with pytest.raises(ConfigError, match=message):
        with_overrides(config, [assignment])


def test_more_clean_folders_are_resolved_and_go_with_clean_data_only(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text(MINIMAL + 'more_clean = ["more", "/abs/other"]\n', encoding="utf-8")
    config = load_config(path)
    assert config.data.more_clean == (tmp_path / "more", Path("/abs/other"))
    assert load_config(path).data == config_from_json(config_to_json(config)).data
    paired = (
        'name = "run"\n[model]\nid = "compacter-x1"\n[data]\ninput = "a"\ntarget = "b"\nmore_clean = ["c"]\n'
    )
    with pytest.raises(ConfigError, match="more_clean goes with 'clean'"):
        parse_toml(paired)
