"""Validate uploaded images and re-encode them before they are stored.

Nothing a user uploads is stored as sent: it is decoded by Pillow, checked,
stripped of metadata, resized and written again as PNG. A file that is not an
image, is too big on disk or unpacks to too many pixels is refused with a
message the user can act on.
"""

import io
import uuid
import warnings

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
# A 4,000 x 4,000 photo is plenty for a logo; more pixels than this is either a
# mistake or a decompression bomb (a tiny file that unpacks to gigabytes).
MAX_PIXELS = 16_000_000
ALLOWED_FORMATS = {"PNG", "JPEG", "GIF", "WEBP"}


def reencode_image(upload, *, max_side: int = 512) -> ContentFile:
    if upload.size > MAX_UPLOAD_BYTES:
        raise ValidationError(
            _("This file is %(size)s; images may be at most %(limit)s."),
            code="too_large",
            params={"size": filesizeformat(upload.size), "limit": filesizeformat(MAX_UPLOAD_BYTES)},
        )
    not_an_image = ValidationError(
        _("This file is not an image we can read. Upload a PNG, JPEG, GIF or WebP file."), code="not_an_image"
    )
    too_many_pixels = ValidationError(
        _("This image is too large in pixels. Use one of at most 4000 × 4000 pixels."), code="too_many_pixels"
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            upload.seek(0)
            # open() reads only the header, so the size is known before any
            # pixel is decoded.
            image = Image.open(upload)
            if image.format not in ALLOWED_FORMATS:
                raise not_an_image
            if image.width * image.height > MAX_PIXELS:
                raise too_many_pixels
            image.verify()
            upload.seek(0)
            image = Image.open(upload)
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_many_pixels from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise not_an_image from None

    image = ImageOps.exif_transpose(image).convert("RGBA")
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return ContentFile(out.getvalue(), name=f"{uuid.uuid4().hex}.png")
