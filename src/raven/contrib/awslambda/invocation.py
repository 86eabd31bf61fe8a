"""What an AWS Lambda invocation tells about itself, as raven 6.10's ``LambdaClient`` put it in events.

From the event of an API Gateway proxy integration (raven 6.10's ``_get_http_interface`` and
``_get_user_interface``):

* ``request``: ``url`` (the path), ``method``, ``query_string`` (the query parameters),
  ``headers``; raven-ng also reads the HTTP API (payload 2.0) shape (``rawPath``,
  ``requestContext.http.method``, ``rawQueryString``), which raven 6.10 did not know, and makes the
  URL absolute when a ``Host`` header says where it was sent;
* ``user`` from ``requestContext.identity``: ``id`` (the Cognito identity, else the IAM user),
  ``username``, ``ip_address``, ``cognito_identity_pool_id``, ``cognito_authentication_type``,
  ``user_agent``; missing values are left out instead of sent as nulls.

From the event and the Lambda context object (raven 6.10's ``_get_extra_data``), ``extra``:
``event``, ``aws_request_id``, ``context`` (the context's attributes: function name and version,
ARN, memory limit, log group and stream, request id, identity ...) and, for a mobile SDK call,
``client_context``. raven 6.10 put ``vars(context)`` there; raven-ng leaves out private attributes,
turns the identity object into its fields, and adds ``remaining_time_in_millis`` (the time the
invocation had left when the event was captured), which ``vars`` could not see.

Events and contexts are read through ``.get`` and attributes only, so the stand-ins tests use
(objects with ``get``) work as raven 6.10's tests expected.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Optional

__all__ = (
    "DEFAULT_TAGS",
    "context_fields",
    "extra_data",
    "http_interface",
    "lambda_tags",
    "remaining_seconds",
    "user_interface",
)

#: Tag name -> the environment variable Lambda sets (raven 6.10's ``get_default_tags``).
DEFAULT_TAGS = {
    "lambda": "AWS_LAMBDA_FUNCTION_NAME",
    "version": "AWS_LAMBDA_FUNCTION_VERSION",
    "memory_size": "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "log_group": "AWS_LAMBDA_LOG_GROUP_NAME",
    "log_stream": "AWS_LAMBDA_LOG_STREAM_NAME",
    "region": "AWS_REGION",
}

#: Tag name -> the context attribute that says the same, when the variable is not set.
_CONTEXT_TAGS = {
    "lambda": "function_name",
    "version": "function_version",
    "memory_size": "memory_limit_in_mb",
    "log_group": "log_group_name",
    "log_stream": "log_stream_name",
}


#: The mobile SDK client's fields raven 6.10 sent (as ``client.<name>``).
_CLIENT_FIELDS = ("installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name")


def _get(source: Any, key: str) -> Any:
    """``source.get(key)`` for a dict or a stand-in with ``get``; None otherwise."""
    getter = getattr(source, "get", None)
    if getter is None:
        return None
    try:
        return getter(key)
    except Exception:
        return None


def _header(headers: Any, name: str) -> Optional[str]:
    if not isinstance(headers, Mapping):
        return None
    wanted = name.lower()
    for key, value in headers.items():
        if str(key).lower() == wanted:
            return str(value)
    return None


def http_interface(event: Any) -> Optional[dict[str, Any]]:
    """The ``request`` of an API Gateway event, or None for other events."""
    path = _get(event, "path")
    method = _get(event, "httpMethod")
    query: Any = _get(event, "queryStringParameters")
    if not (path and method):
        # HTTP API (payload format 2.0)
        path = _get(event, "rawPath")
        method = _get(_get(_get(event, "requestContext"), "http"), "method")
        query = _get(event, "rawQueryString") or query
        if not (path and method):
            return None
    headers = _get(event, "headers") or {}
    url = str(path)
    host = _header(headers, "Host")
    if host and url.startswith("/"):
        scheme = _header(headers, "X-Forwarded-Proto") or "https"
        url = f"{scheme}://{host}{url}"
    return {"url": url, "method": method, "query_string": query, "headers": headers}


def user_interface(event: Any) -> Optional[dict[str, Any]]:
    """The ``user`` of an API Gateway event with a caller identity (without its missing fields,
    so possibly empty, as raven 6.10 still sent it), or None when there is no identity."""
    identity = _get(_get(event, "requestContext"), "identity")
    if not identity:
        return None
    user = {
        "id": _get(identity, "cognitoIdentityId") or _get(identity, "user"),
        "username": _get(identity, "user"),
        "ip_address": _get(identity, "sourceIp"),
        "cognito_identity_pool_id": _get(identity, "cognitoIdentityPoolId"),
        "cognito_authentication_type": _get(identity, "cognitoAuthenticationType"),
        "user_agent": _get(identity, "userAgent"),
    }
    return {key: value for key, value in user.items() if value is not None}


def remaining_seconds(context: Any) -> Optional[float]:
    """Seconds the invocation has left, from ``get_remaining_time_in_millis()``; None if unknown."""
    method = getattr(context, "get_remaining_time_in_millis", None)
    if method is None:
        return None
    try:
        return max(0.0, float(method()) / 1000.0)
    except Exception:
        return None


def _public_fields(value: Any) -> dict[str, Any]:
    try:
        attributes = vars(value)
    except TypeError:
        return {}
    return {k: v for k, v in attributes.items() if not k.startswith("_") and not callable(v)}


def context_fields(context: Any) -> dict[str, Any]:
    """The Lambda context's attributes (raven 6.10's ``vars(context)``, see the module doc)."""
    fields = _public_fields(context)
    identity = fields.get("identity")
    if identity is not None and not isinstance(identity, (Mapping, str, int, float)):
        fields["identity"] = _public_fields(identity)
    remaining = remaining_seconds(context)
    if remaining is not None:
        fields["remaining_time_in_millis"] = int(remaining * 1000)
    return fields


def _client_context(context: Any) -> Optional[dict[str, Any]]:
    client_context = getattr(context, "client_context", None)
    if not client_context:
        return None
    client = getattr(client_context, "client", None)
    fields = {f"client.{name}": getattr(client, name, None) for name in _CLIENT_FIELDS}
    fields["custom"] = getattr(client_context, "custom", None)
    fields["env"] = getattr(client_context, "env", None)
    return fields


def extra_data(event: Any, context: Any) -> dict[str, Any]:
    """``extra``: the invocation's event and context (raven 6.10's ``_get_extra_data``)."""
    extra: dict[str, Any] = {
        "event": event,
        "aws_request_id": getattr(context, "aws_request_id", None),
        "context": context_fields(context),
    }
    client_context = _client_context(context)
    if client_context is not None:
        extra["client_context"] = client_context
    return extra


def lambda_tags(context: Any = None) -> dict[str, str]:
    """Tags from Lambda's environment variables, else from the context object; none missing ones."""
    tags: dict[str, str] = {}
    for tag, variable in DEFAULT_TAGS.items():
        value: Any = os.environ.get(variable)
        if value is None and context is not None and tag in _CONTEXT_TAGS:
            value = getattr(context, _CONTEXT_TAGS[tag], None)
        if value is not None:
            tags[tag] = str(value)
    return tags
