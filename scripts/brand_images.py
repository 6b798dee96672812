"""Draw the integration's brand icons and logos and write them as PNG files.

The glyph is a house roof over an upright battery with a charge level and a
lightning bolt. It is drawn from the coordinates below at a large master size,
trimmed to its opaque pixels and scaled down, which anti-aliases the edges.
The logo is the glyph with "Predbat Gateway" on two lines beside it, set in
Pillow's bundled font (Aileron Regular, Pillow 10.1 or newer with FreeType).

Sizes follow the image specification of the home-assistant/brands README:
icons are 256x256 and 512x512, and the shortest side of a logo is at most 256
pixels, or 512 for the @2x version. The output depends only on the Pillow and
FreeType versions, because nothing random or time-dependent is drawn or saved.
"""

import argparse
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, features

DEFAULT_OUTPUT_DIR = (
    Path(__file__).resolve().parent.parent
    / "custom_components"
    / "predbat_gateway"
    / "brand"
)

# Edge length in pixels of the unit square that the glyph coordinates refer to.
MASTER_SIZE = 2048

# Factor by which the logo is drawn larger than its final size, then reduced.
LOGO_SUPERSAMPLING = 4

ICON_SIZE = 256
LOGO_HEIGHT = 256
LOGO_TEXT_LINES = ("Predbat", "Gateway")

type Point = tuple[float, float]
type Rgba = tuple[int, int, int, int]


@dataclass(frozen=True)
class Palette:
    """Colours of one theme: strokes and text, battery charge, bolt."""

    stroke: Rgba
    charge: Rgba
    bolt: Rgba


# The light palette is for light backgrounds, which Home Assistant shows by
# default. The dark palette has lighter strokes for its dark theme.
LIGHT = Palette(
    stroke=(21, 94, 117, 255), charge=(34, 160, 107, 255), bolt=(255, 194, 61, 255)
)
DARK = Palette(
    stroke=(207, 239, 247, 255), charge=(61, 214, 140, 255), bolt=(255, 209, 102, 255)
)

# Glyph geometry in unit coordinates: x to the right, y down, 0 to 1.
STROKE_WIDTH = 0.075
ROOF = ((0.04, 0.42), (0.50, 0.06), (0.96, 0.42))
BATTERY_BODY = (0.27, 0.38, 0.73, 0.96)
BATTERY_CORNER_RADIUS = 0.08
BATTERY_TERMINAL = (0.41, 0.30, 0.59, 0.38)
# Gap between the inside of the battery outline and the charge level.
CHARGE_INSET = 0.035
CHARGE_TOP = 0.58
BOLT = (
    (0.538, 0.50),
    (0.418, 0.69),
    (0.498, 0.69),
    (0.458, 0.84),
    (0.583, 0.64),
    (0.503, 0.64),
)
BOLT_OUTLINE_WIDTH = 0.035


def to_pixels(point: Point) -> tuple[int, int]:
    """Convert a unit-square point to master-canvas pixel coordinates."""
    return round(point[0] * MASTER_SIZE), round(point[1] * MASTER_SIZE)


