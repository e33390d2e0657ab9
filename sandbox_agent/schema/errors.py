"""Application error kinds and their JSON-RPC codes (-32000..-32099)."""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    SESSION_NOT_FOUND = "session_not_found"
    SESSION_EXISTS = "session_exists"
    SESSION_BUSY = "session_busy"
    SESSION_ENDED = "session_ended"
    AGENT_NOT_FOUND = "agent_not_found"
    AGENT_NOT_INSTALLED = "agent_not_installed"
    AGENT_START_FAILED = "agent_start_failed"
    AGENT_ERROR = "agent_error"
    INSTALL_FAILED = "install_failed"
    NODE_NOT_FOUND = "node_not_found"
    REGISTRY_UNREACHABLE = "registry_unreachable"
    UNKNOWN_VERSION = "unknown_version"
    DISK_FULL = "disk_full"
    PERMISSION_NOT_FOUND = "permission_not_found"
    QUESTION_NOT_FOUND = "question_not_found"
    SUBSCRIPTION_NOT_FOUND = "subscription_not_found"
    INVALID_OFFSET = "invalid_offset"
    UNAUTHORIZED = "unauthorized"
    NOT_SUPPORTED = "not_supported"
    TIMEOUT = "timeout"
    MESSAGE_TOO_LARGE = "message_too_large"
    PATH_OUTSIDE_ROOTS = "path_outside_roots"
    FILE_NOT_FOUND = "file_not_found"
    FILE_EXISTS = "file_exists"
    FS_ERROR = "fs_error"
    PROCESS_NOT_FOUND = "process_not_found"
    TERMINAL_NOT_FOUND = "terminal_not_found"
    LIMIT_EXCEEDED = "limit_exceeded"
    SPAWN_FAILED = "spawn_failed"
    PROCESS_EXITED = "process_exited"
    ALREADY_RESOLVED = "already_resolved"
    MESSAGE_NOT_FOUND = "message_not_found"
    UNSUPPORTED_MODE = "unsupported_mode"
    NOT_TURN_BOUNDARY = "not_turn_boundary"


ERROR_CODES: dict[ErrorKind, int] = {
    ErrorKind.SESSION_NOT_FOUND: -32001,
    ErrorKind.SESSION_EXISTS: -32002,
    ErrorKind.SESSION_BUSY: -32003,
    ErrorKind.SESSION_ENDED: -32004,
    ErrorKind.AGENT_NOT_FOUND: -32010,
    ErrorKind.AGENT_NOT_INSTALLED: -32011,
    ErrorKind.AGENT_START_FAILED: -32012,
    ErrorKind.AGENT_ERROR: -32013,
    ErrorKind.INSTALL_FAILED: -32020,
    ErrorKind.NODE_NOT_FOUND: -32021,
    ErrorKind.REGISTRY_UNREACHABLE: -32022,
    ErrorKind.UNKNOWN_VERSION: -32023,
    ErrorKind.DISK_FULL: -32024,
    ErrorKind.PERMISSION_NOT_FOUND: -32030,
    ErrorKind.QUESTION_NOT_FOUND: -32031,
    ErrorKind.SUBSCRIPTION_NOT_FOUND: -32040,
    ErrorKind.INVALID_OFFSET: -32041,
    ErrorKind.UNAUTHORIZED: -32050,
    ErrorKind.NOT_SUPPORTED: -32060,
    ErrorKind.TIMEOUT: -32061,
    ErrorKind.MESSAGE_TOO_LARGE: -32062,
    ErrorKind.PATH_OUTSIDE_ROOTS: -32070,
    ErrorKind.FILE_NOT_FOUND: -32071,
    ErrorKind.FILE_EXISTS: -32072,
    ErrorKind.FS_ERROR: -32073,
    ErrorKind.PROCESS_NOT_FOUND: -32080,
    ErrorKind.TERMINAL_NOT_FOUND: -32081,
    ErrorKind.LIMIT_EXCEEDED: -32082,
    ErrorKind.SPAWN_FAILED: -32083,
    ErrorKind.PROCESS_EXITED: -32084,
    ErrorKind.ALREADY_RESOLVED: -32032,
    ErrorKind.MESSAGE_NOT_FOUND: -32033,
    ErrorKind.UNSUPPORTED_MODE: -32063,
    ErrorKind.NOT_TURN_BOUNDARY: -32042,
}
