"""Redis Streams pieces against a real redis-server: addresses; a commit whose answer is lost on the way back (a
proxy on 127.0.0.1 cuts the connection right after forwarding EXEC) is applied exactly once; a read whose answer
is lost (the server handed the entries to the consumer) loses none of them."""

from __future__ import annotations

import asyncio
import json

import pytest
import redis

from a1lab.live.redis_streams import (
    AddressError,
    Connections,
    RedisCheckpoint,
    RedisTarget,
    StreamSink,
    StreamSource,
)
from a1lab.live.streams import Backoff
from a1lab.live.transport import commit


def test_addresses_are_read_and_bad_ones_refused_clearly():
    t = RedisTarget.parse("redis://10.0.0.5:6380/2?stream=ev&group=g&count=10")
    assert (t.host, t.port, t.db, t.name, t.params) == ("10.0.0.5", 6380, 2, "ev", {"group": "g", "count": "10"})
    assert RedisTarget.parse("redis://h?key=cp", "key").server == ("h", 6379, 0)
    for url, words in (("http://h/0?stream=x", "not a redis:// URL"), ("redis://h/0", "names no stream"),
                       ("redis://h/zero?stream=x", "must be a number"),
                       ("redis://h:99999/0?stream=x", "Port out of range")):
        with pytest.raises(AddressError, match=words):
            RedisTarget.parse(url)


async def _lossy_proxy(port: int, drops: list, command: bytes = b"EXEC") -> asyncio.Server:
    """Forwards to 127.0.0.1:port; the first connection that sends ``command`` (bytes the request contains) is cut
    before the answer comes back."""

    async def handle(reader, writer):
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        cut = asyncio.Event()

        async def upstream():
            while data := await reader.read(65536):
                lose = command in data and not drops
                if lose:
                    drops.append(True)
                    cut.set()  # the answer to this transaction never reaches the client ...
                up_writer.write(data)
                await up_writer.drain()
                if lose:
                    await asyncio.sleep(0.2)  # ... though the server applies it
                    return

        async def downstream():
            while data := await up_reader.read(65536):
                if cut.is_set():
                    return
                writer.write(data)
                await writer.drain()

        tasks = [asyncio.ensure_future(upstream()), asyncio.ensure_future(downstream())]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for t in tasks:
            t.cancel()
        writer.close()
        up_writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


def test_a_commit_whose_answer_is_lost_is_not_applied_twice(redis_server):
    async def run() -> None:
        drops: list = []
        proxy = await _lossy_proxy(redis_server.port, drops)
        port = proxy.sockets[0].getsockname()[1]
        base = f"redis://127.0.0.1:{port}/0"
        connections = Connections()
        sink_at, key_at = RedisTarget.parse(f"{base}?stream=out"), RedisTarget.parse(f"{base}?key=cp", "key")
        backoff = Backoff(base=0.01, cap=0.05)
        sink = StreamSink(connections.client(sink_at), sink_at, backoff)
        store = RedisCheckpoint(connections.client(key_at), key_at, backoff)
        assert await store.load() is None
        for n in range(3):
            sink.write({"type": "prediction", "n": n})
        store.stage(b'{"n": 3}')
        await commit([sink, store])
        assert drops == [True], "the proxy never cut an EXEC answer"
        sink.write({"type": "prediction", "n": 3})
        store.stage(b'{"n": 4}')
        await commit([sink, store])
        await connections.close()
        proxy.close()

    asyncio.run(run())
    client = redis.Redis(port=redis_server.port)
    out = [json.loads(f[b"data"])["n"] for _, f in client.xrange("out")]
    assert out == [0, 1, 2, 3], "a resent transaction wrote its messages twice"
    assert client.get("cp") == b'{"n": 4}' and client.get("cp:commit") == b"2"
    client.close()


def test_a_restarted_consumer_reads_its_unacknowledged_entries_first(redis_server):
    client = redis.Redis(port=redis_server.port)
    for n in range(5):
        client.xadd("ev", {"data": json.dumps({"n": n})})

    async def read(limit: int) -> list:
        connections = Connections()
        at = RedisTarget.parse(f"{redis_server.url}?stream=ev&group=g&consumer=c&count=2&block_ms=50")
        source, got = StreamSource(connections.client(at), at), []
        async for item in source:
            if isinstance(item, bytes):
                got.append(json.loads(item)["n"])
            if len(got) >= limit:
                break
        acks = list(source.unacked)
        await connections.close()
        return got, acks

    first, _ = asyncio.run(read(3))  # read, never acknowledged: a crash
    again, acks = asyncio.run(read(5))
    assert first == [0, 1, 2] and again == [0, 1, 2, 3, 4] and len(acks) == 5
    client.close()


