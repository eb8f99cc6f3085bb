"""Customer data protection (五条禁令): find and mask phone and ID numbers.

A mainland mobile number is 11 digits starting with 1; a resident ID number is 17 digits
and a check digit or X. Both may be written with spaces or dashes between groups.
"""

from __future__ import annotations

import re

_SEP = r"[ \-]?"
# 1xx xxxx xxxx with optional separators, not inside a longer run of digits.
PHONE_RE = re.compile(rf"(?<!\d)(1\d{{2}}){_SEP}(\d{{4}}){_SEP}(\d{{4}})(?!\d)")
# 18-character resident ID: 6-digit region, 8-digit birth date, 3-digit sequence, check.
ID_RE = re.compile(r"(?<![\dA-Za-z])(\d{6})(\d{8})(\d{3}[\dXx])(?![\dA-Za-z])")
_ANY_DIGITS_RE = re.compile(r"\d")


def contains_clear_phone(text: str) -> bool:
    return bool(PHONE_RE.search(text))


def contains_clear_id(text: str) -> bool:
    return bool(ID_RE.search(text))


def mask_text(text: str) -> str:
    """Mask every phone number as ``138****1234`` and every ID number as ``320102********123X``."""
    text = ID_RE.sub(lambda m: f"{m.group(1)}********{m.group(3)}", text)
    return PHONE_RE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)


def is_safe_customer_ref(ref: str) -> bool:
    """A customer reference is safe when it holds no clear phone or ID number."""
    return not contains_clear_phone(ref) and not contains_clear_id(ref)
