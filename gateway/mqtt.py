"""What every MQTT client of the gateway's shares: TCP_NODELAY on the socket, and paho's MQTT v5
property tables built once per process.

paho's `Properties()` builds three constant tables (names, types, which packet takes which
property) in its constructor, about 25 us, and makes one for every PUBLISH and PUBACK it
receives: a fifth of the gateway's time per message (docs/performance.md, "Gateway").
`share_property_tables` swaps in a subclass that shares one set of tables; values stay per
object. It replaces the class where paho looks it up (`paho.mqtt.client` and the private
`paho.mqtt._packet`), so it is tied to paho 2.x (pyproject pins <3); where paho does not have
those modules it leaves paho as it is.
"""

from __future__ import annotations

import importlib
import socket

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

NODELAY = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
PROPERTY_TABLES = ("packetType", "types", "names", "properties")  # a Properties' own attributes


def nodelay_socket_options() -> list[tuple[int, int, int]]:
    """Return the socket options every MQTT client here uses (TCP_NODELAY: no Nagle delay)."""
    return [NODELAY]


class SharedTablesProperties(Properties):
    """paho's MQTT v5 Properties whose constant tables are built once (share_property_tables)."""

    TABLES = Properties(PacketTypes.PUBLISH)

    def __init__(self, packetType: int) -> None:
        """Take the shared tables instead of building new ones."""
        self.packetType = packetType
        self.types, self.names = self.TABLES.types, self.TABLES.names
        self.properties = self.TABLES.properties

    def clear(self) -> None:
        """Remove the values set on this object (paho tries each of the 27 names, 5 us, before
        it unpacks every received packet's properties)."""
        for name in [x for x in vars(self) if x not in PROPERTY_TABLES]:
            delattr(self, name)


def share_property_tables() -> None:
    """Make paho build its MQTT v5 property tables once in this process, not per packet."""
    for name in ("paho.mqtt.client", "paho.mqtt._packet"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if getattr(module, "Properties", None) is Properties:
            module.Properties = SharedTablesProperties  # type: ignore[attr-defined]
