"""`python -m infra.reference.server`: an OpenAI-compatible server for the reference model.

One process serves one replica of one model (`--weights PATH` or `--base`) under one name
(`--model-name`). Routes (app.py): `GET /health`, `GET /v1/models[/{id}]`,
`POST /v1/chat/completions`, `POST /v1/completions` (both with `stream`), and
`POST /v1/embeddings`, which answers 400: the reference model has no embedding head, and the
mean of its byte embeddings would look like a semantic embedding without being one.

Requests and responses follow OpenAI's shapes (protocol.py); generation runs in worker threads
(streaming.py). Tokens are bytes and EOS, counted as the model counts them: a chat prompt is
`chat.prompt_tokens(messages)`, a completion prompt its UTF-8 bytes, and an answer's tokens
include the EOS that ended it.

Startup (see __main__.py): once it accepts connections the server prints one JSON line on
stdout, `{"type": "listening", "port": N}`; logs go to stderr. SIGTERM stops accepting, lets
in-flight requests finish (at most GRACEFUL_SHUTDOWN_SECONDS) and exits 0. Exit codes: 0 a
clean stop, 2 bad arguments or unusable weights (restarting will not help), 3 the address
cannot be bound, anything else a crash.

This module imports nothing heavy: `python -m` imports it before `__main__` limits BLAS threads.
"""
