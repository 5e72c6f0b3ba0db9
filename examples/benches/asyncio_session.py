"""The session protocol on Python's asyncio: the baseline of server_load.rs.

Banner, a `? ` prompt, each line reversed plus LF and prompt, END closes.
Lines are reversed by code point and trimmed of PHP's trim bytes; no
timeouts, no limits. Usage: python3 asyncio_session.py HOST PORT
"""

import asyncio
import sys

BANNER = b"Roll up, roll up, to the greatest show on earth!\n? "


async def session(reader, writer):
    try:
        writer.write(BANNER)
        while line := await reader.readline():
            text = line.strip(b" \t\n\r\0\x0b")
            if text == b"END":
                break
            if text:
                reply = text.decode("utf-8", "replace")[::-1].encode()
                writer.write(reply + b"\n? ")
                await writer.drain()
    except (ConnectionError, asyncio.LimitOverrunError, ValueError):
        pass
    finally:
        writer.close()


async def main(host, port):
    server = await asyncio.start_server(session, host, port, backlog=4096)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
