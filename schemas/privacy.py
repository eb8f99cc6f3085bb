"""Customer data protection (五条禁令): find and mask phone and ID numbers.

A mainland mobile number is 11 digits starting with 1, optionally written 3-4-4 with
spaces or dashes and optionally preceded by the country code (``+86``, ``0086``, ``86``).
A resident ID number is 17 digits and a check digit or X (optionally 6-8-4 with spaces
or dashes).

A number only counts when it stands on its own: the characters next to it are not ASCII
letters or digits. Any other character (Chinese text, punctuation, a space) or the start
or end of the string delimits it. So ``我的电话13812345678请回电`` holds a phone number,
but a SHA-256 hex hash such as ``ab13812345678cd…`` does not: the digit run is part of a
longer token. The same rule decides both whether a ``customer_ref`` is refused and what
is masked in free text (survey comment, complaint text, dead letters).

Full-width digits, plus, dash, space and X (``１３８－１２３４－５６７８``, typed with a
Chinese input method) are read as their ASCII forms, and a digit of any script continues
a token, so a longer run of digits is never cut into a phone number.
"""

from __future__ import annotations

import re

# Full-width forms a Chinese input method produces, read as ASCII (one character for one,
# so positions in the normalised text are positions in the original).
_FULL_WIDTH = str.maketrans(
    {**{chr(0xFF10 + i): str(i) for i in range(10)}, "＋": "+", "－": "-", "\u3000": " ", "Ｘ": "X", "ｘ": "x"}
)

# A character that continues a token: an ASCII letter, or a digit (\d is Unicode-aware).
_BEFORE = r"(?<![A-Za-z\d])"
_AFTER = r"(?![A-Za-z\d])"
_SEP = r"[ \-]?"
# Optional country code: +86, 0086 or 86, possibly followed by a separator.
_COUNTRY = rf"(?P<cc>(?:\+|00)?86{_SEP})?"
# 1xx xxxx xxxx with optional separators, delimited as above.
PHONE_RE = re.compile(rf"{_BEFORE}{_COUNTRY}(?P<head>1\d{{2}}){_SEP}\d{{4}}{_SEP}(?P<tail>\d{{4}}){_AFTER}")
# 18-character resident ID: 6-digit region, 8-digit birth date, 3-digit sequence, check.
ID_RE = re.compile(rf"{_BEFORE}(?P<head>\d{{6}}){_SEP}\d{{8}}{_SEP}(?P<tail>\d{{3}}[\dXx]){_AFTER}")


def _normalise(text: str) -> str:
    # every character the table maps is outside ASCII: ASCII text (nearly all) is as it is
    return text if text.isascii() else text.translate(_FULL_WIDTH)


def contains_clear_phone(text: str) -> bool:
    return bool(PHONE_RE.search(_normalise(text)))


def contains_clear_id(text: str) -> bool:
    return bool(ID_RE.search(_normalise(text)))


def contains_clear_number(text: str) -> bool:
    """A clear phone or ID number: ``contains_clear_phone(text) or contains_clear_id(text)``."""
    text = _normalise(text)
    return bool(PHONE_RE.search(text) or ID_RE.search(text))


def _sub(pattern: re.Pattern[str], text: str, stars: str, keep_cc: bool) -> str:
    """Replace each match found in the normalised text by head + stars + tail, taken from
    the original text (a full-width number stays full-width, only masked)."""
    out: list[str] = []
    pos = 0
    for m in pattern.finditer(_normalise(text)):
        cc = text[m.start("cc"):m.end("cc")] if keep_cc and m.group("cc") else ""
        out += [text[pos:m.start()], cc, text[m.start("head"):m.end("head")], stars,
                text[m.start("tail"):m.end("tail")]]
        pos = m.end()
    out.append(text[pos:])
    return "".join(out)


def mask_text(text: str) -> str:
    """Mask every phone number as ``138****1234`` (a country code is kept: ``+86138****1234``)
    and every ID number as ``320102********123X``. Text without such a number comes back
    unchanged, hex hashes and long numbers (order numbers) included."""
    text = _sub(ID_RE, text, "********", keep_cc=False)
    return _sub(PHONE_RE, text, "****", keep_cc=True)


def is_safe_customer_ref(ref: str) -> bool:
    """A customer reference is safe when it holds no clear phone or ID number: a hash (hex
    or otherwise) or a masked number like ``138****1234`` is safe."""
    return not contains_clear_number(ref)
