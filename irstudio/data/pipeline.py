"""Composable, seeded degradation pipelines: parameter ranges in, ``(degraded, clean)`` out.

A frozen ``Degradation`` is an ordered tuple of steps (``Noise``, ``Downscale``, ``Jpeg``, ``Rain``,
``GaussianBlur``, ``MotionBlur``, and ``RealPhoto``: the second-order real-photo chain), each
holding parameter *ranges* (``(low, high)``; a single number
is a fixed value) sampled per call from the Generator passed in. ``degrade(clean, degradation, rng)``
returns ``(degraded, clean)`` as float32 HxWx3, with sizes that match for SR: the clean image is
cropped to a multiple of the scale first. ``Degradation.for_task`` gives each task's default;
``to_dict``/``from_dict`` a plain form for configs (unknown keys and kinds are refused, naming them).
The operations themselves are in ``data/degradations.py``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, TypeGuard, Union

import numpy as np

from irstudio.core.resize import modcrop
from irstudio.data import degradations as ops
from irstudio.data import real_degradations as real

Range = tuple[float, float]
"""A closed interval ``(low, high)`` sampled uniformly; ``(v, v)`` is the fixed value v."""


def _sample(rng: np.random.Generator, bounds: Range) -> float:
    low, high = bounds
    return float(low) if low == high else float(rng.uniform(low, high))


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class _Step(Protocol):
    """A degradation step: a dataclass named in TOML by its ``kind``."""

    kind: ClassVar[str]


def _set_range(step: _Step, field_name: str, low: float, high: float, cast: type = float) -> None:
    """Check ``step.<field_name>`` is a range in [low, high] (a single number v means (v, v)) and store
    it as a tuple of ``cast``; raise ``ValueError`` naming the step and field otherwise."""
    bounds = getattr(step, field_name)
    if _is_number(bounds):
        bounds = (bounds, bounds)
    ok = isinstance(bounds, (tuple, list)) and len(bounds) == 2 and all(_is_number(v) for v in bounds)
    if not ok or not (low <= bounds[0] <= bounds[1] <= high):
        shown = list(bounds) if isinstance(bounds, (tuple, list)) else bounds
        raise ValueError(
            f"{step.kind}.{field_name} must be a number or a range [low, high] with "
            f"{low:g} <= low <= high <= {high:g}, got {shown!r}"
        )
    if cast is int and any(int(v) != v for v in bounds):
        raise ValueError(f"{step.kind}.{field_name} must be whole numbers, got {list(bounds)}")
    object.__setattr__(step, field_name, (cast(bounds[0]), cast(bounds[1])))


def _check_fraction(name: str, value: object) -> None:
    if not (_is_number(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")


def _check_probability(name: str, value: object) -> None:
    _check_fraction(f"{name}.probability", value)


@dataclass(frozen=True)
class Noise:
    """AWGN with std drawn from ``sigma`` (0-255 scale); gray (one plane) with ``gray_probability``."""

    kind: ClassVar[str] = "noise"
    sigma: Range = (0.0, 50.0)
    gray_probability: float = 0.0
    clip: bool = False
    probability: float = 1.0

    def __post_init__(self) -> None:
        _set_range(self, "sigma", 0.0, 255.0)
        _check_fraction("noise.gray_probability", self.gray_probability)
        if not isinstance(self.clip, bool):
            raise ValueError(f"noise.clip must be true or false, got {self.clip!r}")
        _check_probability("noise", self.probability)

    def apply(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        sigma = _sample(rng, self.sigma)
        gray = self.gray_probability > 0 and rng.random() < self.gray_probability
        return ops.add_gaussian_noise(image, sigma, rng, clip=self.clip, gray=bool(gray))


@dataclass(frozen=True)
class Downscale:
    """MATLAB bicubic downscale by an integer ``scale`` (2, 3 or 4), quantised to 8 bits."""

    kind: ClassVar[str] = "downscale"
    scale: int = 2
    probability: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.scale, bool) or self.scale not in (2, 3, 4):
            raise ValueError(f"downscale.scale must be 2, 3 or 4, got {self.scale!r}")
        if self.probability != 1.0:
            raise ValueError("downscale.probability must be 1 (the output size must not vary)")

    def apply(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return ops.bicubic_downscale(image, self.scale)


@dataclass(frozen=True)
class Jpeg:
    """JPEG round trip at a quality drawn uniformly from the integers in ``quality``."""

    kind: ClassVar[str] = "jpeg"
    quality: tuple[int, int] = (10, 90)
    probability: float = 1.0

    def __post_init__(self) -> None:
        _set_range(self, "quality", 1, 100, cast=int)
        _check_probability("jpeg", self.probability)

    def apply(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        low, high = (int(q) for q in self.quality)
        return ops.jpeg_compress(image, low if low == high else int(rng.integers(low, high + 1)))


@dataclass(frozen=True)
class Rain:
    """Synthetic rain streaks; every parameter drawn from its range per image (see ``rain_layer``).

    ``density``: chance that a pixel starts a streak; ``length`` and ``width`` in pixels; ``angle`` in
    degrees from vertical; ``brightness``: peak added intensity of a streak (0-1).
    """

    kind: ClassVar[str] = "rain"
    density: Range = (0.001, 0.005)
    length: Range = (10.0, 35.0)
    angle: Range = (-20.0, 20.0)
    width: Range = (1.0, 2.0)
    brightness: Range = (0.5, 0.9)
    probability: float = 1.0

    def __post_init__(self) -> None:
        _set_range(self, "density", 0.0, 0.2)
        _set_range(self, "length", 1.0, 200.0)
        _set_range(self, "angle", -90.0, 90.0)
        _set_range(self, "width", 0.5, 10.0)
        _set_range(self, "brightness", 0.0, 1.0)
        _check_probability("rain", self.probability)

    def apply(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return ops.add_rain(
            image,
            rng,
            density=_sample(rng, self.density),
            length=_sample(rng, self.length),
            angle=_sample(rng, self.angle),
            width=_sample(rng, self.width),
            brightness=_sample(rng, self.brightness),
        )


@dataclass(frozen=True)
class GaussianBlur:
    """Isotropic Gaussian blur with std drawn from ``sigma`` (pixels)."""

    kind: ClassVar[str] = "gaussian_blur"
    sigma: Range = (0.2, 2.0)
    probability: float = 1.0

    def __post_init__(self) -> None:
        _set_range(self, "sigma", 0.0, 20.0)
        _check_probability("gaussian_blur", self.probability)

    def apply(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return ops.gaussian_blur(image, _sample(rng, self.sigma))


@dataclass(frozen=True)
class MotionBlur:
    """Linear motion blur: ``length`` pixels, ``angle`` degrees from vertical, both drawn per image."""

    kind: ClassVar[str] = "motion_blur"
    length: Range = (3.0, 15.0)
    angle: Range = (-90.0, 90.0)
    probability: float = 1.0

    def __post_init__(self) -> None:
        _set_range(self, "length", 1.0, 100.0)
        _set_range(self, "angle", -180.0, 180.0)
        _check_probability("motion_blur", self.probability)

    def apply(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return ops.motion_blur(image, _sample(rng, self.length), _sample(rng, self.angle))


@dataclass(frozen=True)
class RealPhoto:
    """Real-ESRGAN's second-order degradation of a real photo, output ``scale`` times smaller.

    Two rounds of: blur (a random Gaussian, generalised-Gaussian or plateau kernel, iso- or
    anisotropic, stds in ``blur_sigma``; a sinc kernel one time in ten in the first round; the second
    round blurs with probability 0.8), resize by a factor in ``resize`` (up, down or kept, with
    random area/bilinear/bicubic modes), noise (Gaussian with std ``noise_sigma`` or Poisson with
    scale ``poisson_scale``, each half the time, luminance-only 40 % of the time), then JPEG at a
    quality in ``jpeg_quality``. The second round ends, in random order (half the time each), with
    [resize to the target size + sinc ringing (p 0.8)] and [JPEG]. The result is 8-bit quantised, as a
    saved photo is. Ranges of the second round are the ``second_*`` fields.
    """

    kind: ClassVar[str] = "real_photo"
    scale: int = 4
    blur_sigma: Range = (0.2, 3.0)
    resize: Range = (0.15, 1.5)
    noise_sigma: Range = (1.0, 30.0)
    poisson_scale: Range = (0.05, 3.0)
    jpeg_quality: tuple[int, int] = (30, 95)
    second_blur_sigma: Range = (0.2, 1.5)
    second_resize: Range = (0.3, 1.2)
    second_noise_sigma: Range = (1.0, 25.0)
    second_poisson_scale: Range = (0.05, 2.5)
    second_jpeg_quality: tuple[int, int] = (30, 95)
    probability: float = 1.0

    FIRST_RESIZE_ODDS: ClassVar[tuple[float, float, float]] = (0.2, 0.7, 0.1)  # up, down, keep
    SECOND_RESIZE_ODDS: ClassVar[tuple[float, float, float]] = (0.3, 0.4, 0.3)

    def __post_init__(self) -> None:
        if isinstance(self.scale, bool) or self.scale not in (1, 2, 3, 4):
            raise ValueError(f"real_photo.scale must be 1, 2, 3 or 4, got {self.scale!r}")
        for name in ("blur_sigma", "second_blur_sigma"):
            _set_range(self, name, 0.1, 10.0)
        for name in ("resize", "second_resize"):
            _set_range(self, name, 0.05, 4.0)
        for name in ("noise_sigma", "second_noise_sigma"):
            _set_range(self, name, 0.0, 100.0)
        for name in ("poisson_scale", "second_poisson_scale"):
            _set_range(self, name, 0.0, 10.0)
        for name in ("jpeg_quality", "second_jpeg_quality"):
            _set_range(self, name, 1, 100, cast=int)
        _check_probability("real_photo", self.probability)
        if self.scale != 1 and self.probability != 1.0:
            raise ValueError(
                "real_photo.probability must be 1 when it downscales (the output size must not vary)"
            )

    @classmethod
    def mild(cls) -> RealPhoto:
        """The x1 setting: real noise, JPEG and mild blur, no strong resizing (a photo kept at its size)."""
        return cls(
            scale=1,
            blur_sigma=(0.2, 1.5),
            resize=(0.5, 1.5),
            noise_sigma=(1.0, 25.0),
            poisson_scale=(0.05, 2.5),
            jpeg_quality=(30, 95),
            second_blur_sigma=(0.2, 1.0),
            second_resize=(0.7, 1.3),
            second_noise_sigma=(1.0, 15.0),
            second_poisson_scale=(0.05, 1.5),
            second_jpeg_quality=(40, 95),
        )

    def apply(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        height, width = image.shape[:2]
        out_h, out_w = height // self.scale, width // self.scale
        out = self._blur_and_resize(image, rng)
        out = self._noise(out, rng, self.noise_sigma, self.poisson_scale)
        out = ops.jpeg_compress(out, _sample_int(rng, self.jpeg_quality))
        if rng.random() < 0.8:
            out = real.apply_kernel(out, real.random_blur_kernel(rng, self.second_blur_sigma))
        grow = real.random_factor(rng, self.second_resize, self.SECOND_RESIZE_ODDS)
        out = real.resize_to(out, round(out_h * grow), round(out_w * grow), rng)
        out = self._noise(out, rng, self.second_noise_sigma, self.second_poisson_scale)
        if rng.random() < 0.5:
            out = self._final_resize_and_sinc(out, out_h, out_w, rng)
            out = ops.jpeg_compress(out, _sample_int(rng, self.second_jpeg_quality))
        else:
            out = ops.jpeg_compress(out, _sample_int(rng, self.second_jpeg_quality))
            out = self._final_resize_and_sinc(out, out_h, out_w, rng)
        quantized: np.ndarray = (np.round(np.clip(out, 0.0, 1.0) * 255.0) / 255.0).astype(np.float32)
        return quantized

    def _blur_and_resize(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The first round's blur (sinc one time in ten) and resize, relative to the input size."""
        use_sinc = rng.random() < 0.1
        kernel = real.random_sinc_kernel(rng) if use_sinc else real.random_blur_kernel(rng, self.blur_sigma)
        out = real.apply_kernel(image, kernel)
        grow = real.random_factor(rng, self.resize, self.FIRST_RESIZE_ODDS)
        return real.resize_to(out, round(out.shape[0] * grow), round(out.shape[1] * grow), rng)

    @staticmethod
    def _noise(image: np.ndarray, rng: np.random.Generator, sigma: Range, poisson: Range) -> np.ndarray:
        gray = bool(rng.random() < 0.4)
        if rng.random() < 0.5:
            return ops.add_gaussian_noise(image, _sample(rng, sigma), rng, clip=True, gray=gray)
        return real.add_poisson_noise(image, _sample(rng, poisson), rng, gray=gray)

    @staticmethod
    def _final_resize_and_sinc(
        image: np.ndarray, height: int, width: int, rng: np.random.Generator
    ) -> np.ndarray:
        out = real.resize_to(image, height, width, rng)
        return real.apply_kernel(out, real.random_sinc_kernel(rng)) if rng.random() < 0.8 else out


