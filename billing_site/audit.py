"""The audit trail: who changed what, when, through which door, and the values
before and after.

django-auditlog records every save and delete of the models registered in
settings.AUDITLOG_INCLUDE_TRACKING_MODELS as a LogEntry (a JSON diff of the
changed fields, the actor, the time, the remote address). This module adds
what auditlog cannot know on its own, in each entry's `additional_data`:

- `door`: "ui", "api" (/api/v1/), "amberflo" (/amberflo/), "ingest" (/ingest/
  and customers created by ingestion), "admin" (/admin/), or
  "command:<name>" for a management command;
- `who`: the username, the API key ("key <name> (<prefix>…)") or, for a
  command, the operating-system user.

Invariants:
- Every write path reaches an entry. Saves and deletes go through auditlog's
  signals; rows written with bulk_create (which sends no signals) are logged
  with `audit_created` by the service that writes them.
- ApiKey.last_used_at is bumped with a queryset update (no signal), and is
  excluded from the diff besides, so using a key never writes an entry.
- Usage events and rejected records are not registered: they are immutable,
  millions of rows, and are their own record.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from functools import wraps
from typing import Any

from auditlog.cid import get_cid
from auditlog.context import set_extra_data
from auditlog.diff import model_instance_diff
from auditlog.models import LogEntry
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model
from django.http import HttpRequest, HttpResponse

DOOR_UI = "ui"
DOOR_API = "api"
DOOR_AMBERFLO = "amberflo"
DOOR_INGEST = "ingest"
DOOR_ADMIN = "admin"
COMMAND_DOOR_PREFIX = "command:"

# URL prefixes (after the script name) → door; anything else is the app's pages.
_DOORS_BY_PREFIX = (
    ("/admin/", DOOR_ADMIN),
    ("/api/v1/", DOOR_API),
    ("/amberflo/", DOOR_AMBERFLO),
    ("/ingest", DOOR_INGEST),
)


def door_for_path(path: str) -> str:
    for prefix, door in _DOORS_BY_PREFIX:
        if path.startswith(prefix):
            return door
    return DOOR_UI


@dataclass(frozen=True)
class AuditSource:
    """Where the changes being made now come from."""

    door: str
    # request.user, still lazy: reading it costs a session query, which only
    # a request that writes an entry should pay.
    user: AbstractBaseUser | AnonymousUser | None = None
    # Names the actor when there is no logged-in user (an API key, a command).
    who: str = ""
    remote_addr: str | None = None

    def actor(self) -> AbstractBaseUser | None:
        user = self.user
        if user is not None and user.is_authenticated:
            return user
        return None

    def describe(self) -> str:
        if self.who:
            return self.who
        actor = self.actor()
        return actor.get_username() if actor is not None else "anonymous"

    def data(self, *, door: str | None = None) -> dict[str, str]:
        return {"door": door or self.door, "who": self.describe()}


_current: ContextVar[AuditSource | None] = ContextVar("tally_audit_source", default=None)


def current_source() -> AuditSource | None:
    return _current.get()


def _current_data() -> dict[str, str] | None:
    source = _current.get()
    return source.data() if source is not None else None


@contextmanager
def audit_source(source: AuditSource) -> Iterator[None]:
    """Attribute every entry written inside the block to `source`."""
    token = _current.set(source)
    context = {
        "actor": source.user,
        "remote_addr": source.remote_addr,
        # Called when each entry is saved, so a later audit_who_set (the API
        # key, known only once the view authenticates) is reflected.
        "additional_data": _current_data,
    }
    try:
        with set_extra_data(context_data=context):
            yield
    finally:
        _current.reset(token)


def audit_who_set(who: str) -> None:
    """Name the actor of the current request (an API key), once it is known."""
    source = _current.get()
    if source is not None:
        _current.set(replace(source, who=who))


class AuditMiddleware:
    """Sets each request's door, user and address for the entries it writes.
    Placed after AuthenticationMiddleware (it needs request.user)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        source = AuditSource(
            door=door_for_path(request.path_info),
            user=getattr(request, "user", None),
            # Behind a proxy this is the proxy's address; X-Forwarded-For is
            # not trusted, since any client can send it.
            remote_addr=request.META.get("REMOTE_ADDR") or None,
        )
        with audit_source(source):
            return self.get_response(request)


def _system_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry or login name (some containers)
        return "unknown"


@contextmanager
def audit_command(name: str) -> Iterator[None]:
    """Attribute the entries written inside the block to `manage.py <name>`,
    run by the operating-system user."""
    source = AuditSource(door=COMMAND_DOOR_PREFIX + name, who=f"system user {_system_user()}")
    with audit_source(source):
        yield


def audited_command[Handle: Callable[..., Any]](handle: Handle) -> Handle:
    """Decorates a management command's handle(): its writes are recorded with
    the door "command:<the command's name>"."""

    @wraps(handle)
    def wrapper(self: Any, *args: Any, **options: Any) -> Any:
        with audit_command(type(self).__module__.rpartition(".")[2]):
            return handle(self, *args, **options)

    return wrapper  # type: ignore[return-value]


def audit_created(instances: Sequence[Model], *, door: str | None = None) -> None:
    """Log the creation of rows written with bulk_create (which sends no
    signals), in one insert. Each instance must have its primary key.
    `door` overrides the current door (ingestion's customers)."""
    if not instances:
        return
    source = _current.get()
    actor = source.actor() if source is not None else None
    if source is not None:
        data: dict[str, str] | None = source.data(door=door)
    else:
        data = {"door": door, "who": "anonymous"} if door else None
    cid = get_cid()
    entries = []
    for instance in instances:
        content_type = ContentType.objects.get_for_model(instance)  # cached
        changes = model_instance_diff(
            None, instance, use_json_for_changes=settings.AUDITLOG_STORE_JSON_CHANGES
        )
        entries.append(
            LogEntry(
                content_type=content_type,
                object_pk=str(instance.pk),
                object_id=instance.pk if isinstance(instance.pk, int) else None,
                object_repr=str(instance),
                action=LogEntry.Action.CREATE,
                changes=changes,
                actor=actor,
                actor_email=getattr(actor, "email", None),
                remote_addr=source.remote_addr if source is not None else None,
                additional_data=data,
                cid=cid,
            )
        )
    LogEntry.objects.bulk_create(entries, batch_size=500)


def hidden(value: str) -> str:
    """Audit mask for secrets (the password hash): that it changed is recorded,
    not its value."""
    return "(hidden)"
