#!/usr/bin/python3
"""Writes the chat-template goldens under tests/data/template/ with Python Jinja2.

The environment is exactly the one Hugging Face's apply_chat_template compiles templates in
(transformers/utils/chat_template_utils.py): ImmutableSandboxedEnvironment(trim_blocks=True,
lstrip_blocks=True, extensions=[AssistantTracker, loopcontrols]) with the globals raise_exception and
strftime_now and HF's tojson filter. Rendering passes what apply_chat_template passes:
messages, tools, documents, add_generation_prompt, the tokenizer's special tokens and the
chat_template_kwargs. The outputs are correct by construction; the C++ tests assert byte
equality with them.

Usage: /usr/bin/python3 tools/template/make_goldens.py   (Debian python3-jinja2; no PyPI)
Outputs:
  tests/data/template/qwen3_goldens.jsonl      Qwen3's own template over many conversations
  tests/data/template/families_goldens.jsonl   other chat-template families over the same
  tests/data/template/synthetic_goldens.jsonl  small templates, one engine feature each
"""
import copy
import datetime
import json
import os
import sys

import jinja2
from jinja2.ext import Extension, loopcontrols
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "tests", "data", "template")
# Pinned clock for strftime_now: 2024-06-15 12:00:00 UTC (the same date in every time zone
# within +/-11h, so goldens do not depend on TZ). The C++ tests pin the same instant.
FIXED_NOW = 1718452800


class AssistantTracker(Extension):
    # HF's extension: {% generation %}...{% endgeneration %} renders its body (and, when HF
    # asks for it, records where assistant text starts and ends, which templates cannot see).
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_generation_support"), [], [], body).set_lineno(
            lineno)

    def _generation_support(self, caller):
        return caller()


def make_env():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    def strftime_now(format):
        return datetime.datetime.fromtimestamp(FIXED_NOW).strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[AssistantTracker, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


ENV = make_env()

SPECIAL_KEYS = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token",
                "mask_token", "additional_special_tokens"]


def special_tokens(config):
    out = {}
    for k in SPECIAL_KEYS:
        v = config.get(k)
        if isinstance(v, dict):
            v = v.get("content")
        if isinstance(v, list):
            v = [t["content"] if isinstance(t, dict) else t for t in v]
        if v:
            out[k] = v
    return out


def render_request(template_src, specials, request):
    """Mirrors apply_chat_template for one CLI request object."""
    kwargs = dict(request.get("chat_template_kwargs") or {})
    if "enable_thinking" in request:
        kwargs["enable_thinking"] = request["enable_thinking"]
    tmpl = ENV.from_string(template_src)
    return tmpl.render(messages=request["messages"], tools=request.get("tools"),
                       documents=None,
                       add_generation_prompt=request.get("add_generation_prompt", False),
                       **{**specials, **kwargs})


# ---- Conversations -----------------------------------------------------------------------------

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather in a city.",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "City name, e.g. Zürich or 東京"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city"]}}}
SEARCH = {"type": "function", "function": {
    "name": "search", "description": "Search the web. Quotes \"like this\" and a \\ backslash.",
    "parameters": {"type": "object", "properties": {
        "query": {"type": "string"},
        "filters": {"type": "object", "properties": {
            "site": {"type": "string"}, "after": {"type": "string", "format": "date"},
            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 5}}},
        "limit": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10},
        "score": {"type": "number", "default": 0.5, "exclusiveMinimum": 1e-7}},
        "required": ["query"]}}}
CALC = {"type": "function", "function": {
    "name": "calculate", "description": "Évalue une expression — emoji ok 🧮",
    "parameters": {"type": "object", "properties": {"expr": {"type": "string"}},
                   "required": ["expr"]}}}
NOPARAMS = {"type": "function", "function": {"name": "now", "description": "",
                                              "parameters": {"type": "object",
                                                             "properties": {}}}}

U = lambda c: {"role": "user", "content": c}
A = lambda c, **kw: dict({"role": "assistant", "content": c}, **kw)
S = lambda c: {"role": "system", "content": c}
T = lambda c, **kw: dict({"role": "tool", "content": c}, **kw)


def call(name, args, wrap=True, id=None):
    fn = {"name": name, "arguments": args}
    if not wrap:
        return fn
    c = {"type": "function", "function": fn}
    if id:
        c["id"] = id
    return c


