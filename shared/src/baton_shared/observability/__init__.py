"""Logs and metrics: the lowest layer of plumbing, which every other layer may use."""
