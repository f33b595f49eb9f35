"""Images for the image-text-to-text task: generated or dataset pictures encoded as data URIs, the chat content that
carries them, and the token count a vision model gives an image of a size (the client's estimate and the simulator's
count use the same rule).

Pillow is an optional dependency (`pip install 'genai-bench[images]'`); it is imported only when an image is made or
read, so text benchmarks never need it.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IMAGE_TASK = "image-text-to-text"
IMAGE_FORMATS = ("jpeg", "png")
MISSING_PILLOW = "images need Pillow: install the images extra, pip install 'genai-bench[images]'"
# Scenario limits: a side beyond 8192 pixels or more than 64 images is no request a vision server takes.
MAX_IMAGE_SIDE = 8192
MAX_IMAGES = 64
JPEG_QUALITY = 85

# The token rule (OpenAI's "high detail" one, which also fits tile-based open models): an image is scaled to fit
# within 2048 x 2048, then its shortest side down to 768; it costs 170 tokens per 512 x 512 tile it spans, plus 85.
_FIT_SIDE = 2048
_SHORT_SIDE = 768
_TILE = 512
_TOKENS_PER_TILE = 170
_BASE_TOKENS = 85
# Base64 characters decoded to read an image's header: Pillow's JPEG and PNG headers end well within this.
_HEADER_CHARS = 64 * 1024
_PALETTE_GRID = 8  # a random colour grid this wide, upscaled, gives photo-like smooth regions
_STAMP = 32  # side of the per-image noise square that makes every generated image's pixels unique


class ImagesUnavailable(RuntimeError):
    """Pillow is not installed; the message is one line naming the extra to install."""


def require_pillow() -> Any:
    """The PIL.Image module, or ImagesUnavailable naming the extra to install."""
    try:
        from PIL import Image
    except ImportError:
        raise ImagesUnavailable(MISSING_PILLOW) from None
    return Image


def image_tokens(width: int, height: int) -> int:
    """Prompt tokens of a width x height image under the high-detail tile rule (see the module's constants)."""
    if width < 1 or height < 1:
        raise ValueError(f"image sides must be positive, got {width}x{height}")
    w, h = float(width), float(height)
    if max(w, h) > _FIT_SIDE:
        scale = _FIT_SIDE / max(w, h)
        w, h = w * scale, h * scale
    if min(w, h) > _SHORT_SIDE:
        scale = _SHORT_SIDE / min(w, h)
        w, h = w * scale, h * scale
    # Rounded to whole pixels before tiling, so float error never adds a tile (768.0000001 / 512).
    tiles = math.ceil(round(w) / _TILE) * math.ceil(round(h) / _TILE)
    return _TOKENS_PER_TILE * tiles + _BASE_TOKENS


@dataclass(frozen=True)
class EncodedImage:
    """One encoded image: its data URI and the size of its encoded bytes (before base64)."""

    url: str
    nbytes: int
    width: int
    height: int


class ImageMaker:
    """Builds a request's images in one format: generated ones of an asked size, or dataset pictures resized to it."""

    def __init__(self, image_format: str = "jpeg", base_dir: Path | None = None) -> None:
        if image_format not in IMAGE_FORMATS:
            raise ValueError(f"image format must be one of {', '.join(IMAGE_FORMATS)}, got {image_format!r}")
        self.Image = require_pillow()
        self.format = image_format
        self.base_dir = base_dir  # where relative image paths of a dataset are found
        self._backgrounds: dict[tuple[int, int], Any] = {}

    def generate(self, width: int, height: int, seed: int) -> EncodedImage:
        """A width x height picture made from `seed`: a smooth colour field with a unique noise stamp and label.

        Servers cache images by their pixels (vLLM hashes the decoded image), so each seed's pixels must differ; the
        field is drawn once per size and its colours shifted per seed, and the stamp and label make each one distinct.
        """
        import numpy as np
        from PIL import ImageDraw

        rng = np.random.default_rng(seed)
        image = self._background(width, height).copy()
        shift = [int(v) for v in rng.integers(0, 256, size=3)]
        image = image.point([(value + band) % 256 for band in shift for value in range(256)])
        side = min(_STAMP, width, height)
        stamp = rng.integers(0, 256, size=(side, side, 3), dtype=np.uint8)
        image.paste(self.Image.fromarray(stamp, "RGB"),
                    (int(rng.integers(0, width - side + 1)), int(rng.integers(0, height - side + 1))))
        ImageDraw.Draw(image).text((2, 2), f"genai-bench {seed}", fill=tuple(shift))
        return self.encode(image)

    def load(self, source: Any, width: int, height: int) -> EncodedImage:
        """A dataset's image (a path, bytes, {"bytes"/"path"} or a PIL image) resized to width x height."""
        image = self._open(source)
        if image.mode != "RGB":
            image = image.convert("RGB")
        if image.size != (width, height):
            image = image.resize((width, height), self.Image.Resampling.LANCZOS)
        return self.encode(image)

    def encode(self, image: Any) -> EncodedImage:
        """`image` encoded in the maker's format as a base64 data URI."""
        buffer = io.BytesIO()
        if self.format == "jpeg":
            image.save(buffer, format="JPEG", quality=JPEG_QUALITY)
        else:
            image.save(buffer, format="PNG")
        data = buffer.getvalue()
        url = f"data:image/{self.format};base64,{base64.b64encode(data).decode('ascii')}"
        return EncodedImage(url, len(data), image.width, image.height)

    def _background(self, width: int, height: int) -> Any:
        """The smooth colour field of one size, drawn once (a tiny random grid upscaled bilinearly)."""
        key = (width, height)
        if key not in self._backgrounds:
            import numpy as np

            grid = np.random.default_rng(width * 100_003 + height).integers(
                0, 256, size=(_PALETTE_GRID, _PALETTE_GRID, 3), dtype=np.uint8)
            self._backgrounds[key] = self.Image.fromarray(grid, "RGB").resize((width, height),
                                                                               self.Image.Resampling.BILINEAR)
        return self._backgrounds[key]

    def _open(self, source: Any) -> Any:
        if isinstance(source, dict):
            source = source.get("bytes") or source.get("path")
        if isinstance(source, (bytes, bytearray)):
            return self.Image.open(io.BytesIO(source))
        if isinstance(source, str):
            path = Path(source)
            if not path.is_absolute() and self.base_dir is not None:
                path = self.base_dir / path
            return self.Image.open(path)
        if hasattr(source, "size") and hasattr(source, "convert"):
            return source  # already a PIL image (a Hugging Face Image column decodes to one)
        raise ValueError(f"an image must be a path, bytes or a picture, got {type(source).__name__}")


def chat_messages(text: str, images: list[EncodedImage]) -> list[dict]:
    """One user message carrying the text first, then each image as an image_url part (upstream's order)."""
    content: list[dict] = [{"type": "text", "text": text}]
    content += [{"type": "image_url", "image_url": {"url": image.url}} for image in images]
    return [{"role": "user", "content": content}]


def image_urls(messages: list[Any]) -> list[str]:
    """The image_url URLs of every message's content parts, in order."""
    return [part["image_url"]["url"] if isinstance(part.get("image_url"), dict) else part.get("image_url")
            for message in messages if isinstance(message, dict) and isinstance(message.get("content"), list)
            for part in message["content"] if isinstance(part, dict) and part.get("type") == "image_url"]


def data_uri_size(url: Any) -> tuple[int, int]:
    """(width, height) of a base64 image data URI, read from its header only; ValueError when it is not one."""
    if not isinstance(url, str) or not url.startswith("data:image/") or ";base64," not in url:
        raise ValueError("an image_url must be a base64 data:image/... URI")
    Image = require_pillow()
    payload = url[url.index(";base64,") + 8:]
    # The header alone first (a few KB of a possibly large image); the whole image if its header runs longer.
    tries = (payload[:_HEADER_CHARS], payload) if len(payload) > _HEADER_CHARS else (payload,)
    for chars in tries:
        try:
            return Image.open(io.BytesIO(base64.b64decode(chars))).size
        except (OSError, SyntaxError, binascii.Error, ValueError):
            continue
    raise ValueError("an image_url's data is not a readable image")
