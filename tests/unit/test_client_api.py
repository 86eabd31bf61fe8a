"""The raven 6.10 Client API: capture, configuration, filters, sampling, processors, transports.

Events are observed through a raven 6.10-style user transport (a ``Transport`` subclass whose
``send(url, data, headers)`` records what it is given): no network is involved.
"""

from __future__ import annotations

import gzip
import json
import logging
import random
import re
import sys
import threading
import zlib
from typing import Any, Callable

import pytest

from raven import Client
from raven.base import DummyClient
from raven.exceptions import APIError, ConfigurationError, InvalidDsn
from raven.transport.base import AsyncTransport, Transport
from raven.utils.levels import normalize_level

DSN = "http://public:secret@sentry.invalid:9000/prefix/42"

HOOKS_OFF: dict[str, Any] = {"install_sys_hook": False, "install_logging_hook": False, "hook_libraries": ()}


def decode_events(data: bytes, headers: Any) -> list[dict[str, Any]]:
    """The events in a request body (gzip-compressed envelope, or store JSON: raven 6.10's zlib
    stream for a transport written for raven 6.10)."""
    encoding = {k.lower(): v for k, v in headers.items()}.get("content-encoding")
    if encoding == "gzip":
        data = gzip.decompress(data)
    elif encoding == "deflate":
        data = zlib.decompress(data)
    first, _, rest = data.partition(b"\n")
    if not rest:
        return [json.loads(first)]
    events = []
    lines = rest.split(b"\n")
    i = 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        header = json.loads(lines[i])
        payload = lines[i + 1]
        i += 2
        if header.get("type") == "event":
            events.append(json.loads(payload))
    return events


class Recorder(Transport):
    """A user transport taking envelopes (``accepts_envelopes``): records every ``send`` call."""

    scheme = ["recorder+http"]
    accepts_envelopes = True
    last: Recorder

    def __init__(self, **dsn_options: Any) -> None:
        self.dsn_options = dsn_options
        self.calls: list[tuple[str, bytes, dict[str, str]]] = []
        Recorder.last = self

    def send(self, url: str, data: bytes, headers: Any) -> None:
        self.calls.append((url, data, dict(headers)))

    def events(self) -> list[dict[str, Any]]:
        return [event for _, data, headers in self.calls for event in decode_events(data, headers)]


class Failing(Transport):
    """A raven 6.10-style transport whose server always refuses."""

    def send(self, url: str, data: bytes, headers: Any) -> None:
        raise APIError("refused by the test", 400)


def make_client(**options: Any) -> tuple[Client, Recorder]:
    settings = {**HOOKS_OFF, **options}
    client = Client(settings.pop("dsn", DSN), transport=settings.pop("transport", Recorder), **settings)
    transport = client.remote.get_transport()
    assert isinstance(transport, Recorder)
    return client, transport


def one_event(client: Client, transport: Recorder) -> dict[str, Any]:
    assert client.flush(5)
    events = transport.events()
    assert len(events) == 1, events
    return events[0]


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SENTRY_DSN", "SENTRY_RELEASE", "SENTRY_ENVIRONMENT", "SENTRY_NAME", "HEROKU_SLUG_COMMIT"):
        monkeypatch.delenv(name, raising=False)


# -- capture


def test_capture_message_returns_the_event_id_of_the_sent_event() -> None:
    client, transport = make_client()
    event_id = client.captureMessage("hello %s", params=("world",))
    assert event_id is not None and re.fullmatch(r"[0-9a-f]{32}", event_id)
    assert client.last_event_id == event_id
    event = one_event(client, transport)
    assert event["event_id"] == event_id
    assert event["logentry"] == {"message": "hello %s", "params": ["world"], "formatted": "hello world"}
    assert event["level"] == "error"
    assert event["logger"] == "root"
    assert event["platform"] == "python"
    assert event["sdk"]["name"] == "raven-ng"


