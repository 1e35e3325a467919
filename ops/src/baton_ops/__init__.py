"""``baton``: the ops tool for Baton's event log.

It reaches NATS and the services' projection databases with the same ``BATON_``
settings the services use (``BATON_<SERVICE>_DATABASE_URL`` per service, defaulting
like the services to SQLite files in ``BATON_DATA_DIR``).

Exit codes: 0 done; 1 the log or a database could not be reached or an operation
failed (a refused verification, a retry that failed again); 2 bad usage (unknown
service, projection, reaction, option, malformed file, an import into a stream
holding other events); 3 nothing found for the id asked about.
"""
