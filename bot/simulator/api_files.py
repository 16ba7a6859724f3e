"""The two-step file upload: files.getUploadURLExternal, POST bytes, complete."""

from typing import Any

from .args import Args, id_list, integer, text
from .spec import ApiError
from .workspace import Workspace


def get_upload_url(ws: Workspace, args: Args) -> dict[str, Any]:
    """files.getUploadURLExternal: a file id and a simulator URL to POST the bytes to."""
    length = integer(args, "length", 0)
    if length < 1:
        raise ApiError("invalid_arguments", "[ERROR] length must be a positive byte count")
    file_id = ws.next_id("F")
    ws.uploads[file_id] = {"filename": text(args, "filename"), "length": length, "content": None}
    return {"ok": True, "upload_url": f"{ws.root_url}upload/{file_id}", "file_id": file_id}


def store_upload(ws: Workspace, file_id: str, content: bytes) -> bool:
    """Keep the bytes POSTed to an upload URL; False when no such upload was asked for."""
    upload = ws.uploads.get(file_id)
    if upload is None:
        return False
    upload["content"] = content
    return True


def complete_upload(ws: Workspace, args: Args) -> dict[str, Any]:
    """files.completeUploadExternal: finish uploads and share them in the channels named."""
    entries = args.get("files")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ApiError("invalid_arguments", '[ERROR] files must be a JSON array of {"id", "title"}')
    channel_ids = id_list(args, "channel_id") or id_list(args, "channels")
    channels = [ws.channel(channel_id) for channel_id in channel_ids]
    # Check every file before changing anything, so a failure leaves no half-shared upload.
    finished = [(entry, _uploaded(ws, entry)) for entry in entries]
    done = []
    for entry, (file_id, upload) in finished:
        title = str(entry.get("title") or upload["filename"])
        ws.files[file_id] = {
            "title": title,
            "content": upload["content"],
            "channel_id": channel_ids[0] if channel_ids else None,
            "filename": upload["filename"],
            "initial_comment": text(args, "initial_comment"),
        }
        done.append({"id": file_id, "title": title, "name": upload["filename"]})
    for channel in channels:
        channel.files.extend(item["id"] for item in done)
    return {"ok": True, "files": done}


def _uploaded(ws: Workspace, entry: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    file_id = str(entry.get("id", ""))
    upload = ws.uploads.get(file_id)
    # A file whose bytes never arrived cannot be completed either.
    if upload is None or upload["content"] is None:
        raise ApiError("file_not_found", f"[ERROR] no uploaded file '{file_id}'")
    return file_id, upload


HANDLERS = {
    "files.getUploadURLExternal": get_upload_url,
    "files.completeUploadExternal": complete_upload,
}
