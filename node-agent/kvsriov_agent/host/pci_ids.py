"""Vendor and device names from the PCI ID database (pci.ids, https://pci-ids.ucw.cz).

The file is ~1.3 MB; the agent needs a handful of names, so it scans it once,
lazily, and keeps only the vendors it was asked about.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from kvsriov_agent.host import paths


class PciIds:
    """Names of PCI vendors and devices; every lookup is None when the file is absent."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._vendors: dict[str, tuple[str, dict[str, str]] | None] = {}

    @classmethod
    def system(cls) -> PciIds:
        """The distribution's database (Debian: package pci.ids; RHEL: hwdata), or none."""
        found = next((Path(p) for p in paths.PCI_IDS_CANDIDATES if Path(p).is_file()), None)
        return cls(found)

    def vendor(self, vendor_id: str) -> str | None:
        entry = self._load(vendor_id.lower())
        return entry[0] if entry else None

    def device(self, vendor_id: str, device_id: str) -> str | None:
        entry = self._load(vendor_id.lower())
        return entry[1].get(device_id.lower()) if entry else None

    def _load(self, vendor_id: str) -> tuple[str, dict[str, str]] | None:
        if vendor_id in self._vendors:
            return self._vendors[vendor_id]
        self._vendors[vendor_id] = self._scan(vendor_id)
        return self._vendors[vendor_id]

    def _scan(self, vendor_id: str) -> tuple[str, dict[str, str]] | None:
        """Format: `vvvv  Vendor`, then `\\tdddd  Device`, `\\t\\tssss ssss  Subsystem`; `#` comments."""
        if self.path is None:
            return None
        try:
            with open(self.path, encoding="utf-8", errors="replace") as handle:
                return _parse(handle, vendor_id)
        except OSError:
            return None


def _parse(lines: Iterable[str], vendor_id: str) -> tuple[str, dict[str, str]] | None:
    name: str | None = None
    devices: dict[str, str] = {}
    for line in lines:
        if name is None:
            if line.startswith(vendor_id) and line[4:6] == "  ":
                name = line[6:].strip()
            continue
        if line.startswith("#") or line.startswith("\t\t") or not line.strip():
            continue
        if not line.startswith("\t"):
            break  # the next vendor (or the device class list at the end)
        devices[line[1:5].lower()] = line[7:].strip()
    return (name, devices) if name is not None else None
