"""What a poster is drawn from: filled shapes, lines of text, the QR code, pictures and rules, in pixels
at 300 dpi. The plan (``layout.plan``) lists them; Pillow and fpdf2 each draw the same list."""

from dataclasses import dataclass

from PIL import Image

Box = tuple[int, int, int, int]  # left, top, right, bottom


Colour = tuple[int, int, int]


@dataclass(frozen=True)
class _Fill:
    box: Box
    colour: Colour
    radius: int = 0


@dataclass(frozen=True)
class _Line:
    """One line of text on its baseline, from its left end or around its middle."""

    text: str
    x: int
    baseline: int
    size: int
    stroke: int  # a thin outline in the text's colour sets it a little bolder
    language: str
    colour: Colour
    centred: bool


@dataclass(frozen=True)
class _Code:
    """A QR code, quiet zone included: True is a dark module."""

    matrix: tuple[tuple[bool, ...], ...]
    left: int
    top: int
    module: int

    @property
    def box(self) -> Box:
        side = len(self.matrix) * self.module
        return (self.left, self.top, self.left + side, self.top + side)


@dataclass(frozen=True, eq=False)
class _Picture:
    image: Image.Image  # RGBA, stretched to the box (which keeps its proportions)
    box: Box


@dataclass(frozen=True)
class _Rule:
    start: tuple[int, int]
    end: tuple[int, int]
    width: int
    colour: Colour
    dash: int = 0  # dash and gap length; 0 for a solid line