def test_event_carries_the_static_fields() -> None:
    client, transport = make_client(name="web-1", release="1.2.3", environment="prod", tags={"n": 1})
    client.captureMessage("x")
    event = one_event(client, transport)
    assert event["server_name"] == "web-1"
    assert event["release"] == "1.2.3"
    assert event["environment"] == "prod"
    assert event["tags"] == {"n": "1"}
    assert event["contexts"]["runtime"]["name"]
    assert event["contexts"]["os"]["name"]
    assert event["modules"]["python"] == "{}.{}.{}".format(*sys.version_info[:3])
    assert event["extra"]["sys.argv"] == list(sys.argv)
    assert isinstance(event["timestamp"], (int, float))


def test_capture_exception_with_chain_and_mechanism() -> None:
    client, transport = make_client()
    try:
        try:
            raise ValueError("inner")
        except ValueError as inner:
            raise KeyError("outer") from inner
    except KeyError:
        event_id = client.captureException()
    event = one_event(client, transport)
    assert event["event_id"] == event_id
    values = event["exception"]["values"]
    assert [v["type"] for v in values] == ["ValueError", "KeyError"]
    assert values[-1]["mechanism"]["handled"] is True
    assert (
        values[-1]["stacktrace"]["frames"][-1]["function"]
        == "test_capture_exception_with_chain_and_mechanism"
    )


def test_capture_exception_accepts_an_exception_object() -> None:
    client, transport = make_client()
    try:
        raise RuntimeError("kept for later")
    except RuntimeError as exc:
        error = exc
    assert client.captureException(error) is not None
    assert one_event(client, transport)["exception"]["values"][-1]["value"] == "kept for later"


def test_capture_exception_with_no_exception_returns_none() -> None:
    client, transport = make_client()
    assert client.captureException() is None
    assert client.flush(5)
    assert transport.calls == []


def test_the_same_raise_is_captured_once() -> None:
    client, transport = make_client()
    try:
        raise ValueError("once")
    except ValueError:
        first = client.captureException()
        second = client.captureException()
    assert first is not None and second is None
    assert client.flush(5)
    assert len(transport.events()) == 1


def test_capture_kwargs_and_data_fields() -> None:
    client, transport = make_client()
    client.captureMessage(
        "m",
        level="warning",
        data={
            "logger": "app.views",
            "request": {"url": "http://x/", "method": "GET"},
            "culprit": "views.index",
        },
        extra={"answer": 42, "obj": object()},
        tags={"t": True},
        fingerprint=["a", "b"],
    )
    event = one_event(client, transport)
    assert event["level"] == "warning"
    assert event["logger"] == "app.views"
    assert event["request"]["url"] == "http://x/"
    assert event["culprit"] == "views.index"
    assert event["extra"]["answer"] == 42
    assert event["extra"]["obj"].startswith("<object object")
    assert event["tags"]["t"] == "True"
    assert event["fingerprint"] == ["a", "b"]


def test_capture_query_and_stack() -> None:
    client, transport = make_client()
    client.captureQuery("SELECT 1", engine="postgresql")
    client.captureMessage("with stack", stack=True)
    assert client.flush(5)
    query, stacked = transport.events()
    assert query["logentry"]["formatted"] == "SELECT 1"
    assert query["tags"]["db.engine"] == "postgresql"
    frames = stacked["stacktrace"]["frames"]
    assert frames[-1]["function"] == "test_capture_query_and_stack"
    assert not any(f.get("module", "").startswith("raven.") for f in frames)


def test_send_a_prepared_event() -> None:
    client, transport = make_client()
    client.send(message="prepared", level="info", logentry={"formatted": "prepared"})
    events = (client.flush(5), transport.events())[1]
    assert len(events) == 1
    assert re.fullmatch(r"[0-9a-f]{32}", events[0]["event_id"])
    assert events[0]["logentry"]["formatted"] == "prepared"


def test_capture_never_raises_into_the_caller() -> None:
    class Unprintable:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

        __str__ = __repr__

    client, transport = make_client()
    assert (
        client.captureMessage(Unprintable(), params=(Unprintable(),), extra={"u": Unprintable()}) is not None
    )
    assert client.capture("raven.events.NoSuchEvent", message="x") is None
    assert client.captureMessage("x", date="not a date", tags={Unprintable(): Unprintable()}) is not None
    assert client.flush(5)
    assert len(transport.events()) == 2


