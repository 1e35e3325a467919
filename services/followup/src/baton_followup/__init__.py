"""Baton follow-up: what comes after the sale.

Satisfaction checks, review cadence by tier, opportunities from a catalogue of
next needs (offered, declined with a cool-down, won, reviewed for outcome),
handover briefs and programs with commitment terms, all under the client's
contact policy. Reacts to intake's client events and delivery's acceptances.
"""
