"""raven 6.10's ``TwistedHTTPTransport``: events POSTed by a Twisted ``Agent`` on the running reactor.

Sends go through one ``twisted.web.client.Agent`` with a persistent ``HTTPConnectionPool`` (at most
``max_connections`` requests in flight, each connection kept alive for the next one). TLS is
verified with a hostname check (``BrowserLikePolicyForHTTPS``; Twisted needs ``service_identity``
and ``pyOpenSSL`` for it, hence the ``raven-ng[twisted]`` extra, which depends on ``twisted[tls]``)
against ``ca_certs`` (certifi's bundle by default); ``verify_ssl=0`` turns verification off.

Threads: the queue (:class:`~raven._runtime.pump.Pump`) lives on the reactor thread. A capture on
another thread, or before ``reactor.run()``, hops there with ``reactor.callFromThread``.

``flush(timeout)`` / ``close(timeout)``: on the reactor thread they return a ``Deferred`` (firing
True once every event is settled, False when ``timeout`` ran out; ``Client.close()`` passes it
on), since blocking there would stop the very sends being waited for. When a close's Deferred
fires (or a blocking close returns), every event is sent or counted lost, and the POSTs still in
flight are cancelled. On another thread, while the reactor runs, they block for at most
``timeout`` and return a bool. When the reactor is not running nothing can be sent: ``flush`` says
whether anything is pending, without waiting, and ``close`` counts the queued events as lost.

At reactor shutdown (``before`` the ``shutdown`` event) pending events get ``shutdown_timeout``
seconds to be delivered, then the pooled connections are closed.

DSN options: ``timeout`` (seconds for the whole exchange, connecting included), ``verify_ssl``, ``ca_certs``,
``protocol``, ``shutdown_timeout``, ``queue_size``, ``queue_bytes``, ``max_connections``.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping
from typing import Any, Callable, Optional

from raven._delivery.core import DeliveryCore
from raven._delivery.dsn import QUEUE_OPTIONS, TransportOptions
from raven._delivery.model import EventItem, Failure, FailureKind, Outcome, Reply, Request
from raven._runtime.dispatch import Dispatcher
from raven._runtime.logs import errors
from raven._runtime.pump import Pump
from raven.exceptions import InvalidDsn
from raven.transport._extras import require
from raven.transport.base import AsyncTransport
from raven.transport.http import _UNSET, HTTPTransport, raise_for_reply

__all__ = ("TwistedDispatcher", "TwistedHTTPTransport", "classify_failure")


def _twisted() -> Any:
    """Import Twisted's HTTP client (ConfigurationError naming the extra if it is missing)."""
    require("twisted.web.client", "twisted")
    require("OpenSSL", "twisted")  # TLS with hostname checks needs twisted[tls]
    require("service_identity", "twisted")
    import twisted.web.client

    return twisted.web.client


# -- the one exception table


@functools.lru_cache(maxsize=1)
def _failure_table() -> tuple[tuple[type[BaseException], FailureKind], ...]:
    """(exception type, kind); first match wins, so subclasses come before their bases."""
    from OpenSSL import SSL
    from service_identity.exceptions import VerificationError
    from twisted.internet import defer, error
    from twisted.web import _newclient

    return (
        (SSL.Error, FailureKind.TLS),
        (VerificationError, FailureKind.TLS),
        (defer.TimeoutError, FailureKind.TIMEOUT),  # our response deadline (addTimeout)
        (error.TimeoutError, FailureKind.TIMEOUT),  # Agent(connectTimeout=...)
        (error.ConnectingCancelledError, FailureKind.TIMEOUT),
        (error.DNSLookupError, FailureKind.CONNECT),
        (error.ConnectError, FailureKind.CONNECT),  # refused, unreachable ... (ConnectionRefusedError)
        (_newclient.ResponseNeverReceived, FailureKind.READ),  # connection lost before a status line
        (_newclient.RequestTransmissionFailed, FailureKind.READ),
        (_newclient.RequestGenerationFailed, FailureKind.OTHER),
        (_newclient.ResponseFailed, FailureKind.READ),
        (error.ConnectionLost, FailureKind.READ),
        (error.ConnectionDone, FailureKind.READ),
        (defer.CancelledError, FailureKind.OTHER),
        (OSError, FailureKind.CONNECT),
        (ValueError, FailureKind.OTHER),  # a URL or header Twisted refuses
    )


