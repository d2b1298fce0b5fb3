"""A step's images: fetched from ``artifactsUrl`` and made ready to send to a model.

``artifactsUrl`` is one of two things, told apart by the content type it answers with:

- an image (``image/png``, ``image/jpeg``, ``image/webp``, ``image/gif``): that image;
- a listing (``application/json``): a JSON array of image URLs, or an object whose
  ``images`` key holds one; relative URLs are resolved against the listing's URL. At most
  ``max_images`` are taken (more is refused, not truncated, so no image is judged unseen).
  Each image URL passes the same checks as the listing's (:mod:`vision_validator.fetch`).

Each image is decoded with Pillow on the CPU (a decompression bomb — more than
``MAX_PIXELS`` pixels — is refused before it is decoded), the first frame taken, scaled
down so its longer side is at most ``max_side`` pixels, and re-encoded as PNG. What leaves
the task is that re-encoded image, never the caller's bytes.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from vision_validator.fetch import ArtifactFetcher, FetchRefusedError, join_url

IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif")
LISTING_TYPE = "application/json"
MAX_PIXELS = 40_000_000
"""Larger images are refused undecoded (Pillow's own bomb limit is about 179 million)."""


@dataclass(frozen=True)
class PreparedImage:
    url: str
    mime_type: str
    data: bytes
    width: int
    height: int


class ArtifactLoader:
    """Fetches a step's images (one image or a listing) and prepares them."""

    def __init__(self, fetcher: ArtifactFetcher, *, max_images: int = 4, max_side: int = 1024):
        self.fetcher = fetcher
        self.max_images = max_images
        self.max_side = max_side

    def load(self, url: str, deadline: float | None = None) -> list[PreparedImage]:
        """The images at ``url``, or one of the fetcher's ``Fetch*Error``s; every fetch
        ends by ``deadline`` (``time.monotonic()``) when given."""
        first = self.fetcher.fetch(url, (*IMAGE_TYPES, LISTING_TYPE), deadline)
        if first.content_type != LISTING_TYPE:
            return [prepare(first.url, first.body, self.max_side)]
        urls = self._listing(first.url, first.body)
        images = []
        for image_url in urls:
            fetched = self.fetcher.fetch(image_url, IMAGE_TYPES, deadline)
            images.append(prepare(fetched.url, fetched.body, self.max_side))
        return images

    def _listing(self, base: str, body: bytes) -> list[str]:
        try:
            data = json.loads(body)
        except ValueError:
            raise FetchRefusedError("the listing is not JSON") from None
        if isinstance(data, dict):
            data = data.get("images")
        if not isinstance(data, list) or not all(isinstance(u, str) and u for u in data):
            raise FetchRefusedError(
                'the listing is not a list of image URLs (or {"images": [...]})'
            )
        if not data:
            raise FetchRefusedError("the listing names no image")
        if len(data) > self.max_images:
            raise FetchRefusedError(
                f"the listing names {len(data)} images; at most {self.max_images}"
            )
        return [join_url(base, u) for u in data]


def prepare(url: str, data: bytes, max_side: int) -> PreparedImage:
    """``data`` decoded, scaled to at most ``max_side`` and re-encoded as PNG (CPU)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_PIXELS:
                raise FetchRefusedError(
                    f"the image is {image.width}x{image.height}; at most {MAX_PIXELS} pixels"
                )
            image.seek(0)
            frame = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    except FetchRefusedError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise FetchRefusedError("the artefact is not a decodable image") from None
    frame.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    # Level 1: the image crosses the network once, to the provider; the default level (6)
    # took about half of this function's time for a 640x480 image, to save a few bytes.
    frame.save(out, format="PNG", compress_level=1)
    return PreparedImage(
        url=url, mime_type="image/png", data=out.getvalue(), width=frame.width, height=frame.height
    )


def describe(images: Sequence[PreparedImage]) -> str:
    """A log-safe summary (sizes only; URLs may carry signatures)."""
    return ", ".join(f"{i.width}x{i.height}" for i in images)