CONVERSATIONS = [
    ("single_user", [U("Hello!")], None),
    ("system_user", [S("You are a helpful assistant."), U("Hi")], None),
    ("multi_turn", [S("Be brief."), U("What is 2+2?"), A("4"), U("And 3+3?")], None),
    ("assistant_last", [U("Hi"), A("Hello! How can I help?")], None),
    ("reasoning_field_history",
     [U("q1"), A("a1", reasoning_content="thinking one"), U("q2"),
      A("a2", reasoning_content="\nthinking two\n")], None),
    ("reasoning_field_none", [U("q1"), A("a1", reasoning_content=None)], None),
    ("think_in_content_history",
     [U("q1"), A("<think>\nhidden reasoning\n</think>\n\nvisible one"), U("q2")], None),
    ("think_in_content_last",
     [U("q1"), A("<think>\nlast reasoning\n</think>\n\nvisible last")], None),
    ("think_no_open_tag", [U("q"), A("partial reasoning</think>answer")], None),
    ("slash_think", [S("/think"), U("Solve this /think")], None),
    ("slash_no_think", [U("Quick answer please /no_think")], None),
    ("unicode_emoji",
     [S("Réponds en français 🇫🇷"), U("¿Qué tal? 你好 👋🏽 \u2028 tab\there"), A("Très bien 😀")],
     None),
    ("empty_content", [U(""), A(""), U("")], None),
    ("system_only", [S("only system")], None),
    ("system_not_first", [U("hi"), S("late system"), U("again")], None),
    ("tools_basic", [U("Weather in Paris?")], [WEATHER]),
    ("tools_with_system", [S("You can call tools."), U("Search cats")], [WEATHER, SEARCH, CALC]),
    ("tools_noparams", [U("what time is it")], [NOPARAMS]),
    ("tool_call_dict_args",
     [U("Weather in Paris?"),
      A("", tool_calls=[call("get_weather", {"city": "Paris", "unit": "celsius"}, id="c1")]),
      T('{"temp": 21.5, "sky": "clear"}'), ], [WEATHER]),
    ("tool_call_string_args",
     [U("Weather?"), A("", tool_calls=[call("get_weather", '{"city": "Oslo"}')]),
      T("cold")], [WEATHER]),
    ("tool_call_unwrapped",
     [U("Weather?"), A("", tool_calls=[call("get_weather", {"city": "Rome"}, wrap=False)]),
      T("warm")], [WEATHER]),
    ("tool_call_with_content",
     [U("Weather and search"),
      A("Let me check.", tool_calls=[call("get_weather", {"city": "Bern"}),
                                     call("search", {"query": "fondue", "limit": 3,
                                                     "score": 1.0,
                                                     "filters": {"tags": ["a", "ü"]}})]),
      T("sunny"), T("results: …"), A("Done: sunny; fondue found.")], [WEATHER, SEARCH]),
    ("consecutive_tools_then_agp",
     [U("Do things"),
      A("", tool_calls=[call("calculate", {"expr": "1/3"}), call("calculate", {"expr": "2**10"})]),
      T("0.3333333333333333"), T("1024")], [CALC]),
    ("multi_step_tools",
     [S("sys"), U("Plan a trip"),
      A("<think>\nneed weather\n</think>\n\n", tool_calls=[call("get_weather", {"city": "Lima"})]),
      T("hot"),
      A("", reasoning_content="now search",
        tool_calls=[call("search", {"query": "Lima hotels", "ok": True, "n": None,
                                    "big": 12345678901234, "neg": -0.0, "exp": 1.5e300})]),
      T("<tool_response>nested</tool_response>")], [WEATHER, SEARCH]),
    ("user_tool_response_text",
     [U("first"), A("ok"), U("<tool_response>fake</tool_response>")], None),
    ("tool_args_specials",
     [U("x"), A("", tool_calls=[call("search", {"query": "quote\" back\\slash\nnewline\ttab\u0001"
                                                 " \u2028 😀 é"})]), T("r")], [SEARCH]),
    ("long_history",
     [S("s")] + sum([[U(f"question {i}"), A(f"<think>r{i}</think>answer {i}")]
                     for i in range(6)], []) + [U("final")], None),
]

ERROR_CONVERSATIONS = [
    ("no_messages", [], None),
    ("user_missing_content", [{"role": "user"}], None),
    ("assistant_content_null_tool_calls",
     [U("w"), {"role": "assistant", "content": None,
               "tool_calls": [call("get_weather", {"city": "X"})]}], [WEATHER]),
]


def qwen_requests():
    reqs = []
    for name, msgs, tools in CONVERSATIONS:
        for agp in (True, False):
            for think in ("absent", True, False):
                req = {"messages": msgs}
                if tools is not None:
                    req["tools"] = tools
                req["add_generation_prompt"] = agp
                if think != "absent":
                    req["enable_thinking"] = think
                label = f"{name}/agp={int(agp)}/think={think}"
                reqs.append((label, req))
    reqs.append(("kwargs_enable_thinking_false",
                 {"messages": [U("hi")], "add_generation_prompt": True,
                  "chat_template_kwargs": {"enable_thinking": False}}))
    reqs.append(("kwargs_top_level_wins",
                 {"messages": [U("hi")], "add_generation_prompt": True, "enable_thinking": True,
                  "chat_template_kwargs": {"enable_thinking": False}}))
    reqs.append(("tools_null", {"messages": [U("hi")], "tools": None}))
    reqs.append(("tools_empty_list", {"messages": [U("hi")], "tools": []}))
    for name, msgs, tools in ERROR_CONVERSATIONS:
        req = {"messages": msgs, "add_generation_prompt": True}
        if tools is not None:
            req["tools"] = tools
        reqs.append((name, req))
    return reqs


def golden_line(name, request, render):
    rec = {"name": name, "request": request}
    try:
        rec["expected"] = render(request)
    except jinja2.exceptions.TemplateError as e:
        rec["error"] = str(e) if type(e) is jinja2.exceptions.TemplateError else type(e).__name__
        rec["raised"] = type(e) is jinja2.exceptions.TemplateError
    except Exception as e:  # TypeError and the like: any error will do on the C++ side.
        rec["error"] = type(e).__name__
        rec["raised"] = False
    return rec


