"""CEL (`x-kubernetes-validations`) evaluation for the emulated API server.

Library choice: `common-expression-language` (PyPI, import name `cel`, Rust `cel` crate behind
PyO3) rather than `cel-python` (`celpy`). Both were tried on what this module needs:

* speed: a rule like ``self.spec.ranges.all(r, r.start != '') && self.spec.vlan < 4095`` takes about
  2 ms per evaluation with celpy and about 60 us with `cel` (compile: 1.3 ms vs 0.14 ms). The
  sandbox benchmark creates 10,000 objects with several rules each, so celpy alone would cost
  tens of seconds;
* custom functions: both accept plain Python callables; `cel` calls ``x.f(y)`` as ``f(x, y)``, so the
  Kubernetes IP/CIDR library is written as small functions over tagged dicts (see `_ip_value`);
* ``has()`` on absent fields, the ``all/exists/exists_one/map/filter`` macros, ``matches``,
  ``startsWith``... work in both; `cel` also has optional values (for ``optionalOldSelf``),
  heterogeneous numeric equality (``1 == 1.0``, as cel-go) and the strings/lists extensions;
* errors: `cel` raises ordinary Python exceptions (ValueError on parse errors, KeyError for a
  missing key, ...), which are turned into the wording of cel-go / the real server here.

It is not in pyproject's dependencies yet: ``common-expression-language>=0.10,<0.11`` must be.

Programs are compiled once per rule text (`functools.lru_cache`) and reused for every object.
"""

from __future__ import annotations

import functools
import ipaddress
import itertools
import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cel
from cel import stdlib

# The Rust extension logs every exception raised by a Python callback on the "cel" logger; those
# are expected (e.g. ip('not-an-ip')) and reported as causes, so keep them off stderr.
logging.getLogger("cel").addHandler(logging.NullHandler())
logging.getLogger("cel").propagate = False

_IP_TAG = "__kvsriov_ip__"
_CIDR_TAG = "__kvsriov_cidr__"

# CEL reserved words: a property with one of these names is visible as __<name>__ (k8s cel.Escape).
_RESERVED = frozenset(
    {
        "true",
        "false",
        "null",
        "in",
        "as",
        "break",
        "const",
        "continue",
        "else",
        "for",
        "function",
        "if",
        "import",
        "let",
        "loop",
        "package",
        "namespace",
        "return",
        "var",
        "void",
        "while",
    }
)
_ESCAPABLE = re.compile(r"^[a-zA-Z_.\-/][a-zA-Z0-9_.\-/]*$")

# Functions the rule may call besides those registered in `_FUNCTIONS`; anything else is an
# "undeclared reference", which the real server reports when the CRD is created.
_BUILTINS = frozenset(
    {
        "size",
        "has",
        "matches",
        "contains",
        "startsWith",
        "endsWith",
        "int",
        "uint",
        "double",
        "string",
        "bytes",
        "bool",
        "timestamp",
        "duration",
        "dyn",
        "type",
        "all",
        "exists",
        "exists_one",
        "map",
        "filter",
        "hasValue",
        "value",
        "orValue",
        "or",
        "optional.of",
        "optional.none",
        "optional.ofNonZeroValue",
        "getFullYear",
        "getMonth",
        "getDayOfYear",
        "getDayOfMonth",
        "getDate",
        "getDayOfWeek",
        "getHours",
        "getMinutes",
        "getSeconds",
        "getMilliseconds",
    }
)


def escape_property(name: str) -> str | None:
    """The CEL field name of property `name` (None: not accessible from CEL), like k8s cel.Escape."""
    if name in _RESERVED:
        return f"__{name}__"
    if not _ESCAPABLE.match(name):
        return None
    out = name.replace("__", "__underscores__")
    return out.replace(".", "__dot__").replace("-", "__dash__").replace("/", "__slash__")


# --- Kubernetes IP / CIDR library (k8s.io/apiserver/pkg/cel/library/ip.go, cidr.go) -------------


@functools.lru_cache(maxsize=8192)
def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """Parse like netip.ParseAddr with the k8s restrictions: no zone, no IPv4-mapped IPv6."""
    quoted = json.dumps(text) if isinstance(text, str) else repr(text)
    error = f"IP Address {quoted} parse error during conversion from string: ParseAddr({quoted})"
    if not isinstance(text, str) or "%" in text:
        raise ValueError(f"{error}: unable to parse IP")
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise ValueError(f"{error}: unable to parse IP") from None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        raise ValueError(f"IPv4-mapped IPv6 address {quoted} is not allowed")
    return addr


@functools.lru_cache(maxsize=8192)
def _parse_cidr(text: str) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    """Parse like netip.ParsePrefix: host bits may be set (`cidr('10.0.0.1/8').ip()` keeps them)."""
    if not isinstance(text, str) or "/" not in text:
        raise ValueError(f"network address {text!r} parse error during conversion from string")
    addr_text, _, bits = text.partition("/")
    addr = _parse_ip(addr_text)
    if not bits.isdigit() or (len(bits) > 1 and bits[0] == "0"):
        raise ValueError(f"network address {text!r} parse error during conversion from string")
    return ipaddress.ip_interface(f"{addr}/{int(bits)}")