def test_client_subclass_overriding_send_sees_the_event_dict() -> None:
    seen: list[dict[str, Any]] = []

    class TempStoreClient(Client):
        def send(self, auth_header: Any = None, **data: Any) -> None:
            seen.append(data)

    client = TempStoreClient(DSN, transport=Recorder, **HOOKS_OFF)
    event_id = client.captureMessage("stored")
    assert seen and seen[0]["event_id"] == event_id
    # raven 6.10's in-process event: a message, its interface, a logging level.
    assert seen[0]["message"] == "stored"
    interface = seen[0]["sentry.interfaces.Message"]
    assert (interface["message"], list(interface["params"]), interface["formatted"]) == ("stored", [], None)
    assert seen[0]["level"] == logging.ERROR
    assert Recorder.last.calls == []  # the override sent nothing
    assert DummyClient(DSN, transport=Recorder, **HOOKS_OFF).captureMessage("void") is not None


def test_capture_exceptions_decorator_and_context_manager() -> None:
    client, transport = make_client()

    @client.capture_exceptions
    def fails() -> None:
        raise ValueError("decorated")

    with pytest.raises(ValueError):
        fails()
    with pytest.raises(KeyError), client.capture_exceptions((KeyError,)):
        raise KeyError("block")
    with pytest.raises(TypeError), client.capture_exceptions((KeyError,)):
        raise TypeError("not captured")
    assert client.flush(5)
    assert [e["exception"]["values"][-1]["type"] for e in transport.events()] == ["ValueError", "KeyError"]


# -- disabled client, environment


def test_no_dsn_means_a_quiet_disabled_client() -> None:
    threads_before = threading.active_count()
    client = Client(**HOOKS_OFF)
    assert not client.is_enabled()
    assert client.captureMessage("nothing") is None
    try:
        raise ValueError("x")
    except ValueError:
        assert client.captureException() is None
    assert client.get_public_dsn() is None
    assert client.flush(1) is True
    assert client.delivery_stats()["sent"] == 0
    client.close()
    assert threading.active_count() == threads_before


def test_no_thread_starts_before_the_first_event(http_server: Any) -> None:
    before = {t.ident for t in threading.enumerate()}
    client = Client(http_server.dsn(), **HOOKS_OFF)
    assert {t.ident for t in threading.enumerate()} == before
    client.close()


def test_configuration_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTRY_DSN", "recorder+http://envkey@sentry.invalid/7")
    monkeypatch.setenv("SENTRY_RELEASE", "abc123")
    monkeypatch.setenv("SENTRY_ENVIRONMENT", "staging")
    monkeypatch.setenv("SENTRY_NAME", "box-7")
    with pytest.warns(DeprecationWarning):
        client = Client(transport=Recorder, **HOOKS_OFF)
    assert client.is_enabled()
    assert client.remote.public_key == "envkey" and client.remote.project == "7"
    client.captureMessage("from env")
    event = one_event(client, Recorder.last)
    assert (event["release"], event["environment"], event["server_name"]) == ("abc123", "staging", "box-7")


def test_get_public_dsn() -> None:
    client, _ = make_client()
    assert client.get_public_dsn() == "//public@sentry.invalid:9000/prefix/42"
    assert client.get_public_dsn("https") == "https://public@sentry.invalid:9000/prefix/42"


# -- transports and DSN options


class Raven610Recorder(Recorder):
    """Written for raven 6.10: takes no envelopes."""

    accepts_envelopes = False


