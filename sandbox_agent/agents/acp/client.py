"""Our side of an ACP connection: the `Client` the library calls for every agent-to-client message."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from acp import RequestError
from acp import schema as S

if TYPE_CHECKING:
    from .adapter import AcpSession


class AcpClient:
    """Routes session updates, permission requests, files and terminals to one `AcpSession`."""

    def __init__(self, session: AcpSession) -> None:
        self.session = session

    async def session_update(self, session_id: str, update: Any, **kwargs: Any) -> None:
        self.session.on_update(session_id, update)

    async def request_permission(
        self, session_id: str, tool_call: S.ToolCallUpdate, options: list[S.PermissionOption], **kwargs: Any
    ) -> S.RequestPermissionResponse:
        return await self.session.ask_permission(tool_call, options)

    async def read_text_file(
        self, session_id: str, path: str, line: int | None = None, limit: int | None = None, **kwargs: Any
    ) -> S.ReadTextFileResponse:
        return self.session.workspace.read(path, line, limit)

    async def write_text_file(self, session_id: str, path: str, content: str, **kwargs: Any) -> S.WriteTextFileResponse:
        return self.session.workspace.write(path, content)

    async def create_terminal(
        self,
        session_id: str,
        command: str,
        args: list[str] | None = None,
        env: list[S.EnvVariable] | None = None,
        cwd: str | None = None,
        output_byte_limit: int | None = None,
        **kwargs: Any,
    ) -> S.CreateTerminalResponse:
        return await self.session.terminals.create(command, args, env, cwd, output_byte_limit)

    async def terminal_output(self, session_id: str, terminal_id: str, **kwargs: Any) -> S.TerminalOutputResponse:
        return self.session.terminals.output(terminal_id)

    async def release_terminal(self, session_id: str, terminal_id: str, **kwargs: Any) -> S.ReleaseTerminalResponse:
        return self.session.terminals.release(terminal_id)

    async def wait_for_terminal_exit(
        self, session_id: str, terminal_id: str, **kwargs: Any
    ) -> S.WaitForTerminalExitResponse:
        return await self.session.terminals.wait(terminal_id)

    async def kill_terminal(self, session_id: str, terminal_id: str, **kwargs: Any) -> S.KillTerminalResponse:
        return self.session.terminals.kill(terminal_id)

    async def ext_method(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        raise RequestError.method_not_found(method)

    async def ext_notification(self, method: str, params: dict[str, Any]) -> None:
        return None
