"""Turn a fetched page's bytes into correct Unicode, whatever its headers and meta tags claim."""

from __future__ import annotations

import codecs
import encodings
import logging
from collections.abc import Iterator

from charset_normalizer import from_bytes
from charset_normalizer.utils import is_multi_byte_encoding
from w3lib.encoding import (
    html_body_declared_encoding,
    http_content_type_encoding,
    read_bom,
    resolve_encoding,
)

LOGGER = logging.getLogger(__name__)

# Labels browsers accept for CP949 that Python's codec registry does not know. w3lib already maps
# euc-kr and ks_c_5601-1987 to cp949 (its superset, which real "EUC-KR" pages need for the
# extended Hangul syllables); registering these makes w3lib, and Scrapy through it, read them too.
_CP949_LABELS = frozenset({"x_windows_949", "windows_949", "x_euc_kr"})


def _cp949_labels(name: str) -> codecs.CodecInfo | None:
    return codecs.lookup("cp949") if name in _CP949_LABELS else None


codecs.register(_cp949_labels)


def decode_html(body: bytes, content_type: str | None = None) -> str:
    """Decode a page, trusting the bytes over the declarations when the two disagree.

    A byte-order mark is authoritative. Otherwise encodings are tried strictly in order of how much
    a clean decode proves: UTF-8, then the declared multi-byte charsets (header, then meta), then
    the declared single-byte ones, then charset-normalizer's guess. A multi-byte decode that
    succeeds is strong evidence, because random legacy bytes almost never form valid sequences;
    a single-byte charset decodes nearly anything, so "ISO-8859-1" in a server's default header
    must not beat the page's own `<meta charset="euc-kr">`. Replacement characters only as a
    last resort, in the first declared charset.
    """
    if not body:
        return ""
    bom_encoding, bom = read_bom(body)
    if bom_encoding and bom:
        return body[len(bom) :].decode(bom_encoding, errors="replace")
    declared = _declared(body, content_type)
    for encoding in _candidates(body, declared):
        try:
            return body.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    fallback = declared[0] if declared else "utf-8"
    LOGGER.debug("no charset decodes cleanly, replacing undecodable bytes as %s", fallback)
    return body.decode(fallback, errors="replace")


def _declared(body: bytes, content_type: str | None) -> list[str]:
    """The charsets the HTTP header and the page itself declare, header first, without repeats."""
    found = (http_content_type_encoding(content_type), html_body_declared_encoding(body))
    return list(dict.fromkeys(name for name in found if name))


def _is_multi_byte(encoding: str) -> bool:
    return is_multi_byte_encoding(encodings.normalize_encoding(encoding).lower())


def _candidates(body: bytes, declared: list[str]) -> Iterator[str]:
    """Encodings worth a strict decode, most convincing first; detection runs only if reached."""
    if declared and declared[0].startswith(("utf-16", "utf-32")):
        # Without a BOM, UTF-16 ASCII text is also "valid" UTF-8 (full of NULs): keep its order.
        yield declared[0]
    yield "utf-8"
    yield from (name for name in declared if _is_multi_byte(name))
    yield from (name for name in declared if not _is_multi_byte(name))
    guess = from_bytes(body).best()
    if guess is not None:
        yield resolve_encoding(guess.encoding) or guess.encoding
