"""A page's start tags in order, with their attributes and text: enough to check what a server-
rendered page lists, without a browser."""
from __future__ import annotations

import re
from html.parser import HTMLParser


class Tags(HTMLParser):
    """Every start tag of a page, in order, with its attributes and the text inside it."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict, list[str]]] = []
        self._open: list[list[str]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        texts: list[str] = []
        self.tags.append((tag, dict(attrs), texts))
        if tag not in ("br", "link", "meta", "input", "img"):
            self._open.append(texts)

    def handle_endtag(self, tag):
        if self._open:
            self._open.pop()

    def handle_data(self, data):
        for texts in self._open:
            texts.append(data)

    def find(self, tag: str | None = None, **attrs: str) -> list[tuple[dict, str]]:
        return [(a, re.sub(r"\s+", " ", "".join(t)).strip()) for name, a, t in self.tags
                if (tag is None or name == tag) and all(
                    a.get(k.rstrip("_")) == v for k, v in attrs.items())]
