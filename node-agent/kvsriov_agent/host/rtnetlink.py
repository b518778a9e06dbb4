"""RTM_GETLINK for one interface, read with the standard library: a PF's link state and VF settings.

Why not pyroute2 here: importing it loads ~130 modules (NDB with sqlite3, asyncio, unittest.mock)
and costs ~11 MiB resident for the life of the agent, a fifth of its 60 MiB budget (issue 6),
and ~3 s under TCG (TESTBED.md), all to read a few attributes per VF. The agent only ever reads;
writes (`ip link set ... vf`) stay with pyroute2 (netlink.py), imported on first use.

Layouts are the kernel's UAPI, cited per constant; everything is host byte order except where
noted. The reply is decoded by `decode_link`, a pure function over the bytes, so that tests can
compare it with pyroute2's encoder without a kernel.
"""

from __future__ import annotations

import errno
import itertools
import os
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

# include/uapi/linux/netlink.h
NETLINK_ROUTE = 0
NLMSG_ERROR = 2
NLM_F_REQUEST = 0x1
NLA_TYPE_MASK = 0x3FFF  # strips NLA_F_NESTED and NLA_F_NET_BYTEORDER
NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
NLMSGERR = struct.Struct("=i")  # error (negative errno), then the request's header
RTATTR = struct.Struct("=HH")  # len, type
# include/uapi/linux/rtnetlink.h
RTM_NEWLINK = 16
RTM_GETLINK = 18
RTEXT_FILTER_VF = 1 << 0  # without it the kernel leaves IFLA_VFINFO_LIST out
RTEXT_FILTER_SKIP_STATS = 1 << 3  # per-VF counters: kilobytes per reply we never read
IFINFOMSG = struct.Struct("=BxHiII")  # family, pad, type, index, flags, change
# include/uapi/linux/if_link.h
IFLA_ADDRESS = 1
IFLA_IFNAME = 3
IFLA_OPERSTATE = 16
IFLA_VFINFO_LIST = 22
IFLA_EXT_MASK = 29
IFLA_CARRIER = 33
IFLA_VF_INFO = 1
IFLA_VF_MAC = 1  # struct ifla_vf_mac { __u32 vf; __u8 mac[32]; }
IFLA_VF_VLAN = 2  # struct ifla_vf_vlan { __u32 vf; __u32 vlan; __u32 qos; }
IFLA_VF_SPOOFCHK = 4  # struct ifla_vf_spoofchk { __u32 vf; __u32 setting; }
IFLA_VF_LINK_STATE = 5  # struct ifla_vf_link_state { __u32 vf; __u32 link_state; }
IFLA_VF_TRUST = 9  # struct ifla_vf_trust { __u32 vf; __u32 setting; }
VF_MAC = struct.Struct("=I32s")
VF_VLAN = struct.Struct("=III")
VF_SETTING = struct.Struct("=II")  # the layout of spoofchk, link_state and trust
#: rtnl_fill_vfinfo presets spoofchk and trust to -1 ("the driver did not say"), as a __u32.
VF_SETTING_UNKNOWN = 0xFFFFFFFF
#: IFLA_VF_LINK_STATE_AUTO, _ENABLE, _DISABLE, in value order, named as `ip link` prints them.
VF_LINK_STATES = ("auto", "enable", "disable")
#: RFC 2863 operational states in IFLA_OPERSTATE order (include/uapi/linux/if.h, IF_OPER_*), named
#: as `ip link` prints them.
OPERSTATES = ("UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP")
ETH_ALEN = 6

_sequence = itertools.count(1)


@dataclass
class VfSettings:
    index: int
    mac: bytes | None = None
    vlan: int | None = None
    qos: int = 0
    spoofchk: bool | None = None
    trust: bool | None = None
    link_state: int = 0


@dataclass
class LinkMessage:
    """The attributes of one RTM_NEWLINK reply that the agent reads."""

    index: int
    ifname: str | None = None
    address: bytes | None = None
    operstate: str | None = None
    carrier: bool | None = None
    vfs: list[VfSettings] = field(default_factory=list)


def format_mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def _attrs(data: bytes | memoryview, start: int = 0) -> Iterator[tuple[int, memoryview]]:
    """(type, payload) of each rtattr in data[start:]; attributes are 4-byte aligned."""
    view = memoryview(data)
    end = len(view)
    offset = start
    while offset + RTATTR.size <= end:
        length, kind = RTATTR.unpack_from(view, offset)
        if length < RTATTR.size or offset + length > end:
            raise ValueError(f"truncated netlink attribute at byte {offset}")
        yield kind & NLA_TYPE_MASK, view[offset + RTATTR.size : offset + length]
        offset += (length + 3) & ~3


