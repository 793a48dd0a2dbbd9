"""A fault-injecting Bot API proxy for tests (aiohttp, 127.0.0.1), in front of the emulator.
Each request to /bot<token>/<method> is, at the configured rates: answered 429 with
`retry_after`, answered 500 or 502, held past the client's timeout, or dropped (the connection
is closed without an answer); none of these reach the emulator. With "hold": a sendMessage
whose body holds that text hangs, never answered (a process killed meanwhile never sent it).
getUpdates answers may repeat
an update that was delivered before (Telegram delivers at least once). Everything else is
passed through. Usage: python fault_proxy.py UPSTREAM PORT '{"r429": 0.1, ...}'"""

import asyncio
import json
import random
import sys

from aiohttp import ClientSession, ClientTimeout, web

DEFAULTS = {"r429": 0.0, "r5xx": 0.0, "slow": 0.0, "drop": 0.0, "repeat": 0.0,
            "slow_seconds": 5.0, "retry_after": 1, "seed": None, "hold": None}


class FaultProxy:
    def __init__(self, upstream: str, rates: dict):
        self.upstream = upstream.rstrip("/")
        self.cfg = {**DEFAULTS, **rates}
        self.random = random.Random(self.cfg["seed"])
        self.seen_updates: list[dict] = []
        self.counts = {"429": 0, "5xx": 0, "slow": 0, "drop": 0, "repeat": 0, "passed": 0}
        self.session: ClientSession | None = None

    def _roll(self, name: str) -> bool:
        return self.random.random() < self.cfg[name]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        body = await request.read()
        hold = self.cfg["hold"]  # a send whose body holds this is never answered (a hang)
        if hold and method == "sendMessage" and hold.encode() in body:
            self.counts["held"] = self.counts.get("held", 0) + 1
            await asyncio.Event().wait()
        polling = method == "getUpdates"
        # faults hit getUpdates less often, or the bot would spend the test backing off
        scale = 0.3 if polling else 1.0
        roll = self.random.random()
        edges = []
        acc = 0.0
        for name in ("r429", "r5xx", "slow", "drop"):
            acc += self.cfg[name] * scale
            edges.append((acc, name))
        fault = next((name for edge, name in edges if roll < edge), None)
        if fault == "r429":
            self.counts["429"] += 1
            return web.json_response({"ok": False, "error_code": 429,
                                      "description": "Too Many Requests: retry after "
                                                     f"{self.cfg['retry_after']}",
                                      "parameters": {"retry_after": self.cfg["retry_after"]}},
                                     status=429)
        if fault == "r5xx":
            self.counts["5xx"] += 1
            status = self.random.choice([500, 502])
            return web.json_response({"ok": False, "error_code": status,
                                      "description": "Internal Server Error"
                                      if status == 500 else "Bad Gateway"}, status=status)
        if fault == "slow":
            self.counts["slow"] += 1
            await asyncio.sleep(self.cfg["slow_seconds"])
            return web.json_response({"ok": False, "error_code": 504,
                                      "description": "Gateway Timeout"}, status=504)
        if fault == "drop":
            self.counts["drop"] += 1
            request.transport.close()
            raise asyncio.CancelledError()
        self.counts["passed"] += 1
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() in ("content-type",)}
        async with self.session.post(f"{self.upstream}/bot{request.match_info['token']}/{method}",
                                     data=body, headers=headers) as resp:
            payload = await resp.read()
            status = resp.status
        if polling and status == 200:
            data = json.loads(payload)
            result = data.get("result") or []
            self.seen_updates = (self.seen_updates + result)[-200:]
            if self.seen_updates and self._roll("repeat"):
                self.counts["repeat"] += 1
                again = self.random.choice(self.seen_updates)
                data["result"] = result + [again]
                payload = json.dumps(data).encode()
        return web.Response(body=payload, status=status, content_type="application/json")

    async def stats(self, _request: web.Request) -> web.Response:
        return web.json_response(self.counts)

    async def start(self, port: int) -> None:
        self.session = ClientSession(timeout=ClientTimeout(total=60))
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self.handle)
        app.router.add_get("/stats", self.stats)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()


async def main() -> None:
    upstream, port = sys.argv[1], int(sys.argv[2])
    rates = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    proxy = FaultProxy(upstream, rates)
    await proxy.start(port)
    print(f"ready {port}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
