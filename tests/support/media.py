"""A short H.264 stream in three renditions (HLS and DASH), served on loopback, throttled.

`make_stream` runs ffmpeg once: a test pattern encoded at 300, 900 and 2,500 kbit/s
(constant bit rate, so a segment's size is what its rendition declares), cut in 2 s fMP4
segments that one DASH manifest (`manifest.mpd`) and one HLS master playlist
(`master.m3u8`) both list. `MediaServer` serves a directory on 127.0.0.1 (the player test
links the pages of `players/` and the stream into one, so they share an origin); with a
`Throttle`, every segment (`.m4s`) shares one link whose rate follows a schedule, which is
how a player is driven into a stall and a switch down.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

RENDITIONS_KBPS = (300, 900, 2500)
HEIGHTS = (288, 540, 720)
SEGMENT_S = 2


def make_stream(directory: Path, duration_s: int = 24) -> Path:
    """Encode the stream into `directory`; returns it. Needs ffmpeg with libx264."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("ffmpeg is not installed (make players installs it)")
    directory.mkdir(parents=True, exist_ok=True)
    splits = "".join(f"[s{i}]" for i in range(len(HEIGHTS)))
    scales = ";".join(f"[s{i}]scale=-2:{h}[v{i}]" for i, h in enumerate(HEIGHTS))
    argv = [
        ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=30:duration={duration_s}",
        "-filter_complex", f"[0:v]split={len(HEIGHTS)}{splits};{scales}",
    ]  # fmt: skip
    for index, kbps in enumerate(RENDITIONS_KBPS):
        argv += [
            "-map", f"[v{index}]",
            f"-b:v:{index}", f"{kbps}k", f"-maxrate:v:{index}", f"{kbps}k",
            f"-minrate:v:{index}", f"{kbps}k", f"-bufsize:v:{index}", f"{kbps}k",
        ]  # fmt: skip
    argv += [
        "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-level", "3.1",
        "-pix_fmt", "yuv420p", "-x264-params", "nal-hrd=cbr", "-bf", "0", "-g", str(30 * SEGMENT_S),
        "-keyint_min", str(30 * SEGMENT_S), "-sc_threshold", "0",
        "-f", "dash", "-seg_duration", str(SEGMENT_S), "-use_template", "1",
        "-use_timeline", "0", "-hls_playlist", "1", "-hls_master_name", "master.m3u8",
        "-adaptation_sets", "id=0,streams=v", str(directory / "manifest.mpd"),
    ]  # fmt: skip
    subprocess.run(argv, check=True, timeout=300, capture_output=True)
    # ffmpeg declares bitstream switching, but each rendition has its own SPS (size,
    # level): a player that trusts it appends no new init segment on a switch, and the
    # decoder fails. Players must re-initialise on a switch here.
    manifest = directory / "manifest.mpd"
    manifest.write_text(
        manifest.read_text().replace('bitstreamSwitching="true"', 'bitstreamSwitching="false"')
    )
    return directory


@dataclass(frozen=True)
class Throttle:
    """The link's rate over time: (seconds since the first segment request, kbit/s) steps."""

    steps: Sequence[tuple[float, int]]

    def kbps(self, elapsed_s: float) -> int:
        rate = self.steps[0][1]
        for start, step_kbps in self.steps:
            if elapsed_s >= start:
                rate = step_kbps
        return rate


class _Link:
    """One shared link: bytes of every segment response wait for their turn at its rate."""

    def __init__(self, throttle: Throttle) -> None:
        self.throttle = throttle
        self.lock = threading.Lock()
        self.started: float | None = None
        self.free_at = 0.0

    def send(self, write: Any, data: bytes, chunk: int = 8192) -> None:
        for start in range(0, len(data), chunk):
            piece = data[start : start + chunk]
            with self.lock:
                now = time.monotonic()
                if self.started is None:
                    self.started = now
                kbps = self.throttle.kbps(now - self.started)
                begin = max(now, self.free_at)
                self.free_at = begin + len(piece) * 8 / (kbps * 1000)
                wait = self.free_at - now
            time.sleep(max(wait, 0))
            write(piece)


class _Handler(SimpleHTTPRequestHandler):
    link: _Link | None = None

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def copyfile(self, source: Any, outputfile: Any) -> None:
        try:
            if self.link is None or not self.path.split("?")[0].endswith(".m4s"):
                super().copyfile(source, outputfile)
            else:
                self.link.send(outputfile.write, source.read())
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the player gave the request up (a switch)


class MediaServer:
    """Serves `root` on 127.0.0.1 (a free port), throttled when given a `Throttle`."""

    def __init__(self, root: Path, throttle: Throttle | None = None) -> None:
        handler = type("Handler", (_Handler,), {"link": _Link(throttle) if throttle else None})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> MediaServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
