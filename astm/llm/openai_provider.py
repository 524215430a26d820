"""``OpenAIProvider``: the Provider protocol over any OpenAI-compatible chat endpoint.

Structured answers (route, claim) ask for a JSON schema when the server allows it and fall
back to a JSON instruction when it does not; either way the answer is validated with
pydantic and a bad answer gets one corrective retry. Every failure leaves as a one-line
``ModelError`` that names the node and never holds the API key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, TypeVar

import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
from openai.types.shared_params import ResponseFormatJSONSchema
from pydantic import BaseModel, ValidationError

from astm.agents.prompt import render
from astm.config import Settings, safe_url
from astm.errors import ModelError, UsageError
from astm.llm.base import (
    ChildInfo,
    ClaimAnswer,
    ClaimRequest,
    GenerateRequest,
    Route,
    RouteAnswer,
    RouteRequest,
    Usage,
)

__all__ = ["OpenAIProvider"]

NO_KEY = "not-needed"  # local servers (Ollama, llama.cpp) want no key; the client wants one

_A = TypeVar("_A", bound=BaseModel)
_FENCE = re.compile(r"\A\s*```[\w+-]*[ \t]*\n(.*?)\n?[ \t]*```\s*\Z", re.DOTALL)
_Messages = list[ChatCompletionMessageParam]


class _SchemaRejected(Exception):
    """The server refused ``response_format`` json_schema (json_schema = "auto" only)."""


class OpenAIProvider:
    """The model behind an OpenAI-compatible ``base_url`` (OpenAI, Ollama, llama.cpp, vLLM)."""

    name = "openai"

    def __init__(
        self,
        settings: Settings,
        *,
        api_key: str | None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if not settings.model:
            raise UsageError("no model configured: set ASTM_MODEL, [tool.astm] model or --model")
        self._settings = settings
        self.model: str = settings.model
        self.router_model: str = settings.router_model or settings.model
        key = api_key or settings.api_key(environ)
        self._key = key
        # An explicit key (or placeholder) stops the client reading OPENAI_API_KEY itself,
        # which would bypass ``api_key_env``.
        self._client = openai.AsyncOpenAI(
            api_key=key or NO_KEY,
            base_url=settings.base_url,
            timeout=settings.timeout,
            max_retries=settings.http_retries,
        )
        # For messages only: any user:password@ part masked.
        self.base_url: str = safe_url(settings.base_url or str(self._client.base_url).rstrip("/"))
        # "auto" starts with schemas and drops them for good once the server refuses one.
        self._use_schema = settings.json_schema != "off"

    # ---- the protocol ----

    async def route(self, req: RouteRequest) -> tuple[Route, Usage]:
        prompt = render(
            "route",
            language=req.language,
            node_id=req.node_id,
            node_kind=req.node_kind,
            intent=req.intent,
            context=req.context or "(none)",
            children=_children(req.children),
        )
        answer, usage = await self._structured(RouteAnswer, "route", prompt, req.node_id)
        return Route.from_answer(answer), usage

    async def claim(self, req: ClaimRequest) -> tuple[ClaimAnswer, Usage]:
        prompt = render(
            "claim",
            language=req.language,
            node_id=req.child.id,
            node_kind=req.child.kind,
            intent=req.intent,
            context=req.context or "(none)",
            text=req.text.rstrip("\n"),
        )
        return await self._structured(ClaimAnswer, "claim", prompt, req.child.id)

    async def generate(self, req: GenerateRequest) -> tuple[str, Usage]:
        hint = f"\nYour previous answer was rejected: {req.hint}\nFix that.\n" if req.hint else ""
        prompt = render(
            req.prompt or "generate",
            language=req.language,
            node_id=req.node_id,
            node_kind=req.node_kind,
            key=req.key or "(none)",
            intent=req.intent,
            context=req.context or "(none)",
            text=req.text.rstrip("\n"),
            hint=hint,
            shape=_shape(req.language, req.node_kind),
        )
        messages: _Messages = [{"role": "user", "content": prompt}]
        completion = await self._send(self.model, messages, req.node_id)
        text = self._content(completion, req.node_id)
        if getattr(completion.choices[0], "finish_reason", None) == "length":
            # A cut-off table can still parse and silently lose its last keys.
            raise ModelError("the answer was cut off at the model's token limit", node=req.node_id)
        return text, _usage(completion)

    async def aclose(self) -> None:
        await self._client.close()

    # ---- structured answers ----

    async def _structured(
        self, answer_type: type[_A], name: str, prompt: str, node: str
    ) -> tuple[_A, Usage]:
        messages: _Messages = [{"role": "user", "content": prompt}]
        usage = Usage()
        problem = ""
        for _ in range(2):  # the answer, then one corrective retry
            completion = await self._ask_json(answer_type, name, messages, node)
            usage += _usage(completion)
            content = self._content(completion, node)
            try:
                return answer_type.model_validate_json(_unfence(content)), usage
            except ValidationError as exc:
                problem = _first_error(exc)
            messages = [
                *messages,
                {"role": "assistant", "content": content},
                {
                    "role": "user",
                    "content": f"That answer is not valid: {problem}. Answer again with one "
                    "JSON object that matches the schema, and nothing else.",
                },
            ]
        raise ModelError(f"{name} answer did not match the schema: {problem}", node=node)

    async def _ask_json(
        self, answer_type: type[BaseModel], name: str, messages: _Messages, node: str
    ) -> ChatCompletion:
        model = self.router_model
        if self._use_schema:
            fmt = ResponseFormatJSONSchema(
                type="json_schema",
                json_schema={
                    "name": name,
                    "schema": answer_type.model_json_schema(),
                    "strict": False,  # servers differ on strict mode; pydantic checks anyway
                },
            )
            try:
                return await self._send(model, messages, node, fmt)
            except _SchemaRejected:
                pass
        instructed: _Messages = [
            {"role": "system", "content": _json_instruction(answer_type)},
            *messages,
        ]
        completion = await self._send(model, instructed, node)
        # Only now is it clear a 400 was about the schema (not, say, a prompt too long).
        self._use_schema = False
        return completion

    # ---- transport ----

    async def _send(
        self,
        model: str,
        messages: _Messages,
        node: str,
        fmt: ResponseFormatJSONSchema | None = None,
    ) -> ChatCompletion:
        try:
            return await self._client.chat.completions.create(
                model=model, messages=messages, response_format=fmt or openai.omit
            )
        except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
            if fmt is not None and self._settings.json_schema == "auto":
                raise _SchemaRejected from None
            raise self._error(exc, model, node) from None
        except openai.OpenAIError as exc:
            raise self._error(exc, model, node) from None
        except ValueError:  # a 200 whose JSON body does not decode (or is not UTF-8)
            raise ModelError("the model server sent a body that is not JSON", node=node) from None

    def _content(self, completion: ChatCompletion, node: str) -> str:
        if isinstance(completion, str):
            # The client hands back the raw text of a 200 whose body does not decode as
            # JSON (cut off, HTML from a proxy ...).
            raise ModelError("the model server sent a body that is not JSON", node=node)
        # The client builds responses leniently: a bare server may omit any field.
        choices = getattr(completion, "choices", None)
        if not choices:
            raise ModelError("the model server sent no answer", node=node)
        content = getattr(getattr(choices[0], "message", None), "content", None)
        if not isinstance(content, str):
            raise ModelError("the model sent no text", node=node)
        # surrogatepass: a lone surrogate (a broken \\udcxx escape) is the answer's problem,
        # reported by validation, not a crash here.
        size = len(content.encode("utf-8", "surrogatepass"))
        if size > self._settings.max_answer_bytes:
            raise ModelError(
                f"the answer is {size} bytes, over max_answer_bytes "
                f"({self._settings.max_answer_bytes})",
                node=node,
            )
        return content

    def _error(self, exc: openai.OpenAIError, model: str, node: str) -> ModelError:
        """One line for ``exc``: no traceback, no key, the node named."""
        s = self._settings
        retries = _plural(s.http_retries, "retry", "retries")
        if isinstance(exc, openai.APITimeoutError):  # before its base, APIConnectionError
            extra = f" ({retries})" if s.http_retries else ""
            msg = f"model request timed out after {s.timeout:g}s{extra}"
        elif isinstance(exc, openai.APIConnectionError):
            msg = f"cannot reach the model at {self.base_url}"
        elif isinstance(exc, openai.AuthenticationError):
            # The server's text may echo part of the key (OpenAI does): never repeat it.
            msg = (
                f"the model server refused the API key (from ${s.api_key_env})"
                if self._key
                else f"the model server wants an API key: set ${s.api_key_env}"
            )
        elif isinstance(exc, openai.RateLimitError):
            msg = f"rate limited by the model server (HTTP 429) after {retries}"
        elif isinstance(exc, openai.NotFoundError):
            msg = f"model {model} not found at {self.base_url}"
        elif isinstance(exc, openai.APIStatusError):
            detail = self._detail(exc.body)
            msg = f"model server error HTTP {exc.status_code}" + (f": {detail}" if detail else "")
        else:
            msg = f"unexpected answer from the model server ({type(exc).__name__})"
        return ModelError(msg, node=node)

    def _detail(self, body: object) -> str:
        """The server's own short reason, if it gave one, without the key."""
        text = body.get("message") if isinstance(body, dict) else None
        if not isinstance(text, str):
            return ""
        if self._key:
            text = text.replace(self._key, "***")
        text = " ".join(text.split())
        return text if len(text) <= 160 else text[:157] + "..."


