"""Accounts and roles (clinician / analyst / admin) for the login in front of Voila and JupyterLab."""

from __future__ import annotations

import hashlib
from typing import Any

from .base import StoreBase, now_iso
from .errors import Conflict, NotFound, PermissionDenied, ValidationError
from .passwords import dummy_hash, hash_password, verify_password
from ..policy import ROLES, Permission, can, roles_with
from .records import User

MIN_PASSWORD_LENGTH = 8


def _user(row: dict[str, Any]) -> User:
    return User(username=row["username"], display_name=row["display_name"], role=row["role"],
                disabled=bool(row["disabled"]), created=row["created"], language=row.get("language", ""))


def _language(language: str) -> str:
    """A language with a message catalogue, or "" (follow the browser)."""
    from ..i18n import LANGUAGES

    language = (language or "").strip().lower()
    if language and language not in LANGUAGES:
        raise ValidationError(f"Unknown language '{language}': choose one of {', '.join(LANGUAGES)}.")
    return language


class UsersMixin(StoreBase):
    def add_user(self, username: str, password: str, role: str, display_name: str | None = None,
                 actor: str = "system", language: str = "") -> User:
        username = (username or "").strip()
        if not username or any(c.isspace() for c in username):
            raise ValidationError("A username must be non-empty and contain no spaces.")
        if role not in ROLES:
            raise ValidationError(f"Unknown role '{role}': choose one of {', '.join(ROLES)}.")
        if len(password or "") < MIN_PASSWORD_LENGTH:
            raise ValidationError(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")
        language = _language(language)
        pw_hash = hash_password(password)  # slow on purpose: outside the write lock
        with self.transaction():
            if self.get_user(username) is not None:
                raise Conflict(f"User '{username}' already exists.")
            self._insert("users", {"username": username, "display_name": display_name or username,
                                   "role": role, "password_hash": pw_hash, "created": now_iso(),
                                   "disabled": 0, **({"language": language} if language else {})})
            self.audit(actor, "add_user", f"user:{username}", detail=f"role={role}")
        return self.get_user(username)  # type: ignore[return-value]

    def get_user(self, username: str) -> User | None:
        row = self._row("SELECT * FROM users WHERE username = ?", (username,))
        return _user(row) if row else None

    def list_users(self) -> list[User]:
        return [_user(r) for r in self._rows("SELECT * FROM users ORDER BY username")]

    def authenticate(self, username: str, password: str) -> User | None:
        """The user when the password matches and the account is enabled, else None.

        Unknown users are checked against a dummy hash so the answer takes the same time.
        Every attempt leaves an audit row ("login", ok / denied).
        """
        row = self._row("SELECT * FROM users WHERE username = ?", (username,))
        ok = verify_password(password or "", row["password_hash"] if row else dummy_hash())
        ok = ok and row is not None and not row["disabled"]
        self.audit(username or "", "login", f"user:{username}", outcome="ok" if ok else "denied")
        return _user(row) if ok and row else None

    def set_user_language(self, username: str, language: str, actor: str) -> User:
        """Keep ``language`` ("" = follow the browser) with the account; audited."""
        language = _language(language)
        with self.transaction():
            if self.get_user(username) is None:
                raise NotFound(f"No user '{username}'.")
            self.conn.execute("UPDATE users SET language = ? WHERE username = ?", (language, username))
            self.audit(actor, "set_language", f"user:{username}", detail=f"language={language or 'browser'}")
        return self.get_user(username)  # type: ignore[return-value]

    def set_user_disabled(self, username: str, disabled: bool, actor: str) -> User:
        with self.transaction():
            if self.get_user(username) is None:
                raise NotFound(f"User '{username}' was not found.")
            self.conn.execute("UPDATE users SET disabled = ? WHERE username = ?", (int(disabled), username))
            self.audit(actor, "disable_user" if disabled else "enable_user", f"user:{username}")
        return self.get_user(username)  # type: ignore[return-value]

    def set_password(self, username: str, password: str, actor: str) -> None:
        if len(password or "") < MIN_PASSWORD_LENGTH:
            raise ValidationError(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")
        pw_hash = hash_password(password)
        with self.transaction():
            if self.get_user(username) is None:
                raise NotFound(f"User '{username}' was not found.")
            self.conn.execute("UPDATE users SET password_hash = ? WHERE username = ?", (pw_hash, username))
            self.audit(actor, "set_password", f"user:{username}")

    def session_key(self, username: str) -> str | None:
        """A short digest that changes whenever the password does (the server binds sessions to it,
        so a password change ends every existing session). None for unknown users."""
        row = self._row("SELECT password_hash FROM users WHERE username = ?", (username,))
        return hashlib.sha256(row["password_hash"].encode()).hexdigest()[:16] if row else None

    def require(self, username: str, permission: Permission) -> User:
        """The enabled account ``username`` if its role grants ``permission`` (:mod:`policy`); else ``PermissionDenied``."""
        user = self.get_user(username)
        if user is None or not can(user, permission):
            raise PermissionDenied(f"'{username}' may not do this (needs role: {' or '.join(roles_with(permission))}).")
        return user

    def refuses(self, actor: str, permission: Permission) -> bool:
        """True when ``actor`` is a known account whose role does not grant ``permission``.

        Actors that are not accounts (``cli:<os user>``, ``system``) are the installation's trusted
        operator; accounts are held to the role table.
        """
        user = self.get_user(actor)
        return user is not None and not can(user, permission)