def test_a_raven_610_transport_receives_url_data_and_headers() -> None:
    client = Client(DSN + "?custom=1", transport=Raven610Recorder, **HOOKS_OFF)
    transport = Recorder.last
    client.captureMessage("hi")
    assert client.flush(5)
    assert transport.dsn_options == {"custom": "1"}
    [(url, data, headers)] = transport.calls
    # What raven 6.10 gave its transports: the store endpoint, the event's JSON as a zlib stream.
    assert url == "http://sentry.invalid:9000/prefix/api/42/store/"
    assert isinstance(data, bytes)
    assert headers["Content-Encoding"] == "deflate"
    assert headers["Content-Type"] == "application/octet-stream"
    auth = headers["X-Sentry-Auth"]
    assert "sentry_key=public" in auth and "sentry_version=7" in auth
    # The event as raven 6.10 encoded it (Client.encode), not translated.
    event = json.loads(zlib.decompress(data))
    assert event["message"] == "hi" and event["sentry.interfaces.Message"]["message"] == "hi"
    assert event["level"] == logging.ERROR


@pytest.mark.parametrize("how", ["attribute", "dsn"])
def test_a_user_transport_may_take_envelopes(how: str) -> None:
    class Enveloped(Raven610Recorder):
        accepts_envelopes = how == "attribute"

    dsn = DSN + ("?protocol=envelope" if how == "dsn" else "")
    client = Client(dsn, transport=Enveloped, **HOOKS_OFF)
    client.captureMessage("in an envelope")
    assert client.flush(5)
    [(url, data, headers)] = Recorder.last.calls
    assert url == "http://sentry.invalid:9000/prefix/api/42/envelope/"
    assert headers["Content-Encoding"] == "gzip"
    assert decode_events(data, headers)[0]["logentry"]["message"] == "in an envelope"
    assert Recorder.last.dsn_options == {}  # ``protocol`` is the client's, not passed on


def test_a_raven_610_async_transport_is_called_with_callbacks() -> None:
    calls: list[str] = []

    class Callbacks(AsyncTransport):
        def async_send(self, url: str, data: bytes, headers: Any, success_cb: Any, error_cb: Any) -> None:
            calls.append(url)
            success_cb()

    client = Client(DSN, transport=Callbacks, **HOOKS_OFF)
    client.captureMessage("async")
    assert client.flush(5)
    assert calls == ["http://sentry.invalid:9000/prefix/api/42/store/"]
    assert client.delivery_stats()["sent"] == 1


def test_register_scheme_selects_the_transport_with_a_deprecation_warning() -> None:
    class Schemed(Recorder):
        pass

    Client.register_scheme("clienttest", Schemed)
    with pytest.warns(DeprecationWarning, match="Transport selection via DSN is deprecated"):
        client = Client("clienttest://public@sentry.invalid/3", **HOOKS_OFF)
    assert type(client.remote.get_transport()) is Schemed
    client.captureMessage("through the scheme")
    assert client.flush(5)
    assert len(Recorder.last.events()) == 1


def test_transport_prefix_in_the_dsn_is_deprecated_but_works() -> None:
    from raven.transport.http import HTTPTransport

    with pytest.warns(DeprecationWarning, match="Transport selection via DSN is deprecated"):
        client = Client("sync+https://public@sentry.invalid/1", **HOOKS_OFF)
    assert type(client.remote.get_transport()) is HTTPTransport
    assert client.remote.base_url == "https://sentry.invalid"


def test_unknown_dsn_scheme_is_invalid() -> None:
    with pytest.raises(InvalidDsn, match="nosuch"), pytest.warns(DeprecationWarning):
        Client("nosuch+https://public@sentry.invalid/1", **HOOKS_OFF)


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("timeout=abc", "timeout"),
        ("bogus=1", "bogus"),
        ("verify_ssl=maybe", "verify_ssl"),
        ("timeout=-1", "timeout"),
    ],
)
def test_bad_transport_options_fail_at_construction_naming_the_option(query: str, named: str) -> None:
    with pytest.raises(InvalidDsn, match=named):
        Client(f"https://public@sentry.invalid/1?{query}", **HOOKS_OFF)


def test_good_transport_options_are_accepted() -> None:
    client = Client("https://public@sentry.invalid/1?timeout=1.5&verify_ssl=true", **HOOKS_OFF)
    options = client.remote.get_transport().options
    assert (options.timeout, options.verify_ssl) == (1.5, True)