def box_to_pixels(box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    """Convert a unit-square box (left, top, right, bottom) to master-canvas pixels."""
    left, top = to_pixels((box[0], box[1]))
    right, bottom = to_pixels((box[2], box[3]))
    return left, top, right, bottom


def draw_glyph(palette: Palette) -> Image.Image:
    """Draw the glyph on a transparent master canvas and trim it to its opaque pixels."""
    image = Image.new("RGBA", (MASTER_SIZE, MASTER_SIZE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    stroke = round(STROKE_WIDTH * MASTER_SIZE)

    # Roof: an open chevron with round caps, so it reads as a house outline.
    roof = [to_pixels(point) for point in ROOF]
    draw.line(roof, fill=palette.stroke, width=stroke, joint="curve")
    for x, y in (roof[0], roof[-1]):
        draw.ellipse(
            (x - stroke / 2, y - stroke / 2, x + stroke / 2, y + stroke / 2),
            fill=palette.stroke,
        )

    # Battery terminal, then the body outline, drawn inside its bounding box.
    radius = round(BATTERY_CORNER_RADIUS * MASTER_SIZE)
    draw.rounded_rectangle(
        box_to_pixels(BATTERY_TERMINAL), radius=radius // 3, fill=palette.stroke
    )
    draw.rounded_rectangle(
        box_to_pixels(BATTERY_BODY), radius=radius, outline=palette.stroke, width=stroke
    )

    # Charge level: the lower part of the body, inset from the outline.
    inset = STROKE_WIDTH + CHARGE_INSET
    left, _, right, bottom = BATTERY_BODY
    charge_box = (left + inset, CHARGE_TOP, right - inset, bottom - inset)
    charge_radius = max(radius - round(inset * MASTER_SIZE), 0)
    draw.rounded_rectangle(
        box_to_pixels(charge_box), radius=charge_radius, fill=palette.charge
    )

    # Bolt: an outline in the stroke colour keeps it apart from the charge level.
    bolt = [to_pixels(point) for point in BOLT]
    draw.line(
        [*bolt, bolt[0]],
        fill=palette.stroke,
        width=round(BOLT_OUTLINE_WIDTH * MASTER_SIZE),
        joint="curve",
    )
    draw.polygon(bolt, fill=palette.bolt)

    return trim(image)


def trim(image: Image.Image) -> Image.Image:
    """Crop an RGBA image to the bounding box of its non-transparent pixels."""
    bbox = image.getchannel("A").getbbox()
    if bbox is None:
        raise ValueError("image is fully transparent, so there is nothing to trim to")
    return image.crop(bbox)


def scale_to_height(image: Image.Image, height: int) -> Image.Image:
    """Resize an image to a given height in pixels, keeping its aspect ratio."""
    width = round(image.width * height / image.height)
    return image.resize((width, height), Image.Resampling.LANCZOS)


def make_icon(glyph: Image.Image, size: int) -> Image.Image:
    """Fit the trimmed glyph into a transparent square of `size` pixels, centred."""
    scale = size / max(glyph.size)
    fitted = glyph.resize(
        (round(glyph.width * scale), round(glyph.height * scale)),
        Image.Resampling.LANCZOS,
    )
    icon = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    icon.alpha_composite(
        fitted, ((size - fitted.width) // 2, (size - fitted.height) // 2)
    )
    return icon


def make_logo(glyph: Image.Image, palette: Palette, height: int) -> Image.Image:
    """Place the glyph and the two text lines side by side, `height` pixels high and trimmed."""
    canvas_height = height * LOGO_SUPERSAMPLING
    glyph_scaled = scale_to_height(glyph, canvas_height)

    # At this font size the two lines, descenders included, fill about three
    # quarters of the height.
    font = ImageFont.load_default(size=round(canvas_height * 0.36))
    text = "\n".join(LOGO_TEXT_LINES)
    spacing = round(canvas_height * 0.06)
    emboldening = max(round(canvas_height * 0.006), 1)
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    text_box = probe.multiline_textbbox(
        (0, 0), text, font=font, spacing=spacing, stroke_width=emboldening
    )
    text_width = text_box[2] - text_box[0]
    text_height = text_box[3] - text_box[1]

    gap = round(canvas_height * 0.12)
    canvas = Image.new(
        "RGBA", (glyph_scaled.width + gap + text_width, canvas_height), (0, 0, 0, 0)
    )
    canvas.alpha_composite(glyph_scaled, (0, 0))
    text_origin = (
        glyph_scaled.width + gap - text_box[0],
        (canvas_height - text_height) // 2 - text_box[1],
    )
    ImageDraw.Draw(canvas).multiline_text(
        text_origin,
        text,
        font=font,
        fill=palette.stroke,
        spacing=spacing,
        stroke_width=emboldening,
        stroke_fill=palette.stroke,
    )

    reduced = canvas.resize(
        (round(canvas.width / LOGO_SUPERSAMPLING), height),
        Image.Resampling.BOX,
    )
    return trim(reduced)


def save_png(image: Image.Image, path: Path) -> None:
    """Write an RGBA image as a compressed 256-colour PNG without metadata chunks.

    The palette cuts the files to about a quarter of their RGBA size. Only
    anti-aliased edge pixels change, by at most about 30 of 255 per channel.
    """
    # NOTE: the brands specification prefers interlaced PNG files, but
    # Pillow cannot write them, so these files are not interlaced.
    palette_image = image.quantize(colors=256, method=Image.Quantize.FASTOCTREE)
    palette_image.save(path, format="PNG", optimize=True)
    print(f"{path}: {image.width}x{image.height}, {path.stat().st_size} bytes")


def main() -> None:
    """Write the eight brand images into the output folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "output_dir",
        nargs="?",
        type=Path,
        default=DEFAULT_OUTPUT_DIR,
        help=f"folder for the PNG files (default: {DEFAULT_OUTPUT_DIR})",
    )
    output_dir: Path = parser.parse_args().output_dir
    if not features.check("freetype2"):
        parser.error(
            "this Pillow build has no FreeType support, which the logo text needs; install a Pillow wheel from PyPI"
        )
    output_dir.mkdir(parents=True, exist_ok=True)

    for prefix, palette in (("", LIGHT), ("dark_", DARK)):
        glyph = draw_glyph(palette)
        for suffix, scale in (("", 1), ("@2x", 2)):
            save_png(
                make_icon(glyph, ICON_SIZE * scale),
                output_dir / f"{prefix}icon{suffix}.png",
            )
            save_png(
                make_logo(glyph, palette, LOGO_HEIGHT * scale),
                output_dir / f"{prefix}logo{suffix}.png",
            )


if __name__ == "__main__":
    main()
