"""Where the page loads its assets from: this server's static/ (default, offline), or --static-url (a CDN or an
internal mirror of static/), each remote file pinned by a subresource-integrity hash of the local copy."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from flask import url_for
from markupsafe import Markup, escape

from genai_bench.config import ConfigError
from genai_bench.web.security import PAGE_POLICY

STATIC_URL_HELP = ("Load the page's CSS/JS from this base URL (a CDN or mirror holding a copy of static/), each file "
                   "checked by a sha384 integrity hash of the local one; it must send Access-Control-Allow-Origin. "
                   "Default: this server, offline.")


def static_url_problem(url: str) -> str | None:
    """Why `url` cannot be a --static-url, or None."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "give an http(s) URL such as https://cdn.example.com/genai-bench/static"
    if parts.query or parts.fragment:
        return "a base URL takes no query or fragment"
    return None


def checked_static_url(url: str | None) -> str | None:
    """--static-url as given (None: local assets), or a one-line ConfigError."""
    if url is None:
        return None
    problem = static_url_problem(url)
    if problem:
        raise ConfigError(f"--static-url {url!r}: {problem}")
    return url.rstrip("/")


def integrity_of(path: Path) -> str:
    """The subresource-integrity value (sha384) of one file."""
    return "sha384-" + base64.b64encode(hashlib.sha384(path.read_bytes()).digest()).decode()


@dataclass(frozen=True)
class StaticAssets:
    """The page's asset URLs: url_for('static') locally, or base_url + path with the local file's integrity hash."""

    folder: Path
    base_url: str | None = None
    hashes: dict[str, str] = field(default_factory=dict)  # relative path -> sha384 value, computed once at startup

    @classmethod
    def of(cls, folder: Path, base_url: str | None) -> StaticAssets:
        """Assets under `folder`, served from `base_url` when given (every file hashed now, not per page)."""
        base_url = checked_static_url(base_url)
        if base_url is None:
            return cls(folder)
        hashes = {path.relative_to(folder).as_posix(): integrity_of(path)
                  for path in sorted(folder.rglob("*")) if path.is_file()}
        return cls(folder, base_url, hashes)

    @property
    def origin(self) -> str | None:
        """The scheme://host[:port] the assets come from, or None when local."""
        if self.base_url is None:
            return None
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    def url(self, path: str) -> str:
        """The address of static/`path` as the page should load it."""
        if self.base_url is None:
            return url_for("static", filename=path)
        return f"{self.base_url}/{path}"

    def attributes(self, path: str) -> Markup:
        """` integrity="…" crossorigin="anonymous"` for a remote asset (empty when local)."""
        if self.base_url is None:
            return Markup("")
        return Markup(f' integrity="{escape(self.hashes[path])}" crossorigin="anonymous"')

    def script(self, path: str) -> Markup:
        """A deferred <script> tag for static/`path`."""
        return Markup(f'<script src="{escape(self.url(path))}"{self.attributes(path)} defer></script>')

    def stylesheet(self, path: str) -> Markup:
        """A <link rel=stylesheet> tag for static/`path`."""
        return Markup(f'<link rel="stylesheet" href="{escape(self.url(path))}"{self.attributes(path)}>')

    def page_policy(self) -> str:
        """The page's Content-Security-Policy: its own origin, plus the asset origin for scripts and styles."""
        if self.origin is None:
            return PAGE_POLICY
        return f"{PAGE_POLICY}; script-src 'self' {self.origin}; style-src 'self' {self.origin}"
