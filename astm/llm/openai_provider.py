"""``OpenAIProvider``: the Provider protocol over any OpenAI-compatible chat endpoint.

Structured answers (route, claim) climb down a ladder of modes (``json_schema``, then
``json_object`` with the schema in the prompt, then the schema as an instruction with JSON
pulled out of loose answers) on any error of a mode, and remember per endpoint what
worked (``astm.llm.structured``). Each answer is validated with pydantic and a bad one gets
one corrective turn. Every request is bounded: ``max_tokens`` by what its node can need, a
deadline of ``timeout`` seconds from when it is sent (retries and their waits included),
and at most ``model_jobs`` requests in flight, whoever calls. Every failure leaves as a
one-line ``ModelError`` that names the node, with credentials masked and control
characters escaped; the tokens it spent are counted all the same (``usage``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
from pydantic import BaseModel, ValidationError

from astm.config import Settings, safe_url, secrets
from astm.errors import ModelError, UsageError, printable
from astm.llm import failures, http, transport
from astm.llm.base import (
    ClaimAnswer,
    ClaimRequest,
    GenerateRequest,
    Route,
    RouteAnswer,
    RouteRequest,
    S,
    Usage,
)
from astm.llm.messages import claim_prompt, generate_prompt, route_prompt, structured_request
from astm.llm.structured import LADDER, MEMORY_FILE, EndpointMemory, extract_object
from astm.llm.transport import Notify

__all__ = ["MEMORY_FILE", "OpenAIProvider"]

NO_KEY = "not-needed"  # local servers (Ollama, llama.cpp) want no key; the client wants one

_A = TypeVar("_A", bound=BaseModel)
_Messages = list[ChatCompletionMessageParam]


class _ModeFailed(Exception):
    """A structured mode did not work here (the server refused it, or two bad answers)."""


@dataclass
class _Spent:
    """What one protocol call cost so far, failed requests included."""

    usage: Usage = field(default_factory=Usage)


def _quiet(node: str, detail: str) -> None:
    return None


class OpenAIProvider:
    """The model behind an OpenAI-compatible ``base_url`` (OpenAI, Ollama, llama.cpp, vLLM)."""

    name = "openai"

    def __init__(
        self,
        settings: Settings,
        *,
        api_key: str | None,
        environ: Mapping[str, str] | None = None,
        memory: Path | None = None,
        notify: Notify | None = None,
    ) -> None:
        if not settings.model:
            raise UsageError("no model configured: set ASTM_MODEL, [tool.astm] model or --model")
        self._settings = settings
        self.model: str = settings.model
        self.router_model: str = settings.router_model or settings.model
        key = api_key or settings.api_key(environ)
        self._key = key
        known: set[str] = {*secrets(settings, environ), *([key] if key else [])}
        self._secrets: list[str] = sorted(known, key=len, reverse=True)
        self._timeout = settings.request_timeout
        # Retries are astm's own (below): their waits must fit the request's deadline.
        # An explicit key (or placeholder) stops the client reading OPENAI_API_KEY itself,
        # which would bypass ``api_key_env``.
        self._client = openai.AsyncOpenAI(
            api_key=key or NO_KEY,
            base_url=settings.base_url,
            timeout=self._timeout,
            max_retries=0,
            **http.client_options(self._timeout),
        )
        # Warm-up: the client imports its resource modules on first use; do it here, which
        # runs on the model-client thread (llm/warm.py), not on the first call's path.
        _ = self._client.chat.completions
        # For messages only: credentials masked.
        self.base_url: str = safe_url(settings.base_url or str(self._client.base_url).rstrip("/"))
        self._slots = asyncio.Semaphore(settings.model_slots)
        self._limit_name = "max_tokens"  # or max_completion_tokens, once refused (_adapt)
        self._temperature = True  # send one, until refused (_adapt)
        self.usage = Usage()  # every request of this provider: the run's true cost
        self.notify: Notify = notify or _quiet
        self._forced = settings.json_mode != "auto"
        self._endpoint = f"{self.base_url} {self.router_model}"
        self._memory = EndpointMemory(memory if not self._forced else None)
        self._mode: str = (
            settings.json_mode if self._forced else self._memory.get(self._endpoint) or LADDER[0]
        )

    @property
    def json_mode(self) -> str:
        """The structured mode calls start with now."""
        return self._mode

    # ---- the protocol ----

    async def route(self, req: RouteRequest) -> tuple[Route, Usage]:
        bound = transport.route_tokens(len(req.children), self._settings.max_tokens)
        answer, usage = await self._structured(RouteAnswer, "route", route_prompt(req), req.node_id, bound)
        return Route.from_answer(answer), usage

    async def claim(self, req: ClaimRequest) -> tuple[ClaimAnswer, Usage]:
        bound = transport.claim_tokens(self._settings.max_tokens)
        return await self._structured(ClaimAnswer, "claim", claim_prompt(req), req.child.id, bound)

    async def generate(self, req: GenerateRequest) -> tuple[str, Usage]:
        messages: _Messages = [{"role": "user", "content": generate_prompt(req)}]
        cap = self._settings.max_tokens
        bound = transport.generate_tokens(req.text, cap)
        spent = _Spent()
        for again in (False, True):
            completion = await self._send(self.model, messages, req.node_id, bound, spent,
                                          temperature=req.temperature)
            text = self._content(completion, req.node_id)
            if getattr(completion.choices[0], "finish_reason", None) != "length":
                return text, spent.usage
            # A cut-off table can still parse and silently lose its last keys. The bound
            # is a guess from the node's size: once, allow a bigger answer.
            if bound >= cap or again:
                break
            bound = min(cap, 4 * bound)
            self.notify(req.node_id, f"the answer was cut off; asking again with max_tokens {bound}")
        raise ModelError(f"the answer was cut off at {bound} tokens (max_tokens)", node=req.node_id)

    async def structured(self, prompt: str, schema: type[S]) -> tuple[S, Usage]:
        """Any schema, on the router model, with the same JSON ladder and one retry."""
        # A whole track or a hint: bounded like a routing answer over a dozen children.
        bound = transport.route_tokens(12, self._settings.max_tokens)
        return await self._structured(schema, schema.__name__.lower(), prompt, schema.__name__, bound)

    async def aclose(self) -> None:
        await self._client.close()

    # ---- structured answers ----

    async def _structured(
        self, answer_type: type[_A], name: str, prompt: str, node: str, bound: int
    ) -> tuple[_A, Usage]:
        spent = _Spent()
        while True:
            mode = self._mode
            try:
                answer = await self._in_mode(mode, answer_type, name, prompt, node, bound, spent)
            except _ModeFailed as exc:
                self._step_down(mode, str(exc), node)
                continue
            if not self._forced and mode == self._mode:
                self._memory.put(self._endpoint, mode)
            return answer, spent.usage

    def _step_down(self, mode: str, reason: str, node: str) -> None:
        at = LADDER.index(mode)
        lower = LADDER[at + 1]  # _in_mode never fails the last mode this way
        if LADDER.index(self._mode) < at + 1:
            self._mode = lower
            self.notify(node, f"{mode} answers failed here ({printable(reason)}); using {lower}")

    async def _in_mode(
        self,
        mode: str,
        answer_type: type[_A],
        name: str,
        prompt: str,
        node: str,
        bound: int,
        spent: _Spent,
    ) -> _A:
        """One answer in ``mode``, then one corrective turn; ``_ModeFailed`` to step down."""
        extras = structured_request(mode, answer_type, name)
        fmt = extras.response_format
        messages: _Messages = [{"role": "user", "content": prompt}]
        if extras.system is not None:
            messages = [{"role": "system", "content": extras.system}, *messages]
        last = self._forced or mode == LADDER[-1]
        problem = ""
        for _ in range(2):  # the answer, then one corrective turn
            try:
                completion = await self._send(self.router_model, messages, node, bound, spent, fmt)
            except _Refused as exc:
                raise _ModeFailed(f"HTTP {exc.status}") from None
            content, problem = self._structured_content(completion, node)
            if not problem:
                obj = extract_object(content)
                if obj is None:
                    problem = "the answer holds no JSON object"
                else:
                    try:
                        return answer_type.model_validate(obj)
                    except ValidationError as exc:
                        problem = failures.first_error(exc)
            messages = [
                *messages,
                {"role": "assistant", "content": content},
                {
                    "role": "user",
                    "content": f"That answer is not valid: {problem}. Answer again with one "
                    "JSON object that matches the schema, and nothing else.",
                },
            ]
        if last:
            raise ModelError(f"{name} answer did not match the schema: {printable(problem)}", node=node)
        raise _ModeFailed(problem)

    def _structured_content(self, completion: ChatCompletion, node: str) -> tuple[str, str]:
        """The answer's text and what is wrong with it before parsing ("" if nothing)."""
        try:
            content = self._content(completion, node)
        except ModelError as exc:
            if "no text" not in exc.message:
                raise  # no choices, an oversized answer, a broken body: not the model's format
            return "", "the answer was empty"
        if getattr(completion.choices[0], "finish_reason", None) == "length":
            return content, "the answer was cut off at its token limit; answer shorter"
        return content, ""

    # ---- transport ----

    async def _send(
        self,
        model: str,
        messages: _Messages,
        node: str,
        max_tokens: int,
        spent: _Spent,
        fmt: Any = None,
        temperature: float | None = None,
    ) -> ChatCompletion:
        """One request: at most ``model_jobs`` in flight; its deadline starts once a slot
        is free (queueing is not the server's time); retries and waits fit the deadline."""
        async with self._slots:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self._timeout
            attempt = 0
            while True:
                remaining = deadline - loop.time()
                self._spend(Usage(calls=1), spent, node)
                try:
                    async with asyncio.timeout(remaining):
                        # ``post`` is the client's own request path (retries, errors,
                        # the typed answer) without ``create``'s walk of the parameters'
                        # type hints (plain strings here): a third of a call's CPU.
                        body = {"model": model, "messages": messages, **self._sampling(max_tokens, temperature)}
                        if fmt is not None:
                            body["response_format"] = fmt
                        completion = await self._client.post(
                            "/chat/completions", cast_to=ChatCompletion, body=body, options={"timeout": remaining},
                        )
                except (TimeoutError, openai.APITimeoutError):
                    raise ModelError(
                        f"model request timed out after {self._timeout:g}s", node=node
                    ) from None
                except openai.APIStatusError as exc:
                    status, headers = exc.status_code, exc.response.headers
                    if status == 400 and self._adapt(exc.body, node):
                        continue  # asked again at once, without what the model refused
                    if fmt is not None and not self._forced and status in transport.MODE_STATUSES:
                        raise _Refused(status) from None
                    if not transport.should_retry(status, headers):
                        raise failures.error(exc, self._where(model), node, attempt) from None
                    await self._wait(f"HTTP {status}", headers, attempt, deadline, node, exc, model)
                except openai.APIConnectionError as exc:
                    await self._wait("a connection error", {}, attempt, deadline, node, exc, model)
                except ValueError:  # a 200 whose JSON body does not decode (or is not UTF-8)
                    raise ModelError("the model server sent a body that is not JSON", node=node) from None
                else:
                    self._spend(transport.usage_of(completion), spent, node)
                    return completion
                attempt += 1

    def _sampling(self, max_tokens: int, temperature: float | None = None) -> dict[str, Any]:
        """The output bound and temperature, under the names this model takes."""
        out: dict[str, Any] = {self._limit_name: max_tokens}
        if self._temperature:
            out["temperature"] = self._settings.temperature if temperature is None else temperature
        return out

    def _adapt(self, body: object, node: str) -> bool:
        """OpenAI's reasoning models refuse ``max_tokens`` (they want
        ``max_completion_tokens``) and any temperature but their own: adapt once, for the
        rest of the run, when the server names the parameter it refuses."""
        error = body if isinstance(body, dict) else {}
        param = str(error.get("param") or "")
        text = str(error.get("message") or "")
        if self._limit_name == "max_tokens" and (
            param == "max_tokens" or "max_completion_tokens" in text
        ):
            self._limit_name = "max_completion_tokens"
        elif self._temperature and (param == "temperature" or "'temperature'" in text):
            self._temperature = False
        else:
            return False
        self.notify(node, f"the model refused a parameter ({printable(param or 'see server')}); asking without it")
        return True

    async def _wait(
        self,
        why: str,
        headers: Mapping[str, str],
        attempt: int,
        deadline: float,
        node: str,
        exc: openai.OpenAIError,
        model: str,
    ) -> None:
        """Wait before the next try, or raise when no try is left or no time for one."""
        if attempt >= self._settings.http_retries:
            raise failures.error(exc, self._where(model), node, attempt) from None
        asked = transport.retry_wait(headers, attempt)
        wait = min(asked, transport.MAX_RETRY_WAIT)
        remaining = deadline - asyncio.get_running_loop().time()
        if wait >= remaining:
            error = failures.error(exc, self._where(model), node, attempt)
            raise ModelError(
                f"{error.message}; not retried: a retry in {failures.secs(wait)} would pass the "
                f"{self._timeout:g}s deadline",
                node=node,
            ) from None
        self.notify(node, f"waiting for the model (retry in {failures.secs(wait)} after {why})")
        await asyncio.sleep(wait)

    def _where(self, model: str) -> failures.Where:
        s = self._settings
        return failures.Where(self.base_url, model, s.api_key_env, bool(self._key), self._timeout, self._secrets)

    def _spend(self, usage: Usage, spent: _Spent, node: str) -> None:
        self.usage += usage
        spent.usage += usage
        budget = self._settings.token_budget
        if budget is not None and self.usage.tokens > budget:
            raise ModelError(f"token budget of {budget} exceeded ({self.usage.tokens} tokens used)", node=node)

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


class _Refused(Exception):
    """The server answered a ``response_format`` with an error status."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status
