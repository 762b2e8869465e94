"""The balancer in front of several replicas: round robin, backends joining and leaving at run
time, the backends' answers (5xx too) passed through, a stopped backend passed over."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from aiohttp import web

from sandbox.balancer import Balancer
from tests.helpers import free_port


@asynccontextmanager
async def backend(name: str, status: int = 200) -> AsyncIterator[str]:
    """A server that answers every request with its name, the request's body and its
    Stripe-Signature header, with `status`."""

    async def answer(request: web.Request) -> web.Response:
        body = await request.text()
        signature = request.headers.get("Stripe-Signature", "")
        return web.Response(
            status=status,
            text=f"{name} {request.method} {request.path_qs} {body} {signature}",
            headers={"X-Backend": name},
        )

    app = web.Application()
    app.router.add_route("*", "/{path:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def post(balancer: Balancer, path: str = "/stripe/webhook") -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(balancer.url + path, data=b"{}", headers={"Stripe-Signature": "t=1"}) as r,
    ):
        return r.status, await r.text()


async def test_requests_go_round_robin_with_their_path_body_and_headers() -> None:
    async with backend("a") as a, backend("b") as b, Balancer([a, b]) as balancer:
        answers = [await post(balancer, "/stripe/webhook?x=1") for _ in range(4)]
    assert [text.split()[0] for _, text in answers] == ["a", "b", "a", "b"]
    assert all(
        text.split()[1:] == ["POST", "/stripe/webhook?x=1", "{}", "t=1"] for _, text in answers
    )
    assert balancer.answers == {a: 2, b: 2}


async def test_backends_join_and_leave_at_run_time() -> None:
    async with backend("a") as a, backend("b") as b, Balancer([a]) as balancer:
        assert (await post(balancer))[1].startswith("a ")
        balancer.add(b)
        seen = {(await post(balancer))[1].split()[0] for _ in range(2)}
        assert seen == {"a", "b"}
        balancer.remove(a)
        assert [(await post(balancer))[1].split()[0] for _ in range(3)] == ["b", "b", "b"]
        assert balancer.backends == [b]


async def test_a_backends_5xx_reaches_the_client_as_it_is() -> None:
    async with backend("down", status=503) as down, Balancer([down]) as balancer:
        status, text = await post(balancer)
    assert (status, text.split()[0]) == (503, "down")


async def test_a_stopped_backend_is_passed_over_and_none_at_all_is_a_502() -> None:
    stopped = f"http://127.0.0.1:{free_port()}"
    async with backend("a") as a, Balancer([stopped, a]) as balancer:
        answers = [await post(balancer) for _ in range(3)]
        assert [(status, text.split()[0]) for status, text in answers] == [(200, "a")] * 3
        balancer.remove(a)
        status, text = await post(balancer)
        assert status == 502 and "no backend" in text
        balancer.remove(stopped)
        status, text = await post(balancer)
        assert status == 502 and "no backend" in text
