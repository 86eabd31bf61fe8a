"""raven.contrib.awslambda: a wrapped handler called with a fake Lambda context, its events sent to
a loopback server; what arrived is asserted right when the handler returns (no waiting)."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pipeline import HOOKS_OFF, normalizer_errors
from servers import Answer, LoopbackServer, SilentServer

from raven.contrib.awslambda import LambdaClient, get_default_tags
from raven.handlers.logging import SentryHandler
from raven.transport.http import HTTPTransport
from raven.transport.threaded import ThreadedHTTPTransport

LAMBDA_ENV = {
    "AWS_LAMBDA_FUNCTION_NAME": "checkout",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
    "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/checkout",
    "AWS_LAMBDA_LOG_STREAM_NAME": "2026/12/01/[$LATEST]abc",
    "AWS_REGION": "eu-west-1",
}


class CognitoIdentity:
    def __init__(self) -> None:
        self.cognito_identity_id = "eu-west-1:1234"
        self.cognito_identity_pool_id = "eu-west-1:pool"


class FakeContext:
    """What the Lambda runtime passes as ``context`` (its public attributes and method)."""

    def __init__(self, remaining_ms: int = 30000, function_name: str = "checkout") -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:eu-west-1:000000000000:function:{function_name}"
        self.memory_limit_in_mb = 256
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "2026/12/01/[$LATEST]abc"
        self.identity = CognitoIdentity()
        self.client_context = None
        self._deadline = time.monotonic() + remaining_ms / 1000.0

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def api_gateway_event() -> dict[str, Any]:
    return {
        "resource": "/orders/{id}",
        "path": "/orders/42",
        "httpMethod": "POST",
        "headers": {"Host": "api.example.com", "User-Agent": "curl/8", "X-Forwarded-Proto": "https"},
        "queryStringParameters": {"expand": "items"},
        "body": '{"qty": 2}',
        "requestContext": {
            "requestId": "req-1",
            "identity": {
                "sourceIp": "203.0.113.9",
                "user": "alice",
                "userAgent": "curl/8",
                "cognitoIdentityId": None,
            },
        },
    }


@pytest.fixture
def lambda_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in LAMBDA_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def clients() -> Iterator[list[LambdaClient]]:
    made: list[LambdaClient] = []
    yield made
    for client in made:
        client.close(0)


def make_client(clients: list[LambdaClient], dsn: str, **options: Any) -> LambdaClient:
    client = LambdaClient(dsn, **HOOKS_OFF, **options)
    clients.append(client)
    return client


class OrderFailed(Exception):
    pass


def test_an_exception_is_delivered_before_the_handler_raises_it_to_lambda(
    lambda_env: None, clients: list[LambdaClient], http_server: LoopbackServer
) -> None:
    client = make_client(clients, http_server.dsn())
    assert isinstance(client.remote.get_transport(), HTTPTransport)  # raven 6.10's default

    @client.capture_exceptions
    def handler(event: Any, context: Any) -> Any:
        raise OrderFailed("order 42 could not be charged")

    context = FakeContext()
    with pytest.raises(OrderFailed):
        handler(api_gateway_event(), context)

    (event,) = http_server.events()  # already there: no wait
    exception = event["exception"]["values"][-1]
    assert (exception["type"], exception["value"]) == ("OrderFailed", "order 42 could not be charged")
    assert event["request"]["url"] == "https://api.example.com/orders/42"
    assert event["request"]["method"] == "POST"
    assert event["request"]["query_string"] in ({"expand": "items"}, "expand=items", [["expand", "items"]])
    assert event["request"]["headers"]["User-Agent"] == "curl/8"
    assert event["user"]["id"] == "alice" and event["user"]["username"] == "alice"
    assert event["user"]["ip_address"] == "203.0.113.9"
    extra = event["extra"]
    assert extra["aws_request_id"] == context.aws_request_id
    assert extra["event"]["path"] == "/orders/42"
    assert extra["context"]["function_name"] == "checkout"
    assert extra["context"]["function_version"] == "$LATEST"
    assert extra["context"]["aws_request_id"] == context.aws_request_id
    assert extra["context"]["identity"]["cognito_identity_id"] == "eu-west-1:1234"
    assert 0 < extra["context"]["remaining_time_in_millis"] <= 30000
    assert event["tags"]["lambda"] == "checkout"
    assert event["tags"]["region"] == "eu-west-1"
    assert event["tags"]["memory_size"] == "256"
    assert normalizer_errors(event) in (None, [])


def test_a_queueing_transport_is_flushed_before_the_handler_returns(
    clients: list[LambdaClient], http_server: LoopbackServer
) -> None:
    # The server answers after 0.3 s: the event is settled (answered) when the handler returns.
    http_server.default = Answer(delay=0.3)
    client = make_client(clients, http_server.dsn(), transport=ThreadedHTTPTransport)
    logger = logging.getLogger("raven_ng_tests.lambda")
    handler_ = SentryHandler(client, level=logging.ERROR)
    logger.addHandler(handler_)
    try:

        @client.capture_exceptions
        def handler(event: Any, context: Any) -> str:
            logger.error("stock low for %s", event["path"])
            return "ok"

        assert handler(api_gateway_event(), FakeContext(function_name="stock")) == "ok"
        assert client.delivery_stats()["sent"] == 1
    finally:
        logger.removeHandler(handler_)

    (event,) = http_server.events()
    assert event["logentry"]["formatted"] == "stock low for /orders/42"
    # an event captured while the handler runs carries the invocation too
    assert event["request"]["method"] == "POST"
    assert event["extra"]["context"]["function_name"] == "stock"
    assert event["tags"]["lambda"] == "stock"  # from the context: no Lambda variables here
    assert normalizer_errors(event) in (None, [])


def test_the_flush_never_outlasts_the_invocation(
    clients: list[LambdaClient], silent_server: SilentServer
) -> None:
    client = make_client(clients, silent_server.dsn(query="timeout=5"), transport=ThreadedHTTPTransport)

    @client.capture_exceptions
    def handler(event: Any, context: Any) -> None:
        raise OrderFailed("late")

    flushes: list[Any] = []
    flush = client.flush

    def recorded_flush(timeout: Any = None) -> Any:
        flushes.append(timeout)
        return flush(timeout)

    client.flush = recorded_flush  # type: ignore[method-assign]
    with pytest.raises(OrderFailed):
        handler({}, FakeContext(remaining_ms=400))
    # The server never answers: the flush waits its whole timeout, which is the invocation's
    # remaining time less Lambda's quarter second (not shutdown_timeout, not the send timeout).
    assert len(flushes) == 1 and 0 < flushes[0] <= 0.15


def test_only_the_given_exceptions_are_captured(
    clients: list[LambdaClient], http_server: LoopbackServer
) -> None:
    client = make_client(clients, http_server.dsn())

    @client.capture_exceptions((OrderFailed, KeyError))
    def handler(event: Any, context: Any) -> None:
        raise event["raise"]

    for exc in (ValueError("not listed"), KeyError("listed")):
        with pytest.raises(type(exc)):
            handler({"raise": exc}, FakeContext())

    assert [e["exception"]["values"][-1]["type"] for e in http_server.events()] == ["KeyError"]


def test_a_non_http_event_and_a_with_block(clients: list[LambdaClient], http_server: LoopbackServer) -> None:
    client = make_client(clients, http_server.dsn())

    @client.capture_exceptions()
    def handler(event: Any, context: Any) -> None:
        raise OrderFailed(event["Records"][0]["eventSource"])

    with pytest.raises(OrderFailed):
        handler({"Records": [{"eventSource": "aws:sqs"}]}, FakeContext())
    with pytest.raises(KeyError), client.capture_exceptions(KeyError):
        raise KeyError("in a block")

    first, second = http_server.events()
    assert "request" not in first and "user" not in first
    assert first["extra"]["event"] == {"Records": [{"eventSource": "aws:sqs"}]}
    assert second["exception"]["values"][-1]["type"] == "KeyError"
    assert all(normalizer_errors(e) in (None, []) for e in (first, second))


def test_an_http_api_event(clients: list[LambdaClient], http_server: LoopbackServer) -> None:
    # API Gateway's HTTP API (payload format 2.0), which raven 6.10 did not read.
    client = make_client(clients, http_server.dsn())
    event = {
        "version": "2.0",
        "rawPath": "/items",
        "rawQueryString": "page=2",
        "headers": {"host": "h.example.com"},
        "requestContext": {"http": {"method": "GET", "path": "/items", "sourceIp": "198.51.100.1"}},
    }
    client.captureMessage("listing", event=event, context=FakeContext())

    (sent,) = http_server.events()
    assert sent["request"]["url"] == "https://h.example.com/items"
    assert sent["request"]["method"] == "GET"
    assert sent["request"]["query_string"] in ("page=2", [["page", "2"]])


def test_raven_610_names() -> None:
    import raven.contrib.awslambda as module

    assert get_default_tags()["lambda"] == "AWS_LAMBDA_FUNCTION_NAME"
    for name in ("LambdaClient", "get_default_tags", "logger", "HTTPTransport", "Client"):
        assert hasattr(module, name), name
