"""PutPartnerEvents without the SDK's per-call machinery: one fixed call, signed and sent directly.

Credentials still come from aiobotocore's session (the whole default chain, refresh, IRSA),
or, where the environment alone decides them, from botocore's same providers (env_session.py);
the endpoint from botocore's rule set (endpoints.py), proxies and the CA bundle by botocore's
rules (network.py); the SigV4 signature is botocore's algorithm, computed without its per-request
objects (RequestSigner). Left out: request serialization, response parsing, hooks and retries
that this one call does not need. Replies are judged by the same rules as the SDK client's
(replies.py), so retry decisions are the same. README "The fast client and the SDK" lists
every difference.
"""

from __future__ import annotations

import asyncio
import hmac
import re
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from hashlib import sha256
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import orjson
from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth, _host_from_url
from botocore.awsrequest import AWSRequest
from botocore.utils import normalize_url_path

from publisher import __version__
from publisher.aws.env_session import env_session
from publisher.aws.lean_http import LeanPool, Route
from publisher.aws.network import (
    ca_bundle_for,
    check_readable,
    needs_tls_at_start,
    proxies_for,
    proxy_url_for,
    tls_context,
)
from publisher.aws.putevents import (
    RegionClientPool,
    require_credentials,
    resolve_endpoint,
)
from publisher.aws.replies import (
    CallFailed,
    EntryResult,
    decoded_body,
    error_from_response,
    no_answer,
    results_from_body,
)
from publisher.settings import AwsSettings, PublishSettings

__all__ = ["FastPartnerEventsClient", "FastRegionClients", "RequestSigner", "error_from_response"]

TARGET = "AWSEvents.PutPartnerEvents"
CONTENT_TYPE = "application/x-amz-json-1.1"
SIGNING_NAME = "events"
USER_AGENT = f"partner-publisher/{__version__}"


class RequestSigner:
    """SigV4 for the one fixed PutPartnerEvents request of one endpoint and Region.

    botocore's SigV4Auth builds an AWSRequest and walks email.message headers on every call,
    which costs more CPU than the call itself. The request here is always the same shape
    (POST to the endpoint's path, four signed headers, plus the session token when there is
    one), so its canonical form is written directly, following botocore's SigV4Auth step by
    step; the tests check it byte for byte against botocore's signer. The URL, its canonical
    path and query are worked out once; the signing key once per day.
    """

    def __init__(
        self, endpoint_url: str, region: str, clock: Callable[[], float] = time.time
    ) -> None:
        self.url = request_url(endpoint_url)
        self.host = _host_from_url(self.url)
        # As SigV4Auth.canonical_request: dot segments and repeated slashes removed, then
        # percent-encoded again (a "%20" in the path is signed as "%2520").
        self.canonical_path = quote(normalize_url_path(urlsplit(self.url).path), safe="/~")
        self.canonical_query = SigV4Auth(None, SIGNING_NAME, region).canonical_query_string(
            AWSRequest(method="POST", url=self.url)
        )
        self.region = region
        self._clock = clock
        self._keys: dict[tuple[str, str], bytes] = {}
        self._stamped_second = -1
        self._amz_date = ""

    def headers(self, body: bytes, credentials: Any, now: datetime | None = None) -> dict[str, str]:
        """The headers that sign `body` with `credentials` (frozen: access, secret, token)."""
        amz_date = self._current_amz_date() if now is None else now.strftime(SIGV4_TIMESTAMP)
        day = amz_date[:8]
        scope = f"{day}/{self.region}/{SIGNING_NAME}/aws4_request"
        canonical, signed_headers = self.canonical_request(body, amz_date, credentials.token)
        string_to_sign = "\n".join(
            ("AWS4-HMAC-SHA256", amz_date, scope, sha256(canonical.encode()).hexdigest())
        )
        key = self._key(credentials.secret_key, day)
        signature = hmac.new(key, string_to_sign.encode(), sha256).hexdigest()
        headers = {
            "X-Amz-Target": TARGET,
            "Content-Type": CONTENT_TYPE,
            "X-Amz-Date": amz_date,
            "Authorization": (
                f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
                f"SignedHeaders={signed_headers}, Signature={signature}"
            ),
        }
        if credentials.token:
            headers["X-Amz-Security-Token"] = credentials.token
        return headers

    def canonical_request(self, body: bytes, amz_date: str, token: str | None) -> tuple[str, str]:
        """The canonical request and its signed-header list, as botocore writes them."""
        lines = [
            f"content-type:{CONTENT_TYPE}",
            f"host:{self.host}",
            f"x-amz-date:{amz_date}",
        ]
        names = ["content-type", "host", "x-amz-date"]
        if token:
            lines.append(f"x-amz-security-token:{' '.join(token.split())}")
            names.append("x-amz-security-token")
        lines.append(f"x-amz-target:{TARGET}")
        names.append("x-amz-target")
        signed_headers = ";".join(names)
        canonical = "\n".join(
            (
                "POST",
                self.canonical_path,
                self.canonical_query,
                "\n".join(lines) + "\n",
                signed_headers,
                sha256(body).hexdigest(),
            )
        )
        return canonical, signed_headers

    def _current_amz_date(self) -> str:
        """X-Amz-Date for now, formatted once per second rather than once per call."""
        second = int(self._clock())
        if second != self._stamped_second:
            self._amz_date = time.strftime(SIGV4_TIMESTAMP, time.gmtime(second))
            self._stamped_second = second
        return self._amz_date

    def _key(self, secret_key: str, day: str) -> bytes:
        key = self._keys.get((day, secret_key))
        if key is None:
            key = signing_key(secret_key, day, self.region)
            self._keys = {(day, secret_key): key}  # keep only the current day's key
        return key


