"""Stable codes of the dataset validation report. Clients match on them: never rename one.

| code | kind | path | when |
|---|---|---|---|
| `invalid_utf8` | error | `$` | the line's bytes are not UTF-8 |
| `bom` | warning | `$` | the file starts with a UTF-8 BOM (stripped, then checked) |
| `blank_line` | error | `$` | an empty or whitespace-only line |
| `truncated_line` | error | `$` | JSON that ends early; a final unterminated line that fails |
| `invalid_json` | error | `$` | any other line that is not JSON |
| `not_an_object` | error | `$`, `...[i]` | a line or a message that is not an object |
| `missing_messages` | error | `$.messages` | no messages list (`$.input.messages` for pairs) |
| `messages_not_a_list` | error | `$.messages` | messages is not a list |
| `empty_messages` | error | `$.messages` | messages is an empty list |
| `unknown_role` | error | `...[i].role` | not system, developer, user, assistant or tool |
| `invalid_role_order` | error | `...[i].role` | see "Role order" below |
| `missing_content` | error | `...[i].content` | absent, null, blank, or not text / parts |
| `no_assistant_message` | error | `$.messages` | chat row without an assistant message, weight 1 |
| `unknown_key` | warning | `$.k`, `...[i].k` | a key the format does not define (RL rows: any) |
| `invalid_weight` | error | `...[i].weight` | not the integer 0 or 1, or on a non-assistant |
| `mixed_formats` | error | `$` | none declared; row's format differs from line 1's |
| `format_mismatch` | error | `$` | row's format differs from the declared one |
| `incomplete_preference_pair` | error | `$.<output>` | output not exactly one assistant message |
| `missing_prompt` | error | `$.messages` | an RL prompt row without a user message |
| `grader_fields` | warning | `$` | an RL row with no field for graders (`item.*`) |
| `too_few_examples` | error | `$`, line null | fewer examples than the minimum (10, as OpenAI) |
| `too_long_example` | error | `$` | more tokens than the model's context length |

`...` is the list the message is in: `$.messages`, `$.input.messages`, `$.preferred_output` or
`$.non_preferred_output`; `<output>` is one of the last two.

Role order (OpenAI's rules, applied loosely): a system or developer message may only come first;
the first other message is from the user; a tool message follows an assistant or a tool message;
users and assistants may otherwise repeat (two user turns in a row are fine). An RL prompt row
must not end with an assistant message, since the model is to write that turn.

`grader_fields` is a warning, not an error: a grader may read only the sample (`sample.*`), so a
row without `item.*` fields can be legitimate, but usually it means the ground truth is missing.
Fields that are not for graders: messages, tools, functions, parallel_tool_calls, metadata.
"""

from __future__ import annotations

INVALID_UTF8 = "invalid_utf8"
BOM = "bom"
BLANK_LINE = "blank_line"
TRUNCATED_LINE = "truncated_line"
INVALID_JSON = "invalid_json"
NOT_AN_OBJECT = "not_an_object"
MISSING_MESSAGES = "missing_messages"
MESSAGES_NOT_A_LIST = "messages_not_a_list"
EMPTY_MESSAGES = "empty_messages"
UNKNOWN_ROLE = "unknown_role"
INVALID_ROLE_ORDER = "invalid_role_order"
MISSING_CONTENT = "missing_content"
NO_ASSISTANT_MESSAGE = "no_assistant_message"
UNKNOWN_KEY = "unknown_key"
INVALID_WEIGHT = "invalid_weight"
MIXED_FORMATS = "mixed_formats"
FORMAT_MISMATCH = "format_mismatch"
INCOMPLETE_PREFERENCE_PAIR = "incomplete_preference_pair"
MISSING_PROMPT = "missing_prompt"
GRADER_FIELDS = "grader_fields"
TOO_FEW_EXAMPLES = "too_few_examples"
TOO_LONG_EXAMPLE = "too_long_example"

WARNINGS = frozenset({BOM, UNKNOWN_KEY, GRADER_FIELDS})
ALL_CODES = frozenset({
    INVALID_UTF8, BOM, BLANK_LINE, TRUNCATED_LINE, INVALID_JSON, NOT_AN_OBJECT, MISSING_MESSAGES,
    MESSAGES_NOT_A_LIST, EMPTY_MESSAGES, UNKNOWN_ROLE, INVALID_ROLE_ORDER, MISSING_CONTENT,
    NO_ASSISTANT_MESSAGE, UNKNOWN_KEY, INVALID_WEIGHT, MIXED_FORMATS, FORMAT_MISMATCH,
    INCOMPLETE_PREFERENCE_PAIR, MISSING_PROMPT, GRADER_FIELDS, TOO_FEW_EXAMPLES, TOO_LONG_EXAMPLE,
})
