"""Intake's reactions to other services' events.

Intake will project delivery's progress onto its requests and open new requests
from follow-up's won opportunities; those handlers arrive with the delivery and
follow-up services. Until then intake consumes nothing from other streams.
"""

REACTIONS: list = []