def _reasons(exc: BaseException) -> list[BaseException]:
    """The exceptions a Twisted wrapper (``ResponseFailed`` ...) carries as ``reasons``."""
    found = []
    for reason in getattr(exc, "reasons", None) or ():
        value = getattr(reason, "value", reason)
        if isinstance(value, BaseException):
            found.append(value)
    return found


def classify_failure(exc: BaseException) -> Failure:
    """Map an exception out of ``Agent.request`` / ``readBody`` to a :class:`Failure`.

    A wrapper (``ResponseNeverReceived``, ``ResponseFailed`` ...) is classified by what it wraps
    when that is more telling (a TLS error during the handshake, a timeout), else by itself.
    """
    table = _failure_table()

    def kind_of(value: BaseException) -> FailureKind:
        for exc_type, kind in table:
            if isinstance(value, exc_type):
                return kind
        return FailureKind.OTHER

    kind = kind_of(exc)
    shown = exc
    for inner in _reasons(exc):
        inner_kind = kind_of(inner)
        if inner_kind in (FailureKind.TLS, FailureKind.TIMEOUT):
            kind, shown = inner_kind, inner
            break
        if shown is exc:
            shown = inner
    detail = str(shown) or type(shown).__name__
    name = type(shown).__name__
    return Failure(kind, f"{name}: {detail}" if detail != name else detail)


# -- TLS policies


@functools.lru_cache(maxsize=8)
def _trust_root(bundle: str) -> Any:
    """Twisted's trust root for the PEM bundle at ``bundle`` (parsed once per path)."""
    from twisted.internet import ssl

    with open(bundle, "rb") as handle:
        data = handle.read()
    marker = b"-----BEGIN CERTIFICATE-----"
    certificates = []
    for chunk in data.split(marker)[1:]:
        end = chunk.find(b"-----END CERTIFICATE-----")
        if end < 0:
            continue
        pem = marker + chunk[: end + len(b"-----END CERTIFICATE-----")] + b"\n"
        certificates.append(ssl.Certificate.loadPEM(pem))
    if not certificates:
        raise ValueError(f"no PEM certificate in {bundle!r}")
    return ssl.trustRootFromCertificates(certificates)


def _verifying_policy(options: TransportOptions) -> Any:
    """``BrowserLikePolicyForHTTPS``: chain checked against ``ca_certs``, hostname checked."""
    client = _twisted()
    return client.BrowserLikePolicyForHTTPS(trustRoot=_trust_root(options.ca_bundle()))


def _unverified_policy() -> Any:
    """``verify_ssl=0``: TLS without checking the chain or the hostname (SNI still sent)."""
    from OpenSSL import SSL
    from twisted.internet import ssl
    from twisted.internet.interfaces import IOpenSSLClientConnectionCreator
    from twisted.web.iweb import IPolicyForHTTPS
    from zope.interface import implementer

    context = ssl.CertificateOptions(verify=False).getContext()

    @implementer(IOpenSSLClientConnectionCreator)
    class Creator:
        def __init__(self, hostname: bytes) -> None:
            self.hostname = hostname

        def clientConnectionForTLS(self, tls_protocol: Any) -> Any:
            connection = SSL.Connection(context, None)
            connection.set_app_data(tls_protocol)
            if not _is_ip(self.hostname):
                connection.set_tlsext_host_name(self.hostname)
            return connection

    @implementer(IPolicyForHTTPS)
    class Policy:
        def creatorForNetloc(self, hostname: bytes, port: int) -> Any:
            return Creator(hostname)

    return Policy()


def _is_ip(hostname: bytes) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(hostname.decode("ascii").strip("[]"))
    except ValueError:
        return False
    return True


# -- the transport