# ---- Other chat-template families (written after the public templates) -------------------------

FAMILIES = {
    "chatml": (
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
        "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
        "{{ '<|im_start|>assistant\\n' }}{% endif %}",
        {"eos_token": "<|im_end|>"}),
    "llama3": (
        "{% set loop_messages = messages %}{% for message in loop_messages %}"
        "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
        "+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
        "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
        "{% endif %}",
        {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}),
    "llama31_tools": ("""{{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- set date_string = strftime_now("%d %b %Y") %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{#- System message + builtin tools #}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {{- "Environment: ipython\\n" }}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\\n" }}
{{- "Today Date: " + date_string + "\\n\\n" }}
{{- system_message }}
{{- "<|eot_id|>" }}

{#- Custom tools are passed in a user message with some extra guidance #}
{%- if tools_in_user_message and not tools is none %}
    {#- Extract the first user message so we can plug it in here #}
    {%- if messages | length != 0 %}
        {%- set first_user_message = messages[0]['content']|trim %}
        {%- set messages = messages[1:] %}
    {%- else %}
        {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") }}
{%- endif %}
    {{- '<|start_header_id|>user<|end_header_id|>\\n\\n' -}}
    {{- "Given the following functions, please respond with a JSON for a function call " }}
    {{- "with its proper arguments that best answers the given prompt.\\n\\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\\n\\n" }}
    {%- endfor %}
    {{- first_user_message + "<|eot_id|>"}}
{%- endif %}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("This model only supports single tool-calls at once!") }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}
        {{- '{"name": "' + tool_call.name + '", ' }}
        {{- '"parameters": ' }}
        {{- tool_call.arguments | tojson }}
        {{- "}" }}
        {{- "<|eot_id|>" }}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\\n\\n" }}
        {%- if message.content is mapping or message.content is iterable %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}
""", {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}),
    "mistral": (
        "{{ bos_token }}{% for message in messages %}"
        "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
        "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
        "{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
        "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}"
        "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}"
        "{% endif %}{% endfor %}",
        {"bos_token": "<s>", "eos_token": "</s>"}),
    "gemma": (
        "{{ bos_token }}{% if messages[0]['role'] == 'system' %}"
        "{{ raise_exception('System role not supported') }}{% endif %}"
        "{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
        "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
        "{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}"
        "{% else %}{% set role = message['role'] %}{% endif %}"
        "{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}"
        "{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}",
        {"bos_token": "<bos>", "eos_token": "<eos>"}),
    "deepseek_ns": ("""{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}
{%- set ns = namespace(is_first=false, is_tool=false, is_output_first=true, system_prompt='', names=[]) -%}
{%- for message in messages -%}
  {%- if message['role'] == 'system' -%}
    {%- if ns.is_first -%}{%- set ns.system_prompt = ns.system_prompt + '\\n\\n' + message['content'] -%}
    {%- else -%}{%- set ns.system_prompt = message['content'] -%}{%- set ns.is_first = true -%}{%- endif -%}
  {%- endif -%}
  {%- set ns.names = ns.names + [message.role] -%}
{%- endfor -%}
{{ bos_token }}{{ ns.system_prompt }}
{%- for message in messages %}
  {%- if message['role'] == 'user' %}{%- set ns.is_tool = false -%}{{'<｜User｜>' + message['content']}}
  {%- elif message['role'] == 'assistant' and message['content'] is none %}{{ raise_exception('none content') }}
  {%- elif message['role'] == 'assistant' and 'tool_calls' in message %}
    {%- set ns.is_tool = false -%}
    {%- for tool in message['tool_calls'] %}
      {%- if loop.first %}{{'<｜Assistant｜><｜tool▁calls▁begin｜>'}}{%- endif %}
      {{- '<｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\\n```json\\n' + (tool['function']['arguments'] if tool['function']['arguments'] is string else tool['function']['arguments']|tojson) + '\\n```<｜tool▁call▁end｜>'}}
      {%- if loop.last %}{{'<｜tool▁calls▁end｜><｜end▁of▁sentence｜>'}}{%- endif %}
    {%- endfor %}
  {%- elif message['role'] == 'assistant' %}
    {%- set content = message['content'] -%}
    {%- if '</think>' in content %}{%- set content = content.split('</think>')[-1] -%}{%- endif %}
    {{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}
  {%- elif message['role'] == 'tool' %}
    {%- set ns.is_tool = true -%}{{'<｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}
  {%- endif %}
{%- endfor -%}
{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜><think>\\n'}}{% endif %}
{{- '' if not ns.names else '' -}}""", {"bos_token": "<｜begin▁of▁sentence｜>", "eos_token": "<｜end▁of▁sentence｜>"}),
    "zephyr_loop_last": (
        "{% for message in messages %}\n{% if message['role'] == 'user' %}\n"
        "{{ '<|user|>\\n' + message['content'] + eos_token }}\n"
        "{% elif message['role'] == 'system' %}\n{{ '<|system|>\\n' + message['content'] + eos_token }}\n"
        "{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\\n'  + message['content'] + eos_token }}\n"
        "{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n"
        "{% endfor %}",
        {"eos_token": "</s>"}),
    "phi3_macro": ("""{%- macro render(role, content, sep='\\n') -%}
<|{{ role }}|>{{ sep }}{{ content | trim }}<|end|>{{ sep }}
{%- endmacro -%}
{{ bos_token }}
{%- for m in messages | selectattr('role', 'ne', 'tool') -%}
{%- if m.content is string -%}{{ render(m.role, m.content) }}{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}<|assistant|>
{% endif -%}
""", {"bos_token": "<s>", "eos_token": "<|endoftext|>"}),
}


