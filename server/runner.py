"""Serving the app with gunicorn (a production WSGI server), configured from :class:`Settings`."""
from __future__ import annotations

import logging
import sys

from gunicorn.app.base import BaseApplication

from tdkg.settings import Settings

ACCESS_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class GunicornApp(BaseApplication):
    def __init__(self, settings: Settings):
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        s = self.settings
        workers = 1 if s.updates_enabled else s.workers
        options = {
            "bind": f"{s.host}:{s.port}", "workers": workers, "threads": s.threads,
            "worker_class": "gthread", "timeout": int(s.timeout) + 30, "graceful_timeout": 5,
            "keepalive": 5, "accesslog": None, "errorlog": "-", "loglevel": "warning",
            "limit_request_line": 8190, "proc_name": "tdkg",
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self):
        from . import create_app
        logging.basicConfig(stream=sys.stderr, level=logging.INFO, format=ACCESS_FORMAT)
        return create_app(self.settings)


def serve(settings: Settings) -> None:
    GunicornApp(settings).run()