def signing_key(secret_key: str, day: str, region: str) -> bytes:
    key = f"AWS4{secret_key}".encode()
    for part in (day, region, SIGNING_NAME, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), sha256).digest()
    return key


def request_url(endpoint_url: str) -> str:
    """The URL botocore posts a JSON-protocol call to: the endpoint's own path, or "/" if none.

    As botocore's _urljoin with the operation path "/": `http://gw/eventbridge` stays as it
    is, a query string is kept.
    """
    parts = urlsplit(endpoint_url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, parts.fragment))


class FastPartnerEventsClient:
    """PutPartnerEvents for one Region: signed here, sent by `post` (direct or via a proxy)."""

    def __init__(self, post: Post, signer: RequestSigner, credentials: Any) -> None:
        self._post = post
        self._signer = signer
        self._credentials = credentials

    async def put_partner_events(self, entries: Sequence[dict[str, Any]]) -> list[EntryResult]:
        body = orjson.dumps({"Entries": entries})
        frozen = await self._credentials.get_frozen_credentials()
        headers = self._signer.headers(body, frozen)
        headers["User-Agent"] = USER_AGENT
        headers["Accept-Encoding"] = "identity"  # as aiobotocore: botocore decodes no codings
        try:
            status, reply_headers, payload = await self._post(body, headers)
        except TimeoutError as exc:
            raise CallFailed("Timeout", f"no answer in time ({exc})") from None
        except OSError as exc:  # a proxied route's aiohttp errors come as CallFailed
            raise no_answer(exc) from None
        encoding = reply_headers.get("Content-Encoding")
        if status != 200:
            plain = decoded_body(payload, encoding, status)
            raise error_from_response(status, reply_headers, plain)
        return results_from_body(payload, len(entries), encoding)


Post = Callable[[bytes, dict[str, str]], Awaitable[tuple[int, Any, bytes]]]
"""Send the signed body with its headers; the reply's status, headers (looked up in any case)
and body, read as replies.read_bounded reads it."""

