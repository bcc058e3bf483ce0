"""A throwaway PostgreSQL server on loopback for the test session (real server, not a mock).

Uses HOINGHI_TEST_POSTGRES_URL when set (e.g. a server .ci/run started); otherwise runs
initdb + pg_ctl from the Debian packages in a temporary directory, as the `postgres` user
when the tests run as root (PostgreSQL refuses to run as root). wal_level=logical lets a
test read what the write-ahead log holds, row by row (tests/control/test_secret_ballot_storage.py).
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.ports import free_port


class PostgresUnavailable(RuntimeError):
    pass


def _bin_dir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not candidates:
        raise PostgresUnavailable("PostgreSQL server binaries not found (apt-get install postgresql)")
    return Path(candidates[-1]).parent


@dataclass
class PostgresServer:
    url: str
    directory: Path | None = None
    user: str | None = None

    @classmethod
    def start(cls) -> "PostgresServer":
        if url := os.environ.get("HOINGHI_TEST_POSTGRES_URL"):
            return cls(url=url)
        bin_dir = _bin_dir()
        directory = Path(tempfile.mkdtemp(prefix="hoinghi-pg-"))
        user = "postgres" if os.geteuid() == 0 else None
        if user:
            entry = pwd.getpwnam(user)
            os.chown(directory, entry.pw_uid, entry.pw_gid)
        data = directory / "data"
        port = free_port()

        def run(*args: str) -> None:
            command = list(args)
            if user:
                command = ["runuser", "-u", user, "--", *command]
            result = subprocess.run(command, capture_output=True, text=True, timeout=120)
            if result.returncode != 0:
                raise PostgresUnavailable(f"{args[0]} failed: {result.stderr.strip()[-500:]}")

        run(str(bin_dir / "initdb"), "-D", str(data), "-U", "hoinghi", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
        run(
            str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-l", str(directory / "log"), "start",
            "-o", f"-h 127.0.0.1 -p {port} -k {directory} -c fsync=off -c max_connections=200 -c wal_level=logical",
        )
        run(str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "hoinghi", "hoinghi_test")
        return cls(url=f"postgresql://hoinghi@127.0.0.1:{port}/hoinghi_test", directory=directory, user=user)

    def create_database(self, name: str) -> str:
        """A fresh empty database on the same server, so tests do not see each other's rows."""
        from sqlalchemy.engine import make_url

        base = make_url(self.url)
        command = ["psql", "-h", base.host or "127.0.0.1", "-p", str(base.port or 5432), "-U", base.username or "postgres",
                   "-d", base.database or "postgres", "-c", f'CREATE DATABASE "{name}"']
        env = dict(os.environ, PGPASSWORD=base.password or "")
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
        if result.returncode != 0:
            raise PostgresUnavailable(f"CREATE DATABASE failed: {result.stderr.strip()}")
        return base.set(database=name).render_as_string(hide_password=False)

    def stop(self) -> None:
        if self.directory is None:
            return
        command = [str(_bin_dir() / "pg_ctl"), "-D", str(self.directory / "data"), "-m", "immediate", "stop"]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, capture_output=True, timeout=60)
        shutil.rmtree(self.directory, ignore_errors=True)
