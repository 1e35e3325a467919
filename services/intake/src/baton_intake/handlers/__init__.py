"""Intake's reactions to other services' events.

Delivery's progress reaches intake as a projection of delivery's stream
(``projections/delivery_progress.py``), not as a reaction: it appends nothing.
Opening new requests from follow-up's won opportunities arrives with follow-up.
"""

REACTIONS: list = []
