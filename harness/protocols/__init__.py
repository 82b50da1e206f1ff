"""Protocols: how a backbone is scored. One module each, looked up by name in ``PROTOCOLS``."""

from harness.protocols.base import Protocol, ProtocolOutcome
from harness.protocols.linear import LinearProtocol

PROTOCOLS: dict[str, type[Protocol]] = {LinearProtocol.name: LinearProtocol}


def get_protocol(name: str, **overrides) -> Protocol:
    from harness.errors import MedbenchError

    if name not in PROTOCOLS:
        raise MedbenchError(f"unknown protocol {name!r}; known: {', '.join(sorted(PROTOCOLS))}")
    return PROTOCOLS[name](**overrides)


__all__ = ["PROTOCOLS", "Protocol", "ProtocolOutcome", "get_protocol"]
