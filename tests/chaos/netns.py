"""Linux network namespaces for the chaos tests on a real network (``test_chaos_net.py``).

:class:`Netns` makes a namespace joined to the host by a veth pair (a /30 of 198.18.0.0/15,
the range RFC 2544 sets aside for network tests, picked from the process id and an index),
with an nftables table of its own inside the namespace: :meth:`Netns.set_loss` drops that
percentage of the packets crossing the veth in each direction (``numgen random mod 100 < N
drop``: this kernel has no netem), :meth:`Netns.cut` drops all of them (a partition),
:meth:`Netns.heal` removes the rules. A process runs inside with :meth:`Netns.command`
(``ip netns exec``).

Names carry the creating process's id (``sk<pid>n<i>``); :func:`remove_stale` deletes those
of processes no longer alive (a run killed before its ``finally``). Needs root (or
CAP_NET_ADMIN and CAP_SYS_ADMIN), ``ip`` and ``nft``: :func:`available` says whether they
work here.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field

PREFIX = "sk"
_NAME = re.compile(rf"^{PREFIX}(\d+)n(\d+)$")
IP = shutil.which("ip") or "/usr/sbin/ip"
NFT = shutil.which("nft") or "/usr/sbin/nft"
TABLE = "synckit_chaos"


def _run(*args: str, check: bool = True, stdin: str | None = None) -> str:
    done = subprocess.run(
        args, check=False, input=stdin, capture_output=True, text=True, timeout=30
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def available() -> str | None:
    """None when namespaces, veth pairs and nftables work here; else why not."""
    for tool in (IP, NFT):
        if not os.path.exists(tool):
            return f"{tool} is missing (install iproute2 and nftables)"
    probe = Netns(99)
    try:
        probe.create()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot create a network namespace: {exc}"
    finally:
        probe.destroy()
    return None


def remove_stale() -> list[str]:
    """Delete the namespaces (and their veths) of chaos runs whose process is gone."""
    removed = []
    for line in _run(IP, "netns", "list", check=False).splitlines():
        name = line.split()[0] if line.split() else ""
        match = _NAME.match(name)
        if match and not _alive(int(match.group(1))):
            Netns(int(match.group(2)), pid=int(match.group(1))).destroy()
            removed.append(name)
    return removed


def _subnet(pid: int, index: int) -> tuple[str, str]:
    """(host address, namespace address) of the /30 for (pid, index)."""
    block = (pid * 64 + index) % (1 << 15)
    base = int(ipaddress.IPv4Address("198.18.0.0")) + block * 4
    return str(ipaddress.IPv4Address(base + 1)), str(ipaddress.IPv4Address(base + 2))


@dataclass(slots=True)
class Netns:
    """One namespace with a veth to the host (see the module docstring)."""

    index: int
    pid: int = field(default_factory=os.getpid)
    loss: int = 0
    partitioned: bool = False

    @property
    def name(self) -> str:
        return f"{PREFIX}{self.pid}n{self.index}"

    @property
    def host_veth(self) -> str:
        return f"{PREFIX}{self.pid}h{self.index}"

    @property
    def inner_veth(self) -> str:
        return f"{PREFIX}{self.pid}c{self.index}"

    @property
    def host_ip(self) -> str:
        """The host's end of the veth: what processes inside connect to."""
        return _subnet(self.pid, self.index)[0]

    @property
    def inner_ip(self) -> str:
        return _subnet(self.pid, self.index)[1]

    def create(self) -> Netns:
        _run(IP, "netns", "add", self.name)
        _run(IP, "link", "add", self.host_veth, "type", "veth", "peer", "name", self.inner_veth)
        _run(IP, "link", "set", self.inner_veth, "netns", self.name)
        _run(IP, "addr", "add", f"{self.host_ip}/30", "dev", self.host_veth)
        _run(IP, "link", "set", self.host_veth, "up")
        inside = (IP, "netns", "exec", self.name)
        _run(*inside, IP, "addr", "add", f"{self.inner_ip}/30", "dev", self.inner_veth)
        _run(*inside, IP, "link", "set", self.inner_veth, "up")
        _run(*inside, IP, "link", "set", "lo", "up")
        _run(
            *inside,
            NFT,
            "-f",
            "-",
            stdin=(
                f"table inet {TABLE} {{\n"
                "  chain input { type filter hook input priority 0; policy accept; }\n"
                "  chain output { type filter hook output priority 0; policy accept; }\n"
                "}\n"
            ),
        )
        return self

    def command(self, *argv: str) -> list[str]:
        """``argv`` run inside the namespace."""
        return [IP, "netns", "exec", self.name, *argv]

    def _rules(self, verdict: str) -> None:
        lines = [f"flush chain inet {TABLE} input", f"flush chain inet {TABLE} output"]
        if verdict:
            lines += [
                f"add rule inet {TABLE} input iifname {self.inner_veth} {verdict}",
                f"add rule inet {TABLE} output oifname {self.inner_veth} {verdict}",
            ]
        _run(*self.command(NFT, "-f", "-"), stdin="\n".join(lines) + "\n")

    def set_loss(self, percent: int) -> None:
        """Drop ``percent`` % of the packets each way (0: none)."""
        self.loss, self.partitioned = percent, False
        self._rules(f"numgen random mod 100 < {percent} drop" if percent else "")

    def cut(self) -> None:
        """A partition: every packet over the veth dropped, both ways."""
        self.partitioned = True
        self._rules("drop")

    def heal(self) -> None:
        """No loss, no partition."""
        self.loss, self.partitioned = 0, False
        self._rules("")

    def destroy(self) -> None:
        """Remove the namespace and the veth (what is already gone is fine)."""
        _run(IP, "netns", "delete", self.name, check=False)
        with contextlib.suppress(subprocess.TimeoutExpired):
            _run(IP, "link", "delete", self.host_veth, check=False)
