"""What the emulator's modules share: the JSON alias and the Bot API's error answer."""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]


def present(**fields: Any) -> JSON:
    return {key: value for key, value in fields.items() if value is not None}


class ApiError(Exception):
    """An error answer of the Bot API: the HTTP status doubles as ``error_code``."""

    def __init__(self, status: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        return body | present(parameters=self.parameters)


def bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


def entities_error(detail: str) -> ApiError:
    return bad_request(f"can't parse entities: {detail}")
