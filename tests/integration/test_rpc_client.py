"""The RPC client against a real broker and an echo worker built from the real Consumer:
thousands of calls in flight on one connection, each answered with its own reply; calls
in flight when the link drops fail at once; new calls work after the reconnect."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from broker.connection import BrokerConnection, BrokerUnavailable
from broker.publisher import PublishFailed
from broker.rpc import RpcClient, RpcTimeout
from tests.support.amqp import scratch_vhost
from tests.support.echo import Echo, EchoCommand, Echoed, EchoWorker
from tests.support.tcpproxy import TcpProxy


@pytest.fixture(scope="module")
def echo_vhost() -> Iterator[str]:
    with scratch_vhost("rpc") as url:
        yield url


@pytest.fixture
async def client_broker(echo_vhost: str) -> AsyncIterator[BrokerConnection]:
    broker = BrokerConnection(echo_vhost, name="itemx-test-rpc-client")
    yield broker
    await broker.close()


async def start_rpc(broker: BrokerConnection, timeout: float = 30) -> RpcClient:
    rpc = RpcClient(broker, default_timeout=timeout)
    await broker.start(wait=10)
    assert broker.is_connected
    return rpc


async def test_two_thousand_calls_in_flight_on_one_connection(
    echo_vhost: str, client_broker: BrokerConnection
) -> None:
    calls = 2000
    worker = await EchoWorker(echo_vhost, prefetch=calls + 100, hold=True).start()
    try:
        rpc = await start_rpc(client_broker)
        requests = [
            (EchoCommand if i % 2 else Echo)(nonce=f"{i}-{'x' * (i % 7)}") for i in range(calls)
        ]
        replies = [asyncio.ensure_future(rpc.call(request)) for request in requests]
        await worker.wait_received(calls)  # every call reached the worker, none answered yet
        assert rpc.in_flight == calls
        assert not any(reply.done() for reply in replies)
        worker.release.set()
        answers = await asyncio.gather(*replies)
    finally:
        await worker.stop()
    assert all(isinstance(answer, Echoed) for answer in answers)
    assert [answer.nonce for answer in answers] == [request.nonce for request in requests]
    assert rpc.in_flight == 0


async def test_a_call_past_its_deadline_times_out_and_is_forgotten(
    echo_vhost: str, client_broker: BrokerConnection
) -> None:
    worker = await EchoWorker(echo_vhost, hold=True).start()
    try:
        rpc = await start_rpc(client_broker)
        with pytest.raises(RpcTimeout):
            await rpc.call(EchoCommand(nonce="slow"), timeout=0.5)
        assert rpc.in_flight == 0
        worker.release.set()  # the late reply arrives for nobody and is dropped
        assert (await rpc.call(Echo(nonce="next"), timeout=10)).nonce == "next"
    finally:
        await worker.stop()


async def test_calls_in_flight_fail_fast_when_the_link_drops_then_the_client_recovers(
    echo_vhost: str,
) -> None:
    worker = await EchoWorker(echo_vhost, hold=True).start()
    proxy = TcpProxy.for_url(echo_vhost).start()
    broker = BrokerConnection(proxy.url(echo_vhost), name="itemx-test-rpc-proxied")
    try:
        rpc = await start_rpc(broker, timeout=60)
        pending = [
            asyncio.ensure_future(rpc.call((Echo if i % 2 else EchoCommand)(nonce=str(i))))
            for i in range(50)
        ]
        await worker.wait_received(50)
        proxy.cut()
        async with asyncio.timeout(5):  # far inside the calls' 60 s deadline
            outcomes = await asyncio.gather(*pending, return_exceptions=True)
        assert all(isinstance(outcome, BrokerUnavailable) for outcome in outcomes), outcomes
        assert "lost" in str(outcomes[0])
        assert rpc.in_flight == 0

        with pytest.raises(BrokerUnavailable):  # while cut: refused at once, not queued
            await rpc.call(Echo(nonce="during"))

        worker.hold = False
        worker.release.set()
        proxy.restore()
        assert await broker.wait_ready(15), "the client did not reconnect"
        answers = await asyncio.gather(
            *(rpc.call((Echo if i % 2 else EchoCommand)(nonce=f"after-{i}")) for i in range(100))
        )
        assert [a.nonce for a in answers] == [f"after-{i}" for i in range(100)]
    finally:
        await broker.close()
        proxy.stop()
        await worker.stop()


async def test_a_refused_call_does_not_break_the_client() -> None:
    """Before any worker declared `itemx.commands`, the broker refuses calls and closes
    their channels; once the exchange exists the same client calls fine again."""
    with scratch_vhost("rpcfresh") as empty_vhost:
        broker = BrokerConnection(empty_vhost, name="itemx-test-rpc-refused")
        try:
            rpc = await start_rpc(broker, timeout=10)
            with pytest.raises(PublishFailed):  # confirmed: the refusal comes back at once
                await rpc.call(EchoCommand(nonce="early"))
            with pytest.raises(RpcTimeout):  # queries go unconfirmed: it only times out
                await rpc.call(Echo(nonce="early"), timeout=1)
            worker = await EchoWorker(empty_vhost).start()
            try:
                assert (await rpc.call(EchoCommand(nonce="later"))).nonce == "later"
                assert (await rpc.call(Echo(nonce="later"))).nonce == "later"
            finally:
                await worker.stop()
        finally:
            await broker.close()
