"""Every module path of raven 6.10 outside ``raven.contrib`` imports, with raven 6.10's public names.

The names are those raven 6.10's modules defined or re-exported for others to import, read from
its sources; left out are standard-library modules and helpers a module merely imported (``os``,
``Mapping`` ...), the Python 2/3 shims other modules re-imported from ``raven.utils.compat``
(``raven.utils.compat`` itself is checked in full), and the optional libraries the transport
modules imported (``gevent``, ``Agent`` ...).
"""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

RAVEN610_NAMES: dict[str, tuple[str, ...]] = {
    "raven": ("VERSION", "get_revision", "get_version"),
    "raven.breadcrumbs": (
        "BlackholeBreadcrumbBuffer",
        "BreadcrumbBuffer",
        "CATEGORY_MAX_LENGTH",
        "LEVEL_MAX_LENGTH",
        "event_payload_considered_equal",
        "get_code",
        "hook_libraries",
        "hooked_libraries",
        "ignore_logger",
        "install_logging_hook",
        "libraryhook",
        "logger",
        "make_buffer",
        "once",
        "record",
        "record_breadcrumb",
        "register_logging_handler",
        "register_special_log_handler",
        "special_logger_handlers",
        "special_logging_handlers",
    ),
    "raven.conf": ("EXCLUDE_LOGGER_DEFAULTS", "setup_logging"),
    "raven.conf.defaults": (
        "AUTO_LOG_STACKS",
        "CAPTURE_LOCALS",
        "CA_BUNDLE",
        "CLIENT",
        "MAX_LENGTH_LIST",
        "MAX_LENGTH_STRING",
        "NAME",
        "PROCESSORS",
        "ROOT",
        "TIMEOUT",
    ),
    "raven.conf.remote": (
        "DEFAULT_TRANSPORT",
        "ERR_UNKNOWN_SCHEME",
        "InvalidDsn",
        "RemoteConfig",
        "discover_default_transport",
    ),
    "raven.exceptions": (
        "APIError",
        "ConfigurationError",
        "InvalidDsn",
        "InvalidGitRepository",
        "RateLimited",
    ),
    "raven.handlers": (),
    "raven.handlers.logbook": ("Client", "SentryHandler", "logbook"),
    "raven.handlers.logging": ("CONTEXTUAL", "Client", "RESERVED", "SentryHandler", "extract_extra"),
    "raven.middleware": (
        "ClosingIterator",
        "Iterator",
        "Sentry",
        "common_exception_handling",
        "get_current_url",
        "get_environ",
        "get_headers",
    ),
    "raven.processors": (
        "Processor",
        "RemovePostDataProcessor",
        "RemoveStackLocalsProcessor",
        "SanitizeKeysProcessor",
        "SanitizePasswordsProcessor",
        "varmap",
    ),
    "raven.scripts": (),
    "raven.scripts.runner": (
        "Client",
        "get_loadavg",
        "get_uid",
        "get_version",
        "json",
        "main",
        "send_test_message",
        "store_json",
    ),
    "raven.transport": (),
    "raven.transport.base": ("AsyncTransport", "Transport", "has_newstyle_transports"),
    "raven.transport.eventlet": ("EventletHTTPTransport", "HTTPTransport"),
    "raven.transport.exceptions": ("DuplicateScheme", "InvalidScheme"),
    "raven.transport.gevent": ("AsyncTransport", "GeventedHTTPTransport", "HTTPTransport"),
    "raven.transport.http": ("APIError", "HTTPTransport", "RateLimited", "Transport", "urlopen"),
    "raven.transport.registry": (
        "DuplicateScheme",
        "EventletHTTPTransport",
        "GeventedHTTPTransport",
        "HTTPTransport",
        "RequestsHTTPTransport",
        "ThreadedHTTPTransport",
        "ThreadedRequestsHTTPTransport",
        "TornadoHTTPTransport",
        "TransportRegistry",
        "TwistedHTTPTransport",
        "default_transports",
        "urlparse",
    ),
    "raven.transport.requests": ("HTTPTransport", "RequestsHTTPTransport"),
    "raven.transport.threaded": (
        "AsyncTransport",
        "AsyncWorker",
        "DEFAULT_TIMEOUT",
        "HTTPTransport",
        "Queue",
        "ThreadedHTTPTransport",
        "check_threads",
    ),
    "raven.transport.tornado": ("AsyncTransport", "HTTPTransport", "TornadoHTTPTransport"),
    "raven.transport.twisted": ("AsyncTransport", "HTTPTransport", "TwistedHTTPTransport"),
    "raven.utils": (
        "get_auth_header",
        "get_version_from_app",
        "get_versions",
        "is_namedtuple",
        "iteritems",
        "logger",
        "memoize",
        "merge_dicts",
        "once",
        "string_types",
        "varmap",
    ),
    "raven.utils.basic": ("is_namedtuple", "memoize", "merge_dicts", "once", "varmap"),
    "raven.utils.compat": (
        "BytesIO",
        "HTTPError",
        "Iterator",
        "PY2",
        "PY3",
        "Queue",
        "StringIO",
        "advance_iterator",
        "b",
        "binary_type",
        "callable",
        "check_threads",
        "class_types",
        "exec_",
        "get_code",
        "httplib",
        "integer_types",
        "iteritems",
        "iterkeys",
        "iterlists",
        "itervalues",
        "next",
        "raise_from",
        "reraise",
        "string_types",
        "text_type",
        "u",
        "urllib2",
        "urllib_quote",
        "urlparse",
    ),
    "raven.utils.conf": ("convert_options", "import_string"),
    "raven.utils.encoding": ("force_text", "is_protected_type", "to_string", "to_unicode", "transform"),
    "raven.utils.http": ("match_hostname", "urlopen"),
    "raven.utils.imports": ("import_string",),
    "raven.utils.json": (
        "BetterJSONEncoder",
        "Codec",
        "IncrementalDecoder",
        "IncrementalEncoder",
        "JSONDecodeError",
        "StreamReader",
        "StreamWriter",
        "better_decoder",
        "dumps",
        "getregentry",
        "is_namedtuple",
        "json",
        "loads",
        "safe_decode",
        "safe_encode",
    ),
    "raven.utils.serializer": ("Serializer", "register", "transform"),
    "raven.utils.serializer.base": (
        "BooleanSerializer",
        "DictSerializer",
        "FloatSerializer",
        "FunctionSerializer",
        "IntegerSerializer",
        "IterableSerializer",
        "NamedtupleSerializer",
        "Serializer",
        "StringSerializer",
        "TypeSerializer",
        "UnicodeSerializer",
        "has_sentry_metadata",
        "is_namedtuple",
        "serialization_manager",
        "to_unicode",
    ),
    "raven.utils.serializer.manager": (
        "SerializationManager",
        "Serializer",
        "logger",
        "manager",
        "register",
        "transform",
    ),
    "raven.utils.ssl_match_hostname": ("CertificateError", "match_hostname"),
    "raven.utils.stacks": (
        "get_frame_locals",
        "get_lines_from_file",
        "get_stack_info",
        "iter_stack_frames",
        "iter_traceback_frames",
        "slim_frame_data",
        "slim_string",
        "to_dict",
        "transform",
    ),
    "raven.utils.testutils": ("BaseTestCase", "Exam", "InMemoryClient", "TestCase", "raven"),
    "raven.utils.transaction": ("TransactionContext", "TransactionStack"),
    "raven.utils.urlparse": ("parse_qsl", "register_scheme", "urlparse"),
    "raven.utils.wsgi": ("get_client_ip", "get_current_url", "get_environ", "get_headers", "get_host"),
    "raven.versioning": ("InvalidGitRepository", "fetch_git_sha", "fetch_package_version"),
}

