"""What ItemExchange is measured against, in the same run, on the same machine.

- `monolith`: the purchase a user would build instead — one Starlette endpoint doing
  reserve, debit, credit and record in one PostgreSQL transaction, on the same tables;
- `bare_rpc` (+ `bare_rpc_worker`): the gateway's RPC client round-tripping an empty
  query through RabbitMQ to a worker's consumer that answers at once, behind the same
  HTTP layer as the gateway: what any read through the broker costs at least;
- `bare_http`: the same HTTP layer answering a constant: what any request costs at least.

Each is served by uvicorn exactly as the gateway is (`serving.run`).
"""