def family_requests():
    reqs = []
    for name, msgs, tools in CONVERSATIONS + ERROR_CONVERSATIONS:
        for agp in (True, False):
            req = {"messages": msgs, "add_generation_prompt": agp}
            if tools is not None:
                req["tools"] = tools
            reqs.append((f"{name}/agp={int(agp)}", req))
    return reqs


# ---- Synthetic templates: one engine feature each ----------------------------------------------

MSGS = [{"role": "system", "content": "S"}, {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Yo", "extra": None}]

SYNTHETIC = [
    # Whitespace control and environment settings.
    ("ws_trim_blocks", "{% if true %}\nA\n{% endif %}\nB\n", {}),
    ("ws_lstrip_blocks", "  {% if true %}\n  X\n  {% endif %}\n  {{ 'v' }}\n", {}),
    ("ws_minus", "a  {%- if true -%}  b  {%- endif -%}  c {{- ' d ' -}} e", {}),
    ("ws_plus", "  {%+ if true +%}\nA\n  {%+ endif %}\nB", {}),
    ("ws_comment", "a\n  {# comment #}\nb {#- strip -#}  c\n{# multi\nline #}\nd", {}),
    ("ws_trailing_newline", "line\n", {}),
    ("ws_crlf", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc", {}),
    ("ws_tab_lstrip", "\t{% if true %}x{% endif %}\n\t\t{%- if true %}y{% endif %}", {}),
    ("ws_var_no_lstrip", "  {{ 'v' }}\n", {}),
    ("raw_block", "{% raw %}{{ not parsed }}{% endraw %}\n  {% raw -%}  x  {%- endraw %}", {}),
    ("inline_after_var", "{{ 'a' }}  {% if true %}b{% endif %}", {}),
    # Literals and printing.
    ("print_types", "{{ 1 }}|{{ 1.0 }}|{{ -0.5 }}|{{ 1e16 }}|{{ 1e-5 }}|{{ 123456789.123 }}|"
                    "{{ true }}|{{ none }}|{{ 'x' }}|{{ [1, 'a', none, true, 2.5] }}|"
                    "{{ {'k': 'v', 'n': [1]} }}|{{ (1,) }}|{{ () }}|{{ (1, 'b') }}|{{ x }}|"
                    "{{ 0.1 + 0.2 }}|{{ 1/3 }}|{{ 2.0**70 }}|{{ 1e22 }}|{{ 10/2 }}", {}),
    ("print_repr_strings", "{{ ['it\\'s', 'say \"hi\"', 'both \\' \"', 'tab\\tnl\\n', "
                           "'back\\\\slash', 'é😀', '\\x00\\x7f', '\\u200b\\xa0'] }}", {}),
    ("string_escapes", "{{ 'a\\nb\\tc\\\\d\\'e\\u00e9\\x41' }}|{{ \"dq \\\" \" }}|{{ 'con' 'cat' }}",
     {}),
    ("number_literals", "{{ 1_000 }} {{ 0x1F }} {{ 0o17 }} {{ 0b101 }} {{ 1.5e3 }} {{ 00 }}", {}),
    ("print_context", "{{ msgs }}|{{ msgs[2] }}|{{ n }}|{{ f }}|{{ big }}|{{ s }}",
     {"msgs": MSGS, "n": 7, "f": 2.50, "big": 12345678901234567, "s": "str"}),
    ("print_tuple_expr", "{{ 1, 2 }}", {}),
    # Operators.
    ("arith", "{{ 7 + 3 }} {{ 7 - 10 }} {{ 7 * 3 }} {{ 7 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} "
              "{{ 7 % 3 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 2 ** 3 ** 2 }} "
              "{{ -2 ** 2 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 1 + 2.0 }} {{ true + 1 }} "
              "{{ 'ab' * 3 }} {{ 3 * 'x' }} {{ [1] * 3 }} {{ [1, 2] + [3] }} {{ (1,) + (2,) }}",
     {}),
    ("concat_tilde", "{{ 'a' ~ 1 ~ none ~ true ~ undefined_var ~ [1] ~ 2.0 }}", {}),
    ("compare", "{{ 1 < 2 }} {{ 2 <= 2 }} {{ 3 > 4 }} {{ 'a' < 'b' }} {{ 1 == 1.0 }} "
                "{{ 1 != '1' }} {{ [1, 2] < [1, 3] }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} "
                "{{ none == none }} {{ x == y }} {{ {'a': 1} == {'a': 1} }} {{ (1, 2) == [1, 2] }}",
     {}),
    ("logic", "{{ true and 'x' }} {{ false or 'y' }} {{ none or 0 or '' or 'z' }} {{ 0 and 1 }} "
              "{{ not none }} {{ not 'a' }} {{ not (1 and 0) }} {{ [] or 'empty' }}", {}),
    ("in_operator", "{{ 'a' in 'cat' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} "
                    "{{ 'z' not in 'abc' }} {{ 3 not in [1] }} {{ 'x' in undefined_thing }}", {}),
    ("cond_expr", "{{ 'y' if true else 'n' }}|{{ 'y' if false }}|{{ 'a' if 0 else 'b' if 1 else 'c' }}",
     {}),
    ("precedence", "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ not 1 == 2 }} "
                   "{{ -3|abs }} {{ 2 * 3|string }} {{ 'a' ~ (1 + 2) }}", {}),
    # Access.
    ("attr_item", "{{ m.role }} {{ m['content'] }} {{ m.missing }}|{{ m['missing'] }}|"
                  "{{ l[0] }} {{ l[-1] }} {{ l[5] }}|{{ l.0 }} {{ s[1] }} {{ s[-1] }} "
                  "{{ m.extra is none }} {{ m.missing is defined }}",
     {"m": MSGS[2], "l": [10, 20, 30], "s": "héllo"}),
    ("dict_attr_vs_key", "{{ d['items'] }} {{ d.get('items') }} {{ d.keys is defined }}",
     {"d": {"items": 3}}),
    ("slices", "{{ l[1:] }} {{ l[:2] }} {{ l[::-1] }} {{ l[::2] }} {{ l[-2:] }} {{ l[1:-1] }} "
               "{{ l[5:] }} {{ l[3:1:-1] }} {{ s[::-1] }} {{ s[1:3] }} {{ t[1:] }} {{ l[-100:100] }}",
     {"l": [1, 2, 3, 4, 5], "s": "añb😀c", "t": [9, 8, 7]}),
    ("messages_reverse_loop", "{% for m in msgs[::-1] %}{{ loop.index0 }}:{{ m.role }} {% endfor %}",
     {"msgs": MSGS}),
    # Statements.
    ("if_elif_else", "{% for x in [1, 2, 3, 0] %}{% if x == 1 %}one{% elif x == 2 %}two"
                     "{% elif x %}many{% else %}zero{% endif %},{% endfor %}", {}),
    ("for_loop_vars", "{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}"
                      "{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}"
                      "[{{ loop.previtem }}|{{ loop.nextitem }}]{{ loop.cycle('o', 'e') }};"
                      "{% endfor %}", {}),
    ("for_filter_else", "{% for x in [1, 2, 3, 4] if x is even %}{{ x }}/{{ loop.length }} "
                        "{% endfor %}{% for x in [] %}no{% else %}empty{% endfor %}"
                        "{% for x in [1] if x > 5 %}no{% else %}filtered-empty{% endfor %}", {}),
    ("for_unpack", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}"
                   "{% for a, b in [[1, 2], (3, 4)] %}{{ a + b }}{% endfor %}"
                   "{% for (k, v) in d|dictsort %}{{ k }}{% endfor %}",
     {"d": {"b": 2, "a": 1, "c": None}}),
    ("for_dict_string", "{% for k in d %}{{ k }}{% endfor %}|{% for c in 'hé' %}[{{ c }}]{% endfor %}",
     {"d": {"x": 1, "y": 2}}),
    ("for_nested_loop", "{% for a in [1, 2] %}{% for b in 'xy' %}{{ a }}{{ b }}{{ loop.index }} "
                        "{% endfor %}{{ loop.index }}|{% endfor %}", {}),
    ("break_continue", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}"
                       "{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}),
    ("for_undefined_iter", "{% for x in nothing %}{{ x }}{% else %}none{% endfor %}", {}),
    ("set_scoping", "{% set x = 1 %}{% for i in [1, 2] %}{{ x }}{% set x = i * 10 %}{{ x }} "
                    "{% endfor %}{{ x }}{% if true %}{% set y = 5 %}{% endif %}{{ y }}", {}),
    ("set_tuple", "{% set a, b = 1, 'two' %}{{ a }}{{ b }}{% set t = 1, 2 %}{{ t }}", {}),
    ("set_block", "{% set body %}\n  hello {{ name }}\n{% endset %}[{{ body }}]"
                  "{% set up | upper | trim %} shout {% endset %}[{{ up }}]", {"name": "W"}),
    ("namespace", "{% set ns = namespace(count=0, items=[], flag=false) %}"
                  "{% for m in msgs %}{% set ns.count = ns.count + 1 %}"
                  "{% set ns.items = ns.items + [m.role] %}{% endfor %}"
                  "{% set ns.flag = true %}{{ ns.count }} {{ ns.items }} {{ ns.flag }} {{ ns.nope }}"
                  "{% set ns2 = namespace({'a': 1}, b=2) %}{{ ns2.a }}{{ ns2.b }}",
     {"msgs": MSGS}),
    ("macro_basic", "{% macro greet(name, greeting='Hello', punct='!') %}{{ greeting }}, {{ name }}"
                    "{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', 'Hi') }} "
                    "{{ greet(name='C', punct='?') }} {{ greet() }}", {}),
    ("macro_scope", "{% set g = 'global' %}{% macro m(x) %}{{ g }}-{{ x }}{% set g = 'local' %}"
                    "{{ g }}{% endmacro %}{{ m(1) }}|{{ g }}", {}),
    ("macro_recursive", "{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1)|int }}"
                        "{% endif %}{% endmacro %}{{ fact(5) }}", {}),
    ("call_block", "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}"
                   "{% call wrap('b') %}bold {{ 1 + 1 }}{% endcall %}"
                   "{% macro each(xs) %}{% for x in xs %}{{ caller(x) }}{% endfor %}{% endmacro %}"
                   "{% call(item) each([1, 2]) %}[{{ item }}]{% endcall %}", {}),
    ("filter_block", "{% filter upper %}abc {{ 'd' }}{% endfilter %}"
                     "{% filter replace('a', 'o') | trim %}  banana  {% endfilter %}", {}),
    ("with_block", "{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}{{ a is defined }}", {}),
    ("print_stmt", "{% print 'p', 1 %}", {}),
    ("generation_tag", "{% for m in msgs %}{% generation %}[{{ m.role }}]{% endgeneration %}"
                       "{% endfor %}", {"msgs": MSGS}),
    # Filters.
    ("f_tojson", "{{ d|tojson }}|{{ d|tojson(indent=2) }}|{{ d|tojson(sort_keys=true) }}|"
                 "{{ d|tojson(separators=(',', ':')) }}|{{ 'é<>&\\'\"'|tojson }}|"
                 "{{ 'é😀'|tojson(ensure_ascii=true) }}|{{ [1.0, 1e20, -0.0, none, true]|tojson }}|"
                 "{{ {}|tojson(indent=2) }}{{ []|tojson(indent='\\t') }}|{{ [[], {}, [1]]|tojson(indent=1) }}|"
                 "{{ (1, 2)|tojson }}",
     {"d": {"z": 1, "a": [1, {"b": None}], "m": "x\ny\u0007", "f": 0.1, "u": "ü"}}),
    ("f_string_case", "{{ 'hello WORLD'|upper }} {{ 'Hello'|lower }} {{ 'hELLO wORLD'|capitalize }} "
                      "{{ 'hello world-foo(bar) x_y'|title }} {{ 'éCOLE'|lower }} {{ 'straße'|title }}",
     {}),
    ("f_trim_replace", "[{{ '  x  '|trim }}] [{{ 'xxaxx'|trim('x') }}] {{ 'aaa'|replace('a', 'b') }} "
                       "{{ 'aaa'|replace('a', 'b', 2) }} {{ 'ab'|replace('', '-') }} "
                       "[{{ '\\u3000 wide \\xa0'|trim }}]", {}),
    ("f_length_count", "{{ 'héllo'|length }} {{ [1, 2]|count }} {{ {'a': 1}|length }} "
                       "{{ nothing|length }} {{ ''|length }}", {}),
    ("f_join", "{{ [1, 2, 3]|join(', ') }} {{ ['a', 'b']|join }} {{ msgs|join('|', attribute='role') }} "
               "{{ 'abc'|join('-') }}", {"msgs": MSGS}),
    ("f_default", "{{ x|default('dflt') }} {{ ''|default('e') }} {{ ''|default('e', true) }} "
                  "{{ none|default('n') }} {{ none|d('n', true) }} {{ 0|d(5, boolean=true) }} "
                  "{{ m.missing|default('mm') }}", {"m": {}}),
    ("f_items_dictsort", "{{ d|items|list }} {{ d|dictsort }} {{ d|dictsort(reverse=true) }} "
                         "{{ d|dictsort(by='value') }} {{ nothing|items|list }}",
     {"d": {"b": 1, "A": 3, "a": 2}}),
    ("f_map", "{{ msgs|map(attribute='role')|list }} {{ [1, 2]|map('string')|join(',') }} "
              "{{ msgs|map(attribute='missing', default='?')|list }} "
              "{{ ['a', 'B']|map('upper')|list }} {{ [' a ']|map('trim')|first }} "
              "{{ [[1, 2], [3]]|map('length')|list }} {{ msgs|map(attribute='role')|map('replace', 's', 'z')|list }}",
     {"msgs": MSGS}),
    ("f_select_reject", "{{ [1, 2, 3, 4]|select('odd')|list }} {{ [1, 2, 3, 4]|reject('odd')|list }} "
                        "{{ [0, 1, '', 'a', none]|select|list }} {{ [1, 5, 9]|select('gt', 4)|list }} "
                        "{{ msgs|selectattr('role', 'equalto', 'user')|list }} "
                        "{{ msgs|rejectattr('role', 'eq', 'system')|map(attribute='role')|list }} "
                        "{{ msgs|selectattr('extra')|list }} {{ msgs|selectattr('extra', 'none')|list|length }} "
                        "{{ [1, 2]|select('in', [2, 3])|list }}",
     {"msgs": MSGS}),
    ("f_generator_truthy", "{% if msgs|selectattr('role', 'eq', 'nobody') %}truthy{% endif %}"
                           "{% if msgs|selectattr('role', 'eq', 'nobody')|list %}no{% else %}empty-list{% endif %}",
     {"msgs": MSGS}),
    ("f_first_last_list", "{{ [1, 2, 3]|first }} {{ [1, 2, 3]|last }} {{ 'abc'|first }} "
                          "{{ 'abc'|last }} {{ []|first }}|{{ 'ab'|list }} {{ {'k': 1}|list }} "
                          "{{ msgs|first|tojson }}", {"msgs": MSGS}),
    ("f_numbers", "{{ '42'|int }} {{ '4.7'|int }} {{ 'x'|int }} {{ 'x'|int(7) }} {{ 3.9|int }} "
                  "{{ -3.9|int }} {{ true|int }} {{ none|int }} {{ ' 12 '|int }} {{ '0x1A'|int(0, 16) }} "
                  "{{ '1_000'|int }} {{ '3.5'|float }} {{ 'x'|float }} {{ 2|float }} {{ '1e3'|float }} "
                  "{{ -5|abs }} {{ -2.5|abs }} {{ 2.5|round }} {{ 3.5|round }} {{ 2.675|round(2) }} "
                  "{{ 42.55|round(1, 'floor') }} {{ 42.51|round(1, 'ceil') }} {{ 5|round }} "
                  "{{ 1234|round(-2) }} {{ 0.5|round }} {{ -0.5|round }}", {}),
    ("f_string_safe", "{{ 1|string }} {{ [1]|string }} {{ none|string }} {{ '<b>'|safe }} "
                      "{{ '<a href=\"x\">&\\''|escape }} {{ 12|string|length }}", {}),
    ("f_unique_sort", "{{ [3, 1, 2, 1]|unique|list }} {{ ['a', 'A', 'b']|unique|list }} "
                      "{{ ['a', 'A', 'b']|unique(case_sensitive=true)|list }} {{ [3, 1, 2]|sort }} "
                      "{{ [3, 1, 2]|sort(reverse=true) }} {{ ['b', 'A', 'a', 'C']|sort }} "
                      "{{ ['b', 'A', 'a', 'C']|sort(case_sensitive=true) }} "
                      "{{ msgs|sort(attribute='role')|map(attribute='role')|list }} "
                      "{{ ps|sort(attribute='age,name')|map(attribute='name')|list }} "
                      "{{ ps|unique(attribute='age')|map(attribute='name')|list }}",
     {"msgs": MSGS, "ps": [{"name": "b", "age": 2}, {"name": "a", "age": 2}, {"name": "c", "age": 1}]}),
    ("f_indent", "[{{ 'a\\nb\\n\\nc'|indent }}] [{{ 'a\\nb'|indent(2, true) }}] "
                 "[{{ 'a\\n\\nb'|indent(2, blank=true) }}] [{{ 'x\\ny'|indent('> ') }}] [{{ ''|indent }}]",
     {}),
    ("f_wordcount_batch", "{{ 'hello big  world, ok?'|wordcount }} {{ [1, 2, 3, 4, 5]|batch(2)|list }} "
                          "{{ [1, 2, 3]|batch(2, 'x')|list }}", {}),
    ("f_min_max_sum_reverse", "{{ [3, 1, 2]|min }} {{ [3, 1, 2]|max }} {{ ['b', 'A']|min }} "
                              "{{ [1, 2, 3]|sum }} {{ ps|sum(attribute='age') }} {{ [1.5, 2]|sum(start=1) }} "
                              "{{ 'abc'|reverse }} {{ [1, 2, 3]|reverse|list }} {{ ps|max(attribute='age')|tojson }}",
     {"ps": [{"name": "b", "age": 2}, {"name": "a", "age": 5}]}),
    ("f_attr_format", "{{ d|attr('keys') is defined }} {{ '%s-%d'|format('a', 3) }} "
                      "{{ '%s and %r'|format('x', 'y') }} {{ 'v=%(v)s'|format(v=1) }} {{ '%.2f'|format(3.14159) }}",
     {"d": {"k": 1}}),
    # Tests.
    ("tests_types", "{% for v in [none, true, 1, 1.5, 'a', [1], {'a': 1}, (1,)] %}"
                    "{{ v is none }}{{ v is boolean }}{{ v is integer }}{{ v is float }}{{ v is number }}"
                    "{{ v is string }}{{ v is mapping }}{{ v is iterable }}{{ v is sequence }}"
                    "{{ v is callable }}{{ v is true }}{{ v is false }};{% endfor %}"
                    "{{ x is defined }}{{ x is undefined }}{{ x is iterable }}{{ range is callable }}", {}),
    ("tests_values", "{{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(4) }} "
                     "{{ 1 is eq 1 }} {{ 1 is ne 2 }} {{ 1 is lt 2 }} {{ 2 is gt 1 }} {{ 2 is ge 2 }} "
                     "{{ 2 is le 1 }} {{ 'a' is in 'abc' }} {{ 'abc' is lower }} {{ 'ABC' is upper }} "
                     "{{ none is sameas none }} {{ 'x' is not none }} {{ 1 is not string }} "
                     "{{ 'tojson' is filter }} {{ 'odd' is test }} {{ 2 is greaterthan 1 }}",
     {}),
    # Methods.
    ("m_string", "{{ 'Hello'.startswith('He') }} {{ 'Hello'.endswith(('x', 'lo')) }} "
                 "{{ 'a,b,,c'.split(',') }} {{ '  a  b '.split() }} {{ 'a,b,c'.split(',', 1) }} "
                 "{{ 'a b c'.rsplit(' ', 1) }} {{ ' a b  c '.split(none, 1) }} "
                 "[{{ '  x  '.strip() }}] [{{ 'xxyxx'.strip('x') }}] [{{ '\\n\\nx\\n'.lstrip('\\n') }}] "
                 "[{{ 'x  '.rstrip() }}] {{ 'aXa'.replace('a', 'b') }} {{ 'ab'.upper() }} {{ 'AB'.lower() }} "
                 "{{ 'ab cd'.title() }} {{ 'aB'.capitalize() }} {{ 'héllo'.find('l') }} {{ 'abc'.find('z') }} "
                 "{{ 'abcb'.rfind('b') }} {{ 'abab'.count('ab') }} {{ '{} {x}'.format(1, x=2) }} {{ '{0}{1}{0}'.format('a', 'b') }} "
                 "{{ '-'.join(['a', 'b']) }} {{ '12'.isdigit() }} {{ 'ab'.isalpha() }} {{ ' '.isspace() }} "
                 "{{ 'a\\nb\\r\\nc'.splitlines() }} {{ '7'.zfill(3) }} {{ 'aB'.swapcase() }}", {}),
    ("m_dict_list", "{{ d.items() }} {{ d.keys() }} {{ d.values() }} {{ d.get('a') }} {{ d.get('z') }} "
                    "{{ d.get('z', 0) }} {{ l.index(2) }} {{ l.count(1) }} {% for k, v in d.items() %}{{ k }}{% endfor %}",
     {"d": {"a": 1, "b": [2]}, "l": [1, 2, 1]}),
    # Globals.
    ("globals", "{{ range(3)|list }} {{ range(1, 10, 3)|list }} {{ range(5, 0, -2)|list }} "
                "{{ dict(a=1, b='x') }} {{ namespace(a=1).a }} {{ strftime_now('%Y-%m-%d %B') }}", {}),
    ("special_vars", "{{ bos_token }}|{{ eos_token }}|{{ unk_token }}|{{ unk_token is defined }}",
     {"bos_token": "<s>", "eos_token": "</s>"}),
    # Undefined handling.
    ("undefined_behaviour", "[{{ u }}] {{ u is defined }} {{ u|length }} {{ u|default('d') }} "
                            "{% for x in u %}x{% endfor %}{{ u == u }} {{ u != 1 }} {{ not u }} "
                            "{{ u ~ 'x' }} {% if u %}t{% else %}f{% endif %} {{ m.nope is defined }}",
     {"m": {"a": 1}}),
    # Errors (Jinja2 raises; C++ must fail too).
    ("err_raise_exception", "{{ raise_exception('custom failure: ' ~ 42) }}", {}),
    ("err_undefined_attr", "{{ u.x }}", {}),
    ("err_str_plus_int", "{{ 'a' + 1 }}", {}),
    ("err_unknown_filter", "{{ 1|nosuchfilter }}", {}),
    ("err_unknown_tag", "{% nosuchtag %}", {}),
    ("err_unclosed_if", "{% if true %}open", {}),
    ("err_unclosed_for", "{% for x in y %}open", {}),
    ("err_bad_syntax", "{{ 1 + }}", {}),
    ("err_extends", "{% extends 'base.html' %}", {}),
    ("err_include", "{% include 'x' %}", {}),
    ("err_list_append", "{% set l = [] %}{{ l.append(1) }}", {}),
    ("err_division_zero", "{{ 1 / 0 }}", {}),
    ("err_ns_assign", "{% set x = 1 %}{% set x.a = 2 %}", {}),
    ("err_break_outside", "{% break %}", {}),
    ("err_unclosed_comment", "{# never closed", {}),
    ("err_unclosed_var", "{{ x ", {}),
    ("err_none_iter", "{% for x in none %}{% endfor %}", {}),
    ("err_range_too_big", "{{ range(200000)|length }}", {}),
    ("err_call_non_callable", "{{ 'x'() }}", {}),
    ("err_unexpected_end", "{% endif %}", {}),
]


def synthetic_records():
    out = []
    for name, src, ctx in SYNTHETIC:
        rec = {"name": name, "template": src, "context": ctx}
        try:
            rec["expected"] = ENV.from_string(src).render(**ctx)
        except jinja2.exceptions.TemplateError as e:
            rec["error"] = str(e) if type(e) is jinja2.exceptions.TemplateError else type(e).__name__
            rec["raised"] = type(e) is jinja2.exceptions.TemplateError
        except Exception as e:
            rec["error"] = type(e).__name__
            rec["raised"] = False
        out.append(rec)
    return out


def write_jsonl(path, records):
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"wrote {len(records)} records to {os.path.relpath(path, ROOT)}", file=sys.stderr)


def main():
    with open(os.path.join(DATA, "qwen3_tokenizer_config.json"), encoding="utf-8") as f:
        config = json.load(f)
    specials = special_tokens(config)
    src = config["chat_template"]
    write_jsonl(os.path.join(DATA, "qwen3_goldens.jsonl"),
                [golden_line(n, r, lambda req: render_request(src, specials, req))
                 for n, r in qwen_requests()])
    fam = []
    for fname, (fsrc, fspecials) in FAMILIES.items():
        for n, r in family_requests():
            rec = golden_line(n, r, lambda req: render_request(fsrc, fspecials, req))
            rec["family"] = fname
            fam.append(rec)
    families = {k: {"template": v[0], "special_tokens": v[1]} for k, v in FAMILIES.items()}
    write_jsonl(os.path.join(DATA, "families_goldens.jsonl"),
                [{"families": families}] + fam)
    write_jsonl(os.path.join(DATA, "synthetic_goldens.jsonl"), synthetic_records())


if __name__ == "__main__":
    main()
