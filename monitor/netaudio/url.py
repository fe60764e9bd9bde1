"""Network input URLs: what is accepted, and how they are shown without their secrets.

A URL may carry credentials (``rtsp://user:pass@camera/stream``) or a token in
its query (``?token=...``). Neither may reach a log line, an event's
``source``, ``systemctl status`` or an error message: everything shown goes
through :func:`redact_url` (or :func:`redact_text` for ffmpeg's own messages,
which quote the URL). The ffmpeg command line itself still holds the URL, as
any program's arguments do (see docs/network-audio.md).
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import unquote, urlsplit

MASK: Final = "***"
URL_PATTERN: Final = r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$"
"""``scheme://rest`` with no spaces: ``rtsp://...``, ``http://...``, ``srt://...``, ``file://...``."""
_URL: Final = re.compile(URL_PATTERN)
_USERINFO: Final = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/\s]*@)")
_BARE_USERINFO: Final = re.compile(r"(?<![\w/:@.-])[^\s/@:'\"]+:[^\s/'\"]*@")
"""``user:password@host`` written without a scheme (a mistyped URL in a config error)."""
_SECRET_PARAM: Final = re.compile(
    r"(?P<key>[?&;](?:[^=&;#\s]*(?:pass|pwd|token|secret|key|auth|sig|credential)[^=&;#\s]*)=)"
    r"(?P<value>[^&;#\s]*)", re.IGNORECASE)  # fmt: skip
_SECRET_ARG: Final = re.compile(r"authorization|cookie|pass|token|secret", re.IGNORECASE)


def is_url(text: str) -> bool:
    """True for ``scheme://rest`` (what ``--input`` takes); False for device names."""
    return bool(_URL.match(text))


def redact_url(url: str) -> str:
    """``url`` with ``user:pass@`` as ``***@`` and secret-looking query values as ``***``."""
    shown = _USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", url)
    shown = _BARE_USERINFO.sub(f"{MASK}@", shown)
    return _SECRET_PARAM.sub(lambda m: f"{m['key']}{MASK}", shown)


def secrets_of(url: str) -> list[str]:
    """The literal secrets in ``url`` (user info, password, secret query values), as written
    and percent-decoded, longest first: what :func:`redact_text` removes from free text."""
    found: set[str] = set()
    try:
        parts = urlsplit(url)
        if parts.password:
            found |= {parts.password, unquote(parts.password)}
    except ValueError:
        pass
    for match in _USERINFO.finditer(url):
        found.add(match["userinfo"][:-1])
    for match in _SECRET_PARAM.finditer(url):
        found |= {match["value"], unquote(match["value"])}
    return sorted((s for s in found if len(s) >= 3), key=len, reverse=True)


def redact_text(text: str, url: str) -> str:
    """Free text (an ffmpeg message) with ``url``'s secrets masked wherever they appear."""
    shown = redact_url(text)
    for secret in secrets_of(url):
        shown = shown.replace(secret, MASK)
    return shown


def redact_args(args: list[str] | tuple[str, ...]) -> list[str]:
    """ffmpeg input options for a log: values that look secret (headers, cookies) masked."""
    return [MASK if _SECRET_ARG.search(arg) else redact_url(arg) for arg in args]
