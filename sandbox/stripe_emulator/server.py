"""The Stripe emulator: an aiohttp server on 127.0.0.1 that the real stripe-python talks to.

It answers the v1 API the bot uses (Checkout Sessions, and what a webhook or
reconciliation may read back: PaymentIntents, Events) with Stripe's rules for
authentication, versions, form encoding and idempotency, and it plays the
buyer's part: paying, or letting a session expire, and delivering the signed
webhook events that follow.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import hmac
import json
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import aiohttp
from aiohttp import web

from . import objects
from .checkout import parse_create
from .errors import StripeError, invalid_request, mask_key, resource_missing
from .forms import FormError, decode_form, parse_form
from .params import (
    child,
    read_array,
    read_expand,
    read_hash,
    read_int,
    read_string,
    reject_unknown,
)

__all__ = ["DEFAULT_API_VERSION", "ApiRequest", "Delivery", "StripeEmulator"]

# The version stripe-python 16.1 pins and sends in Stripe-Version; used when a
# request names none (the account default) and for events built by tests.
DEFAULT_API_VERSION = "2026-10-28.endive"

IDEMPOTENCY_KEY_MAX_LENGTH = 255
WEBHOOK_USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}(\.[a-z]+)?")
_RATE_LIMIT_MESSAGE = (
    "Too many requests hit the API too quickly. We recommend an exponential backoff of your "
    "requests."
)
_NO_API_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)
_SESSION_EXPANDABLE_NULLS = ("customer", "invoice", "payment_link", "setup_intent", "subscription")


@dataclass
class ApiRequest:
    """One API request as the emulator received and answered it."""

    method: str
    path: str
    params: dict[str, Any]
    headers: dict[str, str]
    status: int
    response: dict[str, Any]
    request_id: str = ""
    replayed: bool = False


@dataclass
class Delivery:
    """One webhook POST and what the receiver answered (status 0: no answer at all)."""

    event: dict[str, Any]
    body: bytes
    signature_header: str
    status: int
    response_body: str


@dataclass(frozen=True)
class _Call:
    params: dict[str, Any]
    path_args: tuple[str, ...]
    api_version: str
    request_id: str
    idempotency_key: str | None


@dataclass(frozen=True)
class _StoredResult:
    """A response kept under an idempotency key, replayed byte for byte."""

    endpoint: str
    params: dict[str, Any]
    status: int
    body: bytes
    headers: dict[str, str]
    request_id: str


@dataclass(frozen=True)
class _Failure:
    error: StripeError
    should_retry: bool | None


Handler = Callable[[_Call], dict[str, Any]]


@dataclass
class _SessionState:
    """What the emulator keeps beside a session object: none of it is in Stripe's shape."""

    api_version: str
    line_items: list[dict[str, Any]]
    payment_intent_data: dict[str, Any]


