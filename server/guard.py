"""Checks that run before any execution: federation and LOAD are refused unless allowlisted.

Oxigraph (like rdflib) will fetch any URL that SERVICE or LOAD names, loopback included, and has
no switch to stop it. So the endpoint reads the operation first and refuses it when it names an
endpoint that is not in the configured allowlist, or one that cannot be known before execution
(SERVICE ?var, an unresolvable prefixed name).
"""
from __future__ import annotations

from tdkg import sparqltext as lexer
from .errors import ServiceRefused


def check_remote_access(toks: list[lexer.Token], allowlist: tuple[str, ...]) -> None:
    for keyword in ("SERVICE", "LOAD"):
        for target in lexer.targets_of(toks, keyword):
            if target is None:
                raise ServiceRefused(f"{keyword} with a target that is not a fixed IRI is refused")
            if target not in allowlist:
                raise ServiceRefused(
                    f"{keyword} <{target}> is refused: the endpoint is not in this server's "
                    "federation allowlist (TDKG_SERVICE_ALLOWLIST)", target=target)