@pytest.mark.parametrize(
    "dsn", ["not a dsn", "https://sentry.invalid/1", "https://public@/1", "https://public@host"]
)
def test_malformed_dsn_is_invalid(dsn: str) -> None:
    with pytest.raises(InvalidDsn):
        Client(dsn, **HOOKS_OFF)


def test_raise_send_errors_with_a_failing_sync_transport() -> None:
    client = Client(DSN, transport=Failing, raise_send_errors=True, **HOOKS_OFF)
    with pytest.raises(APIError):
        client.captureMessage("fails loudly")


def test_send_errors_are_counted_not_raised_by_default() -> None:
    client = Client(DSN, transport=Failing, **HOOKS_OFF)
    assert client.captureMessage("fails quietly") is not None
    assert client.flush(5)
    assert client.delivery_stats()["lost"] == {"send_error:error": 1}


def test_raise_send_errors_with_the_sync_http_transport(refused_dsn: Callable[..., str]) -> None:
    from raven.transport.http import HTTPTransport

    client = Client(
        refused_dsn(query="timeout=2"), transport=HTTPTransport, raise_send_errors=True, **HOOKS_OFF
    )
    with pytest.raises(OSError):  # the connection error itself, as raven 6.10 raised it
        client.captureMessage("refused")


# -- context


def test_context_merges_tags_and_extra_and_replaces_the_rest() -> None:
    client, transport = make_client()
    client.tags_context({"a": "1"})
    client.tags_context({"b": "2"})
    client.extra_context({"x": 1})
    client.user_context({"id": 1})
    client.user_context({"id": 2, "email": "u@example.com"})
    client.http_context({"url": "http://example.com/", "method": "POST"})
    assert client.context.get()["tags"] == {"a": "1", "b": "2"}
    client.captureMessage("with context", tags={"c": 3})
    event = one_event(client, transport)
    assert event["tags"] == {"a": "1", "b": "2", "c": "3"}
    assert event["extra"]["x"] == 1
    assert event["user"] == {"id": "2", "email": "u@example.com"}
    assert event["request"]["method"] == "POST"
    client.context.clear()
    assert client.context.get() == {}


def test_context_is_per_thread() -> None:
    client, transport = make_client()
    client.tags_context({"thread": "main"})
    seen: dict[str, Any] = {}

    def other() -> None:
        seen["data"] = dict(client.context.get())
        client.tags_context({"thread": "other"})
        client.captureMessage("from the other thread")

    worker = threading.Thread(target=other)
    worker.start()
    worker.join(10)
    assert seen["data"] == {}
    assert client.context.get()["tags"] == {"thread": "main"}
    assert one_event(client, transport)["tags"] == {"thread": "other"}


def test_breadcrumbs_travel_with_the_next_event() -> None:
    client, transport = make_client()
    client.captureBreadcrumb(message="clicked", category="ui", level="info", data={"id": 3})
    client.captureMessage("after the crumb")
    crumbs = one_event(client, transport)["breadcrumbs"]["values"]
    assert crumbs[-1]["message"] == "clicked"
    assert crumbs[-1]["category"] == "ui"
    assert crumbs[-1]["data"] == {"id": 3}


def test_logging_breadcrumbs_are_recorded_and_bounded() -> None:
    client, transport = make_client(install_logging_hook=True)
    log = logging.getLogger("clienttest.crumbs")
    log.setLevel(logging.INFO)
    for i in range(150):
        log.info("step %d", i)
    logging.getLogger("raven.internal").error("never a crumb")
    client.captureMessage("after logging")
    crumbs = one_event(client, transport)["breadcrumbs"]["values"]
    assert len(crumbs) == 100
    assert crumbs[0]["message"] == "step 50" and crumbs[-1]["message"] == "step 149"
    assert crumbs[-1]["level"] == "info" and crumbs[-1]["category"] == "clienttest.crumbs"


def test_breadcrumbs_can_be_disabled() -> None:
    client, transport = make_client(enable_breadcrumbs=False)
    client.captureBreadcrumb(message="ignored")
    client.captureMessage("no crumbs")
    assert "breadcrumbs" not in one_event(client, transport)