class StripeEmulator:
    """The Stripe API on ``base_url``, plus the buyer and the webhook sender of a test.

    Everything it answers and sends is kept for the test to read: ``sessions``
    (current state, Stripe's shape), ``requests``, ``events`` and ``deliveries``.
    """

    def __init__(
        self,
        api_key: str = "sk_test_emulator_fake_key",
        webhook_secret: str = "whsec_emulator_fake_secret",
    ) -> None:
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.webhook_url: str | None = None
        self.base_url = ""
        # Seconds since the epoch; tests may replace it to move time.
        self.clock: Callable[[], float] = time.time
        self.delivery_timeout = 10.0

        self.sessions: dict[str, dict[str, Any]] = {}
        self.payment_intents: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.requests: list[ApiRequest] = []
        self.deliveries: list[Delivery] = []

        self._state: dict[str, _SessionState] = {}
        self._idempotent: dict[tuple[str, str], _StoredResult] = {}
        self._failures: deque[_Failure] = deque()
        self._delivered = asyncio.Condition()
        self._background: set[asyncio.Task[Delivery]] = set()
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("POST", re.compile(r"/v1/checkout/sessions"), self._create_session),
            ("GET", re.compile(r"/v1/checkout/sessions"), self._list_sessions),
            ("GET", re.compile(r"/v1/checkout/sessions/([^/]+)"), self._retrieve_session),
            ("POST", re.compile(r"/v1/checkout/sessions/([^/]+)/expire"), self._expire_session),
            ("GET", re.compile(r"/v1/checkout/sessions/([^/]+)/line_items"), self._line_items),
            ("GET", re.compile(r"/v1/payment_intents/([^/]+)"), self._retrieve_payment_intent),
            ("GET", re.compile(r"/v1/events"), self._list_events),
            ("GET", re.compile(r"/v1/events/([^/]+)"), self._retrieve_event),
        ]

    # -- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        self._http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.delivery_timeout)
        )

    async def close(self) -> None:
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # -- the buyer's side ----------------------------------------------------------

    async def pay(self, session_id: str) -> Delivery:
        """The buyer pays by card on the hosted page: ``checkout.session.completed``, paid."""
        self._require_endpoint()
        session = self._open_session(session_id)
        self._complete(session, paid=True)
        return await self.deliver(self._emit("checkout.session.completed", session))

    async def complete_unpaid(self, session_id: str) -> Delivery:
        """The buyer chooses a delayed payment method: completed, but not paid yet."""
        self._require_endpoint()
        session = self._open_session(session_id)
        self._complete(session, paid=False)
        return await self.deliver(self._emit("checkout.session.completed", session))

    async def async_payment_succeeded(self, session_id: str) -> Delivery:
        """The delayed payment of a completed, unpaid session arrives."""
        self._require_endpoint()
        session = self._awaiting_payment(session_id)
        intent = self.payment_intents[session["payment_intent"]]
        intent.update(
            status="succeeded",
            amount_received=intent["amount"],
            latest_charge=objects.new_id("py_"),
        )
        session["payment_status"] = "paid"
        return await self.deliver(self._emit("checkout.session.async_payment_succeeded", session))

    async def async_payment_failed(self, session_id: str) -> Delivery:
        """The delayed payment of a completed, unpaid session fails."""
        self._require_endpoint()
        session = self._awaiting_payment(session_id)
        self.payment_intents[session["payment_intent"]]["status"] = "requires_payment_method"
        return await self.deliver(self._emit("checkout.session.async_payment_failed", session))

    async def expire_session(self, session_id: str) -> Delivery:
        """The session reaches its ``expires_at`` unpaid: ``checkout.session.expired``."""
        self._require_endpoint()
        session = self._open_session(session_id)
        _mark_expired(session)
        return await self.deliver(self._emit("checkout.session.expired", session))

    def _require_endpoint(self) -> None:
        # Checked before anything changes, so a forgotten webhook_url leaves no trace.
        if self.webhook_url is None:
            raise RuntimeError("StripeEmulator.webhook_url is not set")
        if self._http is None:
            raise RuntimeError("StripeEmulator is not started")

    def _open_session(self, session_id: str) -> dict[str, Any]:
        session = self.sessions.get(session_id)
        if session is None:
            raise ValueError(f"no checkout session {session_id!r}")
        if session["status"] != "open":
            raise ValueError(f"checkout session {session_id} is {session['status']}, not open")
        return session

    def _awaiting_payment(self, session_id: str) -> dict[str, Any]:
        session = self.sessions.get(session_id)
        if session is None or session["status"] != "complete":
            raise ValueError(f"checkout session {session_id!r} is not complete")
        if session["payment_status"] != "unpaid":
            raise ValueError(f"checkout session {session_id} is already paid")
        return session

    def _complete(self, session: dict[str, Any], *, paid: bool) -> None:
        state = self._state[session["id"]]
        intent = objects.build_payment_intent(
            session,
            state.payment_intent_data,
            status="succeeded" if paid else "processing",
            created=self._now(),
        )
        self.payment_intents[intent["id"]] = intent
        session.update(
            status="complete",
            payment_status="paid" if paid else "unpaid",
            payment_intent=intent["id"],
            customer_details=objects.completed_customer_details(session["customer_email"]),
            collected_information=objects.completed_collected_information(),
            url=None,
        )

    # -- events and webhooks -------------------------------------------------------

    def build_event(self, type: str, obj: dict[str, Any]) -> dict[str, Any]:
        """An event envelope around a deep copy of ``obj``, with a fresh ``evt_`` id."""
        return objects.build_event(type, obj, api_version=DEFAULT_API_VERSION, created=self._now())

    def _emit(
        self,
        type: str,
        session: dict[str, Any],
        *,
        request_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Create and keep (for ``GET /v1/events``) an event about a session."""
        event = objects.build_event(
            type,
            session,
            api_version=self._state[session["id"]].api_version,
            created=self._now(),
            request_id=request_id,
            idempotency_key=idempotency_key,
        )
        self.events.append(event)
        return copy.deepcopy(event)

    def sign(self, body: bytes, *, timestamp: int | None = None, secret: str | None = None) -> str:
        """The ``Stripe-Signature`` header: ``t=<ts>,v1=<HMAC-SHA256 of "<ts>.<body>">``."""
        stamp = self._now() if timestamp is None else timestamp
        key = (self.webhook_secret if secret is None else secret).encode("utf-8")
        digest = hmac.new(key, f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        return f"t={stamp},v1={digest}"

    async def deliver(
        self,
        event: dict[str, Any],
        *,
        body: bytes | None = None,
        signature_header: str | None = None,
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> Delivery:
        """POST an event to ``webhook_url`` once, signed unless told otherwise, and record it."""
        self._require_endpoint()
        assert self.webhook_url is not None and self._http is not None
        payload = _compact_json(event) if body is None else body
        header = (
            self.sign(payload, timestamp=timestamp, secret=secret)
            if signature_header is None
            else signature_header
        )
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": header,
            "User-Agent": WEBHOOK_USER_AGENT,
            "Accept": "*/*; q=0.5, application/xml",
            "Cache-Control": "no-cache",
        }
        try:
            async with self._http.post(self.webhook_url, data=payload, headers=headers) as answer:
                status = answer.status
                text = (await answer.read()).decode("utf-8", "replace")
        except (aiohttp.ClientError, TimeoutError) as error:
            # Refused, reset or too slow: Stripe records no status, only a failure.
            status, text = 0, f"{type(error).__name__}: {error}"
        delivery = Delivery(event, payload, header, status, text)
        if 200 <= status < 300:
            # The kept event (GET /v1/events) counts the endpoints still to succeed.
            for kept in self.events:
                if kept["id"] == event.get("id"):
                    kept["pending_webhooks"] = max(0, kept["pending_webhooks"] - 1)
        async with self._delivered:
            self.deliveries.append(delivery)
            self._delivered.notify_all()
        return delivery

    async def wait_for_delivery(
        self,
        type: str | None = None,
        *,
        object_id: str | None = None,
        # A bound by default, so that a delivery that never comes fails the test
        # instead of hanging the run.
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> Delivery:
        """The first delivery of an event of ``type`` about ``object_id``, waiting if needed.

        For events the emulator sends on its own (an API expire), which the test
        did not trigger by calling ``pay``/``deliver`` itself.
        """

        def find() -> Delivery | None:
            for delivery in self.deliveries:
                event = delivery.event
                if type is not None and event.get("type") != type:
                    continue
                if object_id is not None and event["data"]["object"].get("id") != object_id:
                    continue
                return delivery
            return None

        async with asyncio.timeout(timeout), self._delivered:
            found = await self._delivered.wait_for(find)
        assert found is not None
        return found

    def _deliver_later(self, event: dict[str, Any]) -> None:
        """Stripe answers the API call first and sends the event afterwards."""
        if self.webhook_url is None:
            return
        task = asyncio.ensure_future(self.deliver(event))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- failure injection ---------------------------------------------------------

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 500,
        error_type: str = "api_error",
        message: str = "An unknown error occurred",
        should_retry: bool | None = None,
        code: str | None = None,
    ) -> None:
        """Answer the next ``count`` API requests (not webhooks) with a Stripe error.

        The failure happens before the request reaches an endpoint, so nothing
        is created and nothing is kept under its idempotency key: a retry with
        the same key runs for real. ``status=429`` with the defaults gives
        Stripe's rate-limit error (``invalid_request_error``, code ``rate_limit``).
        """
        if status == 429 and error_type == "api_error" and code is None:
            error_type, code = "invalid_request_error", "rate_limit"
            if message == "An unknown error occurred":
                message = _RATE_LIMIT_MESSAGE
        error = StripeError(message, status=status, type=error_type, code=code)
        self._failures.extend(_Failure(error, should_retry) for _ in range(count))

    # -- HTTP --------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        request_id = objects.new_id("req_", 14)
        raw = await request.read()
        headers = {str(name): value for name, value in request.headers.items()}
        # Decoded first so that every recorded request shows what was sent.
        params: dict[str, Any] = {}
        decode_error: StripeError | None = None
        try:
            params = _decode_params(request, raw)
        except StripeError as error:
            decode_error = error
        extra_headers: dict[str, str] = {}
        replayed = False
        try:
            if self._failures:
                failure = self._failures.popleft()
                if failure.should_retry is not None:
                    extra_headers["Stripe-Should-Retry"] = str(failure.should_retry).lower()
                raise failure.error
            api_key = self._authenticate(request)
            api_version = self._api_version(request)
            extra_headers["Stripe-Version"] = api_version
            if decode_error is not None:
                raise decode_error
            handler, path_args = self._route(request.method, request.path)
            key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
            call = _Call(params, path_args, api_version, request_id, key)
            if key is not None:
                extra_headers["Idempotency-Key"] = key
                status, body, stored_headers, replayed = self._idempotent_call(
                    api_key, key, f"{request.method} {request.path}", handler, call
                )
                extra_headers.update(stored_headers)
            else:
                status, body = 200, _pretty_json(handler(call))
        except StripeError as error:
            status, body = error.status, _pretty_json(error.body(request_id))
            if status == 401:
                extra_headers["Www-Authenticate"] = 'Basic realm="Stripe"'

        self.requests.append(
            ApiRequest(
                method=request.method,
                path=request.path,
                params=params,
                headers=headers,
                status=status,
                response=json.loads(body),
                request_id=request_id,
                replayed=replayed,
            )
        )
        return web.Response(
            body=body,
            status=status,
            content_type="application/json",
            headers={"Request-Id": request_id, **extra_headers},
        )

    def _authenticate(self, request: web.Request) -> str:
        authorization = request.headers.get("Authorization", "")
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer":
            key = credentials.strip()
        elif scheme.lower() == "basic":
            # `curl -u sk_test_…:` sends the key as the user name.
            try:
                key = base64.b64decode(credentials).decode().partition(":")[0]
            except ValueError:
                key = ""
        else:
            key = ""
        if not key:
            raise StripeError(_NO_API_KEY, status=401)
        if not hmac.compare_digest(key.encode(), self.api_key.encode()):
            raise StripeError(f"Invalid API Key provided: {mask_key(key)}", status=401)
        return key

    def _api_version(self, request: web.Request) -> str:
        version = request.headers.get("Stripe-Version")
        if version is None:
            return DEFAULT_API_VERSION
        if not _VERSION.fullmatch(version):
            raise invalid_request(f"Invalid Stripe API version: {version}")
        return version

    def _route(self, method: str, path: str) -> tuple[Handler, tuple[str, ...]]:
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                return handler, match.groups()
        raise StripeError(
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
            "or we can help at https://support.stripe.com/.",
            status=404,
        )

    def _idempotent_call(
        self, api_key: str, key: str, endpoint: str, handler: Handler, call: _Call
    ) -> tuple[int, bytes, dict[str, str], bool]:
        """Run a POST under Stripe's idempotency rules: (status, body, headers, replayed)."""
        if len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
            raise invalid_request(
                f"Invalid Idempotency-Key: must be at most {IDEMPOTENCY_KEY_MAX_LENGTH} "
                f"characters, but it is {len(key)} characters long."
            )
        stored = self._idempotent.get((api_key, key))
        if stored is not None:
            if stored.endpoint != endpoint:
                raise _idempotency_error(
                    "Keys for idempotent requests can only be used for the same endpoint they "
                    f"were first used for ('{_path(endpoint)}' vs '{_path(stored.endpoint)}'). "
                    f"Try using a key other than '{key}' if you meant to execute a different "
                    "request."
                )
            if stored.params != call.params:
                raise _idempotency_error(
                    "Keys for idempotent requests can only be used with the same parameters they "
                    f"were first used with. Try using a key other than '{key}' if you meant to "
                    "execute a different request."
                )
            replay_headers = {
                **stored.headers,
                "Idempotent-Replayed": "true",
                "Original-Request": stored.request_id,
            }
            return stored.status, stored.body, replay_headers, True

        # Only results of an endpoint that ran are kept: a request refused by
        # validation may be retried with the same key (Stripe's documented rule).
        body = _pretty_json(handler(call))
        headers = {"Original-Request": call.request_id}
        self._idempotent[(api_key, key)] = _StoredResult(
            endpoint, copy.deepcopy(call.params), 200, body, headers, call.request_id
        )
        return 200, body, headers, False

    # -- endpoints ---------------------------------------------------------------------

    def _create_session(self, call: _Call) -> dict[str, Any]:
        spec = parse_create(call.params, now=self._now(), api_version=call.api_version)
        _check_session_expand(list(spec.expand))
        session = objects.build_session(spec)
        self.sessions[session["id"]] = session
        self._state[session["id"]] = _SessionState(
            api_version=call.api_version,
            line_items=[objects.build_line_item(item, spec.created) for item in spec.line_items],
            payment_intent_data=spec.payment_intent_data,
        )
        return self._render_session(session, list(spec.expand))

    def _retrieve_session(self, call: _Call) -> dict[str, Any]:
        reject_unknown(call.params, {"expand"})
        session = self._session_or_404(call.path_args[0])
        return self._render_session(session, read_expand(call.params))

    def _expire_session(self, call: _Call) -> dict[str, Any]:
        reject_unknown(call.params, {"expand"})
        session = self._session_or_404(call.path_args[0])
        if session["status"] != "open":
            raise invalid_request(
                'Only Checkout Sessions with a status in ["open"] can be expired. This Checkout '
                f"Session has a status of `{session['status']}`."
            )
        _mark_expired(session)
        self._deliver_later(
            self._emit(
                "checkout.session.expired",
                session,
                request_id=call.request_id,
                idempotency_key=call.idempotency_key,
            )
        )
        return self._render_session(session, read_expand(call.params))

    def _list_sessions(self, call: _Call) -> dict[str, Any]:
        params = call.params
        reject_unknown(
            params,
            {
                "created",
                "customer",
                "customer_account",
                "customer_details",
                "ending_before",
                "expand",
                "limit",
                "payment_intent",
                "payment_link",
                "starting_after",
                "status",
                "subscription",
            },
        )
        sessions = list(reversed(self.sessions.values()))
        for name in ("payment_intent", "status", "customer", "payment_link", "subscription"):
            if name in params:
                wanted = read_string(params[name], name)
                sessions = [session for session in sessions if session.get(name) == wanted]
        if "customer_details" in params:
            details = read_hash(params["customer_details"], "customer_details")
            reject_unknown(details, {"email"}, "customer_details")
            email = read_string(details.get("email"), "customer_details[email]")
            sessions = [
                session
                for session in sessions
                if (session["customer_details"] or {}).get("email") == email
            ]
        sessions = _created_filter(sessions, params)
        page, has_more = _paginate(sessions, params, "checkout.session")
        expand = _list_expand(read_expand(params))
        data = [self._render_session(session, expand) for session in page]
        return objects.list_object(data, "/v1/checkout/sessions", has_more=has_more)

    def _line_items(self, call: _Call) -> dict[str, Any]:
        reject_unknown(call.params, {"ending_before", "expand", "limit", "starting_after"})
        session = self._session_or_404(call.path_args[0])
        items = self._state[session["id"]].line_items
        page, has_more = _paginate(items, call.params, "item")
        url = f"/v1/checkout/sessions/{session['id']}/line_items"
        return objects.list_object(copy.deepcopy(page), url, has_more=has_more)

    def _retrieve_payment_intent(self, call: _Call) -> dict[str, Any]:
        reject_unknown(call.params, {"client_secret", "expand"})
        intent = self.payment_intents.get(call.path_args[0])
        if intent is None:
            raise resource_missing("payment_intent", call.path_args[0], "intent")
        _reject_expansions(read_expand(call.params))
        return copy.deepcopy(intent)

    def _retrieve_event(self, call: _Call) -> dict[str, Any]:
        reject_unknown(call.params, {"expand"})
        _reject_expansions(read_expand(call.params))
        for event in self.events:
            if event["id"] == call.path_args[0]:
                return copy.deepcopy(event)
        raise resource_missing("event", call.path_args[0], "id")

    def _list_events(self, call: _Call) -> dict[str, Any]:
        params = call.params
        reject_unknown(
            params,
            {
                "created",
                "delivery_success",
                "ending_before",
                "expand",
                "limit",
                "starting_after",
                "type",
                "types",
            },
        )
        events = list(reversed(self.events))
        if "type" in params:
            pattern = read_string(params["type"], "type")
            events = [event for event in events if _type_matches(pattern, event["type"])]
        if "types" in params:
            types = read_array(params["types"], "types")
            wanted = {read_string(item, child("types", i)) for i, item in enumerate(types)}
            events = [event for event in events if event["type"] in wanted]
        events = _created_filter(events, params)
        page, has_more = _paginate(events, params, "event")
        return objects.list_object(copy.deepcopy(page), "/v1/events", has_more=has_more)

    # -- helpers -----------------------------------------------------------------------

    def _now(self) -> int:
        return int(self.clock())

    def _session_or_404(self, session_id: str) -> dict[str, Any]:
        session = self.sessions.get(session_id)
        if session is None:
            raise resource_missing("checkout.session", session_id, "session")
        return session

    def _render_session(self, session: dict[str, Any], expand: list[str]) -> dict[str, Any]:
        _check_session_expand(expand)
        rendered = copy.deepcopy(session)
        for path in expand:
            if path == "line_items":
                items = self._state[session["id"]].line_items
                page = copy.deepcopy(items[:10])
                url = f"/v1/checkout/sessions/{session['id']}/line_items"
                rendered["line_items"] = objects.list_object(page, url, has_more=len(items) > 10)
            elif path == "payment_intent" and session["payment_intent"] is not None:
                intent = self.payment_intents[session["payment_intent"]]
                rendered["payment_intent"] = copy.deepcopy(intent)
        return rendered


def _check_session_expand(paths: list[str]) -> None:
    for path in paths:
        if path not in ("line_items", "payment_intent", *_SESSION_EXPANDABLE_NULLS):
            raise invalid_request(f"This property cannot be expanded ({path}).")


def _mark_expired(session: dict[str, Any]) -> None:
    session.update(status="expired", url=None)


def _idempotency_error(message: str) -> StripeError:
    return StripeError(message, type="idempotency_error")


def _path(endpoint: str) -> str:
    return endpoint.partition(" ")[2]


def _decode_params(request: web.Request, raw: bytes) -> dict[str, Any]:
    """Query-string parameters, then (for a POST) the form body, as one nested dict."""
    pairs = list(request.query.items())
    if raw:
        content_type = request.headers.get("Content-Type", "")
        if not content_type.startswith("application/x-www-form-urlencoded"):
            raise invalid_request(
                f"Invalid request: unsupported Content-Type {content_type}. If error persists "
                "and you need assistance, please contact support@stripe.com."
            )
        try:
            pairs += parse_form(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise invalid_request("Invalid request: the body is not valid UTF-8.") from None
    try:
        return decode_form(pairs)
    except FormError as error:
        raise invalid_request(error.message, error.param) from None


def _created_filter(items: list[dict[str, Any]], params: dict[str, Any]) -> list[dict[str, Any]]:
    """``created=<ts>`` or ``created[gt|gte|lt|lte]=<ts>``."""
    if "created" not in params:
        return items
    value = params["created"]
    if isinstance(value, str):
        exact = read_int(value, "created")
        return [item for item in items if item["created"] == exact]
    bounds = read_hash(value, "created")
    reject_unknown(bounds, {"gt", "gte", "lt", "lte"}, "created")
    tests: dict[str, Callable[[int, int], bool]] = {
        "gt": lambda created, bound: created > bound,
        "gte": lambda created, bound: created >= bound,
        "lt": lambda created, bound: created < bound,
        "lte": lambda created, bound: created <= bound,
    }
    for name, raw in bounds.items():
        bound = read_int(raw, child("created", name))
        items = [item for item in items if tests[name](item["created"], bound)]
    return items


def _paginate(
    items: list[dict[str, Any]], params: dict[str, Any], object_name: str
) -> tuple[list[dict[str, Any]], bool]:
    """Stripe's cursor pagination over items already in list order (newest first)."""
    limit = read_int(params.get("limit", "10"), "limit", minimum=1, maximum=100)
    ids = [item["id"] for item in items]
    if "starting_after" in params:
        cursor = read_string(params["starting_after"], "starting_after")
        if cursor not in ids:
            raise resource_missing(object_name, cursor, "starting_after")
        after = items[ids.index(cursor) + 1 :]
        return after[:limit], len(after) > limit
    if "ending_before" in params:
        cursor = read_string(params["ending_before"], "ending_before")
        if cursor not in ids:
            raise resource_missing(object_name, cursor, "ending_before")
        before = items[: ids.index(cursor)]
        return before[-limit:], len(before) > limit
    return items[:limit], len(items) > limit


def _list_expand(paths: list[str]) -> list[str]:
    """``data.payment_intent`` -> ``payment_intent``: list expansions name each item's field."""
    expand = []
    for path in paths:
        if not path.startswith("data."):
            raise invalid_request(f"This property cannot be expanded ({path}).")
        expand.append(path.removeprefix("data."))
    return expand


def _reject_expansions(paths: list[str]) -> None:
    # Charges, customers and payment methods are not emulated: nothing to expand into.
    for path in paths:
        raise invalid_request(f"This property cannot be expanded ({path}).")


def _type_matches(pattern: str, type: str) -> bool:
    """``checkout.session.*`` matches every checkout.session event, as on Stripe."""
    if pattern.endswith(".*"):
        return type.startswith(pattern[:-1])
    return type == pattern


def _pretty_json(payload: dict[str, Any]) -> bytes:
    # The API answers with indented JSON; webhooks send the event compactly.
    return json.dumps(payload, indent=2, ensure_ascii=False).encode("utf-8")


def _compact_json(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