# aiohttp refuses these in a header, as a header injection; so does the direct route.
_FORBIDDEN_IN_HEADERS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class DirectPost:
    """POST over the lean client (lean_http.py), the bytes aiohttp would send: the request
    line, Host, the signed headers in order, Accept, Content-Length, the body."""

    def __init__(self, pool: LeanPool, signer: RequestSigner, tls: ssl.SSLContext | None) -> None:
        parts = urlsplit(signer.url)
        target = parts.path + ("?" + parts.query if parts.query else "")
        default_port = 443 if parts.scheme.lower() == "https" else 80
        self._pool = pool
        self._route = Route(parts.hostname or "", parts.port or default_port, tls)
        self._start = f"POST {target} HTTP/1.1\r\nHost: {signer.host}\r\n"

    async def __call__(self, body: bytes, headers: dict[str, str]) -> tuple[int, Any, bytes]:
        if _FORBIDDEN_IN_HEADERS.search("".join(headers.values())):
            raise ValueError("a control character in a header: not sent (header injection)")
        fields = "".join([f"{name}: {value}\r\n" for name, value in headers.items()])
        head = f"{self._start}{fields}Accept: */*\r\nContent-Length: {len(body)}\r\n\r\n"
        reply = await self._pool.post(self._route, head.encode() + body)
        return reply.status, reply.headers, reply.body


class FastRegionClients(RegionClientPool):
    """Fast clients per Region; endpoints resolved as botocore does.

    Trust is what botocore would trust (aws.ca_bundle, AWS_CA_BUNDLE, ...), certificates always
    verified. A Region reached directly goes over one lean connection pool shared by all
    Regions; one reached through the proxy botocore would use goes over aiohttp.
    """

    def __init__(self, aws: AwsSettings, publish: PublishSettings) -> None:
        super().__init__()
        self._aws = aws
        self._publish = publish
        self._session: Any = env_session(aws) or _sdk_session(aws)
        self._credentials: Any = None
        self._direct: LeanPool | None = None
        self._http: Any = None  # aiohttp's session for proxied routes, opened when first needed
        self._ca_bundle: str | None = None
        self._tls: ssl.SSLContext | None = None

    async def __aenter__(self) -> FastRegionClients:
        self._credentials = await require_credentials(self._session)
        self._ca_bundle = ca_bundle_for(self._aws.ca_bundle, self._session)
        if self._ca_bundle is not None:  # one the user named: a bad file stops the start
            if needs_tls_at_start(self._aws.endpoint_url):
                self._tls = await asyncio.to_thread(tls_context, self._ca_bundle)
            else:
                check_readable(self._ca_bundle)
        publish = self._publish
        self._direct = LeanPool(
            publish.max_in_flight, publish.connect_timeout_s, publish.request_timeout_s
        )
        self._stack.push_async_callback(self._direct.close)
        return self

    async def _create(self, region: str) -> FastPartnerEventsClient:
        assert self._direct is not None, "use FastRegionClients as a context manager"
        endpoint = await resolve_endpoint(self._session, region, self._aws)
        proxy = proxy_url_for(endpoint, proxies_for(endpoint, self._aws.proxies))
        tls = await self._tls_for(endpoint, proxy)
        signer = RequestSigner(endpoint, region)
        post: Post
        if proxy is None:
            context = tls if isinstance(tls, ssl.SSLContext) else None
            post = DirectPost(self._direct, signer, context)
        else:
            post = await self._proxied_post(signer.url, proxy, tls)
        return FastPartnerEventsClient(post, signer, self._credentials)

    async def _proxied_post(self, url: str, proxy: str, tls: ssl.SSLContext | bool) -> Post:
        """A POST through `proxy` over aiohttp, whose session opens for the first such Region."""
        from publisher.aws import proxied  # aiohttp's client: only for a route with a proxy

        if self._http is None:
            self._http = await proxied.open_session(self._stack, self._publish)
        return proxied.ProxiedPost(self._http, url, proxy, tls)

    async def _tls_for(self, endpoint: str, proxy: str | None) -> ssl.SSLContext | bool:
        """The context for HTTPS (to the endpoint or the proxy), built once, when first needed."""
        if not any(url.startswith("https:") for url in (endpoint, proxy or "")):
            return True  # unused: nothing on this route is TLS
        if self._tls is None:
            self._tls = await asyncio.to_thread(tls_context, self._ca_bundle)
        return self._tls


def _sdk_session(aws: AwsSettings) -> Any:
    from aiobotocore.session import AioSession  # its client stack: only when the SDK decides

    return AioSession(profile=aws.profile)
