"""The loop's reading edge: a stop interrupts a read that waits on the source, never more than that."""

import asyncio

import pytest

from a1lab.live.runtime import LineReader


async def _source(lines: list[bytes], given: list[bytes], then_wait: bool = True):
    for line in lines:
        given.append(line)
        yield line
    if then_wait:
        await asyncio.Event().wait()  # a feed that has gone quiet: the read waits for ever


def test_a_stop_ends_a_waiting_read_and_leaves_the_task_usable():
    async def main():
        stop, given = asyncio.Event(), []
        with LineReader(_source([b"a", b"b"], given), stop) as reader:
            assert [await reader.next(), await reader.next()] == [b"a", b"b"]
            asyncio.get_running_loop().call_later(0.05, stop.set)
            assert await reader.next() is None  # read in this task: the one the watcher interrupts
            assert await reader.next() is None
        assert asyncio.current_task().cancelling() == 0  # the watcher's cancel was taken back
        await asyncio.sleep(0.01)  # and later awaits run as usual
        return given

    assert asyncio.run(asyncio.wait_for(main(), timeout=10)) == [b"a", b"b"]


def test_a_stop_between_reads_takes_no_further_line():
    async def main():
        stop, given = asyncio.Event(), []
        with LineReader(_source([b"a", b"b", b"c"], given), stop) as reader:
            first = await reader.next()
            stop.set()
            await asyncio.sleep(0)  # the watcher runs while nothing is being read
            assert await reader.next() is None
        return first, given

    assert asyncio.run(main()) == (b"a", [b"a"])


def test_the_end_of_the_source_is_none():
    async def main():
        with LineReader(_source([b"a"], [], then_wait=False), asyncio.Event()) as reader:
            return [await reader.next(), await reader.next()]

    assert asyncio.run(main()) == [b"a", None]


def test_cancelling_the_reading_task_itself_is_not_swallowed():
    async def read_for_ever():
        with LineReader(_source([], []), asyncio.Event()) as reader:
            return await reader.next()

    async def main():
        task = asyncio.ensure_future(read_for_ever())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
