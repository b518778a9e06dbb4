"""An in-memory file tree (directories, attribute files, symlinks): what the simulated kernel serves.

Paths are relative to the host root without a leading slash (`sys/bus/pci/devices`).
Symlink targets are stored as the kernel prints them (relative, `../../../devices/...`).
"""

from __future__ import annotations

import errno
import os
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

#: Linux gives up on a path after 40 symlinks (MAXSYMLINKS) with ELOOP.
MAX_SYMLINKS = 40


@dataclass
class File:
    """An attribute: a stored value, or `on_read`/`on_write` behaviour like a sysfs show/store pair."""

    value: str = ""
    mode: int = 0o644
    on_read: Callable[[], str] | None = None
    on_write: Callable[[str], None] | None = None

    def read(self) -> str:
        return self.on_read() if self.on_read is not None else self.value


@dataclass
class Dir:
    children: dict[str, Node] = field(default_factory=dict)


@dataclass
class Link:
    target: str


Node = File | Dir | Link


def _oserror(code: int, path: str) -> OSError:
    return OSError(code, os.strerror(code), path)


def _parts(path: str) -> list[str]:
    return [p for p in path.strip("/").split("/") if p and p != "."]


class MemFs:
    """A tree of nodes with path lookup that follows symlinks like the VFS does."""

    def __init__(self) -> None:
        self.root = Dir()

    def resolve(self, path: str, follow: bool = True) -> str:
        """The path with every symlink followed (the last one only when `follow`); raises ENOENT."""
        todo = _parts(path)
        done: list[str] = []
        hops = 0
        while todo:
            name = todo.pop(0)
            if name == "..":
                if done:
                    done.pop()
                continue
            node = self._get([*done, name])
            if node is None:
                raise _oserror(errno.ENOENT, path)
            if isinstance(node, Link) and (todo or follow):
                hops += 1
                if hops > MAX_SYMLINKS:
                    raise _oserror(errno.ELOOP, path)
                todo = _parts(node.target) + todo
                if node.target.startswith("/"):
                    done = []
                continue
            done.append(name)
        return "/".join(done)

    def _get(self, parts: list[str]) -> Node | None:
        node: Node = self.root
        for name in parts:
            if not isinstance(node, Dir) or name not in node.children:
                return None
            node = node.children[name]
        return node

    def lookup(self, path: str, follow: bool = True) -> Node | None:
        try:
            return self._get(_parts(self.resolve(path, follow)))
        except OSError:
            return None

    def exists(self, path: str) -> bool:
        return self.lookup(path) is not None

    def mkdir(self, path: str) -> Dir:
        """`mkdir -p` (no symlinks on the way: the kernel builds its tree by canonical paths)."""
        node: Dir = self.root
        for name in _parts(path):
            child = node.children.setdefault(name, Dir())
            if not isinstance(child, Dir):
                raise _oserror(errno.ENOTDIR, path)
            node = child
        return node

    def put(self, path: str, node: Node) -> Node:
        parent, name = posixpath.split(path.strip("/"))
        self.mkdir(parent).children[name] = node
        return node

    def link(self, path: str, target: str) -> None:
        """A symlink at `path` to the canonical `target`, stored relative like sysfs's own links."""
        self.put(path, Link(posixpath.relpath(target, posixpath.dirname(path.strip("/")))))

    def remove(self, path: str) -> None:
        """`rm -r`, silently when absent."""
        parent = self._get(_parts(posixpath.dirname(path.strip("/"))))
        if isinstance(parent, Dir):
            parent.children.pop(posixpath.basename(path.strip("/")), None)

    def listdir(self, path: str) -> list[str]:
        node = self.lookup(path)
        if not isinstance(node, Dir):
            raise _oserror(errno.ENOTDIR if node is not None else errno.ENOENT, path)
        return sorted(node.children)

    def load(self, directory: Path, prefix: str = "") -> None:
        """Copy a real tree (files, directories, symlinks as they are) into this one under `prefix`."""
        for dirpath, dirnames, filenames in os.walk(directory):
            rel = os.path.relpath(dirpath, directory)
            base = posixpath.join(prefix, "" if rel == "." else rel)
            self.mkdir(base)
            for name in list(dirnames) + filenames:
                full = os.path.join(dirpath, name)
                target = posixpath.join(base, name)
                if os.path.islink(full):
                    self.put(target, Link(os.readlink(full)))
                elif os.path.isfile(full):
                    self.put(target, File(Path(full).read_text()))
                else:
                    self.mkdir(target)
            dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
