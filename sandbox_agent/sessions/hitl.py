"""Pending human-in-the-loop requests of one session: permissions and questions waiting for a reply."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..schema.events import PermissionData, QuestionData


@dataclass
class HitlRegistry:
    permissions: dict[str, PermissionData] = field(default_factory=dict)
    questions: dict[str, QuestionData] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.permissions or self.questions)

    def observe(self, type_: str, data: PermissionData | QuestionData) -> None:
        """Keep the registry in step with the session's own events."""
        if type_ == "permission.requested" and isinstance(data, PermissionData):
            self.permissions[data.permission_id] = data
        elif type_ == "permission.resolved" and isinstance(data, PermissionData):
            self.permissions.pop(data.permission_id, None)
        elif type_ == "question.requested" and isinstance(data, QuestionData):
            self.questions[data.question_id] = data
        elif type_ == "question.resolved" and isinstance(data, QuestionData):
            self.questions.pop(data.question_id, None)
