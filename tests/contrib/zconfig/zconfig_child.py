"""Child process of test_zconfig_handler.py: configures logging from a ZConfig text with raven's
``<sentry>`` section (DSN argv[1]), logs, flushes, and prints one JSON line describing the handler
ZConfig installed. A child, because the handler's client installs process-wide hooks."""

from __future__ import annotations

import json
import logging
import sys

from ZConfig import configureLoggers

from raven.handlers.logging import SentryHandler

configureLoggers(
    f"""
    <logger>
      level INFO
      %import raven.contrib.zconfig
      <sentry>
        dsn {sys.argv[1]}
        level WARNING
        release zconfig-1.0
        environment zconfig-test
        name zconfig-host
        include_paths zconfig_child other.package
        string_max_length 64
        sample_rate 1.0
      </sentry>
    </logger>
    """
)
[handler] = [h for h in logging.getLogger().handlers if isinstance(h, SentryHandler)]
log = logging.getLogger("zconfig.app")
log.info("below the handler's level")
log.warning("warned through %s", "ZConfig")
try:
    {}["missing"]
except KeyError:
    log.exception("failed through ZConfig")
assert handler.client.flush(10)
print(
    json.dumps(
        {
            "level": handler.level,
            "include_paths": sorted(handler.client.include_paths),
            "string_max_length": handler.client.string_max_length,
        }
    )
)
handler.client.close(timeout=5)
