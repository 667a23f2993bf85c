"""Bundled offline copy of a real Discuz! X3.5 forum (v1, and v2 = the same forum re-crawled later) and a server for it."""

from sample_forum.server import VERSIONS, SampleForum, serve

__all__ = ["VERSIONS", "SampleForum", "serve"]
