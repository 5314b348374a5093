"""gunicorn settings for production: `gunicorn -c python:quickbot.gunicorn_conf quickbot.wsgi`.

Every value can be overridden on the command line or with GUNICORN_CMD_ARGS.
"""

import os

from gunicorn.glogging import Logger

from apitokens.log_redaction import TokenRedactingFilter

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
timeout = 30
graceful_timeout = 30
# gunicorn's own access log stays off: the portal writes one line per request, with its
# request ID (quickbot/middleware.py, LOG_ACCESS). Should an operator turn it on
# (--access-logfile), its lines are redacted like the error log's.
accesslog = None
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn refuses a header line over 8190 bytes with its own HTML page; let up to 16 KB
# through so the API answers an oversized Authorization header with its JSON 400.
limit_request_field_size = 16 * 1024


def worker_exit(server, worker):
    # Buffered API activity rows are written, and the API's counts published to the
    # metrics, before a worker exits (atexit covers both too).
    # Imported here: gunicorn reads this file before Django is set up.
    from apitokens.activity.buffer import gunicorn_worker_exit
    from common.metrics import api_tally

    gunicorn_worker_exit(server, worker)
    api_tally.publish()


def child_exit(server, worker):
    # In the master: a dead worker's live gauges (activity buffer depth) leave the sums.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


class RedactingLogger(Logger):
    """gunicorn's logger with token values redacted from its error and access logs (a bad
    request line, "Error handling request /qb_…", an access line's URL)."""

    _redact = TokenRedactingFilter()

    def setup(self, cfg):
        super().setup(cfg)
        # On the loggers, not their handlers: it covers every handler a configuration adds
        # (files, syslog, logconfig_dict), and addFilter keeps one copy across reloads.
        for log in (self.error_log, self.access_log):
            log.addFilter(self._redact)


logger_class = RedactingLogger
