"""Synthetic degradations with known ground truth, shared by evaluation, training and the app.

Every function takes float32 HxWx3 RGB in [0, 1] and returns float32 HxWx3 (smaller for downscaling);
randomness comes only from the ``numpy.random.Generator`` passed in, so results are reproducible from
a seed. Noise is not clipped unless asked (the papers' protocol); every other step returns [0, 1].

Single operations: ``add_gaussian_noise`` (colour or gray AWGN), ``bicubic_downscale`` (MATLAB
``imresize``, as the SR benchmarks), ``jpeg_compress`` (OpenCV's libjpeg encoder), ``gaussian_blur``,
``motion_blur``, ``add_rain`` (synthetic streaks, made as Rain100L was: sparse seeds, widened,
motion-blurred along the fall direction, added to the image).

Pipelines: a frozen ``Degradation`` is an ordered tuple of steps (``Noise``, ``Downscale``, ``Jpeg``,
``Rain``, ``GaussianBlur``, ``MotionBlur``), each with parameter *ranges* sampled per call, and
``degrade(clean, degradation, rng)`` returns ``(degraded, clean)`` with sizes that match for SR
(the clean image is cropped to a multiple of the scale first). ``Degradation.for_task`` gives each
task's default, ``to_dict``/``from_dict`` a plain form for configs (unknown keys are refused).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Union

import cv2
import numpy as np

from irstudio.core.resize import imresize, modcrop

Range = tuple[float, float]
"""A closed interval ``(low, high)`` sampled uniformly; ``(v, v)`` is the fixed value v."""


# --------------------------------------------------------------------------------------------------
# Single operations


def add_gaussian_noise(
    image: np.ndarray, sigma: float, rng: np.random.Generator, *, clip: bool = False, gray: bool = False
) -> np.ndarray:
    """Additive white Gaussian noise of std ``sigma`` on the 0-255 scale.

    Colour AWGN (independent per channel) by default; ``gray`` adds one noise plane to all three
    channels (luminance-only noise, as gray AWGN on an RGB image). Not clipped by default, as the
    denoising papers' test protocol (KAIR/Restormer) adds it.
    """
    shape = (*image.shape[:2], 1) if gray and image.ndim == 3 else image.shape
    noise = rng.standard_normal(shape, dtype=np.float32) * np.float32(sigma / 255.0)
    noisy = image + noise
    return np.clip(noisy, 0.0, 1.0) if clip else noisy.astype(np.float32)


def jpeg_compress(image: np.ndarray, quality: int) -> np.ndarray:
    """Round-trip through OpenCV's JPEG encoder (libjpeg, 4:2:0) at ``quality`` (1-100)."""
    if not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality must be 1-100, got {quality}")
    as_uint8 = np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)
    ok, encoded = cv2.imencode(
        ".jpg", cv2.cvtColor(as_uint8, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    )
    if not ok:
        raise RuntimeError("OpenCV could not encode the JPEG")
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


def bicubic_downscale(image: np.ndarray, scale: int) -> np.ndarray:
    """MATLAB ``imresize(modcrop(img, s), 1/s, 'bicubic')`` of a [0,1] image, as the SR benchmarks,
    quantised to 8 bits like the LR files. Output is (H // s) x (W // s) x 3."""
    height, width = image.shape[:2]
    cropped = image[: height - height % scale, : width - width % scale]
    as_uint8 = np.clip(cropped * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return imresize(as_uint8, 1.0 / scale).astype(np.float32) / 255.0


def gaussian_kernel_size(sigma: float) -> int:
    """Odd kernel side covering +-3 sigma (at least 3)."""
    return max(3, 2 * math.ceil(3.0 * sigma) + 1)


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Isotropic Gaussian blur of std ``sigma`` pixels (mirrored borders); ``sigma <= 0`` copies."""
    if sigma <= 0:
        return image.astype(np.float32, copy=True)
    side = gaussian_kernel_size(sigma)
    return cv2.GaussianBlur(
        image.astype(np.float32), (side, side), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT_101
    )


def _direction(angle: float) -> tuple[float, float]:
    """Unit vector (dx, dy) in image coordinates (x right, y down) at ``angle`` degrees from vertical.

    0 is straight down; positive angles lean the lower end to the right (clockwise on screen).
    """
    radians = math.radians(angle)
    return math.sin(radians), math.cos(radians)


def motion_kernel(length: float, angle: float) -> np.ndarray:
    """A normalised (sum 1) float32 line kernel: a segment of ``length`` pixels through the centre,
    ``angle`` degrees from vertical (see ``_direction``), rasterised with bilinear weights.

    ``length <= 1`` gives the 1x1 identity kernel.
    """
    if length <= 1:
        return np.ones((1, 1), dtype=np.float32)
    side = 2 * math.ceil(length / 2.0) + 1
    kernel = np.zeros((side, side), dtype=np.float64)
    centre = side // 2
    dx, dy = _direction(angle)
    for t in np.linspace(-(length - 1) / 2.0, (length - 1) / 2.0, num=math.ceil(length) * 4):
        x, y = centre + t * dx, centre + t * dy
        x0, y0 = math.floor(x), math.floor(y)
        fx, fy = x - x0, y - y0
        for yy, xx, weight in (
            (y0, x0, (1 - fx) * (1 - fy)),
            (y0, x0 + 1, fx * (1 - fy)),
            (y0 + 1, x0, (1 - fx) * fy),
            (y0 + 1, x0 + 1, fx * fy),
        ):
            if 0 <= yy < side and 0 <= xx < side:
                kernel[yy, xx] += weight
    return (kernel / kernel.sum()).astype(np.float32)


def motion_blur(image: np.ndarray, length: float, angle: float) -> np.ndarray:
    """Linear motion blur over ``length`` pixels at ``angle`` degrees from vertical (mirrored borders)."""
    kernel = motion_kernel(length, angle)
    return cv2.filter2D(image.astype(np.float32), -1, kernel, borderType=cv2.BORDER_REFLECT_101)


def rain_layer(
    height: int,
    width: int,
    rng: np.random.Generator,
    *,
    density: float,
    length: float,
    angle: float,
    width_px: float,
    brightness: float,
) -> np.ndarray:
    """A float32 HxW streak layer in [0, 1]: Rain100L's recipe, seeded.

    Seeds: each pixel starts a streak with probability ``density``, with an intensity drawn in
    [0.5, 1]. They are widened by a Gaussian whose FWHM is ``width_px`` (no widening at <= 1 px), then
    motion-blurred over ``length`` px at ``angle`` degrees from vertical, and scaled so that an isolated
    streak of intensity 1 peaks at ``brightness`` (overlaps are clipped to 1).
    """
    seeds = (rng.random((height, width), dtype=np.float32) < density).astype(np.float32)
    seeds *= rng.uniform(0.5, 1.0, size=(height, width)).astype(np.float32)
    spread_sigma = width_px / 2.3548 if width_px > 1 else 0.0
    layer = motion_blur(gaussian_blur(seeds, spread_sigma), length, angle)
    return np.clip(layer * np.float32(brightness / _streak_peak(length, angle, spread_sigma)), 0.0, 1.0)


def _streak_peak(length: float, angle: float, spread_sigma: float) -> float:
    """Peak of the widen-then-blur response to a unit impulse (what one isolated seed becomes)."""
    side = 2 * (math.ceil(length) + gaussian_kernel_size(max(spread_sigma, 0.1))) + 1
    impulse = np.zeros((side, side), dtype=np.float32)
    impulse[side // 2, side // 2] = 1.0
    return float(motion_blur(gaussian_blur(impulse, spread_sigma), length, angle).max())


def add_rain(
    image: np.ndarray,
    rng: np.random.Generator,
    *,
    density: float,
    length: float,
    angle: float,
    width: float,
    brightness: float,
) -> np.ndarray:
    """``image`` + a streak layer (the same on all channels: rain is achromatic), clipped to [0, 1].

    The additive model O = B + S is how Rain100L/Rain100H were synthesised.
    """
    layer = rain_layer(
        image.shape[0],
        image.shape[1],
        rng,
        density=density,
        length=length,
        angle=angle,
        width_px=width,
        brightness=brightness,
    )
    return np.clip(image + layer[:, :, None], 0.0, 1.0).astype(np.float32)


# --------------------------------------------------------------------------------------------------
# Pipeline steps: frozen parameter ranges, sampled per call


def _sample(rng: np.random.Generator, bounds: Range) -> float:
    low, high = bounds
    return float(low) if low == high else float(rng.uniform(low, high))


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _set_range(step: object, field_name: str, low: float, high: float, cast: type = float) -> None:
    """Check ``step.<field_name>`` is a range in [low, high] (a single number v means (v, v)) and store
    it as a tuple of ``cast``; raise ``ValueError`` naming the step and field otherwise."""
    bounds = getattr(step, field_name)
    if _is_number(bounds):
        bounds = (bounds, bounds)
    ok = isinstance(bounds, (tuple, list)) and len(bounds) == 2 and all(_is_number(v) for v in bounds)
    if not ok or not (low <= bounds[0] <= bounds[1] <= high):
        shown = list(bounds) if isinstance(bounds, (tuple, list)) else bounds
        raise ValueError(
            f"{step.kind}.{field_name} must be a number or a range [low, high] with "  # type: ignore[attr-defined]
            f"{low:g} <= low <= high <= {high:g}, got {shown!r}"
        )
    if cast is int and any(int(v) != v for v in bounds):
        raise ValueError(f"{step.kind}.{field_name} must be whole numbers, got {list(bounds)}")  # type: ignore[attr-defined]
    object.__setattr__(step, field_name, (cast(bounds[0]), cast(bounds[1])))


def _check_fraction(name: str, value: object) -> None:
    if not (_is_number(value) and 0.0 <= value <= 1.0):  # type: ignore[operator]
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
        return add_gaussian_noise(image, sigma, rng, clip=self.clip, gray=bool(gray))


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
        return bicubic_downscale(image, self.scale)


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
        return jpeg_compress(image, low if low == high else int(rng.integers(low, high + 1)))


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
        return add_rain(
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
        return gaussian_blur(image, _sample(rng, self.sigma))


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
        return motion_blur(image, _sample(rng, self.length), _sample(rng, self.angle))


Step = Union[Noise, Downscale, Jpeg, Rain, GaussianBlur, MotionBlur]  # noqa: UP007 (runtime alias)
STEP_TYPES: dict[str, type] = {
    cls.kind: cls for cls in (Noise, Downscale, Jpeg, Rain, GaussianBlur, MotionBlur)
}


# --------------------------------------------------------------------------------------------------
# The pipeline


@dataclass(frozen=True)
class Degradation:
    """An ordered pipeline of steps; ``scale`` is the product of its downscales (1 without any)."""

    steps: tuple[Step, ...] = ()

    def __post_init__(self) -> None:
        for step in self.steps:
            if type(step) not in STEP_TYPES.values():
                raise TypeError(f"not a degradation step: {step!r}")

    @property
    def scale(self) -> int:
        return math.prod(step.scale for step in self.steps if isinstance(step, Downscale))

    def apply(self, clean: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Shorthand for ``degrade(clean, self, rng)``."""
        return degrade(clean, self, rng)

    @classmethod
    def for_task(cls, task: str, scale: int = 1) -> Degradation:
        """The default pipeline for a task ("denoise", "sr", "jpeg", "derain"; a ``Task`` works too).

        denoise: colour AWGN sigma in [0, 50], gray one time in five; sr: MATLAB bicubic x``scale``;
        jpeg: quality in [10, 90]; derain: Rain100L-like streaks.
        """
        name = getattr(task, "value", task)
        if name == "sr":
            return cls((Downscale(scale=scale),))
        if scale != 1:
            raise ValueError(f"task '{name}' works at scale 1, got {scale}")
        defaults: dict[str, tuple[Step, ...]] = {
            "denoise": (Noise(sigma=(0.0, 50.0), gray_probability=0.2),),
            "jpeg": (Jpeg(quality=(10, 90)),),
            "derain": (Rain(),),
        }
        if name not in defaults:
            raise ValueError(f"unknown task '{name}' (known: denoise, sr, jpeg, derain)")
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
    arguments: dict[str, object] = {}
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
    "Step",
    "add_gaussian_noise",
    "add_rain",
    "bicubic_downscale",
    "degrade",
    "gaussian_blur",
    "jpeg_compress",
    "motion_blur",
    "motion_kernel",
    "rain_layer",
]