def test_a_read_whose_answer_is_lost_loses_no_entry(redis_server):
    """The server hands entries to the consumer (XREADGROUP >) and dies, or the connection does, before the answer
    arrives: the entries sit in the consumer's pending list, and a plain retry of > never returns them."""
    client = redis.Redis(port=redis_server.port)
    client.xgroup_create("ev", "g", id="0", mkstream=True)

    async def run() -> tuple[list, list]:
        drops: list = []
        proxy = await _lossy_proxy(redis_server.port, drops, command=b"\r\n>\r\n")  # a read of new entries
        port = proxy.sockets[0].getsockname()[1]
        connections = Connections()
        at = RedisTarget.parse(f"redis://127.0.0.1:{port}/0?stream=ev&group=g&consumer=c&block_ms=50")
        source, got = StreamSource(connections.client(at), at, Backoff(base=0.01, cap=0.05)), []
        entries = aiter(source)
        assert await anext(entries) is not None  # the (empty) pending list read: IDLE
        for n in range(6):
            client.xadd("ev", {"data": json.dumps({"n": n})})

        async def six() -> None:
            while len(got) < 6:
                item = await anext(entries)
                if isinstance(item, bytes):
                    got.append(json.loads(item)["n"])

        try:
            await asyncio.wait_for(six(), 10)
        finally:
            acks = list(source.unacked)
            await connections.close()
            proxy.close()
        return got, acks, drops

    got, acks, drops = asyncio.run(run())
    assert drops == [True], "the proxy never cut a read's answer"
    assert got == [0, 1, 2, 3, 4, 5] and len(acks) == 6
    client.close()


async def _until(predicate, seconds: float) -> None:
    """Poll ``predicate`` every 50 ms for at most ``seconds`` (the caller asserts what it needs afterwards)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not predicate() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)


def test_a_sink_whose_server_hangs_never_waits_and_its_breaker_opens(silent_server):
    """A server that accepts and never answers: handing batches over never waits, the tries time out until the
    breaker opens, the queue keeps the batch being tried and the newest ones, and counts what it dropped."""
    from a1lab.live.transport import Detached

    async def run() -> Detached:
        connections = Connections()
        at = RedisTarget.parse(f"redis://127.0.0.1:{silent_server}/0?stream=out")
        sink = Detached(StreamSink(connections.client(at), at), timeout=0.2, failures=2, reset=30, queue=3)
        for n in range(10):
            sink.write({"n": n})
            started = asyncio.get_running_loop().time()
            sink.hand_over()
            assert asyncio.get_running_loop().time() - started < 0.05  # never waits on the server
            await asyncio.sleep(0.05)
        await _until(lambda: sink.state == "open", 2.0)
        assert sink.state == "open" and len(sink.batches) == 3 and sink.dropped == 7
        # the batch being tried stays at the head (the sink holds it); the newest wait behind it
        assert list(sink.batches) == [[{"n": 0}], [{"n": 8}], [{"n": 9}]]
        await sink.close(wait=0.1)
        assert (sink.sent, sink.dropped) == (0, 10)
        await connections.close()
        return sink

    asyncio.run(run())


def test_a_detached_sink_half_opens_and_delivers_in_order_once_its_server_is_back(tmp_path):
    from a1lab.live.transport import Detached
    from a1lab.testing import RedisServer, find_redis_server

    if find_redis_server() is None:
        pytest.skip("redis-server not installed")
    server = RedisServer(tmp_path / "redis")  # its port is chosen, nothing listens yet

    async def run() -> Detached:
        connections = Connections()
        at = RedisTarget.parse(f"{server.url}?stream=out")
        backoff = Backoff(base=0.01, cap=0.05, attempts=1)
        sink = Detached(StreamSink(connections.client(at), at, backoff), timeout=1.0, failures=1, reset=0.5,
                        queue=100)
        for n in range(5):
            sink.write({"n": n})
            sink.hand_over()
        await _until(lambda: sink.state == "open", 2.0)
        assert sink.state == "open" and sink.sent == 0
        server.start()
        await _until(lambda: not sink.batches, 5.0)
        await sink.close(wait=1.0)
        await connections.close()
        return sink

    try:
        sink = asyncio.run(run())
        client = redis.Redis(port=server.port)
        assert [json.loads(f[b"data"])["n"] for _, f in client.xrange("out")] == [0, 1, 2, 3, 4]
        assert (sink.sent, sink.dropped, sink.state) == (5, 0, "closed")
        client.close()
    finally:
        server.kill()
