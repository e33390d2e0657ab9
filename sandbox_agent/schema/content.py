"""Content parts: the pieces every item and every user message is made of."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class TextPart(_Part):
    type: Literal["text"] = "text"
    text: str


class JsonPart(_Part):
    type: Literal["json"] = "json"
    json_: Any = Field(alias="json", serialization_alias="json")

    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


class ToolCallPart(_Part):
    type: Literal["tool_call"] = "tool_call"
    name: str
    arguments: Any = None
    call_id: str
    server: str | None = Field(default=None, description="MCP server name when the tool comes from one")


class ToolResultPart(_Part):
    type: Literal["tool_result"] = "tool_result"
    call_id: str
    output: Any = None
    is_error: bool = False


class FileRefPart(_Part):
    type: Literal["file_ref"] = "file_ref"
    path: str
    action: Literal["read", "write", "patch"]
    diff: str | None = None


class ReasoningPart(_Part):
    type: Literal["reasoning"] = "reasoning"
    text: str
    visibility: Literal["public", "private"] = "public"


class ImagePart(_Part):
    """An image, inline (base64 `data`) or by `path` inside the sandbox."""

    type: Literal["image"] = "image"
    mime: str = "image/png"
    data: str | None = None
    path: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ImagePart:
        if (self.data is None) == (self.path is None):
            raise ValueError("an image needs exactly one of 'data' (base64) or 'path'")
        return self


class CommandPart(_Part):
    type: Literal["command"] = "command"
    command: str
    exit_code: int | None = None
    output: str | None = None


class StatusPart(_Part):
    type: Literal["status"] = "status"
    label: str
    detail: str | None = None


class FilePart(_Part):
    """A file attachment in a user message: a path in the sandbox or inline base64 data."""

    type: Literal["file"] = "file"
    path: str | None = None
    data: str | None = None
    mime: str | None = None
    name: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> FilePart:
        if (self.data is None) == (self.path is None):
            raise ValueError("a file needs exactly one of 'data' (base64) or 'path'")
        return self


ContentPart = Annotated[
    TextPart
    | JsonPart
    | ToolCallPart
    | ToolResultPart
    | FileRefPart
    | ReasoningPart
    | ImagePart
    | CommandPart
    | StatusPart,
    Field(discriminator="type"),
]

InputPart = Annotated[TextPart | ImagePart | FilePart, Field(discriminator="type")]
