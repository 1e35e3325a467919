"""A PostgreSQL server the test owns: started on a free port, crashed, started again.

The shared test server (``BATON_TEST_DATABASE_URL``) cannot be crashed: other tests
use it. This one is the machine's own PostgreSQL binaries (``pg_config --bindir``),
a data folder of its own and trust authentication on loopback. ``initdb`` refuses to
run as root, so as root every server command runs as the ``postgres`` user, in a
folder that user owns.

``crash()`` is ``pg_ctl stop -m immediate``: the server quits without a checkpoint
and replays its WAL at the next start, so transactions committed with
``synchronous_commit = off`` (as projections commit) whose WAL was not written yet
are gone, as after a power cut or an OOM kill.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.conftest import free_port, missing


def _bindir() -> Path | None:
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        return None
    folder = Path(subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True).stdout.strip())
    return folder if (folder / "pg_ctl").exists() and (folder / "initdb").exists() else None


class ThrowawayPostgres:
    def __init__(self) -> None:
        bindir = _bindir()
        if bindir is None:
            missing("PostgreSQL server binaries (pg_config --bindir with initdb and pg_ctl)")
        self.bindir = bindir
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        # Not under pytest's tmp_path: as root that is a folder the postgres user cannot enter.
        self.folder = Path(tempfile.mkdtemp(prefix="baton-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "postgres.log"
        if self.as_root:
            owner = pwd.getpwnam("postgres")
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
        self.crashes = 0

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, program: str, *args: str, timeout: float = 120) -> None:
        command = [str(self.bindir / program), *args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{program} {' '.join(args)} failed: {done.stdout}{done.stderr}\n{tail}")

    def start(self) -> None:
        """Start the server (initialising its data folder the first time); returns once it accepts connections."""
        if not self.data.exists():
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        options = " ".join(
            [
                f"-p {self.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self.folder}",
                "-c max_connections=200",
                "-c fsync=off",  # the machine does not crash, only PostgreSQL: the OS keeps what was written
                "-c full_page_writes=off",
            ]
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")

    def crash(self) -> None:
        """Kill the server without a shutdown checkpoint (``pg_ctl stop -m immediate``)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        self.crashes += 1

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", timeout=60)
            except (RuntimeError, subprocess.TimeoutExpired):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