def _sample_int(rng: np.random.Generator, bounds: tuple[int, int]) -> int:
    low, high = (int(v) for v in bounds)
    return low if low == high else int(rng.integers(low, high + 1))


Step = Union[Noise, Downscale, Jpeg, Rain, GaussianBlur, MotionBlur, RealPhoto]  # noqa: UP007 (runtime alias)
STEP_TYPES: dict[str, type[Step]] = {
    cls.kind: cls for cls in (Noise, Downscale, Jpeg, Rain, GaussianBlur, MotionBlur, RealPhoto)
}


# --------------------------------------------------------------------------------------------------
# The pipeline


@dataclass(frozen=True)
class Degradation:
    """An ordered pipeline of steps; ``scale`` is the product of its downscales (1 without any)."""

    steps: tuple[Step, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(self.steps))  # a list is accepted, a tuple is stored
        for step in self.steps:
            if type(step) not in STEP_TYPES.values():
                raise TypeError(f"not a degradation step: {step!r}")

    @property
    def scale(self) -> int:
        return math.prod(step.scale for step in self.steps if isinstance(step, (Downscale, RealPhoto)))

    def apply(self, clean: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Shorthand for ``degrade(clean, self, rng)``."""
        return degrade(clean, self, rng)

    @classmethod
    def for_task(cls, task: str, scale: int = 1) -> Degradation:
        """The default pipeline for a task ("denoise", "sr", "jpeg", "derain", "realphoto"; a ``Task``
        works too).

        denoise: colour AWGN sigma in [0, 50], gray one time in five; sr: MATLAB bicubic x``scale``;
        jpeg: quality in [10, 90]; derain: Rain100L-like streaks; realphoto: Real-ESRGAN's
        second-order degradation at x2/x4, its milder setting at x1 (``RealPhoto.mild``).
        """
        name = getattr(task, "value", task)
        if name == "sr":
            return cls((Downscale(scale=scale),))
        if name == "realphoto":
            return cls((RealPhoto.mild() if scale == 1 else RealPhoto(scale=scale),))
        if scale != 1:
            raise ValueError(f"task '{name}' works at scale 1, got {scale}")
        defaults: dict[str, tuple[Step, ...]] = {
            "denoise": (Noise(sigma=(0.0, 50.0), gray_probability=0.2),),
            "jpeg": (Jpeg(quality=(10, 90)),),
            "derain": (Rain(),),
        }
        if name not in defaults:
            raise ValueError(f"unknown task '{name}' (known: denoise, sr, jpeg, derain, realphoto)")
        return cls(defaults[name])

    def to_dict(self) -> dict[str, object]:
        """``{"steps": [{"kind": ..., field: value or [low, high]}, ...]}`` (JSON/TOML-ready)."""
        return {"steps": [_step_to_dict(step) for step in self.steps]}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Degradation:
        """Inverse of ``to_dict``; unknown keys or kinds raise ``ValueError`` naming them."""
        unknown = set(data) - {"steps"}
        if unknown:
            raise ValueError(f"degradation: unknown key '{sorted(unknown)[0]}' (known: steps)")
        steps = data.get("steps", [])
        if not isinstance(steps, (list, tuple)):
            raise ValueError("degradation.steps must be a list of tables")
        return cls(tuple(_step_from_dict(entry, index) for index, entry in enumerate(steps)))

    def describe(self) -> str:
        """One line for logs and the GUI, e.g. ``noise σ 0-50 → jpeg q 10-90``."""
        return " → ".join(_describe_step(step) for step in self.steps) or "none"


def degrade(
    clean: np.ndarray, degradation: Degradation, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``(degraded, clean)`` as float32 HxWx3: ``clean`` cropped to a multiple of the scale first.

    Steps run in order; each step with ``probability < 1`` draws a coin first. The degraded image is
    ``(H // s, W // s)`` for a pipeline of scale s. Not clipped after noise unless the step asks.
    """
    if clean.ndim != 3 or clean.shape[2] != 3:
        raise ValueError(f"degrade expects an HxWx3 image, got shape {clean.shape}")
    target = np.ascontiguousarray(modcrop(clean, degradation.scale), dtype=np.float32)
    if min(target.shape[:2]) < 1:
        raise ValueError(f"image {clean.shape[:2]} is smaller than the scale x{degradation.scale}")
    image = target
    for step in degradation.steps:
        if step.probability < 1.0 and rng.random() >= step.probability:
            continue
        image = step.apply(image, rng)
    return image.astype(np.float32, copy=image is target), target


def _step_to_dict(step: Step) -> dict[str, object]:
    values: dict[str, object] = {"kind": step.kind}
    for item in dataclasses.fields(step):
        value = getattr(step, item.name)
        values[item.name] = list(value) if isinstance(value, tuple) else value
    return values


def _step_from_dict(entry: object, index: int) -> Step:
    where = f"degradation.steps[{index}]"
    if not isinstance(entry, Mapping) or "kind" not in entry:
        raise ValueError(f"{where}: each step is a table with a 'kind' ({', '.join(STEP_TYPES)})")
    kind = entry["kind"]
    if kind not in STEP_TYPES:
        raise ValueError(f"{where}: unknown kind {kind!r} (known: {', '.join(STEP_TYPES)})")
    cls = STEP_TYPES[kind]
    known = {item.name: item for item in dataclasses.fields(cls)}
    arguments: dict[str, Any] = {}  # TOML values: each step's __post_init__ checks them
    for key, value in entry.items():
        if key == "kind":
            continue
        if key not in known:
            raise ValueError(f"{where} ({kind}): unknown key '{key}' (known: {', '.join(known)})")
        arguments[key] = tuple(value) if isinstance(value, list) else value
    try:
        return cls(**arguments)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{where}: {error}") from None


def _span(bounds: Range, unit: str = "") -> str:
    low, high = bounds
    return f"{low:g}{unit}" if low == high else f"{low:g}-{high:g}{unit}"


def _divided(scale: int) -> str:
    return f" ÷{scale}" if scale > 1 else ""


def _describe_step(step: Step) -> str:
    text = {
        Noise: lambda s: (
            f"noise σ {_span(s.sigma)}" + (f" (gray {s.gray_probability:.0%})" if s.gray_probability else "")
        ),
        Downscale: lambda s: f"bicubic ÷{s.scale}",
        Jpeg: lambda s: f"jpeg q {_span(s.quality)}",
        Rain: lambda s: f"rain {_span(s.length, 'px')} at {_span(s.angle, '°')}",
        GaussianBlur: lambda s: f"blur σ {_span(s.sigma, 'px')}",
        MotionBlur: lambda s: f"motion blur {_span(s.length, 'px')}",
        RealPhoto: lambda s: (
            f"real photo{_divided(s.scale)} (2 rounds: blur σ {_span(s.blur_sigma, 'px')}, "
            f"noise σ {_span(s.noise_sigma)}, jpeg q {_span(s.jpeg_quality)})"
        ),
    }[type(step)](step)
    return text if step.probability >= 1.0 else f"{text} (p {step.probability:g})"


__all__ = [
    "STEP_TYPES",
    "Degradation",
    "Downscale",
    "GaussianBlur",
    "Jpeg",
    "MotionBlur",
    "Noise",
    "Rain",
    "Range",
    "RealPhoto",
    "Step",
    "degrade",
]
