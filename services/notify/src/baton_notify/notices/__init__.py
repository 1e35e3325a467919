"""Notices for people: e-mails queued by reactions and the morning digest, sent by the outbox."""
