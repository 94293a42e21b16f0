"""The script lane (`redis_client.ScriptLane`) against a real Redis server: what a
command through redis-py's client guarantees, it keeps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import ConnectionError, ResponseError

from antechamber.redis_client import REDIS_RETRY, ScriptLane, lane_size
from antechamber.settings import RedisSettings
from tests.servers import closed_port

ECHO = "return {KEYS[1], ARGV[1], ARGV[2], ARGV[3]}"
# Busy for a while before answering, so a call can be cancelled while it waits.
SLOW = "local n = 0 for i = 1, 3000000 do n = n + i end return ARGV[1]"


def client(url: str) -> Redis:
    pool = BlockingConnectionPool.from_url(url, max_connections=10, retry=REDIS_RETRY)
    return Redis(connection_pool=pool)


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[Redis]:
    redis = client(redis_url)
    yield redis
    await redis.aclose(close_connection_pool=True)


async def test_it_answers_what_the_script_returns_with_each_kind_of_argument(
    redis_client: Redis,
) -> None:
    lane = ScriptLane(redis_client.connection_pool, 2)
    echo = redis_client.register_script(ECHO)
    answer = await lane.run(echo, ["k:{a}"], ["zoé", 42, b"\x00\xff"])
    assert answer == [b"k:{a}", "zoé".encode(), b"42", b"\x00\xff"]
    assert answer == await echo(keys=["k:{a}"], args=["zoé", 42, b"\x00\xff"])
    await lane.close()


async def test_a_script_the_server_forgot_is_loaded_again(redis_client: Redis) -> None:
    lane = ScriptLane(redis_client.connection_pool, 1)
    echo = redis_client.register_script(ECHO)
    assert (await lane.run(echo, ["k"], ["1", "2", "3"]))[1] == b"1"
    await redis_client.script_flush()  # what a restarted Redis does
    assert not (await redis_client.script_exists(echo.sha))[0]
    assert (await lane.run(echo, ["k"], ["4", "5", "6"]))[1] == b"4"
    assert (await redis_client.script_exists(echo.sha))[0]
    await lane.close()


async def test_a_connection_the_server_closed_is_replaced_without_an_error(
    redis_client: Redis,
) -> None:
    lane = ScriptLane(redis_client.connection_pool, 1)
    echo = redis_client.register_script(ECHO)
    await lane.run(echo, ["k"], ["a", "b", "c"])
    killed = await redis_client.client_kill_filter(_type="normal", skipme=True)
    assert killed >= 1
    assert (await lane.run(echo, ["k"], ["d", "e", "f"]))[1] == b"d"
    await lane.close()


async def test_a_cancelled_call_leaves_no_answer_for_the_next_one(redis_client: Redis) -> None:
    lane = ScriptLane(redis_client.connection_pool, 1)
    slow = redis_client.register_script(SLOW)
    echo = redis_client.register_script(ECHO)
    await lane.run(echo, ["k"], ["warm", "", ""])  # opens the lane's one connection
    await redis_client.script_load(SLOW)
    (connection,) = lane.connections
    reading = asyncio.Event()
    read_response = connection.read_response

    async def read_response_noted() -> Any:
        reading.set()
        return await read_response()

    connection.read_response = read_response_noted  # type: ignore[method-assign,assignment]
    call = asyncio.create_task(lane.run(slow, ["k"], ["slow answer"]))
    await reading.wait()  # sent, and waiting for its answer
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    connection.read_response = read_response  # type: ignore[method-assign]
    # The same (only) lane connection: it must not read the slow script's answer.
    assert (await lane.run(echo, ["k"], ["mine", "", ""]))[1] == b"mine"
    await lane.close()


async def test_it_never_opens_more_than_its_size_and_never_makes_a_call_wait(
    redis_client: Redis,
) -> None:
    lane = ScriptLane(redis_client.connection_pool, 2)
    slow = redis_client.register_script(SLOW)
    await redis_client.script_load(SLOW)
    answers = await asyncio.gather(*(lane.run(slow, ["k"], [str(n)]) for n in range(8)))
    assert answers == [str(n).encode() for n in range(8)]
    assert len(lane.connections) == 2  # the other six went through the client's pool
    await lane.close()
    assert all(not c.is_connected for c in lane.connections)


async def test_errors_of_the_script_reach_the_caller(redis_client: Redis) -> None:
    lane = ScriptLane(redis_client.connection_pool, 1)
    failing = redis_client.register_script("return redis.error_reply('no such thing')")
    with pytest.raises(ResponseError, match="no such thing"):
        await lane.run(failing, [], [])
    echo = redis_client.register_script(ECHO)
    assert (await lane.run(echo, ["k"], ["after", "", ""]))[1] == b"after"
    await lane.close()


async def test_a_redis_that_is_down_raises_a_connection_error() -> None:
    redis = client(f"redis://127.0.0.1:{closed_port()}/0")
    lane = ScriptLane(redis.connection_pool, 1)
    echo = redis.register_script(ECHO)
    with pytest.raises(ConnectionError):
        await lane.run(echo, ["k"], ["a", "b", "c"])
    await lane.close()
    await redis.aclose(close_connection_pool=True)


def test_the_lane_takes_its_connections_out_of_the_process_budget() -> None:
    assert lane_size(RedisSettings(url="redis://x", max_connections=200)) == 8
    assert lane_size(RedisSettings(url="redis://x", max_connections=4)) == 1
