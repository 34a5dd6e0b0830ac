"""Every committed training config (configs/examples, configs/recipes) is valid and names real data."""

from __future__ import annotations

from pathlib import Path

import pytest

from irstudio.models.catalog import resolve_id
from irstudio.models.loading import load_model, transfer_weights, verified_shipped_path
from irstudio.training import load_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
COMMITTED = sorted(CONFIGS.glob("*/*.toml"))


def test_there_are_examples_and_recipes() -> None:
    assert {path.parent.name for path in COMMITTED} == {"examples", "recipes"}


@pytest.mark.parametrize("path", COMMITTED, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_config_loads_and_names_a_registry_model(path: Path) -> None:
    config = load_config(path)
    spec = resolve_id(config.model.id)
    assert config.model.task is None or config.model.task in {task.value for task in spec.tasks}


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("recipes/*.toml")), ids=lambda path: path.name)
def test_recipe_trains_on_shared_train_data_only(path: Path, shared_data: Path) -> None:
    """Shipped weights are trained on ../shared/data/train, never on a benchmark."""
    data = load_config(path).data
    folders = [
        folder for folder in (data.clean, *data.more_clean, data.input, data.target) if folder is not None
    ]
    assert folders
    for folder in folders:
        assert folder.resolve().is_relative_to((shared_data / "train").resolve()), folder
        assert folder.is_dir(), f"{folder} is missing"


@pytest.mark.parametrize(
    "path", [path for path in COMMITTED if load_config(path).model.weights], ids=lambda path: path.name
)
def test_a_config_that_starts_from_weights_starts_from_a_shipped_file(path: Path) -> None:
    """Recipes may start from IR Studio's own shipped weights (checked by their manifest sha256)."""
    model = load_config(path).model
    assert model.weights is not None
    shipped = verified_shipped_path(model.weights.name)
    assert model.weights.resolve() == shipped.resolve()
    spec = resolve_id(model.id)
    if model.transfer:
        _, kept_initial = transfer_weights(spec, shipped)
        assert kept_initial and all(key.startswith("upsample.") for key in kept_initial)
    else:
        load_model(spec, shipped)
