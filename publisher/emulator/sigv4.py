"""SigV4 checks: the Authorization header's shape always, the signature itself when a secret is set.

Error codes and HTTP statuses follow what AWS JSON-protocol services return:
`MissingAuthenticationTokenException` (no SigV4 header), `IncompleteSignatureException`
(a malformed one), `UnrecognizedClientException` (unknown access key) and
`InvalidSignatureException` (wrong scope, stale date or signature mismatch), all HTTP 400.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials

from publisher.emulator.protocol import AwsError

SERVICE = "events"
ALGORITHM = "AWS4-HMAC-SHA256"
MAX_CLOCK_SKEW = timedelta(minutes=15)
_AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details."
)


@dataclass(frozen=True, slots=True)
class ParsedAuthorization:
    """The parts of an `Authorization: AWS4-HMAC-SHA256 ...` header."""

    access_key: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(header: str | None) -> ParsedAuthorization:
    """Split the header into its parts or raise the AwsError AWS answers with."""
    if not header or not header.startswith(ALGORITHM + " "):
        raise AwsError("MissingAuthenticationTokenException", "Missing Authentication Token")
    fields: dict[str, str] = {}
    for part in header[len(ALGORITHM) + 1 :].split(","):
        key, sep, value = part.strip().partition("=")
        if sep:
            fields[key] = value
    missing = [k for k in ("Credential", "SignedHeaders", "Signature") if not fields.get(k)]
    if missing:
        raise AwsError(
            "IncompleteSignatureException",
            f"Authorization header requires '{missing[0]}' parameter. Authorization={header}",
        )
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise AwsError(
            "IncompleteSignatureException",
            f"Credential must have exactly 5 slash-delimited elements, "
            f"e.g. keyid/date/region/service/term, got '{fields['Credential']}'",
        )
    return ParsedAuthorization(
        access_key=scope[0],
        date=scope[1],
        region=scope[2],
        service=scope[3],
        signed_headers=tuple(fields["SignedHeaders"].split(";")),
        signature=fields["Signature"],
    )


def check_scope(
    auth: ParsedAuthorization, region: str, access_key_id: str | None, service: str = SERVICE
) -> None:
    """Refuse credentials scoped to another service or Region, or an unknown access key."""
    if auth.service != service:
        raise AwsError(
            "InvalidSignatureException",
            f"Credential should be scoped to correct service: '{service}'.",
        )
    if auth.region != region:
        raise AwsError(
            "InvalidSignatureException",
            f"Credential should be scoped to a valid region, not '{auth.region}'.",
        )
    if access_key_id is not None and auth.access_key != access_key_id:
        raise AwsError(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )


def verify_signature(
    request: web.Request, body: bytes, auth: ParsedAuthorization, secret_key: str
) -> None:
    """Recompute the signature over what was received and compare it in constant time."""
    amz_date = request.headers.get("X-Amz-Date")
    if not amz_date:
        raise AwsError(
            "IncompleteSignatureException",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        )
    _check_freshness(amz_date)
    if not amz_date.startswith(auth.date):
        raise AwsError("InvalidSignatureException", "Date in Credential scope does not match.")
    declared_hash = request.headers.get("X-Amz-Content-SHA256")
    if declared_hash is not None and declared_hash != hashlib.sha256(body).hexdigest():
        raise AwsError("InvalidSignatureException", _MISMATCH)
    expected = _expected_signature(request, body, auth, secret_key, amz_date)
    if not hmac.compare_digest(expected, auth.signature):
        raise AwsError("InvalidSignatureException", _MISMATCH)


def _check_freshness(amz_date: str) -> None:
    try:
        signed_at = datetime.strptime(amz_date, _AMZ_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise AwsError(
            "IncompleteSignatureException", f"Date must be in ISO-8601 'basic format': {amz_date}"
        ) from None
    now = datetime.now(UTC)
    if abs(now - signed_at) > MAX_CLOCK_SKEW:
        raise AwsError(
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is outside the allowed skew of 15 minutes from "
            f"{now.strftime(_AMZ_DATE_FORMAT)}.",
        )


def _expected_signature(
    request: web.Request, body: bytes, auth: ParsedAuthorization, secret_key: str, amz_date: str
) -> str:
    # Rebuild the request from only the headers the client said it signed, so the canonical
    # request botocore computes covers exactly what the client covered.
    headers = HTTPHeaders()
    for name in auth.signed_headers:
        for value in request.headers.getall(name, []):
            headers[name] = value  # HTTPHeaders appends, keeping repeated headers
    url = f"http://{request.host}{request.raw_path}"
    aws_request = AWSRequest(method=request.method, url=url, data=body, headers=headers)
    aws_request.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(auth.access_key, secret_key), auth.service, auth.region)
    canonical = signer.canonical_request(aws_request)
    string_to_sign = signer.string_to_sign(aws_request, canonical)
    return str(signer.signature(string_to_sign, aws_request))
