"""`python -m sample_forum [--port 8080] [--version v1] [--threads-per-page 4] [--posts-per-page 5]
[--attackevasive 5] [--antitheft 3] [--jammer]`: serve a snapshot in the foreground until Ctrl-C, its
lists and threads paged as asked, behind Discuz's defences when asked (sample_forum.defences)."""

import argparse
import threading

from sample_forum.defences import DefendedForum
from sample_forum.server import VERSIONS, serve


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sample_forum", description="Serve the bundled Discuz! X3.5 sample forum on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on; 0 picks a free one (default: 8080, the snapshot's own)")
    parser.add_argument("--version", choices=VERSIONS, default="v1", help="snapshot to serve (default: v1)")
    parser.add_argument("--threads-per-page", type=int, metavar="N", help="Discuz's tpp: every thread list in pages of N (the snapshot's: 20)")
    parser.add_argument("--posts-per-page", type=int, metavar="N", help="Discuz's postperpage: every thread in pages of N (the snapshot's: 10)")
    parser.add_argument("--attackevasive", type=int, default=0, help="Discuz's anti-CC bit mask: 1 rate limit, 2 proxies, 4 reload, 8 question (e.g. 5)")
    parser.add_argument("--antitheft", type=int, default=0, help="防采集: thread views an IP gets before the script page (0: off)")
    parser.add_argument("--jammer", action="store_true", help="new random junk in every answer's jammer elements")
    args = parser.parse_args(argv)
    for name in ("threads_per_page", "posts_per_page"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be 1 or more")
    options = {"threads_per_page": args.threads_per_page, "posts_per_page": args.posts_per_page}
    defended = args.attackevasive or args.antitheft or args.jammer
    server = (DefendedForum(args.version, args.attackevasive, args.antitheft, args.jammer, port=args.port, **options)
              if defended else serve(args.version, args.port, **options))
    with server as forum:
        print(f"Serving sample forum {args.version} at {forum.base_url} (Ctrl-C to stop)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
