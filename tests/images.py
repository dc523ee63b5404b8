"""Image files for upload tests, made in memory."""

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image


def image_upload(name="logo.png", size=(64, 64), fmt="PNG", mode="RGB", colour="red") -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new(mode, size, colour).save(out, format=fmt)
    return SimpleUploadedFile(name, out.getvalue(), content_type=f"image/{fmt.lower()}")


def bomb_upload() -> SimpleUploadedFile:
    """A few kilobytes on disk that would unpack to 144 million pixels."""
    out = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(out, format="PNG", optimize=True)
    return SimpleUploadedFile("bomb.png", out.getvalue(), content_type="image/png")
