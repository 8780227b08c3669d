"""Folders of the project that the server reads while it runs: ``queries/`` and ``node_modules/``.

They are looked up in the configured project folder (``--project-dir``, default the current
folder) and, failing that, in the checkout this server's code comes from.
"""
from __future__ import annotations

from pathlib import Path

from flask import current_app

CHECKOUT = Path(__file__).resolve().parents[1]


def project_folder(name: str) -> Path:
    configured = (current_app.config["TDKG"].project_dir / name).resolve()
    return configured if configured.is_dir() else CHECKOUT / name
