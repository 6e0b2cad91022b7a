"""Live transports by scheme: addresses find their transport, unknown schemes are refused by name, and a commit
keeps its order (sinks, checkpoint, acknowledgements) while committing consecutive parts of one store together."""

from __future__ import annotations

import asyncio

import pytest

from a1lab.live import transport
from a1lab.live.streams import FileCheckpoint, JsonlSink
from a1lab.live.transport import AddressError, Opened, Transport, commit


class Store:
    def __init__(self, name: str, log: list):
        self.name, self.log = name, log

    async def commit(self, parts: list) -> None:
        self.log.append((self.name, [p.name for p in parts]))


class Part:
    def __init__(self, name: str, store: Store | None):
        self.name, self.store = name, store


def test_a_commit_keeps_its_order_and_joins_consecutive_parts_of_one_store():
    log: list = []
    redis, files = Store("redis", log), Store("files", log)
    parts = [Part("sink a", redis), Part("sink b", redis), None, Part("checkpoint", files), Part("acks", redis),
             Part("a file source", None)]
    asyncio.run(commit(parts))
    # the file checkpoint between them splits the Redis parts: the outputs are durable before the checkpoint,
    # the checkpoint before the acknowledgements (one transaction for all three would ack before the checkpoint)
    assert log == [("redis", ["sink a", "sink b"]), ("files", ["checkpoint"]), ("redis", ["acks"])]
    log.clear()
    asyncio.run(commit([Part("sink", redis), Part("checkpoint", redis), Part("acks", redis)]))
    assert log == [("redis", ["sink", "checkpoint", "acks"])]


def test_schemes_find_their_transport_and_unknown_ones_are_refused_by_name(tmp_path):
    opened = Opened()
    assert isinstance(opened.sink(str(tmp_path / "out.jsonl")), JsonlSink)
    assert isinstance(opened.checkpoint(f"file://{tmp_path}/cp.json"), FileCheckpoint)
    assert opened.checkpoint("") is None
    with pytest.raises(AddressError, match=r"no transport for kafka:// \(known: .*redis://, ws://"):
        opened.source("kafka://broker/events")
    with pytest.raises(AddressError, match="ws:// cannot be a sink"):
        opened.sink("ws://127.0.0.1:1/")


def test_a_registered_scheme_serves_sources_sinks_and_checkpoints(monkeypatch):
    monkeypatch.setitem(transport.SCHEMES, "memory", Transport(sink=lambda address, opened: ("sink", address),
                                                               source=lambda address, opened: ("source", address)))
    opened = Opened()
    assert opened.sink("memory://a") == ("sink", "memory://a")
    assert opened.follow("memory://b") == ("source", "memory://b")  # a scheme without `follow` follows its source
    with pytest.raises(AddressError, match="cannot be a checkpoint"):
        opened.checkpoint("memory://c")


def test_a_file_checkpoint_is_written_whole_at_the_commit(tmp_path):
    cp = FileCheckpoint(str(tmp_path / "sub" / "cp.json"))
    assert asyncio.run(cp.load()) is None
    cp.stage(b'{"n": 1}')
    assert not cp.path.exists()  # staged, not written, until its store commits it
    asyncio.run(commit([cp]))
    assert asyncio.run(cp.load()) == b'{"n": 1}' and not (tmp_path / "sub" / "cp.json.tmp").exists()


def test_only_a_remote_sink_on_a_store_of_its_own_is_detached():
    from types import SimpleNamespace

    from a1lab.live.transport import Detached, detach

    log: list = []
    main, other, files = Store("main", log), Store("other", log), Store("files", log)
    files.local = True
    settings = SimpleNamespace(timeout=1.0, breaker=SimpleNamespace(failures=2, reset=1.0), queue=10)
    sinks = [Part("with the checkpoint", main), Part("elsewhere", other), Part("a file", files)]
    wrapped = detach(sinks, Part("checkpoint", main), Part("source", None), settings)
    assert [type(s).__name__ for s in wrapped] == ["Part", "Detached", "Part"]
    assert isinstance(wrapped[1], Detached) and wrapped[1].sink is sinks[1] and wrapped[1].store is None
