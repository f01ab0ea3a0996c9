"""Who may talk to the server: the Host allow-list, the cross-site refusal, and the optional admin token.

A local emulator listens on a laptop, where every web page the user opens can send requests to it.  Two
attacks follow, and both are refused here for the whole server (the API as much as ``/_emulator``):

* **DNS rebinding**: a page on ``evil.example`` whose name then resolves to 127.0.0.1 talks to the emulator as
  its own origin.  Its requests carry ``Host: evil.example``, so only known host names are served: the
  loopback names (``localhost``, ``*.localhost``), the bound ``--host``, any IP address (rebinding needs a
  name), and each ``--allowed-host`` (docker-compose sets its service name).  ``--allowed-host '*'`` serves any.
* **Cross-site request forgery**: a form or a ``text/plain`` ``fetch`` from another site (or another port of
  127.0.0.1: same site, other origin) is sent without a CORS preflight.  A state-changing request (anything
  but GET, HEAD, OPTIONS) that carries browser markers must show this server's own origin: ``Origin`` (else
  ``Referer``) equal to ``<scheme>://<Host>``, and ``Sec-Fetch-Site`` neither ``cross-site`` nor ``same-site``.
  Clients that send no such marker (curl, the SDKs, the pytest plugin) are not browsers and pass.

A refused request answers 403 ``AccessDenied`` in the service's error envelope.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from urllib.parse import urlsplit

from starlette.responses import RedirectResponse, Response
from starlette.types import Scope

from emulator.context import RequestContext
from emulator.errors import AccessDenied, AdminTokenRequired
from emulator.settings import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "localhost.localdomain"})
ANY_HOST = "*"


def host_name(host: str) -> str:
    """``Host`` without its port, lower case, no trailing dot: ``[::1]:80`` → ``::1``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host[1:]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class HostPolicy:
    """The names this server answers to (see the module's docstring); verdicts cached per raw ``Host`` value."""

    CACHE_SIZE = 256

    def __init__(self, settings: Settings) -> None:
        extra = {host_name(h) for h in settings.allowed_hosts if h.strip()}
        self.any = ANY_HOST in extra
        self.names = frozenset(LOOPBACK_NAMES | extra | {host_name(settings.host)})
        self._seen: dict[bytes, bool] = {}

    def allows(self, host: str) -> bool:
        name = host_name(host)
        return self.any or name in self.names or name.endswith(".localhost") or _is_ip(name)

    def allows_raw(self, host: bytes) -> bool:
        verdict = self._seen.get(host)
        if verdict is None:
            if len(self._seen) >= self.CACHE_SIZE:  # bounded: a stream of made-up names cannot grow it
                self._seen.clear()
            verdict = self._seen[host] = self.allows(host.decode("latin-1"))
        return verdict


def check_request(scope: Scope, hosts: HostPolicy) -> None:
    headers = scope["headers"]
    host = None
    for name, value in headers:
        if name == b"host":
            host = value
            break
    if host is not None and not hosts.allows_raw(host):
        raise AccessDenied(
            f"Host {host_name(host.decode('latin-1'))!r} is not served by this emulator (DNS rebinding guard); "
            "start it with --allowed-host NAME to serve that name."
        )
    if scope["method"] in SAFE_METHODS:
        return
    _check_origin(headers, None if host is None else host.decode("latin-1"))


def _check_origin(headers: list[tuple[bytes, bytes]], host: str | None) -> None:
    origin = referer = fetch_site = None
    for name, value in headers:
        if name == b"origin":
            origin = value.decode("latin-1")
        elif name == b"referer":
            referer = value.decode("latin-1")
        elif name == b"sec-fetch-site":
            fetch_site = value.decode("latin-1").strip().lower()
    if fetch_site in ("cross-site", "same-site"):
        raise AccessDenied(
            "Cross-site request refused: this emulator accepts browser requests from its own pages only."
        )
    seen = origin if origin is not None else referer
    if seen is not None and not _same_origin(seen, host):
        raise AccessDenied(
            "Cross-origin request refused: this emulator accepts browser requests from its own pages only "
            "(the Origin does not match the Host)."
        )


def _same_origin(seen: str, host: str | None) -> bool:
    if host is None:
        return False
    try:
        netloc = urlsplit(seen.strip()).netloc
    except ValueError:
        return False
    return bool(netloc) and netloc.lower() == host.strip().lower()


# ---------------------------------------------------------------------------------------------------- admin token

DASHBOARD_COOKIE = "emulator_admin"
DASHBOARD_PAGES = ("/_emulator", "/_emulator/")
DASHBOARD_PREFIX = "/_emulator/dashboard/"
LOGIN_PATH = "/_emulator/dashboard/login"


def dashboard_session(token: str) -> str:
    """The cookie's value: derived from the token (the token itself never sits in the browser)."""
    return hmac.new(token.encode(), b"dashscope-emulator dashboard session", hashlib.sha256).hexdigest()


def is_dashboard(path: str) -> bool:
    return path in DASHBOARD_PAGES or path.startswith(DASHBOARD_PREFIX)


class AdminGate:
    """``--admin-token``: /_emulator/* needs ``Authorization: Bearer <token>`` or ``X-Emulator-Token: <token>``.

    The dashboard's pages and controls (and any GET under /_emulator) take the HttpOnly, SameSite=Strict
    cookie its login form sets instead (the cross-site rule above keeps other pages of the same site from
    riding on it).  Open without either: the
    health check, the static assets, the login form itself, and the landing page, which then shows only
    that form (the request context's ``admin`` is False).
    """

    OPEN_PATHS = frozenset({"/_emulator/health", *DASHBOARD_PAGES})
    OPEN_PREFIXES = ("/_emulator/static/",)

    def __init__(self, token: str) -> None:
        self.token = token.encode()
        self.session = dashboard_session(token).encode()

    def check(self, scope: Scope, ctx: RequestContext) -> Response | None:
        """For a request under /_emulator: None to go on, a redirect to the sign-in page to answer instead, or
        ``AdminTokenRequired`` raised."""
        allowed = self._authorized(scope)
        ctx.admin = allowed
        if allowed or self._open(scope):
            return None
        if scope["method"] in ("GET", "HEAD") and is_dashboard(scope["path"]):
            return RedirectResponse("/_emulator/", status_code=303)
        raise AdminTokenRequired()

    def _authorized(self, scope: Scope) -> bool:
        headers = dict(scope["headers"])
        given = headers.get(b"x-emulator-token") or _bearer(headers.get(b"authorization"))
        if given:
            return hmac.compare_digest(given.strip(), self.token)
        if is_dashboard(scope["path"]) or scope["method"] in ("GET", "HEAD"):
            cookie = _cookie(headers.get(b"cookie"), DASHBOARD_COOKIE.encode())
            return cookie is not None and hmac.compare_digest(cookie, self.session)
        return False

    def _open(self, scope: Scope) -> bool:
        path = scope["path"]
        if path == LOGIN_PATH and scope["method"] == "POST":
            return True
        if scope["method"] not in ("GET", "HEAD"):
            return False
        return path in self.OPEN_PATHS or path.startswith(self.OPEN_PREFIXES)


def _bearer(value: bytes | None) -> bytes | None:
    if not value:
        return None
    scheme, _, token = value.partition(b" ")
    return token.strip() if scheme.lower() == b"bearer" else None


def _cookie(header: bytes | None, name: bytes) -> bytes | None:
    if not header:
        return None
    for part in header.split(b";"):
        key, _, value = part.strip().partition(b"=")
        if key == name:
            return value.strip()
    return None
