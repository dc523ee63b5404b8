"""The poster as a PDF: fpdf2 draws the plan as vectors, with real text in the embedded font (selectable and
searchable) and the QR code as filled squares."""

from datetime import UTC, datetime

from fpdf import FPDF
from fpdf.enums import PathPaintRule, TextMode

from .fonts import _face, _face_index, cjk_font_path
from .items import _Code, _Fill, _Line, _Picture, _Rule
from .layout import Sheet
from .units import DPI

# A PDF must say when it was made; a fixed date keeps the same poster the same bytes.
PDF_DATE = datetime(2000, 1, 1, tzinfo=UTC)
K = 72 / DPI


def _pdf(sheet: Sheet, *, title: str, language: str) -> bytes:
    width, height = sheet.spec.size
    pdf = FPDF(unit="pt", format=(width * K, height * K))
    pdf.set_creation_date(PDF_DATE)
    pdf.set_title(title)
    pdf.set_lang(language)
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.add_page()
    if sheet.spec.tent:
        panel_height = sheet.spec.panel[1]
        # The top panel is the lower one turned about the top half's centre.
        with pdf.rotation(180, x=width * K / 2, y=panel_height * K / 2):
            _draw_pdf(pdf, sheet.panel, 0)
        _draw_pdf(pdf, sheet.panel, height - panel_height)
        _draw_pdf(pdf, sheet.fold, 0)
    else:
        _draw_pdf(pdf, sheet.panel, 0)
    return bytes(pdf.output())


def _draw_pdf(pdf: FPDF, items: list, dy: int) -> None:
    for item in items:
        if isinstance(item, _Fill):
            left, top, right, bottom = item.box
            pdf.set_fill_color(*item.colour)
            pdf.rect(
                left * K,
                (top + dy) * K,
                (right - left) * K,
                (bottom - top) * K,
                style="F",
                round_corners=bool(item.radius),
                corner_radius=item.radius * K,
            )
        elif isinstance(item, _Line):
            face = _face(item.language)
            if face.lower() not in pdf.fonts:
                pdf.add_font(face, fname=str(cjk_font_path()), collection_font_number=_face_index(face))
            # fpdf2 sets the text mode for outlined text and does not set it back for the next
            # line: a graphics state of its own for each line keeps it from spilling over.
            with pdf.local_context():
                pdf.set_font(face, size=item.size * K)
                pdf.set_text_color(*item.colour)
                if item.stroke:
                    pdf.text_mode = TextMode.FILL_STROKE
                    pdf.set_draw_color(*item.colour)
                    pdf.set_line_width(2 * item.stroke * K)
                x = item.x * K - pdf.get_string_width(item.text) / 2 if item.centred else (item.x + item.stroke) * K
                pdf.text(x, (item.baseline + dy) * K, item.text)
        elif isinstance(item, _Code):
            # One path of squares, one fill: no seams between modules where a viewer smooths edges.
            module = item.module * K
            with pdf.new_path(paint_rule=PathPaintRule.FILL_NONZERO) as path:
                path.style.fill_color = "#000000"
                path.style.stroke_color = None
                for row, modules in enumerate(item.matrix):
                    column = 0
                    while column < len(modules):
                        if not modules[column]:
                            column += 1
                            continue
                        run = column
                        while run < len(modules) and modules[run]:
                            run += 1
                        x = item.left * K + column * module
                        y = (item.top + dy) * K + row * module
                        path.rectangle(x, y, (run - column) * module, module)
                        column = run
        elif isinstance(item, _Picture):
            left, top, right, bottom = item.box
            pdf.image(item.image, x=left * K, y=(top + dy) * K, w=(right - left) * K, h=(bottom - top) * K)
        elif isinstance(item, _Rule):
            (x0, y0), (x1, y1) = item.start, item.end
            pdf.set_draw_color(*item.colour)
            pdf.set_line_width(item.width * K)
            pdf.set_dash_pattern(dash=item.dash * K, gap=item.dash * K)
            pdf.line(x0 * K, (y0 + dy) * K, x1 * K, (y1 + dy) * K)
            pdf.set_dash_pattern()
