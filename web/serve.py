"""Serves the demo page on 127.0.0.1 and prints its URL.

usage: serve.py [--port N]   (bazel run //web:serve -- --port 8080)
Files come from the runfiles: the page, libra.js/.wasm and the JS API; the
demo library (random weights, see make_demo_library.cc) is generated into
the served folder at start.
"""
import argparse
import functools
import http.server
import os
import shutil
import subprocess
import sys
import tempfile


def site_dir():
    here = os.path.dirname(os.path.abspath(__file__))
    site = tempfile.mkdtemp(prefix="libra-web-")
    for name in ["index.html", "app.js"]:
        shutil.copy(os.path.join(here, name), site)
    root = os.path.dirname(here)
    for rel in ["wasm/libra.js", "wasm/libra.wasm", "wasm/libra_api.js"]:
        shutil.copy(os.path.join(root, rel), site)
    # The demo library is generated (seeded, so always the same) at start.
    os.makedirs(os.path.join(site, "demo", "experts"))
    subprocess.run([os.path.join(here, "make_demo_library"), os.path.join(site, "demo")], check=True)
    return site


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    args = parser.parse_args()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=site_dir())
    handler.extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".wasm": "application/wasm"}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    print(f"libra demo: http://127.0.0.1:{server.server_address[1]}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
