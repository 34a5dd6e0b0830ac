"""Side-by-side crops of several models on real photos, for the README (maintainers).

    python tools/compare_crops.py --models nlmeans compacter-x1-realphoto --out docs/crops/x1.jpg \
        PHOTO[:x,y,size] ...

Each model restores every photo with ``irstudio restore`` (the product's own path, default plan) into
a temporary folder; then one row per photo shows the input and each result, cropped to the square
``size`` (input pixels) at ``x,y`` (default: the centre, 128 px) and enlarged with nearest
neighbours to ``--cell`` pixels so the pixels stay visible, labelled with the model id. x2/x4 models
are cropped at the same place of their larger output. Writes one JPEG (quality 92).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from irstudio.core.image_io import read_image


@dataclass(frozen=True)
class Crop:
    path: Path
    x: int | None
    y: int | None
    size: int

    @classmethod
    def parse(cls, text: str) -> Crop:
        path, _, box = text.partition(":")
        if not box:
            return cls(Path(path), None, None, 128)
        x, y, size = (int(v) for v in box.split(","))
        return cls(Path(path), x, y, size)

    def box(self, height: int, width: int) -> tuple[int, int, int]:
        size = min(self.size, height, width)
        x = (width - size) // 2 if self.x is None else min(self.x, width - size)
        y = (height - size) // 2 if self.y is None else min(self.y, height - size)
        return x, y, size


def _restore(model: str, photos: list[Path], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "irstudio",
        "restore",
        "--model",
        model,
        "--out",
        str(out),
        *map(str, photos),
    ]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return [next(out.glob(f"{photo.stem}*")) for photo in photos]


def _cell(image: np.ndarray, crop: Crop, scale: int, cell: int, label: str) -> Image.Image:
    height, width = image.shape[0] // scale, image.shape[1] // scale
    x, y, size = crop.box(height, width)
    part = image[y * scale : (y + size) * scale, x * scale : (x + size) * scale]
    tile = Image.fromarray(np.clip(part * 255 + 0.5, 0, 255).astype(np.uint8)).resize(
        (cell, cell), Image.NEAREST
    )
    draw = ImageDraw.Draw(tile)
    draw.rectangle((0, 0, cell, 18), fill=(0, 0, 0))
    draw.text((4, 3), label, fill=(255, 255, 255))
    return tile


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="+", type=Crop.parse, metavar="PHOTO[:x,y,size]")
    parser.add_argument("--models", nargs="+", required=True)
    parser.add_argument("--scales", nargs="+", type=int, default=None, help="each model's scale (default 1)")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--cell", type=int, default=256)
    args = parser.parse_args(argv)
    scales = args.scales or [1] * len(args.models)
    photos = [crop.path for crop in args.photos]
    with tempfile.TemporaryDirectory() as scratch:
        outputs = {m: _restore(m, photos, Path(scratch) / str(i)) for i, m in enumerate(args.models)}
        rows = []
        for index, crop in enumerate(args.photos):
            cells = [_cell(read_image(crop.path).rgb, crop, 1, args.cell, f"input: {crop.path.name}")]
            for model, scale in zip(args.models, scales, strict=True):
                cells.append(_cell(read_image(outputs[model][index]).rgb, crop, scale, args.cell, model))
            rows.append(cells)
    sheet = Image.new("RGB", (args.cell * len(rows[0]), args.cell * len(rows)))
    for r, cells in enumerate(rows):
        for c, tile in enumerate(cells):
            sheet.paste(tile, (c * args.cell, r * args.cell))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, quality=92)
    print(f"wrote {args.out} ({sheet.width}x{sheet.height})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