def _vf(payload: memoryview) -> VfSettings | None:
    vf: VfSettings | None = None
    for kind, value in _attrs(payload):
        if kind == IFLA_VF_MAC and len(value) >= VF_MAC.size:
            index, mac = VF_MAC.unpack_from(value)
            vf = vf or VfSettings(index)
            vf.mac = mac[:ETH_ALEN]
        elif kind == IFLA_VF_VLAN and len(value) >= VF_VLAN.size:
            index, vlan, qos = VF_VLAN.unpack_from(value)
            vf = vf or VfSettings(index)
            vf.vlan, vf.qos = vlan, qos
        elif kind in (IFLA_VF_SPOOFCHK, IFLA_VF_TRUST, IFLA_VF_LINK_STATE) and len(value) >= VF_SETTING.size:
            index, setting = VF_SETTING.unpack_from(value)
            vf = vf or VfSettings(index)
            if kind == IFLA_VF_LINK_STATE:
                vf.link_state = setting
            elif setting != VF_SETTING_UNKNOWN:
                flag = bool(setting)
                if kind == IFLA_VF_SPOOFCHK:
                    vf.spoofchk = flag
                else:
                    vf.trust = flag
    return vf


def decode_link(body: bytes) -> LinkMessage:
    """An RTM_NEWLINK payload (after the nlmsghdr): ifinfomsg, then attributes."""
    _family, _type, index, _flags, _change = IFINFOMSG.unpack_from(body)
    link = LinkMessage(index=index)
    for kind, value in _attrs(body, IFINFOMSG.size):
        if kind == IFLA_IFNAME:
            link.ifname = bytes(value).split(b"\0", 1)[0].decode()
        elif kind == IFLA_ADDRESS:
            link.address = bytes(value)
        elif kind == IFLA_OPERSTATE and len(value) >= 1:
            state = value[0]
            link.operstate = OPERSTATES[state] if state < len(OPERSTATES) else "UNKNOWN"
        elif kind == IFLA_CARRIER and len(value) >= 1:
            link.carrier = bool(value[0])
        elif kind == IFLA_VFINFO_LIST:
            for entry_kind, entry in _attrs(value):
                if entry_kind == IFLA_VF_INFO and (vf := _vf(entry)) is not None:
                    link.vfs.append(vf)
    return link


def _attr(kind: int, payload: bytes) -> bytes:
    length = RTATTR.size + len(payload)
    return RTATTR.pack(length, kind) + payload + b"\0" * (-length % 4)


def encode_getlink(ifname: str, seq: int) -> bytes:
    """RTM_GETLINK by name with IFLA_EXT_MASK, as `ip -d link show IFNAME` sends it."""
    body = (
        IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
        + _attr(IFLA_IFNAME, ifname.encode() + b"\0")
        + _attr(IFLA_EXT_MASK, struct.pack("=I", RTEXT_FILTER_VF | RTEXT_FILTER_SKIP_STATS))
    )
    return NLMSGHDR.pack(NLMSGHDR.size + len(body), RTM_GETLINK, NLM_F_REQUEST, seq, 0) + body


def get_link(ifname: str) -> LinkMessage | None:
    """The kernel's answer for `ifname` in this network namespace; None when there is no such link."""
    seq = next(_sequence)
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE) as sock:
        sock.settimeout(5.0)
        sock.bind((0, 0))
        sock.send(encode_getlink(ifname, seq))
        while True:
            # The reply grows with the VF count: MSG_PEEK|MSG_TRUNC gives its whole size, then read it all.
            size = sock.recv_into(bytearray(NLMSGHDR.size), NLMSGHDR.size, socket.MSG_PEEK | socket.MSG_TRUNC)
            data = sock.recv(size)
            length, kind, _flags, got_seq, _pid = NLMSGHDR.unpack_from(data)
            if got_seq != seq:
                continue  # not ours (cannot happen on a fresh socket; cheap to be sure)
            body = data[NLMSGHDR.size : length]
            if kind == NLMSG_ERROR:
                (error,) = NLMSGERR.unpack_from(body)
                if -error in (errno.ENODEV, errno.ENOENT):
                    return None
                raise OSError(-error, f"RTM_GETLINK {ifname}: {os.strerror(-error)}")
            if kind != RTM_NEWLINK:
                raise OSError(errno.EPROTO, f"RTM_GETLINK {ifname}: unexpected netlink message type {kind}")
            return decode_link(body)
