"""String formats the real server checks (strfmt.Default, minus what k8s strips).

Unknown formats are not checked, as on a real server; hostname, email, duration... are not
reproduced either.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import ipaddress
import re
from collections.abc import Callable

_UUID = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?{v}[0-9a-fA-F]{3}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_MAC = re.compile(
    r"^([0-9a-fA-F]{2}([:-])){5}[0-9a-fA-F]{2}$|^([0-9a-fA-F]{2}([:-])){7}[0-9a-fA-F]{2}$"
    r"|^([0-9a-fA-F]{2}([:-])){19}[0-9a-fA-F]{2}$|^([0-9a-fA-F]{4}\.){2}[0-9a-fA-F]{4}$"
)


def _uuid_check(version: str) -> Callable[[str], bool]:
    pattern = re.compile("^" + _UUID.replace("{v}", version) + "$")
    return lambda s: bool(pattern.match(s))


def _is_ip(text: str, version: int) -> bool:
    try:
        return ipaddress.ip_address(text.split("%")[0]).version == version or (version == 6 and ":" in text)
    except ValueError:
        return False


def _is_cidr(text: str) -> bool:
    try:
        ipaddress.ip_interface(text)
    except ValueError:
        return False
    return "/" in text


def _is_date(text: str) -> bool:
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


def parse_date_time(text: str) -> datetime.datetime | None:
    """An RFC 3339 date-time (what `format: date-time` accepts and CEL sees as a timestamp)."""
    if not _DATE_TIME.match(text):
        return None
    try:
        return datetime.datetime.fromisoformat(text.upper().replace("Z", "+00:00").replace(" ", "T"))
    except ValueError:
        return None


def _is_date_time(text: str) -> bool:
    return parse_date_time(text) is not None


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


FORMATS: dict[str, Callable[[str], bool]] = {
    "ipv4": lambda s: _is_ip(s, 4) and "." in s,
    "ipv6": lambda s: _is_ip(s, 6),
    "cidr": _is_cidr,
    "mac": lambda s: bool(_MAC.match(s)),
    "uuid": _uuid_check("[0-9a-fA-F]"),
    "uuid3": _uuid_check("3"),
    "uuid4": _uuid_check("4"),
    "uuid5": _uuid_check("5"),
    "date": _is_date,
    "date-time": _is_date_time,
    "datetime": _is_date_time,
    "byte": _is_base64,
}
"""Format name -> check of a string value."""
