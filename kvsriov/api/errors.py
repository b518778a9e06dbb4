"""Refusals that name the field and the fix.

Pydantic reports where a value failed (`loc`) and why; rules that span several
fields raise `ApiRuleError` to say which field the user should change. Both
become `FieldError`s, the shape the webhook and the CLI print and the shape of
a Kubernetes Status cause (`field` + `message`).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError


class ApiRuleError(ValueError):
    """A rule of the API was broken; `field` is the wire path to fix, relative to the raising model."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


def _dotted(loc: tuple[int | str, ...], prefix: str) -> str:
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path


def field_errors(exc: ValidationError, prefix: str = "") -> list[FieldError]:
    """Turn a pydantic ValidationError into field-named errors (wire names, e.g. spec.vlan)."""
    result: list[FieldError] = []
    for err in exc.errors():
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, ApiRuleError):
            # A rule names its field relative to the model that raised it; loc says where that model is.
            base = _dotted(tuple(err["loc"]), prefix)
            result.append(FieldError(f"{base}.{cause.field}" if base else cause.field, cause.message))
            continue
        message = err["msg"]
        if message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        result.append(FieldError(_dotted(tuple(err["loc"]), prefix), message))
    return result


def describe(exc: ValidationError, prefix: str = "") -> str:
    """One line per refusal, for CLIs and webhook messages."""
    return "; ".join(str(e) for e in field_errors(exc, prefix))
