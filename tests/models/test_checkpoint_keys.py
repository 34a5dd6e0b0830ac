"""The one un-wrapper of authors' checkpoints (``checkpoint_keys.unwrap_checkpoint``), and the layouts
each architecture accepts through it where the former per-architecture un-wrappers differed."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from irstudio.models.archs import asid, ast, compacter, lir
from irstudio.models.checkpoint_keys import WRAPPER_KEYS, unwrap_checkpoint

WEIGHTS = {"conv.weight": torch.ones(2, 2), "conv.bias": torch.zeros(2)}


def _prefixed(state: dict[str, Tensor], prefix: str = "module.") -> dict[str, Tensor]:
    return {f"{prefix}{key}": value for key, value in state.items()}


def _same(found: dict[str, object], expected: dict[str, Tensor]) -> bool:
    return found.keys() == expected.keys() and all(found[k] is expected[k] for k in expected)


def test_a_bare_state_dict_comes_back_as_a_new_dict_of_the_same_tensors() -> None:
    found = unwrap_checkpoint(WEIGHTS)
    assert found is not WEIGHTS and _same(found, WEIGHTS)


@pytest.mark.parametrize("wrapper", WRAPPER_KEYS)
def test_each_wrapper_is_peeled(wrapper: str) -> None:
    assert _same(unwrap_checkpoint({wrapper: WEIGHTS, "epoch": 3, "optimizer": {"lr": 1e-3}}), WEIGHTS)


def test_wrappers_are_preferred_in_order() -> None:
    decoy = {"conv.weight": torch.zeros(2, 2)}
    assert _same(unwrap_checkpoint({"params": decoy, "params_ema": WEIGHTS}), WEIGHTS)
    assert _same(unwrap_checkpoint({"state_dict": decoy, "params": WEIGHTS}), WEIGHTS)
    assert _same(unwrap_checkpoint({"net": decoy, "model": WEIGHTS}), WEIGHTS)


def test_nested_wrappers_and_prefixes_are_all_removed() -> None:
    checkpoint = {"state_dict": {"params_ema": {"model": _prefixed(WEIGHTS, "module.module.")}}}
    assert _same(unwrap_checkpoint(checkpoint), WEIGHTS)


def test_module_prefix_is_stripped_key_by_key() -> None:
    mixed = {"module.conv.weight": WEIGHTS["conv.weight"], "conv.bias": WEIGHTS["conv.bias"]}
    assert _same(unwrap_checkpoint(mixed), WEIGHTS)


def test_values_are_not_checked() -> None:
    assert unwrap_checkpoint({"module.note": "text", "step": 5}) == {"note": "text", "step": 5}


@pytest.mark.parametrize(
    ("checkpoint", "message"),
    [
        ([1, 2, 3], "mapping"),
        ({0: torch.zeros(1)}, "not a string"),
        ({"a": torch.zeros(1), "module.a": torch.zeros(1)}, "twice"),
    ],
)
def test_unusable_checkpoints_raise_value_error(checkpoint: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        unwrap_checkpoint(checkpoint)  # type: ignore[arg-type]


def test_a_cycle_of_wrappers_raises() -> None:
    loop: dict[str, object] = {}
    loop["params"] = {"state_dict": loop}
    with pytest.raises(ValueError, match="cycle"):
        unwrap_checkpoint(loop)


# --------------------------------------------------------------------------- the layouts that drifted


def _meta_state(module: torch.nn.Module) -> dict[str, Tensor]:
    return dict(module.state_dict())


def test_compacter_now_peels_nested_and_model_net_wrappers() -> None:
    """Compacter peeled one level of params_ema/params/state_dict only."""
    with torch.device("meta"):
        state = _meta_state(compacter.build(compacter.PRESETS["compacter-x1"]))
    for checkpoint in ({"state_dict": {"params_ema": state}}, {"model": _prefixed(state)}, {"net": state}):
        assert _same(compacter.from_official_state_dict(checkpoint), state)


def test_ast_now_peels_basicsr_wrappers_and_nesting() -> None:
    """AST peeled one ``state_dict`` only."""
    with torch.device("meta"):
        state = _meta_state(ast.build(ast.PRESETS["ast-t"]))
    for checkpoint in ({"params_ema": state}, {"params": {"state_dict": _prefixed(state)}}):
        assert _same(ast.from_official_state_dict(checkpoint), state)


def test_asid_now_strips_module_from_each_key_that_has_it() -> None:
    """ASID stripped ``module.`` only when every key carried it."""
    with torch.device("meta"):
        state = _meta_state(asid.build(asid.PRESETS["asid-x2"]))
    checkpoint = {**_prefixed(state), "rel_pos_indices": torch.zeros(64, 64, device="meta")}
    assert _same(asid.from_official_state_dict({"params_ema": checkpoint}), state)


def test_lir_now_peels_model_and_net_wrappers() -> None:
    """LIR peeled params_ema/params/state_dict (repeatedly) but not model/net."""
    with torch.device("meta"):
        state = _meta_state(lir.build(lir.PRESETS["lir"]))
    for checkpoint in ({"model": state}, {"net": {"params": _prefixed(state, "module.module.")}}):
        assert _same(lir.from_official_state_dict(checkpoint), state)