def _ip_value(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> dict[str, str]:
    """An IP as a CEL value: a tagged map, so equality compares canonical forms."""
    return {_IP_TAG: str(addr)}


def _cidr_value(net: ipaddress.IPv4Interface | ipaddress.IPv6Interface) -> dict[str, str]:
    """A CIDR as a CEL value (address as written, not masked, like netip.Prefix)."""
    return {_CIDR_TAG: str(net)}


def _as_ip(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """Accept an ip() value or a string (containsIP takes both)."""
    if isinstance(value, dict) and _IP_TAG in value:
        return ipaddress.ip_address(value[_IP_TAG])
    return _parse_ip(value)


def _as_cidr(value: Any) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    """Accept a cidr() value or a string (containsCIDR takes both)."""
    if isinstance(value, dict) and _CIDR_TAG in value:
        return ipaddress.ip_interface(value[_CIDR_TAG])
    return _parse_cidr(value)


def _fn_ip(value: Any) -> dict[str, str]:
    """ip(string) parses an address; cidr.ip() is the same name called on a CIDR value."""
    if isinstance(value, dict) and _CIDR_TAG in value:
        return _ip_value(ipaddress.ip_interface(value[_CIDR_TAG]).ip)
    return _ip_value(_parse_ip(value))


def _is_valid(parse: Callable[[Any], Any], value: Any) -> bool:
    """isIP / isCIDR: whether `parse` accepts the string."""
    try:
        parse(value)
    except ValueError:
        return False
    return True


def _fn_contains_ip(net: Any, addr: Any) -> bool:
    """cidr.containsIP(ip|string)."""
    prefix, ip = _as_cidr(net).network, _as_ip(addr)
    return ip.version == prefix.version and ip in prefix


def _fn_contains_cidr(net: Any, other: Any) -> bool:
    """cidr.containsCIDR(cidr|string)."""
    outer, inner = _as_cidr(net).network, _as_cidr(other).network
    # typeshed types subnet_of() only within one network class; the versions match here
    return inner.version == outer.version and inner.subnet_of(outer)  # type: ignore[arg-type]


def _fn_is_canonical(text: str) -> bool:
    """ip.isCanonical(string): the string is the canonical form of its address."""
    return str(_parse_ip(text)) == text


def _fn_string(value: Any) -> str:
    """string(x), extended to ip/cidr values and bools (missing from the Rust builtin)."""
    if isinstance(value, dict) and (_IP_TAG in value or _CIDR_TAG in value):
        return value.get(_IP_TAG) or value[_CIDR_TAG]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- lists and regex extensions (k8s.io/apiserver/pkg/cel/library/lists.go, regex.go) ------------


def _fn_is_sorted(items: list[Any]) -> bool:
    """list.isSorted()."""
    return all(a <= b for a, b in itertools.pairwise(items))


def _fn_index_of(haystack: Any, needle: Any, *rest: Any) -> int:
    """indexOf for lists (k8s lists library) and strings (strings extension)."""
    if isinstance(haystack, list):
        return next((i for i, x in enumerate(haystack) if x == needle), -1)
    return stdlib.index_of(haystack, needle, *rest)


def _fn_last_index_of(haystack: Any, needle: Any, *rest: Any) -> int:
    """lastIndexOf for lists and strings."""
    if isinstance(haystack, list):
        return next((i for i in range(len(haystack) - 1, -1, -1) if haystack[i] == needle), -1)
    return stdlib.last_index_of(haystack, needle, *rest)


def _fn_find(text: str, pattern: str) -> str:
    """string.find(regex): first match or ''."""
    found = re.search(pattern, text)
    return found.group(0) if found else ""


def _fn_find_all(text: str, pattern: str, limit: int = -1) -> list[str]:
    """string.findAll(regex[, limit])."""
    matches = [m.group(0) for m in re.finditer(pattern, text)]
    return matches if limit < 0 else matches[:limit]


def _build_functions() -> dict[str, Callable[..., Any]]:
    """Everything registered on each evaluation context."""
    functions: dict[str, Callable[..., Any]] = dict(stdlib.STDLIB_FUNCTIONS)
    functions.update(
        {
            "isIP": lambda s: _is_valid(_parse_ip, s),
            "isCIDR": lambda s: _is_valid(_parse_cidr, s),
            "ip": _fn_ip,
            "cidr": lambda s: _cidr_value(_parse_cidr(s)),
            "family": lambda v: (_as_ip(v) if _IP_TAG in v else _as_cidr(v)).version,
            "isUnspecified": lambda v: _as_ip(v).is_unspecified,
            "isLoopback": lambda v: _as_ip(v).is_loopback,
            "isLinkLocalMulticast": lambda v: _as_ip(v).is_multicast and _as_ip(v).is_link_local,
            "isLinkLocalUnicast": lambda v: not _as_ip(v).is_multicast and _as_ip(v).is_link_local,
            "isGlobalUnicast": _is_global_unicast,
            "ip.isCanonical": _fn_is_canonical,
            "containsIP": _fn_contains_ip,
            "containsCIDR": _fn_contains_cidr,
            "prefixLength": lambda v: _as_cidr(v).network.prefixlen,
            "masked": lambda v: _cidr_value(ipaddress.ip_interface(str(_as_cidr(v).network))),
            "string": _fn_string,
            "isSorted": _fn_is_sorted,
            "indexOf": _fn_index_of,
            "lastIndexOf": _fn_last_index_of,
            "find": _fn_find,
            "findAll": _fn_find_all,
        }
    )
    return functions


def _is_global_unicast(value: Any) -> bool:
    """ip.isGlobalUnicast() as Go's netip: not unspecified/loopback/link-local/multicast/broadcast."""
    ip = _as_ip(value)
    if ip.is_unspecified or ip.is_loopback or ip.is_link_local or ip.is_multicast:
        return False
    return not (ip.version == 4 and str(ip) == "255.255.255.255")


FUNCTIONS = _build_functions()
_KNOWN_FUNCTIONS = _BUILTINS | frozenset(FUNCTIONS)


# --- compilation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Program:
    """A compiled expression, or why it could not be compiled (`error`, cel-go-like wording)."""

    source: str
    program: Any | None
    error: str | None
    uses_old_self: bool


@functools.lru_cache(maxsize=4096)
def compile_expression(source: str) -> Program:
    """Parse once per distinct rule text; unknown functions are compile errors as in cel-go."""
    try:
        program = cel.compile(source)
    except (ValueError, RuntimeError) as exc:
        return Program(source, None, _parse_error(str(exc)), False)
    for name in program.functions():
        if not _is_operator(name) and name not in _KNOWN_FUNCTIONS:
            return Program(source, None, f"undeclared reference to '{name}'", False)
    return Program(source, program, None, "oldSelf" in program.variables())


def _is_operator(name: str) -> bool:
    """Operator overload ids (`_&&_`, `!_`, `@in`...) as listed by Program.functions()."""
    return name[:1] in "_@!-" or name.startswith("_")


def _parse_error(text: str) -> str:
    """Keep the cel-go-like `ERROR: <input>:l:c: ...` part of the library's message."""
    marker = text.find("ERROR:")
    return text[marker:].strip() if marker >= 0 else text.strip()


# --- evaluation ----------------------------------------------------------------------------------


class RuleError(Exception):
    """Evaluation failed; `message` is worded like cel-go, `kind` selects the server's wording."""

    def __init__(self, message: str, kind: str = "runtime") -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind  # "runtime" | "overload" | "compile"


_MISSING_FN = re.compile(r"Undefined variable or function: '([^']*)'")
_PY_FAILURE = re.compile(r"Python function call failed: \w+: (.*?)(?:\. Check function arguments.*)?$", re.S)


_LOCAL = threading.local()


def _context() -> Any:
    """One context per thread with the functions registered once (building one costs ~60 us)."""
    context = getattr(_LOCAL, "context", None)
    if context is None:
        context = _LOCAL.context = cel.Context({}, FUNCTIONS)
    return context


def run(program: Program, variables: dict[str, Any]) -> Any:
    """Evaluate with `variables` (self, oldSelf); library exceptions become RuleError."""
    if program.program is None:
        raise RuleError(program.error or "invalid expression", "compile")
    context = _context()
    for name, value in variables.items():
        context.add_variable(name, value)
    try:
        return program.program.execute(context)
    except KeyError as exc:
        raise RuleError(f"no such key: {exc.args[0] if exc.args else ''}") from None
    except ZeroDivisionError:
        raise RuleError("division by zero") from None
    except OverflowError:
        raise RuleError("integer overflow") from None
    except TypeError as exc:
        raise RuleError(f"no such overload: {exc}", "overload") from None
    except Exception as exc:  # the Rust extension raises RuntimeError/IndexError/ValueError
        raise _translate(exc) from None


def _translate(exc: Exception) -> RuleError:
    """Map the remaining library errors to cel-go-like messages."""
    text = str(exc)
    missing = _MISSING_FN.search(text)
    if missing:
        return RuleError(f"undeclared reference to '{missing.group(1)}'", "compile")
    failure = _PY_FAILURE.search(text)
    if failure:
        return RuleError(failure.group(1).strip())
    return RuleError(text.strip())


def optional_of(value: Any, present: bool) -> Any:
    """oldSelf for `optionalOldSelf: true` rules: optional.of(old) or optional.none()."""
    return cel.OptionalValue.of(value) if present else cel.OptionalValue.none()
