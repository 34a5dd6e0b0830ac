"""The one in-memory model cache: bounded, least recently used out first, evicted before opening."""

from __future__ import annotations

import threading

import pytest
import torch
from torch import nn

from irstudio.inference import UNTRAINED_SEED, ModelCache, model_key, open_on
from irstudio.models import REGISTRY, ModelSpec, Task


def _spec(model_id: str) -> ModelSpec:
    return ModelSpec(
        id=model_id,
        name=model_id,
        arch="test",
        tasks=(Task.DENOISE,),
        scale=1,
        build=nn.Identity,
        learned=False,
    )


A, B, C = _spec("a"), _spec("b"), _spec("c")


class Opener:
    """Stands in for ``open_on``: counts the opens and records how many models were held at each."""

    def __init__(self) -> None:
        self.opened: list[tuple[str, str | None, str]] = []
        self.held_while_opening: list[int] = []
        self.cache: ModelCache | None = None

    def __call__(self, spec: ModelSpec, weights: str | None, device: str) -> nn.Module:
        assert self.cache is not None
        self.held_while_opening.append(len(self.cache))
        self.opened.append((spec.id, weights, device))
        return nn.Identity()


def _cache(size: int, evicted: list | None = None) -> tuple[ModelCache, Opener]:
    opener = Opener()
    cache = ModelCache(size, opener=opener, on_evict=None if evicted is None else evicted.append)
    opener.cache = cache
    return cache, opener


def test_a_hit_returns_the_same_model_without_opening_it_again() -> None:
    cache, opener = _cache(2)
    first = cache.get(A, None, "cpu")
    assert cache.get(A, None, "cpu") is first and len(opener.opened) == 1
    assert cache.get(A, "w.safetensors", "cpu") is not first  # other weights: another model
    assert cache.get(A, None, "cuda:0") is not first  # another device too
    assert len(opener.opened) == 3


def test_the_least_recently_used_model_goes_first_and_the_owner_is_told() -> None:
    evicted: list = []
    cache, _ = _cache(2, evicted)
    cache.get(A, None, "cpu")
    cache.get(B, None, "cpu")
    cache.get(A, None, "cpu")  # A is now the most recently used
    cache.get(C, None, "cpu")  # full: B goes
    assert evicted == [model_key(B, None, "cpu")]
    assert cache.keys() == [model_key(A, None, "cpu"), model_key(C, None, "cpu")]
    assert model_key(B, None, "cpu") not in cache and cache.peek(model_key(A, None, "cpu")) is not None


def test_memory_stays_bounded_also_while_a_model_opens() -> None:
    """With the cache full, the old model is dropped before the new one is opened (never size + 1)."""
    cache, opener = _cache(1)
    for spec in (A, B, C, A, B):
        cache.get(spec, None, "cpu")
        assert len(cache) == 1
    assert opener.held_while_opening == [0, 0, 0, 0, 0]


def test_clear_drops_every_model_oldest_first() -> None:
    evicted: list = []
    cache, opener = _cache(3, evicted)
    for spec in (A, B, C):
        cache.get(spec, None, "cpu")
    cache.clear()
    assert len(cache) == 0 and [key[0] for key in evicted] == ["a", "b", "c"]
    cache.get(A, None, "cpu")
    assert len(opener.opened) == 4  # opened again after clear


def test_a_model_that_fails_to_open_leaves_nothing_behind() -> None:
    def failing(spec: ModelSpec, weights: str | None, device: str) -> nn.Module:
        raise ValueError(f"{spec.id}: cannot open")

    cache = ModelCache(2, opener=failing)
    with pytest.raises(ValueError, match="a: cannot open"):
        cache.get(A, None, "cpu")
    assert len(cache) == 0


def test_the_owner_may_look_at_the_cache_while_told_of_an_eviction() -> None:
    seen: list[int] = []
    cache = ModelCache(1, opener=lambda spec, weights, device: nn.Identity())
    cache._on_evict = lambda key: seen.append(len(cache))  # re-entrant: the lock is held meanwhile
    cache.get(A, None, "cpu")
    cache.get(B, None, "cpu")
    assert seen == [0]


def test_a_cache_holds_at_least_one_model() -> None:
    with pytest.raises(ValueError, match="at least one model"):
        ModelCache(0)


def test_threads_share_one_model_per_key() -> None:
    cache, opener = _cache(2)
    models: list[nn.Module] = []

    def worker() -> None:
        for _ in range(20):
            models.append(cache.get(A, None, "cpu"))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(opener.opened) == 1 and all(model is models[0] for model in models)


def test_untrained_presets_open_with_the_same_weights_every_time_and_keep_the_rng() -> None:
    spec = REGISTRY.get("compacter-x1")
    assert spec.weights is None and spec.learned
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    first, second = open_on(spec, None, "cpu"), open_on(spec, None, "cpu")
    assert torch.equal(torch.random.get_rng_state(), before)
    for key, value in first.state_dict().items():
        torch.testing.assert_close(value, second.state_dict()[key])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(UNTRAINED_SEED)
        reference = spec.build()
    for key, value in reference.state_dict().items():
        torch.testing.assert_close(value, first.state_dict()[key])
    assert not first.training