class TwistedHTTPTransport(AsyncTransport, HTTPTransport):
    """Sends from the Twisted reactor; ``Client.capture*`` never waits on the network.

    A subclass of raven 6.10's ``HTTPTransport`` as it was then (its blocking ``send`` still works).
    """

    scheme = ["twisted+http", "twisted+https"]
    accepted_options: frozenset[str] = QUEUE_OPTIONS

    def __init__(
        self,
        timeout: Any = _UNSET,
        verify_ssl: Any = _UNSET,
        ca_certs: Any = _UNSET,
        **options: Any,
    ) -> None:
        _twisted()
        HTTPTransport.__init__(self, timeout=timeout, verify_ssl=verify_ssl, ca_certs=ca_certs, **options)
        if self.options.verify_ssl:
            try:
                _trust_root(self.options.ca_bundle())
            except (OSError, ValueError) as exc:
                raise InvalidDsn(
                    f"invalid value {self.options.ca_certs!r} for transport option 'ca_certs' ({exc})"
                ) from None
        self._agent: Any = None
        self._pool: Any = None

    def open_dispatcher(self, core: DeliveryCore, reactor: Any = None) -> Dispatcher:
        """The dispatcher that delivers ``core``'s events on ``reactor`` (the global one by default).

        A subclass that overrides raven 6.10's ``async_send`` gets it called, as raven 6.10 did.
        """
        if type(self).async_send is not TwistedHTTPTransport.async_send:
            from raven._runtime.dispatchers import CallbackDispatcher

            return CallbackDispatcher(self, core)
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = global_reactor
        return TwistedDispatcher(core, self.options, reactor, self)

    def agent(self, reactor: Any) -> Any:
        """The ``Agent`` (persistent pool, TLS policy) for ``reactor``; one per transport."""
        if self._agent is None:
            client = _twisted()
            pool = self._pool = client.HTTPConnectionPool(reactor, persistent=True)
            pool.maxPersistentPerHost = max(1, self.options.max_connections)
            policy = _verifying_policy(self.options) if self.options.verify_ssl else _unverified_policy()
            self._agent = client.Agent(
                reactor, contextFactory=policy, connectTimeout=self.options.timeout, pool=pool
            )
        return self._agent

    def post_deferred(self, reactor: Any, request: Request) -> Any:
        """POST ``request``: a Deferred firing a Reply (any status) or a Failure; it never errs."""
        from twisted.internet import defer

        try:
            deferred = _exchange(self.agent(reactor), request)
        except Exception as exc:
            return defer.succeed(classify_failure(exc))
        deferred.addErrback(lambda failure: classify_failure(failure.value))
        # The deadline for the whole exchange; the cancellation it causes surfaces as Twisted's
        # wrapper of a CancelledError, so the timeout is named here rather than guessed from that.
        deferred.addTimeout(self.options.timeout, reactor, onTimeoutCancel=_timed_out)
        return deferred

    def close_connections(self) -> Any:
        """Close the pooled connections (a Deferred; a later send opens new ones)."""
        from twisted.internet import defer

        pool, self._pool, self._agent = self._pool, None, None
        if pool is None:
            return defer.succeed(None)
        return pool.closeCachedConnections()

    # -- raven 6.10's API, for code that calls it directly

    def async_send(
        self,
        url: str,
        data: bytes,
        headers: Mapping[str, str],
        success_cb: Callable[..., Any],
        failure_cb: Callable[[BaseException], Any],
    ) -> None:
        """POST on the reactor (call it from the reactor thread); then one of the callbacks."""
        from twisted.internet import reactor

        from raven.transport.http import TransportNetworkError

        def done(outcome: Outcome) -> None:
            if isinstance(outcome, Failure):
                failure_cb(TransportNetworkError(outcome))
                return
            try:
                raise_for_reply(outcome)
            except Exception as exc:
                failure_cb(exc)
            else:
                success_cb()

        self.post_deferred(reactor, Request(url, dict(headers), data, None)).addCallback(done)


def _timed_out(result: Any, timeout: float) -> Outcome:
    if isinstance(result, Reply):  # the status arrived just in time: the server has decided
        return result
    return Failure(FailureKind.TIMEOUT, f"no reply within {timeout:g} s")


def _exchange(agent: Any, request: Request) -> Any:
    from twisted.web.client import readBody
    from twisted.web.http_headers import Headers

    headers = Headers()
    for name, value in request.headers.items():
        if name.lower() != "content-length":  # the body producer's length is the one sent
            headers.addRawHeader(name.encode("latin-1"), value.encode("latin-1"))
    deferred = agent.request(b"POST", request.url.encode("ascii"), headers, _BytesProducer(request.body))

    def read(response: Any) -> Any:
        reply_headers: dict[str, str] = {}
        for raw_name, values in response.headers.getAllRawHeaders():
            # Repeated headers (X-Sentry-Rate-Limits may be) combine as one comma-separated list.
            reply_headers[raw_name.decode("latin-1").lower()] = ", ".join(v.decode("latin-1") for v in values)
        # Reading the body to its end is what returns the connection to the pool.
        body = readBody(response)
        body.addCallback(lambda data: Reply(response.code, reply_headers, data))
        # The status arrived: the server has decided. A broken body only costs the connection.
        body.addErrback(lambda _: Reply(response.code, reply_headers, b""))
        return body

    deferred.addCallback(read)
    return deferred


