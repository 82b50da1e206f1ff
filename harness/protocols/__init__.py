"""Protocols: how a backbone is scored. One module each, looked up by name in ``PROTOCOLS``."""

from harness.protocols.base import EmbedProtocol, Protocol, ProtocolOutcome
from harness.protocols.fewshot import FewshotProtocol
from harness.protocols.finetune import FinetuneProtocol
from harness.protocols.knn import KnnProtocol
from harness.protocols.linear import LinearProtocol

PROTOCOLS: dict[str, type[Protocol]] = {p.name: p for p in (LinearProtocol, KnnProtocol, FewshotProtocol, FinetuneProtocol)}


def get_protocol(name: str, **overrides) -> Protocol:
    from harness.errors import MedbenchError

    if name not in PROTOCOLS:
        raise MedbenchError(f"unknown protocol {name!r}; known: {', '.join(sorted(PROTOCOLS))}")
    return PROTOCOLS[name](**overrides)


__all__ = ["PROTOCOLS", "EmbedProtocol", "Protocol", "ProtocolOutcome", "get_protocol"]