def test_transaction_stack_names_the_event() -> None:
    client, transport = make_client()
    with client.transaction("/checkout"):
        client.captureMessage("in a transaction")
    assert one_event(client, transport)["transaction"] == "/checkout"
    assert client.transaction.peek() is None


# -- filters, sampling, processors


class MyError(Exception):
    pass


MyError.__module__ = "mymodule.sub"


@pytest.mark.parametrize(
    "rule", ["MyError", "mymodule.sub.MyError", "mymodule.*", "mymodule.sub*", MyError, Exception]
)
def test_ignore_exceptions(rule: Any) -> None:
    client, transport = make_client(ignore_exceptions=[rule])
    try:
        raise MyError("ignored")
    except MyError:
        assert client.captureException() is None
    try:
        raise ValueError("kept") if rule is not Exception else KeyboardInterrupt()
    except (ValueError, KeyboardInterrupt):
        assert client.captureException() is not None
    assert client.flush(5)
    assert len(transport.events()) == 1


def test_ignore_exceptions_wildcard_does_not_match_other_modules() -> None:
    client, transport = make_client(ignore_exceptions=["other.*", "mymodule.subx*"])
    try:
        raise MyError("kept")
    except MyError:
        assert client.captureException() is not None


def test_sample_rate_with_a_seed_is_reproducible_and_counted() -> None:
    client, transport = make_client(sample_rate=0.3, _random_seed=1234)
    ids = [client.captureMessage(f"m{i}") for i in range(200)]
    assert all(ids)
    rng = random.Random(1234)
    expected_kept = sum(1 for _ in range(200) if rng.random() < 0.3)
    assert client.flush(5)
    kept = len(transport.events())
    assert kept == expected_kept
    assert 0 < kept < 200
    assert client.delivery_stats()["lost"].get("sample_rate:error") == 200 - kept


def test_sample_rate_per_call_and_zero() -> None:
    client, transport = make_client(sample_rate=0)
    assert client.captureMessage("dropped") is not None
    assert client.captureMessage("forced", sample_rate=1.0) is not None
    assert client.flush(5)
    assert [e["logentry"]["message"] for e in transport.events()] == ["forced"]


@pytest.mark.parametrize("rate", [2, -0.1, "abc"])
def test_bad_sample_rate_is_a_configuration_error(rate: Any) -> None:
    with pytest.raises(ConfigurationError, match="sample_rate"):
        Client(DSN, transport=Recorder, sample_rate=rate, **HOOKS_OFF)


def test_default_processor_sanitizes_passwords() -> None:
    client, transport = make_client()

    # Built at run time: the source lines sent with each frame must not contain them.
    secret, api_key_value, card = "hun" + "ter2", "k-" + "123", " ".join(["4242"] * 4)

    def login(password: str) -> None:
        api_key = api_key_value  # noqa: F841
        raise ValueError("denied")

    try:
        login(secret)
    except ValueError:
        client.captureException(extra={"password": secret, "card": card})
    body = json.dumps(one_event(client, transport))
    assert secret not in body and api_key_value not in body and card not in body
    assert "********" in body


class BrokenProcessor:
    def __init__(self, client: Any) -> None:
        pass

    def process(self, data: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("processor bug")


class TaggingProcessor:
    def __init__(self, client: Any) -> None:
        self.client = client

    def process(self, data: dict[str, Any]) -> dict[str, Any]:
        data["tags"]["processed"] = "yes"
        return data


def test_custom_processors_by_path_and_class() -> None:
    client, transport = make_client(processors=[f"{__name__}.TaggingProcessor"])
    client.captureMessage("processed")
    assert one_event(client, transport)["tags"]["processed"] == "yes"


def test_a_failing_processor_drops_the_event_and_counts_it(caplog: pytest.LogCaptureFixture) -> None:
    client, transport = make_client(processors=[BrokenProcessor])
    with caplog.at_level(logging.ERROR, logger="sentry.errors"):
        assert client.captureMessage("never sent unprocessed") is None
    assert client.flush(5)
    assert transport.calls == []
    assert client.delivery_stats()["lost"] == {"event_processor:error": 1}
    assert "BrokenProcessor" in caplog.text


def test_a_processor_that_cannot_be_imported_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="no.such.Processor"):
        Client(DSN, transport=Recorder, processors=["no.such.Processor"], **HOOKS_OFF)


