#!/usr/bin/env python3
"""Wyoming monitor probe, shipped by HAHA and run inside the whisper and piper containers by the
cluster's docker agent (monitor_cmd). Standard library only: it sends a Wyoming `describe` and
passes only when the server answers `info` listing an installed program of the expected kind
(asr for speech to text, tts for text to speech).

Usage: python3 wyoming-probe.py <host> <port> <asr|tts> [timeout seconds]
"""
import json
import socket
import sys


def fail(message):
    sys.stderr.write("wyoming probe: %s\n" % message)
    sys.exit(1)


def main():
    if len(sys.argv) < 4 or sys.argv[3] not in ("asr", "tts"):
        fail("usage: wyoming-probe.py <host> <port> <asr|tts> [timeout]")
    host, port, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 8.0
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(json.dumps({"type": "describe", "data": {}}).encode("utf-8") + b"\n")
            stream = sock.makefile("rb")
            header = json.loads(stream.readline(1 << 20) or b"null")
            if not isinstance(header, dict) or header.get("type") != "info":
                fail("expected an info event, got %r" % (header,))
            data = header.get("data") or {}
            length = int(header.get("data_length") or 0)
            if length > 0:
                data = json.loads(stream.read(length))
    except (OSError, ValueError) as e:
        fail(str(e))
    programs = [p for p in (data.get(kind) or []) if p.get("installed", True)]
    if not programs:
        fail("info lists no installed %s program" % kind)
    sys.exit(0)


main()