class _BytesProducer:
    """An ``IBodyProducer`` writing a bytes body at once (the events are small and in memory)."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.length = len(body)

    def startProducing(self, consumer: Any) -> Any:
        from twisted.internet import defer

        consumer.write(self.body)
        return defer.succeed(None)

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        pass


def _provide_producer() -> None:
    from twisted.web.iweb import IBodyProducer
    from zope.interface import classImplements

    if not IBodyProducer.implementedBy(_BytesProducer):
        classImplements(_BytesProducer, IBodyProducer)


class TwistedDispatcher:
    """Drives a :class:`Pump` on the reactor thread for one client (see the module docstring)."""

    def __init__(
        self, core: DeliveryCore, options: TransportOptions, reactor: Any, transport: TwistedHTTPTransport
    ) -> None:
        from twisted.python import threadable

        _provide_producer()
        self.reactor = reactor
        self.transport = transport
        self.options = options
        self.pump = Pump(core, options, options.max_connections)
        self._in_io_thread: Callable[[], bool] = threadable.isInIOThread
        self._lock = threading.Lock()
        self._hopping = 0  # submits on their way to the reactor thread
        self._pending: set[Any] = set()  # Deferreds of the POSTs in flight (cancelled at close)
        # A send starts on the next reactor turn: building an Agent request costs more than the
        # capture itself, and the caller should not wait for it.
        self.pump.start_task = lambda: self.reactor.callLater(0, self._start_task)
        self.pump.resume_later = lambda delay: self.reactor.callLater(delay, self._after_pause)
        self._closed = False
        self._trigger: Any = reactor.addSystemEventTrigger("before", "shutdown", self._at_shutdown)

    # -- Dispatcher

    def submit(self, item: EventItem) -> None:
        """Queue ``item`` on the reactor thread; never raises, never waits."""
        try:
            if self._in_io_thread():
                self._offer(item)
                return
            with self._lock:
                self._hopping += 1
            self.reactor.callFromThread(self._offer_hopped, item)
        except Exception:
            errors.error("twisted:submit", "Sentry: queueing an event failed", exc_info=True)

    def flush(self, timeout: Optional[float] = None) -> Any:
        """A Deferred (reactor thread) or a bool (other threads): see the module docstring."""
        try:
            limit = self._limit(timeout)
            if not self._reactor_running():
                return self._settled_now()
            if self._in_io_thread():
                return self.flush_deferred(limit)
            return self._wait_from_thread(self.flush_deferred, limit)
        except Exception:
            errors.error("twisted:flush", "Sentry: flush failed", exc_info=True)
            return False

    def close(self, timeout: Optional[float] = None) -> Any:
        """Deliver what is queued (within ``timeout``), then refuse new events and close the pool.

        Without a running reactor nothing can be delivered: what is queued is counted as lost.
        """
        try:
            limit = self._limit(timeout)
            if not self._reactor_running():
                self._settled_now()
                self._shut(0.0, "close")
                return None
            if self._in_io_thread():
                return self._close_deferred(limit)
            return self._wait_from_thread(self._close_deferred, limit)
        except Exception:
            errors.error("twisted:close", "Sentry: close failed", exc_info=True)
            return None

    # -- the reactor-thread side

    def flush_deferred(self, timeout: float) -> Any:
        """A Deferred firing True once nothing is unsettled, False after ``timeout`` seconds."""
        from twisted.internet import defer

        result: Any = defer.Deferred()
        try:
            self.pump.kick()  # a pending client report no event will carry
        except Exception:
            errors.error("twisted:flush", "Sentry: sending the client report failed", exc_info=True)
        if self._hopping == 0 and self.pump.unsettled == 0:
            result.callback(True)
            return result

        def idle() -> None:
            if not result.called:
                timer.cancel()
                result.callback(True)

        def expired() -> None:
            self.pump.forget(idle)
            if not result.called:
                result.callback(False)

        timer = self.reactor.callLater(timeout, expired)
        # Captures other threads made just before are queued for the reactor thread (callFromThread):
        # they land before this call runs, and are waited for too.
        self.reactor.callLater(0, lambda: None if result.called else self.pump.when_idle(idle))
        return result

    def _close_deferred(self, timeout: float, when: str = "close") -> Any:
        started = self.reactor.seconds()

        def finish(settled: bool) -> Any:
            self._shut(self.reactor.seconds() - started, when)
            closing = self.transport.close_connections()
            closing.addErrback(lambda _: None)
            closing.addCallback(lambda _: settled)
            return closing

        return self.flush_deferred(timeout).addCallback(finish)

    def _at_shutdown(self) -> Any:
        self._trigger = None
        if self._closed:
            return None
        deferred = self._close_deferred(float(self.options.shutdown_timeout), "exit")
        deferred.addErrback(lambda _: None)
        return deferred

    def _offer_hopped(self, item: EventItem) -> None:
        with self._lock:
            self._hopping -= 1
        self._offer(item)

    def _offer(self, item: EventItem) -> None:
        try:
            self.pump.offer(item)
        except Exception:
            errors.error("twisted:offer", "Sentry: queueing an event failed", exc_info=True)

    def _after_pause(self) -> None:
        """The pause after a failed connection is over: send the queued events again."""
        try:
            self.pump.resume()
        except Exception:
            errors.error("twisted:resume", "Sentry: resuming delivery failed", exc_info=True)

    def _start_task(self) -> None:
        try:
            self._drive(self.pump.take())
        except Exception:
            errors.error("twisted:send", "Sentry: starting a send failed", exc_info=True)

    def _drive(self, request: Optional[Request]) -> None:
        """One send task: POST, settle, take the next; loops while replies come synchronously."""
        while request is not None:
            box: list[Outcome] = []
            deferred = self.transport.post_deferred(self.reactor, request)
            deferred.addCallback(box.append)
            if not box:
                self._pending.add(deferred)
                deferred.addCallback(functools.partial(self._resume, request, box, deferred))
                return
            request = self._finish(request, box[0])

    def _resume(self, request: Request, box: list[Outcome], deferred: Any, _: object) -> None:
        self._pending.discard(deferred)
        self._drive(self._finish(request, box[0]))

    def _finish(self, request: Request, outcome: Outcome) -> Optional[Request]:
        try:
            return self.pump.finish(request, outcome)
        except Exception:
            errors.error("twisted:settle", "Sentry: settling a reply failed", exc_info=True)
            return None

    # -- helpers

    def _limit(self, timeout: Optional[float]) -> float:
        if timeout is None:
            return float(self.options.shutdown_timeout)
        return max(0.0, float(timeout))

    def _wait_from_thread(self, start: Callable[[float], Any], timeout: float) -> bool:
        """Run ``start`` on the running reactor and block this thread for its result (bounded)."""
        done = threading.Event()
        outcome: list[bool] = []

        def begin() -> None:
            deferred = start(timeout)
            deferred.addCallback(lambda value: outcome.append(bool(value)))
            deferred.addErrback(lambda _: outcome.append(False))
            deferred.addBoth(lambda _: done.set())

        self.reactor.callFromThread(begin)
        # The reactor's own timer ends the wait; the margin covers a busy reactor.
        done.wait(timeout + 1.0)
        return bool(outcome and outcome[0])

    def _reactor_running(self) -> bool:
        return bool(getattr(self.reactor, "running", False))

    def _settled_now(self) -> bool:
        """Without a running reactor nothing moves: say whether anything is pending."""
        settled = self._hopping == 0 and self.pump.unsettled == 0
        if not settled:
            errors.warning(
                "twisted:not-running",
                "Sentry: the Twisted reactor is not running; events wait for reactor.run()",
            )
        return settled

    def _shut(self, waited: float, when: str) -> None:
        """Count every event still queued or in flight as lost; stop the POSTs still in flight."""
        self._closed = True
        self.pump.close(waited, when)
        self._remove_trigger()
        pending, self._pending = list(self._pending), set()
        for deferred in pending:
            deferred.cancel()  # settles as a failure; the pump does not count it again

    def _remove_trigger(self) -> None:
        trigger, self._trigger = self._trigger, None
        if trigger is not None:
            try:
                self.reactor.removeSystemEventTrigger(trigger)
            except (ValueError, KeyError):
                pass
