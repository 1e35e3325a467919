"""Service wiring shared by every Baton service: settings, logging, metrics,
health, AsyncAPI, read-your-writes, and the app factory."""
