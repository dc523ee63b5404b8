import qrcode
import qrcode.image.svg


def qr_svg(data: str, *, box_size: int = 10) -> str:
    """An inline SVG QR code (no <script>, no style attribute: fine under our CSP)."""
    image = qrcode.make(
        data,
        image_factory=qrcode.image.svg.SvgPathImage,
        box_size=box_size,
        border=4,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
    )
    return image.to_string(encoding="unicode")
