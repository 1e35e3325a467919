"""Intake's reactions to other services' events.

Delivery's progress reaches intake as a projection of delivery's stream
(``projections/delivery_progress.py``), not as a reaction: it appends nothing.
Follow-up's won opportunities become new requests (a reaction: it appends).
"""

from baton_intake.reactions.followup_opportunities import OpenRequestsForWonOpportunities, request_id_for

REACTIONS = [OpenRequestsForWonOpportunities()]

__all__ = ["REACTIONS", "OpenRequestsForWonOpportunities", "request_id_for"]
