"""Serves the demo page on 127.0.0.1 and prints its URL.

usage: serve.py [--port N] [--demo DIR|random]
       (bazel run //web:serve -- --demo results/arrow_mbc/demo)

The demo bundle is a folder with base/ (config.json + model.safetensors, an
HF-style Llama checkpoint) and library/ (a libra expert library:
library.pb, expert files, aux/arrow prototypes), and optionally bundle.json
(tasks and test examples) and results.json (the run's claims), as paper
(a)'s reproduction writes it (papers/arrow_mbc; web/README.md). Without --demo it is
$BUILD_WORKSPACE_DIRECTORY/results/arrow_mbc/demo when that exists (./run
writes it), else a generated stand-in with random weights
(make_demo_library.cc), which the page announces in a banner. --demo random
always uses the stand-in (the browser test does, to stay hermetic).

Files come from the runfiles: the page, libra.js/.wasm, the JS API and
src/proto/library.proto; protobuf.min.js comes from web/node_modules
(tools/install_deps.sh), found next to this file's source.
"""
import argparse
import functools
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

PAPER_DEMO = os.path.join("results", "arrow_mbc", "demo")


def check_bundle(path):
    """Returns an error message, or None when `path` looks like a bundle."""
    for rel in ["base/config.json", "base/model.safetensors"]:
        if not os.path.isfile(os.path.join(path, rel)):
            return f"not a demo bundle: missing {rel} ({path})"
    if not any(os.path.isfile(os.path.join(path, "library", name)) for name in ["library.pb", "library.json"]):
        return f"not a demo bundle: missing library/library.pb ({path})"
    return None


def find_protobufjs(here):
    candidates = [os.path.join(os.path.dirname(os.path.realpath(__file__)), "node_modules")]
    if os.environ.get("BUILD_WORKSPACE_DIRECTORY"):
        candidates.append(os.path.join(os.environ["BUILD_WORKSPACE_DIRECTORY"], "web", "node_modules"))
    candidates.append(os.path.join(here, "node_modules"))
    for folder in candidates:
        path = os.path.join(folder, "protobufjs", "dist", "protobuf.min.js")
        if os.path.isfile(path):
            return path
    return None


def choose_demo(requested):
    """(bundle folder or None for the generated stand-in, description)."""
    if requested == "random":
        return None, "generated stand-in (--demo random)"
    if requested:
        path = os.path.abspath(os.path.join(os.environ.get("BUILD_WORKING_DIRECTORY", ""), requested))
        error = check_bundle(path)
        if error:
            sys.exit(f"serve: error: {error}")
        return path, path
    workspace = os.environ.get("BUILD_WORKSPACE_DIRECTORY")
    if workspace:
        path = os.path.join(workspace, PAPER_DEMO)
        if os.path.isdir(path):
            error = check_bundle(path)
            if error is None:
                return path, path
            print(f"serve: warning: {error}; using the random stand-in", file=sys.stderr)
    return None, f"generated stand-in ({PAPER_DEMO} not found)"


def site_dir(demo):
    here = os.path.dirname(os.path.abspath(__file__))
    site = tempfile.mkdtemp(prefix="libra-web-")
    for name in ["index.html", "app.js", "story.js"]:
        shutil.copy(os.path.join(here, name), site)
    root = os.path.dirname(here)
    for rel in ["wasm/libra.js", "wasm/libra.wasm", "wasm/libra_api.js", "src/proto/library.proto"]:
        shutil.copy(os.path.join(root, rel), site)
    protobufjs = find_protobufjs(here)
    if protobufjs:
        shutil.copy(protobufjs, os.path.join(site, "protobuf.min.js"))
    else:
        print("serve: warning: web/node_modules/protobufjs missing (run tools/install_deps.sh); "
              "the page cannot read library.pb", file=sys.stderr)
    if demo is None:
        # Seeded, so the same weights every time; it writes demo/bundle.json
        # saying the weights are random.
        subprocess.run([os.path.join(here, "make_demo_library"), os.path.join(site, "demo")], check=True)
    else:
        os.symlink(demo, os.path.join(site, "demo"))  # served in place, not copied
    return site


class DemoHandler(http.server.SimpleHTTPRequestHandler):
    """Static files of the site. A request marked `?optional` (the page's
    bundle.json and results.json, which a bundle may lack) is answered 204 No
    Content when the file is missing, not 404: the browser logs every 404 as
    an error in the console, and a missing optional file is no error."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".wasm": "application/wasm"}

    def send_error(self, code, message=None, explain=None):
        if code == 404 and urllib.parse.urlsplit(self.path).query == "optional":
            self.send_response(204)
            self.end_headers()
            return
        super().send_error(code, message, explain)

    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--demo", default="", help="demo bundle folder (base/ + library/), or 'random'")
    args = parser.parse_args()
    demo, description = choose_demo(args.demo)
    handler = functools.partial(DemoHandler, directory=site_dir(demo))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    print(f"demo bundle: {description}", flush=True)
    print(f"libra demo: http://127.0.0.1:{server.server_address[1]}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
