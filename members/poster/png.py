"""The poster as a picture: Pillow paints the plan."""

from PIL import Image, ImageDraw

from .fonts import cjk_font
from .items import _Code, _Fill, _Line, _Picture, _Rule
from .layout import Sheet
from .units import WHITE


def _paint(sheet: Sheet) -> Image.Image:
    panel = Image.new("RGB", sheet.spec.panel, WHITE)
    _draw(panel, sheet.panel)
    if not sheet.spec.tent:
        return panel
    page = Image.new("RGB", sheet.spec.size, WHITE)
    page.paste(panel.transpose(Image.Transpose.ROTATE_180), (0, 0))
    page.paste(panel, (0, page.height - panel.height))
    _draw(page, sheet.fold)
    return page


def _draw(image: Image.Image, items: list) -> None:
    draw = ImageDraw.Draw(image)
    for item in items:
        if isinstance(item, _Fill):
            draw.rounded_rectangle(item.box, radius=item.radius, fill=item.colour)
        elif isinstance(item, _Line):
            draw.text(
                (item.x if item.centred else item.x + item.stroke, item.baseline),
                item.text,
                font=cjk_font(item.size, item.language),
                fill=item.colour,
                anchor="ms" if item.centred else "ls",
                stroke_width=item.stroke,
                stroke_fill=item.colour,
            )
        elif isinstance(item, _Code):
            modules = len(item.matrix)
            small = Image.new("L", (modules, modules), 255)
            small.putdata([0 if dark else 255 for row in item.matrix for dark in row])
            side = modules * item.module
            image.paste(small.resize((side, side), Image.Resampling.NEAREST).convert("RGB"), item.box[:2])
        elif isinstance(item, _Picture):
            left, top, right, bottom = item.box
            fitted = item.image.resize((right - left, bottom - top), Image.Resampling.LANCZOS)
            image.paste(fitted, (left, top), fitted)
        elif isinstance(item, _Rule):
            (x0, y0), (x1, y1) = item.start, item.end
            if not item.dash:
                draw.line((x0, y0, x1, y1), fill=item.colour, width=item.width)
                continue
            # Only across or down the page; dashes from the start, the last one cut at the end.
            length = abs(x1 - x0) + abs(y1 - y0)
            for start in range(0, length, 2 * item.dash):
                end = min(start + item.dash, length)
                if x0 == x1:
                    draw.line((x0, y0 + start, x1, y0 + end), fill=item.colour, width=item.width)
                else:
                    draw.line((x0 + start, y0, x0 + end, y1), fill=item.colour, width=item.width)
