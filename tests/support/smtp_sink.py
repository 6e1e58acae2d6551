"""A real SMTP server for tests: accepts every message and writes it, raw, to a folder.

Usage: python3 smtp_sink.py --port PORT --dir DIR
Prints "ready" on stdout once it listens; each message becomes DIR/<sequence>.eml.
"""
import argparse
import asyncio
import itertools
import os
import signal

from aiosmtpd.controller import Controller


class SaveToFolder:
    def __init__(self, folder):
        self.folder = folder
        self.sequence = itertools.count(1)

    async def handle_DATA(self, server, session, envelope):
        number = next(self.sequence)
        tmp = os.path.join(self.folder, f".{number:06d}.tmp")
        with open(tmp, "wb") as f:
            f.write(b"X-Envelope-To: " + ", ".join(envelope.rcpt_tos).encode() + b"\r\n")
            f.write(envelope.original_content or envelope.content)
        # rename is atomic: readers never see a half-written message
        os.rename(tmp, os.path.join(self.folder, f"{number:06d}.eml"))
        return "250 Message accepted for delivery"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    controller = Controller(SaveToFolder(args.dir), hostname="127.0.0.1", port=args.port)
    controller.start()
    print("ready", flush=True)
    loop = asyncio.new_event_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    loop.run_until_complete(stop)
    controller.stop()


if __name__ == "__main__":
    main()
