"""`python -m sample_forum [--port 8080] [--version v1]`: serve a snapshot in the foreground until Ctrl-C."""

import argparse
import threading

from sample_forum.server import VERSIONS, serve


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sample_forum", description="Serve the bundled Discuz! X3.5 sample forum on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on; 0 picks a free one (default: 8080, the snapshot's own)")
    parser.add_argument("--version", choices=VERSIONS, default="v1", help="snapshot to serve (default: v1)")
    args = parser.parse_args(argv)
    with serve(args.version, args.port) as forum:
        print(f"Serving sample forum {args.version} at {forum.base_url} (Ctrl-C to stop)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