# -- levels


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (logging.DEBUG, "debug"),
        (logging.INFO, "info"),
        (logging.WARNING, "warning"),
        (logging.ERROR, "error"),
        (logging.CRITICAL, "fatal"),
        (25, "info"),
        ("warn", "warning"),
        ("WARNING", "warning"),
        ("critical", "fatal"),
        ("fatal", "fatal"),
        ("40", "error"),
        ("bogus", "error"),
        (None, "error"),
    ],
)
def test_level_mapping(given: Any, expected: str) -> None:
    assert normalize_level(given) == expected


def test_level_reaches_the_event() -> None:
    client, transport = make_client()
    client.captureMessage("critical one", level=logging.CRITICAL)
    assert one_event(client, transport)["level"] == "fatal"


# -- lifecycle and hooks


def test_close_then_captures_do_nothing() -> None:
    client, transport = make_client()
    client.captureMessage("before close")
    client.close(timeout=5)
    assert client.captureMessage("after close") is None
    assert len(transport.events()) == 1
    assert client.flush(1) is True


def test_sys_hook_reports_uncaught_exceptions_and_chains() -> None:
    previous_calls: list[Any] = []
    original = sys.excepthook
    sys.excepthook = lambda *exc_info: previous_calls.append(exc_info[0])
    try:
        client = Client(
            DSN, transport=Recorder, install_sys_hook=True, install_logging_hook=False, hook_libraries=()
        )
        transport = Recorder.last
        try:
            raise LookupError("uncaught")
        except LookupError:
            sys.excepthook(*sys.exc_info())
        assert previous_calls == [LookupError]
        event = one_event(client, transport)
        assert event["level"] == "fatal"
        assert event["exception"]["values"][-1]["mechanism"] == {"type": "excepthook", "handled": False}
    finally:
        sys.excepthook = original


def test_event_id_and_timestamp_given_in_data_or_date_are_kept() -> None:
    from datetime import datetime, timezone

    client, transport = make_client()
    given = "0123456789abcdef0123456789abcdef"
    assert client.captureMessage("given id", data={"event_id": given}) == given
    client.captureMessage("naive date", date=datetime(2024, 5, 1, 12, 0, 0))
    client.captureMessage("aware date", date=datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc))
    client.captureMessage("string timestamp", data={"timestamp": "2024-05-01T12:00:00Z"})
    client.captureMessage("bad id", data={"event_id": "not-hex"})
    assert client.flush(5)
    first, naive, aware, text, bad = transport.events()
    assert first["event_id"] == given
    assert naive["timestamp"] == aware["timestamp"] == 1714564800.0
    assert text["timestamp"] == "2024-05-01T12:00:00Z"
    assert re.fullmatch(r"[0-9a-f]{32}", bad["event_id"])


def test_user_context_fits_sentry_schema_on_the_wire() -> None:
    """In process the user is as given (raven 6.10); on the wire a numeric id becomes a string and
    unknown keys move to ``data`` (strict servers drop the event otherwise)."""
    sent: list[dict] = []

    class Capture(Client):
        def send(self, **data: object) -> None:  # type: ignore[override]
            sent.append(data)

    client = Capture("http://key@127.0.0.1:9/1", install_sys_hook=False, install_logging_hook=False)
    client.user_context({"id": 17, "email": "a@example.org", "plan": "pro"})
    client.captureMessage("hello")
    client.close(0)
    assert sent[0]["user"] == {"id": 17, "email": "a@example.org", "plan": "pro"}
    recorder_client, transport = make_client()
    recorder_client.user_context({"id": 17, "email": "a@example.org", "plan": "pro"})
    recorder_client.captureMessage("hello")
    assert one_event(recorder_client, transport)["user"] == {
        "id": "17",
        "email": "a@example.org",
        "data": {"plan": "pro"},
    }
