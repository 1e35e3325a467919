"""Service wiring shared by every Baton service: settings,
health, AsyncAPI, read-your-writes, and the app factory."""