# The names of the client core modules (raven.base, raven.events ...).
RAVEN610_NAMES_OF_THE_CORE: dict[str, tuple[tuple[str, ...], None]] = {
    "raven.base": (
        (
            "APIError",
            "Client",
            "ClientState",
            "DummyClient",
            "ModuleProxyCache",
            "PLATFORM_NAME",
            "RateLimited",
            "Raven",
            "RemoteConfig",
            "SDK_VALUE",
            "TransactionStack",
            "TransportRegistry",
            "default_transports",
            "defaults",
            "get_auth_header",
            "get_excepthook_client",
            "get_stack_info",
            "get_thread_ident",
            "get_versions",
            "iter_stack_frames",
            "json",
            "merge_dicts",
            "time",
            "transform",
            "uuid",
            "zlib",
        ),
        None,
    ),
    "raven.events": (
        ("BaseEvent", "Exception", "Message", "Query", "get_stack_info", "iter_traceback_frames"),
        None,
    ),
    "raven.context": (("Context", "get_active_contexts", "get_thread_ident"), None),
    "raven.transport.threaded_requests": (
        ("AsyncTransport", "AsyncWorker", "RequestsHTTPTransport", "ThreadedRequestsHTTPTransport"),
        None,
    ),
}

ALL_NAMES = {**RAVEN610_NAMES, **{module: names for module, (names, _) in RAVEN610_NAMES_OF_THE_CORE.items()}}
CASES = [pytest.param(module, names, id=module) for module, names in sorted(ALL_NAMES.items())]


@pytest.mark.parametrize(("module_name", "names"), CASES)
def test_module_has_raven610_names(module_name: str, names: tuple[str, ...]) -> None:
    module = importlib.import_module(module_name)
    missing = [name for name in names if not hasattr(module, name)]
    assert not missing, f"{module_name} lacks {missing}"


def test_optional_transport_modules_import_without_their_library_loaded_by_raven() -> None:
    # The transport modules and raven itself: importing raven loads no optional library, and
    # the registry names of the optional transports resolve only when read.
    code = (
        "import sys, raven, raven.transport.registry, raven.middleware, raven.utils.testutils, "
        "raven.utils.json, raven.utils.stacks, raven.utils.http, raven.scripts.runner\n"
        "loaded = [m for m in ('gevent', 'eventlet', 'tornado', 'twisted', 'requests', 'aiohttp',"
        " 'logbook', 'webob') if m in sys.modules]\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
