"""Mosquitto credentials and ACLs for devices, phones and the bridge (pure text builders).

Naming decides the role: ``dev-{device_id}`` is a device, ``eng-{engineer_id}`` an
engineer's phone, ``fleet-{name}`` a trusted fleet gateway (the demo simulator, the
tests); the bridge user is named by settings (``mqtt_bridge_user``).

- a device may publish only ``fieldflow/devices/{id}/#`` and, as Sparkplug edge node
  ``{id}`` in the one group of the deployment (``mqtt_sparkplug_group``: a device cannot
  register nodes under other groups), its own NBIRTH/NDATA/NDEATH and
  DBIRTH/DDATA/DDEATH; it may read the commands addressed to it (NCMD/DCMD) and host
  ``STATE``;
- a fleet gateway may publish every device's and phone's telemetry (in any Sparkplug
  group) and read the inboxes: it speaks for many devices, so give it only to processes
  that run beside the platform;
- a phone may publish only ``fieldflow/engineers/{id}/location`` and ``owntracks/{id}/#``
  (OwnTracks' user level = the engineer id), and read its inbox and its OwnTracks
  ``cmd`` topic;
- the bridge reads everything and publishes only NCMD (rebirth requests) and inboxes.

Mosquitto's ``pattern`` lines substitute ``%u`` with the whole user name, which here
carries the ``dev-``/``eng-`` prefix that topics do not, and patterns also apply to the
bridge; so explicit ``user`` blocks are generated instead. Anonymous access is off
(``auth_config``).

Passwords use mosquitto 2's ``$7$`` format: PBKDF2-HMAC-SHA512, 101 iterations by
default, a 12-byte salt, ``user:$7$<iterations>$<base64 salt>$<base64 hash>`` (as
written by ``mosquitto_passwd``; cross-checked in the tests when it is on PATH).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from ingest.sparkplug_codec import NAMESPACE

DEVICE_PREFIX = "dev-"
ENGINEER_PREFIX = "eng-"
FLEET_PREFIX = "fleet-"
SPARKPLUG_GROUP = "fieldflow"
ITERATIONS = 101  # mosquitto_passwd's default for $7$
SALT_BYTES = 12
# Ids that are safe inside a password file line and an ACL topic (no ':', '+', '#', '/').
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True, slots=True)
class Credential:
    """One MQTT login. ``username`` is ``dev-<device>``, ``eng-<engineer>`` or the bridge."""

    username: str
    password: str

    @classmethod
    def device(cls, device_id: str, password: str | None = None) -> Credential:
        return cls(DEVICE_PREFIX + _checked(device_id), password or generate_password())

    @classmethod
    def engineer(cls, engineer_id: str, password: str | None = None) -> Credential:
        return cls(ENGINEER_PREFIX + _checked(engineer_id), password or generate_password())


def usable_id(ident: str) -> bool:
    """True when ``ident`` can be part of an MQTT user name and an ACL topic."""
    return bool(_SAFE_ID.match(ident))


def _checked(ident: str) -> str:
    if not _SAFE_ID.match(ident):
        raise ValueError(f"id {ident!r} cannot be an MQTT user (letters, digits, _ . - only)")
    return ident


def generate_password(nbytes: int = 18) -> str:
    return secrets.token_urlsafe(nbytes)


def hash_password(password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """``$7$<iterations>$<salt>$<hash>`` as mosquitto 2 stores it."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    """Check ``password`` against a ``$7$`` hash (from this module or mosquitto_passwd)."""
    parts = encoded.split("$")
    if len(parts) != 5 or parts[0] != "" or parts[1] != "7":
        return False
    try:
        iterations = int(parts[2])
        salt, expected = base64.b64decode(parts[3]), base64.b64decode(parts[4])
    except ValueError:
        return False
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return hmac.compare_digest(digest, expected)


def render_password_file(credentials: Iterable[Credential]) -> str:
    """The mosquitto ``password_file`` text, one ``user:$7$...`` line per credential."""
    lines, seen = [], set()
    for cred in credentials:
        if ":" in cred.username or not cred.username.strip() or "\n" in cred.password:
            raise ValueError(f"unusable MQTT credential {cred.username!r}")
        if cred.username in seen:
            raise ValueError(f"duplicate MQTT user {cred.username!r}")
        seen.add(cred.username)
        lines.append(f"{cred.username}:{hash_password(cred.password)}")
    return "\n".join(lines) + "\n" if lines else ""


def _device_rules(device_id: str, group: str) -> list[str]:
    sp = f"{NAMESPACE}/{group}"
    return [
        f"topic write fieldflow/devices/{device_id}/#",
        *(f"topic write {sp}/{kind}/{device_id}" for kind in ("NBIRTH", "NDATA", "NDEATH")),
        *(f"topic write {sp}/{kind}/{device_id}/+" for kind in ("DBIRTH", "DDATA", "DDEATH")),
        f"topic read {sp}/NCMD/{device_id}",
        f"topic read {sp}/DCMD/{device_id}/+",
        f"topic read {NAMESPACE}/STATE/+",
    ]


def _fleet_rules() -> list[str]:
    sp = f"{NAMESPACE}/+"  # a gateway may bridge several plants (groups)
    return [
        "topic write fieldflow/devices/+/telemetry",
        "topic write fieldflow/engineers/+/location",
        "topic write owntracks/#",
        *(f"topic write {sp}/{kind}/+" for kind in ("NBIRTH", "NDATA", "NDEATH")),
        *(f"topic write {sp}/{kind}/+/+" for kind in ("DBIRTH", "DDATA", "DDEATH")),
        "topic read fieldflow/engineers/+/inbox",
        f"topic read {sp}/NCMD/+",
        f"topic read {NAMESPACE}/STATE/+",
    ]


def _engineer_rules(engineer_id: str) -> list[str]:
    return [
        f"topic write fieldflow/engineers/{engineer_id}/location",
        f"topic write owntracks/{engineer_id}/#",
        f"topic read fieldflow/engineers/{engineer_id}/inbox",
        f"topic read owntracks/{engineer_id}/+/cmd",
    ]


def render_acl(
    usernames: Iterable[str], bridge_user: str, sparkplug_group: str = SPARKPLUG_GROUP
) -> str:
    """The mosquitto ``acl_file`` text for these users (unknown prefixes get nothing)."""
    group = _checked(sparkplug_group)
    out = [
        "# Generated by fieldflow (ingest/auth.py); do not edit by hand.",
        "# No rules before the first 'user' line: anonymous clients get nothing.",
        "",
        f"user {bridge_user}",
        "topic read #",
        f"topic write {NAMESPACE}/+/NCMD/+",
        "topic write fieldflow/engineers/+/inbox",
    ]
    for name in sorted(set(usernames) - {bridge_user}):
        if name.startswith(DEVICE_PREFIX):
            rules = _device_rules(_checked(name.removeprefix(DEVICE_PREFIX)), group)
        elif name.startswith(ENGINEER_PREFIX):
            rules = _engineer_rules(_checked(name.removeprefix(ENGINEER_PREFIX)))
        elif name.startswith(FLEET_PREFIX):
            rules = _fleet_rules()
        else:
            rules = []  # no role: may connect but neither publish nor subscribe
        out += ["", f"user {name}", *rules]
    return "\n".join(out) + "\n"


def auth_config(password_file: str, acl_file: str) -> str:
    """The mosquitto.conf lines that turn authentication on."""
    return (
        "allow_anonymous false\n"
        f"password_file {password_file}\n"
        f"acl_file {acl_file}\n"
    )


def password_file_users(text: str) -> dict[str, str]:
    """``user -> $7$ hash`` of an existing password file (blank and ``#`` lines skipped)."""
    users: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#") and ":" in line:
            user, _, encoded = line.partition(":")
            users[user] = encoded
    return users


def merge_password_file(existing: str, credentials: Iterable[Credential]) -> str:
    """``existing`` with ``credentials`` added (a user given again gets the new password)."""
    users = password_file_users(existing)
    fresh = list(credentials)
    render_password_file(fresh)  # validates: no duplicates, usable names
    for cred in fresh:
        users[cred.username] = hash_password(cred.password)
    return "".join(f"{user}:{encoded}\n" for user, encoded in users.items())
