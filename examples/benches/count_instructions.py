#!/usr/bin/env python3
"""User-space instructions per session round trip, counted by callgrind.

CPU time on a shared machine moves by a fifth from one run to the next;
the instructions a server executes do not. This starts a session server
under `valgrind --tool=callgrind` twice, drives 1,000 and then 5,000 round
trips through it (8 sessions, one line of 21 to 24 bytes at a time,
each reply awaited), and prints (instructions for 5,000 - instructions for 1,000) /
4,000: the cost of one round trip with start-up and shutdown taken out.
Only user space is counted; the kernel's work (the same system calls for
every server here) is not.

Usage, from the workspace root after `cargo build --release -p examples
--examples --bench server_load`:

    count_instructions.py SERVER_ARGS...

where SERVER_ARGS starts the server with the literal word ADDR in place of
its address, for example:

    count_instructions.py target/release/examples/session_server --runtime tokio --listen ADDR
    count_instructions.py target/release/deps/server_load-HASH --minimal-server session multi ADDR

Servers run on 127.0.0.1 high ports and are stopped by their PID.
"""
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time


def read_until(sock, end):
    data = b""
    while not data.endswith(end):
        chunk = sock.recv(4096)
        if not chunk:
            raise SystemExit("the server closed a session")
        data += chunk
    return data


def drive(port, round_trips):
    socks = None
    for _ in range(300):  # up to 30 s for the server to listen under valgrind
        try:
            socks = [socket.create_connection(("127.0.0.1", port), 5) for _ in range(8)]
            break
        except OSError:
            time.sleep(0.1)
    if socks is None:
        raise SystemExit(f"nothing listens on port {port}")
    for sock in socks:
        read_until(sock, b"? ")
    for i in range(round_trips):
        sock = socks[i % len(socks)]
        sock.sendall(b"the quick brown fox %d\r\n" % i)
        read_until(sock, b"? ")
    for sock in socks:
        sock.sendall(b"END\r\n")
        while sock.recv(4096):
            pass


def instructions(args, port, round_trips):
    with tempfile.TemporaryDirectory() as tmp:
        out = f"{tmp}/callgrind.out"
        argv = [a.replace("ADDR", f"127.0.0.1:{port}") for a in args]
        server = subprocess.Popen(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *argv],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            drive(port, round_trips)
        finally:
            server.send_signal(signal.SIGTERM)
            _, log = server.communicate(timeout=60)
        found = re.search(r"Collected : (\d+)", log)
        if not found:
            raise SystemExit(f"no callgrind total in:\n{log}")
        return int(found.group(1))


def main():
    args = sys.argv[1:]
    if not args or not any("ADDR" in a for a in args):
        raise SystemExit(__doc__)
    few = instructions(args, 28_401, 1_000)
    many = instructions(args, 28_402, 5_000)
    print(f"{(many - few) / 4_000:.0f} instructions per round trip")


if __name__ == "__main__":
    main()
