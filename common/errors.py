"""One exception hierarchy for the whole gateway.

Every error carries a stable ``code`` (clients and tests match on it, never on the
message) and an HTTP-ish ``status`` used when the error ends a request at the edge.
Foreign exceptions (httpx, SQLAlchemy, PyJWT, pydantic) are translated into these at
the boundary where they occur.
"""
from __future__ import annotations

from typing import Any


class GatewayError(Exception):
    code: str = "INTERNAL_ERROR"
    status: int = 500

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def extensions(self) -> dict[str, Any]:
        ext: dict[str, Any] = {"code": self.code}
        ext.update({k: v for k, v in self.details.items() if v is not None})
        return ext


# --- configuration (start-up) -------------------------------------------------
class ConfigError(GatewayError):
    code = "CONFIG_INVALID"


class SpecError(ConfigError):
    """An adapter spec is invalid. ``details`` name department, path, key and line."""

    code = "SPEC_INVALID"


class SettingsError(ConfigError):
    code = "SETTINGS_INVALID"


class SettingsInsecureError(SettingsError):
    """A production start with a demo or too-short secret. ``details["key"]`` names the setting."""

    code = "SETTINGS_INSECURE"


class PolicyFileError(ConfigError):
    code = "POLICY_INVALID"


class PolicySourceError(ConfigError):
    """`gateway policy diff` cannot read a side: no such folder or git revision, or no policy in it.
    ``details["source"]`` is the side as given."""

    code = "POLICY_SOURCE_NOT_FOUND"


class PortInUseError(ConfigError):
    """`gateway serve` cannot listen: another process holds the port. ``details``: host, port."""

    code = "PORT_IN_USE"


# --- department data access ---------------------------------------------------
class AdapterError(GatewayError):
    """A department system failed; the fields it owns become null, the rest survive."""

    code = "ADAPTER_ERROR"
    status = 502


class AdapterUnavailableError(AdapterError):
    code = "DEPARTMENT_UNAVAILABLE"


class AdapterTimeoutError(AdapterError):
    code = "DEPARTMENT_TIMEOUT"
    status = 504


class AdapterResponseError(AdapterError):
    """The department answered with something we cannot read (bad JSON, bad row)."""

    code = "DEPARTMENT_BAD_RESPONSE"


class AdapterRejectedError(AdapterError):
    """The department refused a request the gateway built (HTTP 4xx): a gateway fault, not an outage.

    Never counted toward the department's circuit breaker.
    """

    code = "DEPARTMENT_REJECTED"


class AdapterBadDataError(AdapterError):
    """The department's data cannot be parsed (a corrupt ledger, a malformed answer)."""

    code = "DEPARTMENT_BAD_DATA"


class FilterNotAllowedError(GatewayError):
    code = "FILTER_NOT_ALLOWED"
    status = 400


class OperationNotSupportedError(GatewayError):
    code = "OPERATION_NOT_SUPPORTED"
    status = 400


# --- request input -------------------------------------------------------------
class BadRequestError(GatewayError):
    code = "BAD_USER_INPUT"
    status = 400


class IdempotencyConflictError(BadRequestError):
    """An idempotencyKey used before for a write of other values: the first write stands."""
    code = "IDEMPOTENCY_KEY_REUSED"
    status = 409


class EventFullError(BadRequestError):
    """Every seat of the event is taken: nothing was written."""
    code = "EVENT_FULL"
    status = 409


class AlertClosedError(BadRequestError):
    """The water alert was acknowledged before (by this caller or another): nothing was written."""
    code = "ALERT_ALREADY_ACKNOWLEDGED"
    status = 409


class AlreadyRegisteredError(BadRequestError):
    """The resident holds a seat at the event already: nothing was written."""
    code = "ALREADY_REGISTERED"
    status = 409


class InvalidCursorError(BadRequestError):
    code = "INVALID_CURSOR"


class PageSizeError(BadRequestError):
    code = "PAGE_SIZE_EXCEEDED"


class QueryLimitError(BadRequestError):
    code = "QUERY_TOO_COMPLEX"


class QueryCostError(BadRequestError):
    """The operation's static cost is over the caller's budget (``details``: cost, budget)."""

    code = "QUERY_TOO_COSTLY"


class RequestTooLargeError(BadRequestError):
    code = "REQUEST_TOO_LARGE"
    status = 413


class IntrospectionDisabledError(BadRequestError):
    code = "INTROSPECTION_DISABLED"


class ValidationFailedError(BadRequestError):
    code = "GRAPHQL_VALIDATION_FAILED"


class MethodNotAllowedError(GatewayError):
    code = "METHOD_NOT_ALLOWED"
    status = 405


class RequestTimeoutError(GatewayError):
    """The request's deadline passed; outstanding department calls were cancelled."""

    code = "REQUEST_TIMEOUT"
    status = 504


class SlowBodyError(RequestTimeoutError):
    """The client, not a department, was too slow sending its body: 408, the same code."""

    status = 408


class InvalidJurisdictionError(BadRequestError):
    code = "INVALID_JURISDICTION"


class UnknownPurposeError(BadRequestError):
    code = "UNKNOWN_PURPOSE"


class RateLimitedError(GatewayError):
    """The caller sent more requests than their role's limit in the current window (``retry_after_s``)."""
    code = "RATE_LIMITED"
    status = 429


class NotFoundError(GatewayError):
    code = "NOT_FOUND"
    status = 404


# --- identity and authorization ---------------------------------------------------
class AuthenticationError(GatewayError):
    code = "UNAUTHENTICATED"
    status = 401


class InvalidTokenError(AuthenticationError):
    code = "INVALID_TOKEN"


class UnauthorizedFieldError(GatewayError):
    code = "UNAUTHORIZED_FIELD_OR_TYPE"
    status = 403


class AuditUnavailableError(GatewayError):
    """The audit store cannot take records: requests that would release identity or sensitive-category
    fields are refused before execution (and so are all data requests once the audit buffer is full)."""

    code = "AUDIT_UNAVAILABLE"
    status = 503


class SpecEnvError(SpecError):
    """A spec names an environment variable that is not set and has no default."""

    code = "SPEC_ENV_MISSING"


class ParseError(BadRequestError):
    code = "GRAPHQL_PARSE_FAILED"
