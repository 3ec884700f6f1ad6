"""Store errors: each message is written for the person at the screen, not for a developer."""

from __future__ import annotations

from ..errors import LungDxError


class StoreError(LungDxError):
    """Base of the store's expected failures."""


class NotFound(StoreError):
    """A patient, study, user or model that the caller named does not exist."""

    exit_code = 3


class Conflict(StoreError):
    """Someone else changed the same thing first (optimistic concurrency), or it already exists."""

    exit_code = 4


class IdentityMismatch(StoreError):
    """An image carries a patient identifier different from the patient it is being filed under."""

    exit_code = 5


class PermissionDenied(StoreError):
    """The acting user's role does not allow the action."""

    exit_code = 6


class ValidationError(StoreError):
    """A value the user typed is not acceptable (empty name, unknown role, bad date...)."""
