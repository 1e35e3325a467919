"""Sending each webhook its events: cursors, retries, parking."""
