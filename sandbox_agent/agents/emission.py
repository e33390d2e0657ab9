"""What translators produce, and the item bookkeeping every translator needs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from ..schema.events import ItemData, ItemDeltaData, Question, QuestionData, QuestionOption
from ..schema.items import ItemKind, ItemRole, ItemStatus, UniversalItem


@dataclass(frozen=True)
class Emission:
    """One universal event, before the session numbers it."""

    type: str
    data: BaseModel
    synthetic: bool = False
    raw: Any = None


IdFactory = Callable[[str], str]
FINISHED_MEMORY = 1024


class OpenItems:
    """Items between item.started and item.completed, keyed by the agent's own id."""

    def __init__(self, new_id: IdFactory) -> None:
        self._new_id = new_id
        self.items: dict[str, UniversalItem] = {}
        self._finished: dict[str, str] = {}  # native id -> item id, so later items can name their parent

    def start(
        self,
        native_id: str,
        kind: ItemKind,
        role: ItemRole | None,
        content: list[Any] | None = None,
        parent_id: str | None = None,
    ) -> Emission:
        item = UniversalItem(
            item_id=self._new_id("itm_"),
            native_item_id=native_id,
            parent_id=parent_id,
            kind=kind,
            role=role,
            content=list(content or []),
        )
        self.items[native_id] = item
        # A shallow copy is enough: complete() replaces content and status, it never mutates them in place.
        return Emission("item.started", ItemData(item=item.model_copy()))

    def get(self, native_id: str) -> UniversalItem | None:
        return self.items.get(native_id)

    def item_id_of(self, native_id: str) -> str | None:
        item = self.items.get(native_id)
        return item.item_id if item is not None else self._finished.get(native_id)

    def delta(self, native_id: str, text: str, synthetic: bool = False) -> Emission | None:
        item = self.items.get(native_id)
        if item is None:
            return None
        return Emission("item.delta", ItemDeltaData(item_id=item.item_id, delta=text), synthetic=synthetic)

    def complete(self, native_id: str, content: list[Any], status: ItemStatus = "completed") -> Emission | None:
        item = self.items.pop(native_id, None)
        if item is None:
            return None
        if len(self._finished) >= FINISHED_MEMORY:
            del self._finished[next(iter(self._finished))]
        self._finished[native_id] = item.item_id
        item.content = content
        item.status = status
        return Emission("item.completed", ItemData(item=item))

    def whole(
        self,
        native_id: str,
        kind: ItemKind,
        role: ItemRole | None,
        content: list[Any],
        delta: str | None = None,
        status: ItemStatus = "completed",
        parent_id: str | None = None,
    ) -> list[Emission]:
        """An item the agent reports all at once: started, one synthetic delta (if any text), completed."""
        out = [self.start(native_id, kind, role, parent_id=parent_id)]
        if delta:
            d = self.delta(native_id, delta, synthetic=True)
            assert d is not None
            out.append(d)
        done = self.complete(native_id, content, status)
        assert done is not None
        out.append(done)
        return out

    def fail_all(self) -> list[Emission]:
        """Close whatever is still open (a crash, an interrupt): every started item gets completed."""
        out = []
        for native_id in list(self.items):
            item = self.items[native_id]
            done = self.complete(native_id, item.content, "failed")
            if done is not None:
                out.append(Emission(done.type, done.data, synthetic=True))
        return out


def question_request(question_id: str, raw: list[Any], multi_key: str) -> QuestionData:
    """`question.requested` data from the shape Claude's AskUserQuestion and OpenCode's question tool share:
    `[{question, header, options: [{label, description}], <multi_key>}]`."""
    questions = [
        Question(
            prompt=str(q.get("question", "")),
            header=q.get("header"),
            multi_select=bool(q.get(multi_key)),
            options=[
                QuestionOption(label=str(o.get("label", "")), description=o.get("description"))
                for o in q.get("options", [])
            ],
        )
        for q in raw
        if isinstance(q, dict)
    ]
    first = questions[0] if questions else Question(prompt="")
    return QuestionData(
        question_id=question_id,
        prompt=first.prompt,
        options=[o.label for o in first.options],
        status="requested",
        questions=questions,
    )