# ---- pure helpers ----


def _children(children: tuple[ChildInfo, ...]) -> str:
    if not children:
        return "(none)"
    return "\n".join(f"- {c.id} | {c.kind} | {c.summary}" for c in children)


def _shape(language: str, kind: str) -> str:
    """What "the complete text of this node" means for its language and kind."""
    if kind == "comment":
        return "the comment lines only, each starting with #"
    if language == "toml":
        if kind == "preamble":
            return "its key = value lines, with no table header"
        if kind == "file":
            return "the whole file"
        return (
            "the table header line ([key] or [[key]]) and its key = value lines; "
            "keep the comments that still apply"
        )
    if language == "python":
        if kind == "imports":
            return "the import statements only"
        if kind == "docstring":
            return "the module docstring only: one string literal"
        if kind == "statement":
            return "the whole top-level statement, as one statement; define nothing in it"
        if kind == "block":
            return (
                "the whole if/try/with statement with all its branches and the definitions "
                "in them, indented as the current text is"
            )
        return (
            "the whole definition with its decorators and the comments above it, "
            "indented as the current text is. If the new code needs a module-level import, "
            "put those import lines first, above the definition: they are moved to the "
            "file's import block. Never define anything else"
        )
    return "the whole node as it stands in the file"


def _json_instruction(answer_type: type[BaseModel]) -> str:
    schema = json.dumps(answer_type.model_json_schema(), separators=(",", ":"))
    return (
        "Answer with one JSON object only: no prose, no code fences. "
        f"It must match this JSON schema:\n{schema}"
    )


def _unfence(text: str) -> str:
    match = _FENCE.match(text)
    return match.group(1) if match else text.strip()


def _first_error(exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    loc = ".".join(str(part) for part in err["loc"])
    text = f"{loc}: {err['msg']}" if loc else str(err["msg"])
    text = " ".join(text.split())
    return text if len(text) <= 120 else text[:117] + "..."


def _usage(completion: ChatCompletion) -> Usage:
    usage: Any = getattr(completion, "usage", None)
    return Usage(
        int(getattr(usage, "prompt_tokens", 0) or 0),
        int(getattr(usage, "completion_tokens", 0) or 0),
    )


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"
