"""Run records: one row of the crawls table per run, what it was asked, what it cost, how it ended."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

# How Scrapy's finish reasons read in the crawls table; any other reason is a failure.
OUTCOMES = {
    "finished": "finished",
    "closespider_itemcount": "finished",
    "closespider_pagecount": "finished",
    "closespider_timeout": "finished",
    "shutdown": "interrupted",
}


def start_crawl(db: Database, seeds: list[str], arguments: dict[str, Any], started_at: str) -> int:
    """Record a run; runs left "running" by a killed process are marked interrupted first."""
    db.execute("UPDATE crawls SET outcome = 'interrupted' WHERE outcome = 'running'")
    crawls = db["crawls"]
    crawls.insert(
        {"started_at": started_at, "seeds": seeds, "arguments": arguments, "outcome": "running"}
    )
    return crawls.last_pk


def finish_crawl(db: Database, crawl_id: int, stats: dict[str, Any], reason: str, finished_at: str) -> str:
    """Close the run's record from Scrapy's stats; return its outcome."""
    pages = stats.get("archive/pages", 0)
    errors = stats.get("archive/errors", 0)
    outcome = OUTCOMES.get(reason, "failed")
    if outcome == "finished" and pages == errors and (errors or stats.get("archive/skipped_seeds")):
        outcome = "failed"  # nothing could be archived
    db["crawls"].update(
        crawl_id,
        {
            "finished_at": finished_at,
            "requests": stats.get("downloader/request_count", 0),
            "requests_saved": stats.get("archive/requests_saved", 0),
            "pages": pages,
            "new_articles": stats.get("archive/articles", 0),
            "new_comments": stats.get("archive/comments", 0),
            "updated_posts": stats.get("archive/updated_posts", 0),
            "errors": errors,
            "outcome": outcome,
        },
    )
    return outcome

