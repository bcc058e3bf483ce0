"""Bodies of the minutes' POST routes (web/minutes/routes.py) as pydantic models, for JSON and
for the editor's forms alike: a JSON body is read strictly (`"2"` is not a version number, nor
`"on"` a boolean); a form's fields, all text, with pydantic's ordinary conversions ("2" → 2, a
ticked checkbox's "on" → true). Unknown fields are refused either way.

What the text may say (lengths, control characters, which sections exist) is the domain's
(meetings/minutes/document.py, service.py); these models fix the shape."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from meetings.minutes.document import HEADER_FIELDS, MAX_RECIPIENTS
from meetings.minutes.service import MAX_COMMENT, MAX_CONCLUSION
from web.path_ids import MAX_ID
from web.payloads import Omittable, within

Number = Annotated[int, within(1, MAX_ID)]  # a version number
Base64 = Annotated[str, Field(json_schema_extra={"contentEncoding": "base64"})]  # decoded by the route, which names the field


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class EmptyIn(Body):
    """sign, publish: nothing but the form's CSRF token."""


class ItemConclusionIn(Body):
    text: Annotated[str, Field(max_length=MAX_CONCLUSION)]


class MinutesDraftIn(Body):
    number: Annotated[str, Field(max_length=HEADER_FIELDS["number"], description="e.g. Số: 12/BB-UBND")] | None = None


# The editable header fields of document.py, each optional; recipients lines; {section key: text}.
Edits = create_model(
    "MinutesEditsIn", __base__=Body,
    **{name: (Omittable[str], None) for name in HEADER_FIELDS},  # type: ignore[arg-type]
    recipients=(Omittable[Annotated[list[str], Field(max_length=MAX_RECIPIENTS)]], None),
    sections=(Omittable[dict[str, str]], None),
)


class MinutesEditIn(Body):
    base: Annotated[Number, Field(description="the latest version's number (an older one: 409)")]
    edits: Annotated[Edits, Field(description="header fields, recipients (lines), sections {key: text}")]  # type: ignore[valid-type]


class MinutesCommentIn(Body):
    version: Number
    text: Annotated[str, Field(max_length=MAX_COMMENT)]
    section: str | None = None  # None, "": the whole text


class MinutesSendIn(Body):
    base: Number
    with_seal: bool = False


class SignPrepareIn(Body):
    certificate: Base64  # DER
    chain: list[Base64] = Field(default_factory=list, max_length=10)


class SignFinishIn(Body):
    token: str
    cms: Base64  # DER


class VerifyIn(Body):
    pdf: Base64


def edit_from_form(form: dict[str, Any]) -> dict[str, Any]:
    """The editor's form as an MinutesEditIn body: `base`, the header inputs, `recipients` one a line,
    `section_<key>` texts. Any other field stays at the top, where MinutesEditIn refuses it."""
    edits: dict[str, Any] = {k: form[k] for k in HEADER_FIELDS if k in form}
    if "recipients" in form:
        edits["recipients"] = [line for line in form["recipients"].splitlines() if line.strip()]
    sections = {k.removeprefix("section_"): v for k, v in form.items() if k.startswith("section_")}
    if sections:
        edits["sections"] = sections
    rest = {k: v for k, v in form.items() if k not in HEADER_FIELDS and k != "recipients" and not k.startswith("section_")}
    return {**rest, "edits": edits}
