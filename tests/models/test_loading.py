from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch
from torch import nn

from irstudio.models.loading import (
    WeightsError,
    WeightsMismatchError,
    load_model,
    read_weights,
    save_weights,
    sha256_of,
    transfer_weights,
)
from irstudio.models.spec import ModelSpec, Task


def _tiny() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 3, 3, padding=1))


def _official(raw):
    if "params_ema" not in raw:
        raise ValueError("no params_ema")
    return {k.removeprefix("module."): v for k, v in raw["params_ema"].items()}


SPEC = ModelSpec(
    id="tiny",
    name="Tiny",
    arch="tinynet",
    tasks=(Task.DENOISE,),
    scale=1,
    build=_tiny,
    from_official=_official,
)


def test_safetensors_round_trip_in_fp16_loads_as_fp32(tmp_path: Path) -> None:
    model = _tiny()
    path = save_weights(model, tmp_path / "tiny.safetensors", spec=SPEC, extra={"task": "denoise"}, half=True)
    _, metadata = read_weights(path)
    assert metadata["arch"] == "tinynet" and metadata["task"] == '"denoise"'
    loaded = load_model(SPEC, path)
    for key, value in loaded.state_dict().items():
        assert value.dtype == torch.float32
        torch.testing.assert_close(value, model.state_dict()[key].half().float())
    assert not list(tmp_path.glob("*.tmp")) and len(sha256_of(path)) == 64
    assert path.stat().st_mode & 0o044 == 0o044 or os.name == "nt"  # readable by others, as any saved file


def test_weights_of_another_architecture_are_named(tmp_path: Path) -> None:
    other = ModelSpec(id="o", name="O", arch="othernet", tasks=(Task.SR,), scale=1, build=_tiny)
    path = save_weights(_tiny(), tmp_path / "o.safetensors", spec=other)
    with pytest.raises(WeightsMismatchError, match="'othernet', not 'tinynet'"):
        load_model(SPEC, path)


def test_wrong_shapes_and_missing_keys_are_listed(tmp_path: Path) -> None:
    state = _tiny().state_dict()
    state["0.weight"] = torch.zeros(4, 3, 3, 3)
    del state["2.bias"]
    state["extra"] = torch.zeros(1)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(WeightsMismatchError) as caught:
        load_model(SPEC, tmp_path / "bad.pth")
    message = str(caught.value)
    assert "2.bias" in message and "0.weight (file (4, 3, 3, 3)" in message


def test_official_layout_goes_through_the_key_map(tmp_path: Path) -> None:
    model = _tiny()
    wrapped = {"params_ema": {f"module.{k}": v for k, v in model.state_dict().items()}}
    torch.save(wrapped, tmp_path / "official.pth")
    loaded = load_model(SPEC, tmp_path / "official.pth")
    x = torch.rand(1, 3, 8, 8)
    torch.testing.assert_close(loaded(x), model(x))


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_a_pickle_that_would_run_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pth"
    with open(path, "wb") as stream:
        pickle.dump({"weight": _Exploit()}, stream)
    with pytest.raises(WeightsError, match="refused"):
        load_model(SPEC, path)


def test_unreadable_files_give_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(WeightsError, match=r"junk\.safetensors"):
        load_model(SPEC, tmp_path / "junk.safetensors")
    with pytest.raises(WeightsError, match="no such weight file"):
        load_model(SPEC, tmp_path / "absent.safetensors")
    (tmp_path / "w.onnx").write_bytes(b"x")
    with pytest.raises(WeightsError, match="unknown weight format"):
        load_model(SPEC, tmp_path / "w.onnx")


def _tiny_x4() -> nn.Module:
    """``_tiny`` with a wider last conv, as another scale's upsampler is."""
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 48, 3, padding=1))


def test_transfer_loads_every_tensor_that_fits_and_names_the_rest(tmp_path: Path) -> None:
    source = _tiny_x4()
    path = save_weights(source, tmp_path / "x4.safetensors", spec=SPEC)
    torch.manual_seed(0)
    model, kept_initial = transfer_weights(SPEC, path)
    assert kept_initial == ("2.bias", "2.weight")
    assert torch.equal(model.state_dict()["0.weight"], source.state_dict()["0.weight"])
    torch.manual_seed(0)
    assert torch.equal(model.state_dict()["2.weight"], _tiny().state_dict()["2.weight"])  # as built
    with pytest.raises(WeightsMismatchError, match="does not fit"):
        load_model(SPEC, path)  # the strict loader still refuses it


def test_transfer_refuses_other_keys_and_architectures(tmp_path: Path) -> None:
    other_keys = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1))
    with pytest.raises(WeightsMismatchError, match=r"cannot start tiny from it: missing: 2\.bias"):
        transfer_weights(SPEC, save_weights(other_keys, tmp_path / "k.safetensors", spec=SPEC))
    other = ModelSpec(id="o", name="O", arch="othernet", tasks=(Task.SR,), scale=1, build=_tiny)
    with pytest.raises(WeightsMismatchError, match="'othernet', not 'tinynet'"):
        transfer_weights(SPEC, save_weights(_tiny(), tmp_path / "o.safetensors", spec=other))
    shapeless = nn.Sequential(nn.Conv2d(1, 2, 1), nn.ReLU(), nn.Conv2d(2, 1, 1))
    with pytest.raises(WeightsMismatchError, match="no tensor has the shape"):
        transfer_weights(SPEC, save_weights(shapeless, tmp_path / "s.safetensors", spec=SPEC))
