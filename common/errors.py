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


class PolicyFileError(ConfigError):
    code = "POLICY_INVALID"


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


class InvalidCursorError(BadRequestError):
    code = "INVALID_CURSOR"


class PageSizeError(BadRequestError):
    code = "PAGE_SIZE_EXCEEDED"


class QueryLimitError(BadRequestError):
    code = "QUERY_TOO_COMPLEX"


class InvalidJurisdictionError(BadRequestError):
    code = "INVALID_JURISDICTION"


class UnknownPurposeError(BadRequestError):
    code = "UNKNOWN_PURPOSE"


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


class SpecEnvError(SpecError):
    """A spec names an environment variable that is not set and has no default."""

    code = "SPEC_ENV_MISSING"


class ParseError(BadRequestError):
    code = "GRAPHQL_PARSE_FAILED"
