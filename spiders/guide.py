"""The guide lists (导读, ``forum.php?mod=guide&view=new|hot|digest``) for the discuz spider: what
many users start from, the newest or hottest threads of every forum. A mixin, as
spiders.extras is: the spider's own state and requests, its callback here."""

from __future__ import annotations

from scrapy.http import Response

from scraper.kinds import PageKind
from scraper.urls import guide_view
from spiders import arguments


class GuideRouting:
    """parse_guide and its requests, for DiscuzSpider."""

    async def parse_guide(self, response: Response, page: int):
        """One page of a guide list (mod=guide: threads of every forum, newest or hottest
        first): schedule the threads that changed, each from its own forum, and read every page
        (its order is not the archive's, so no row says the rest is archived)."""
        fetched, guide = await self._read(response, PageKind.FORUM, profiles=self.profiles)
        yield fetched
        if guide is None:
            return
        to_refresh = self._to_refresh(guide.site)
        for row in guide.threads:
            if self.forums is not None and row.fid not in self.forums:
                continue
            if self.since and row.last_post_at and arguments.before(row.last_post_at, self.since):
                continue  # not the end of the list: its order is not the archive's
            stored = self.state.thread(guide.site, row.tid)
            whole = self.refresh_all or row.tid in to_refresh
            if stored and stored.unchanged(row.replies, row.last_post_at) and not whole:
                self.crawler.stats.inc_value("archive/requests_saved", stored.page_count or 1)
                continue
            if self._limit_reached():
                return
            if request := self._listed_thread_request(guide.site, row, stored, whole):
                yield request
        if guide.page < guide.page_count and (next_url := guide.page_urls.get(guide.page + 1)):
            if request := self._guide_request(next_url, guide.site, guide.page + 1):
                yield request

    def _guide_request(self, url: str, site: str, page: int):
        if self.source == "api":  # the mobile API has no guide
            self.logger.error("A guide list is read from its page, not through the mobile API: skipped %s", url)
            return None
        return self._request(url, ("guide", site, guide_view(url), page), self.parse_guide, page=page)
