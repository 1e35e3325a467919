"""Baton followup (skeleton). Its domain, API, handlers and projections arrive with its issue."""
