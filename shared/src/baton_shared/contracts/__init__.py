"""Event contracts: the payloads each service publishes, and where they go.

A service imports another service's contracts to react to its events; it never
imports the other service's code. ``registry`` knows every contract.
"""

from baton_shared.contracts.registry import registry
from baton_shared.contracts.streams import STREAMS, StreamSpec, stream_for

__all__ = ["STREAMS", "StreamSpec", "registry", "stream_for"]
