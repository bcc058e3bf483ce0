"""Secret ballots sealed with a per-vote key that never enters the database.

Why: a ballot must be on disk before it is acknowledged (a crash loses no acknowledged
ballot), so a voter's who-voted row and their choice commit in one transaction — and a
transaction holding one ballot would link the two in the write-ahead log, a replica, a
backup or an old row version. So a secret choice is only ever written sealed (AES-256-GCM,
every choice the same length), the counters are written once, when the vote closes, and
the vote's key lives in a file of the data directory (data_dir/ballot-keys/VOTE.key),
written durably before the vote opens and erased once its close is committed.
docs/protocol.md ("Secret ballots") states the guarantee and its limit.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from meetings.control_models import VOTE_OPTIONS
from meetings.meetings_service import MeetingError

NONCE_BYTES = 12


def _aad(vote_id: int) -> bytes:
    """Binds a sealed ballot to its vote: one copied into another vote does not open."""
    return b"hoinghi-ballot:%d" % vote_id


def seal(key: bytes, vote_id: int, choice: str) -> bytes:
    """nonce || AES-GCM(option index): 29 bytes whatever the choice."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, bytes([VOTE_OPTIONS.index(choice)]), _aad(vote_id))


def unseal(key: bytes, vote_id: int, sealed: bytes) -> str:
    try:
        plain = AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], _aad(vote_id))
    except InvalidTag:
        raise MeetingError("conflict", f"a sealed ballot of vote {vote_id} does not open with its key") from None
    return VOTE_OPTIONS[plain[0]]


class BallotKeys:
    """The keys of open secret votes, one file each, readable by the server's user only."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, vote_id: int) -> Path:
        return self.directory / f"{vote_id}.key"

    def create(self, vote_id: int) -> bytes:
        """A new key, on disk (fsync'd, file and directory) before any ballot is sealed with it."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = AESGCM.generate_key(bit_length=256)
        temporary = self.directory / f".{vote_id}.key.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, key)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, self._path(vote_id))
        self._sync_directory()
        return key

    def load(self, vote_id: int) -> bytes:
        path = self._path(vote_id)
        try:
            key = path.read_bytes()
        except FileNotFoundError:
            raise MeetingError(
                "conflict", f"the ballot key of secret vote {vote_id} is missing ({path}): its ballots cannot be counted"
            ) from None
        if len(key) != 32:
            raise MeetingError("conflict", f"the ballot key of secret vote {vote_id} is damaged ({path})")
        return key

    def erase(self, vote_id: int) -> None:
        """Overwrite, then remove: after this nothing can open the vote's sealed ballots."""
        path = self._path(vote_id)
        try:
            fd = os.open(path, os.O_WRONLY)
        except FileNotFoundError:
            return
        try:
            os.write(fd, bytes(32))
            os.fsync(fd)
        finally:
            os.close(fd)
        path.unlink()
        self._sync_directory()

    def erase_all_but(self, open_vote_ids: Iterable[int]) -> list[int]:
        """At start-up: erase keys left by a crash between a close's commit and its erase."""
        keep = set(open_vote_ids)
        erased = []
        for path in sorted(self.directory.glob("*.key")) if self.directory.is_dir() else []:
            if path.stem.isdigit() and int(path.stem) not in keep:
                self.erase(int(path.stem))
                erased.append(int(path.stem))
        return erased

    def _sync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
