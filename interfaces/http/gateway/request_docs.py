"""OpenAPI request bodies of the inference routes, which read their body raw.

The gateway forwards OpenAI's bodies and reads only a few fields itself (requests.py), so the
handlers take no typed `data` for Litestar to document. These operation classes describe the
fields a client sends, open to every other field of OpenAI's API (forwarded unchanged).
"""

from __future__ import annotations

from dataclasses import dataclass

from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema

_TEXT = Schema(type=OpenAPIType.STRING)
_TEXTS = Schema(one_of=[_TEXT, Schema(type=OpenAPIType.ARRAY, items=_TEXT)])
_COMMON = {
    "model": Schema(type=OpenAPIType.STRING, min_length=1,
                    description="A deployed model's name, or its `model_…` id."),
    "stream": Schema(type=OpenAPIType.BOOLEAN, description="Answer server-sent events."),
    "stream_options": Schema(type=OpenAPIType.OBJECT, properties={
        "include_usage": Schema(type=OpenAPIType.BOOLEAN)}),
    "max_tokens": Schema(one_of=[Schema(type=OpenAPIType.INTEGER, minimum=1),
                                 Schema(type=OpenAPIType.NULL)]),
    "user": _TEXT,
}
_MESSAGE = Schema(type=OpenAPIType.OBJECT, required=["role"], properties={
    "role": Schema(type=OpenAPIType.STRING, enum=["system", "user", "assistant", "tool"]),
    "content": Schema(one_of=[_TEXT, Schema(type=OpenAPIType.NULL),
                              Schema(type=OpenAPIType.ARRAY, items=Schema(
                                  type=OpenAPIType.OBJECT))])})


def _body(name: str, **fields: Schema) -> RequestBody:
    schema = Schema(type=OpenAPIType.OBJECT, title=name, required=["model", *fields],
                    properties={**_COMMON, **fields})
    return RequestBody(content={"application/json": OpenAPIMediaType(schema=schema)},
                       required=True, description="OpenAI's request body.")


def _operation_with(body: RequestBody) -> type[Operation]:
    @dataclass
    class Documented(Operation):
        def __post_init__(self) -> None:
            self.request_body = body

    return Documented


CHAT_COMPLETION_OPERATION = _operation_with(_body(
    "ChatCompletionRequest", messages=Schema(type=OpenAPIType.ARRAY, items=_MESSAGE,
                                             min_items=1)))
COMPLETION_OPERATION = _operation_with(_body("CompletionRequest", prompt=_TEXTS))
EMBEDDING_OPERATION = _operation_with(_body("EmbeddingRequest", input=_TEXTS))
