"""fs/* and GET|PUT /v1/fs/file against a real server: round trips, streaming with flat memory, tar upload,
and every way out of the roots refused."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

MB = 1024 * 1024


@pytest.fixture
def root(tmp_path: Path) -> Path:
    d = tmp_path / "root"
    d.mkdir()
    return d


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    d = tmp_path / "outside"
    d.mkdir()
    (d / "secret.txt").write_text("secret")
    return d


@pytest.fixture
def srv(server_factory, root: Path):  # type: ignore[no-untyped-def]
    return server_factory(extra=["--fs-root", str(root)])


def call(srv, method: str, **params):  # type: ignore[no-untyped-def]
    reply = srv.rpc(method, params)
    if "error" in reply:
        return reply["error"]
    return reply["result"]


def kind(err: dict) -> str | None:
    return (err.get("data") or {}).get("kind")


def rss_peak_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_text_and_binary_round_trips(srv, root: Path) -> None:  # type: ignore[no-untyped-def]
    r = call(srv, "fs/write", path=str(root / "notes" / "a.txt"), text="héllo\n", create_dirs=True)
    assert r == {"path": str(root / "notes" / "a.txt"), "size": len("héllo\n".encode())}
    got = call(srv, "fs/read", path="notes/a.txt")  # relative to the first root
    assert got["encoding"] == "utf-8" and got["text"] == "héllo\n" and got["eof"]

    blob = bytes(range(256)) * 40 + b"\xff\xfe\x00"
    call(srv, "fs/write", path=str(root / "b.bin"), data_base64=base64.b64encode(blob).decode(), mode=0o600)
    got = call(srv, "fs/read", path=str(root / "b.bin"))
    assert got["encoding"] == "base64" and base64.b64decode(got["data_base64"]) == blob
    assert (root / "b.bin").read_bytes() == blob and (root / "b.bin").stat().st_mode & 0o777 == 0o600
    part = call(srv, "fs/read", path=str(root / "b.bin"), offset=256, length=10, encoding="base64")
    assert base64.b64decode(part["data_base64"]) == blob[256:266] and not part["eof"]

    listing = call(srv, "fs/list", path=str(root))
    assert [(e["name"], e["type"]) for e in listing["entries"]] == [("b.bin", "file"), ("notes", "directory")]
    assert call(srv, "fs/stat", path=str(root / "b.bin"))["size"] == len(blob)

    call(srv, "fs/mkdir", path=str(root / "x" / "y"), parents=True)
    moved = call(srv, "fs/move", src=str(root / "b.bin"), dst=str(root / "x" / "y" / "c.bin"))
    assert moved["dst"] == str(root / "x" / "y" / "c.bin") and not (root / "b.bin").exists()
    exists = call(srv, "fs/move", src=str(root / "notes" / "a.txt"), dst=str(root / "x" / "y" / "c.bin"))
    assert kind(exists) == "file_exists"
    assert kind(call(srv, "fs/delete", path=str(root / "x"))) == "fs_error"  # not empty without recursive
    assert call(srv, "fs/delete", path=str(root / "x"), recursive=True)["deleted"]
    assert not (root / "x").exists()
    assert not [p for p in root.rglob("*.tmp")]  # atomic writes leave no temp files behind


def test_writes_are_atomic_and_keep_the_mode(srv, root: Path) -> None:  # type: ignore[no-untyped-def]
    target = root / "f.txt"
    target.write_text("old")
    target.chmod(0o640)
    inode = target.stat().st_ino
    call(srv, "fs/write", path=str(target), text="new")
    assert target.read_text() == "new"
    assert target.stat().st_ino != inode  # a new file renamed over the old one, not rewritten in place
    assert target.stat().st_mode & 0o777 == 0o640


def _stream(total: int, chunk: int = 256 * 1024) -> Iterator[bytes]:
    block = hashlib.sha256(b"seed").digest() * (chunk // 32)
    sent = 0
    while sent < total:
        piece = block[: min(chunk, total - sent)]
        sent += len(piece)
        yield piece


def test_fifty_megabytes_stream_both_ways_with_flat_memory(srv, root: Path) -> None:  # type: ignore[no-untyped-def]
    size = 50 * MB
    url = srv.url + "/v1/fs/file"
    with httpx.Client(headers=srv.headers(), timeout=60) as http:
        # warm up both paths so imports and buffers are already paid for
        assert http.put(url, params={"path": str(root / "warm")}, content=b"x" * MB).status_code == 200
        assert len(http.get(url, params={"path": str(root / "warm")}).content) == MB
        before = rss_peak_kb(srv.proc.pid)

        expected = hashlib.sha256()
        for piece in _stream(size):
            expected.update(piece)
        t0 = time.monotonic()
        put = http.put(url, params={"path": str(root / "big.bin")}, content=_stream(size))
        put_s = time.monotonic() - t0
        assert put.status_code == 200, put.text
        assert put.json()["size"] == size
        assert (root / "big.bin").stat().st_size == size

        got = hashlib.sha256()
        t0 = time.monotonic()
        with http.stream("GET", url, params={"path": str(root / "big.bin")}) as resp:
            assert resp.status_code == 200 and resp.headers["x-file-size"] == str(size)
            n = 0
            for piece in resp.iter_bytes():
                got.update(piece)
                n += len(piece)
        get_s = time.monotonic() - t0
        assert n == size and got.hexdigest() == expected.hexdigest()
        growth_mb = (rss_peak_kb(srv.proc.pid) - before) / 1024
    print(f"50 MB: PUT {put_s:.2f} s, GET {get_s:.2f} s, daemon peak RSS growth {growth_mb:.1f} MB")
    assert growth_mb < 20, f"the daemon's peak RSS grew by {growth_mb:.1f} MB for a 50 MB file"


def _tar(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> str:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return base64.b64encode(buf.getvalue()).decode()


def _file(name: str) -> tarfile.TarInfo:
    return tarfile.TarInfo(name)


def _dir(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    return info


def test_tar_upload_with_nested_dirs(srv, root: Path) -> None:  # type: ignore[no-untyped-def]
    archive = _tar(
        [
            (_dir("repo"), None),
            (_file("repo/README.md"), b"# hi\n"),
            (_file("repo/src/pkg/deep/mod.py"), b"x = 1\n"),
            (_file("repo/data/blob.bin"), os.urandom(5000)),
            (_dir("repo/empty"), None),
        ]
    )
    r = call(srv, "fs/upload", path=str(root / "up"), tar_base64=archive)
    assert r["files"] == 3 and r["directories"] == 2 and r["path"] == str(root / "up")
    assert (root / "up/repo/src/pkg/deep/mod.py").read_text() == "x = 1\n"
    assert (root / "up/repo/empty").is_dir()
    assert (root / "up/repo/data/blob.bin").stat().st_size == 5000


def test_unsafe_tars_are_refused_before_anything_is_written(srv, root: Path, outside: Path) -> None:  # type: ignore[no-untyped-def]
    dotdot = _tar([(_file("ok.txt"), b"fine"), (_file("../evil.txt"), b"evil")])
    err = call(srv, "fs/upload", path=str(root / "t1"), tar_base64=dotdot)
    assert kind(err) == "path_outside_roots"
    assert not (root / "t1" / "ok.txt").exists() and not (root / "evil.txt").exists()

    link = tarfile.TarInfo("escape")
    link.type = tarfile.SYMTYPE
    link.linkname = str(outside)
    err = call(srv, "fs/upload", path=str(root / "t2"), tar_base64=_tar([(link, None)]))
    assert kind(err) == "path_outside_roots"
    absolute = _tar([(_file(str(outside / "abs.txt")), b"x")])  # the data filter strips the leading "/"
    assert call(srv, "fs/upload", path=str(root / "t3"), tar_base64=absolute)["files"] == 1
    assert (root / "t3" / str(outside / "abs.txt").lstrip("/")).read_text() == "x"
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert kind(call(srv, "fs/upload", path=str(root / "t4"), tar_base64="bm90IGEgdGFy")) == "fs_error"

    def symlink(name: str, target: str) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.type = tarfile.SYMTYPE
        info.linkname = target
        return info

    # a chain of links that each look inside until the first one exists (the 2025 tarfile CVE shape)
    chain = _tar([(symlink("a", "."), None), (symlink("b", "a/.."), None), (_file("b/evil.txt"), b"x")])
    assert kind(call(srv, "fs/upload", path=str(root / "t5"), tar_base64=chain)) == "path_outside_roots"
    through = _tar([(_dir("d"), None), (symlink("lnk", "d"), None), (_file("lnk/f.txt"), b"x")])
    assert kind(call(srv, "fs/upload", path=str(root / "t6"), tar_base64=through)) == "path_outside_roots"
    hard = tarfile.TarInfo("h")
    hard.type = tarfile.LNKTYPE
    hard.linkname = "../../outside/secret.txt"
    assert kind(call(srv, "fs/upload", path=str(root / "t7"), tar_base64=_tar([(hard, None)]))) == "path_outside_roots"
    assert not any((root / t).exists() and any((root / t).iterdir()) for t in ("t5", "t6", "t7"))
    fine = _tar([(_file("pkg/bin.js"), b"js"), (symlink("pkg/run", "bin.js"), None)])
    assert call(srv, "fs/upload", path=str(root / "t8"), tar_base64=fine)["files"] == 1
    assert (root / "t8/pkg/run").read_text() == "js"


def test_every_escape_is_refused(srv, root: Path, outside: Path) -> None:  # type: ignore[no-untyped-def]
    (root / "sub").mkdir()
    (root / "link_out").symlink_to(outside)
    (root / "file_link_out").symlink_to(outside / "secret.txt")
    (root / "inside.txt").write_text("in")
    (root / "link_in").symlink_to(root / "inside.txt")
    escapes = [
        ("fs/read", {"path": "../outside/secret.txt"}),
        ("fs/read", {"path": str(root / "sub" / ".." / ".." / "outside" / "secret.txt")}),
        ("fs/read", {"path": str(outside / "secret.txt")}),
        ("fs/read", {"path": "/etc/passwd"}),
        ("fs/read", {"path": str(root / "link_out" / "secret.txt")}),
        ("fs/read", {"path": str(root / "file_link_out")}),
        ("fs/list", {"path": str(root / "link_out")}),
        ("fs/stat", {"path": str(root / "link_out" / "secret.txt")}),
        ("fs/write", {"path": str(root / "link_out" / "new.txt"), "text": "x"}),
        ("fs/write", {"path": str(root / "file_link_out"), "text": "overwritten"}),
        ("fs/mkdir", {"path": str(root / "link_out" / "d")}),
        ("fs/delete", {"path": str(root / "link_out" / "secret.txt")}),
        ("fs/move", {"src": str(root / "inside.txt"), "dst": str(root / "link_out" / "moved.txt")}),
        ("fs/move", {"src": str(outside / "secret.txt"), "dst": str(root / "stolen.txt")}),
        ("fs/upload", {"path": str(root / "link_out"), "tar_base64": _tar([(_file("a"), b"a")])}),
    ]
    for method, params in escapes:
        err = call(srv, method, **params)
        assert kind(err) == "path_outside_roots", (method, params, err)
        assert err["code"] == -32070
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == "secret"
    # a symlink that stays inside the roots is followed; deleting a link removes the link only
    assert call(srv, "fs/read", path=str(root / "link_in"))["text"] == "in"
    assert call(srv, "fs/stat", path=str(root / "link_out"))["type"] == "symlink"
    assert call(srv, "fs/delete", path=str(root / "link_out"))["deleted"]
    assert (outside / "secret.txt").exists()

    url = srv.url + "/v1/fs/file"
    got = httpx.get(url, params={"path": str(outside / "secret.txt")}, headers=srv.headers())
    assert got.status_code == 403 and got.json()["error"]["data"]["kind"] == "path_outside_roots"
    put = httpx.put(url, params={"path": "../outside/x"}, content=b"x", headers=srv.headers())
    assert put.status_code == 403
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


def test_a_symlink_swapped_in_during_a_write_is_refused(srv, root: Path, outside: Path) -> None:  # type: ignore[no-untyped-def]
    (root / "sub").mkdir()

    def body() -> Iterator[bytes]:
        yield b"first part "
        time.sleep(0.5)  # the daemon has opened sub/ and its temp file by now
        (root / "sub").rename(root / "sub_old")
        (root / "sub").symlink_to(outside)
        yield b"second part"

    put = httpx.put(
        srv.url + "/v1/fs/file", params={"path": str(root / "sub" / "f.txt")}, content=body(), headers=srv.headers()
    )
    assert put.status_code == 403, put.text
    assert put.json()["error"]["data"]["kind"] == "path_outside_roots"
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert list((root / "sub_old").iterdir()) == []  # the temp file is gone too


def test_bad_input_gets_clear_errors_and_the_daemon_serves_on(srv, root: Path) -> None:  # type: ignore[no-untyped-def]
    assert srv.rpc("fs/read", {"path": 5})["error"]["code"] == -32602
    assert srv.rpc("fs/read", {})["error"]["code"] == -32602
    assert srv.rpc("fs/read", {"path": "a", "offset": -1})["error"]["code"] == -32602
    both = srv.rpc("fs/write", {"path": "a", "text": "x", "data_base64": "eA=="})
    assert both["error"]["code"] == -32602 and "exactly one" in str(both["error"]["data"])
    assert srv.rpc("fs/write", {"path": "a"})["error"]["code"] == -32602
    assert srv.rpc("fs/list", {"path": "a", "bogus": 1})["error"]["code"] == -32602
    assert kind(call(srv, "fs/read", path="missing.txt")) == "file_not_found"
    assert kind(call(srv, "fs/list", path="missing")) == "file_not_found"
    assert kind(call(srv, "fs/delete", path="missing")) == "file_not_found"
    assert kind(call(srv, "fs/write", path="nodir/a.txt", text="x")) == "file_not_found"
    assert kind(call(srv, "fs/write", path="a\x00b", text="x")) == "fs_error"
    assert kind(call(srv, "fs/write", path="b.bin", data_base64="not base64!")) == "fs_error"
    assert kind(call(srv, "fs/delete", path=str(root))) == "fs_error"  # a root stays
    (root / "d").mkdir()
    assert kind(call(srv, "fs/read", path="d")) == "fs_error"
    assert kind(call(srv, "fs/write", path="d", text="x")) == "fs_error"
    assert kind(call(srv, "fs/mkdir", path="d")) == "file_exists"

    oversized = base64.b64encode(b"\0" * (8 * MB + 1)).decode()
    err = call(srv, "fs/write", path="big", data_base64=oversized)
    assert kind(err) == "limit_exceeded" and "PUT /v1/fs/file" in err["message"]
    (root / "big9").write_bytes(b"\0" * (9 * MB))
    assert kind(call(srv, "fs/read", path="big9")) == "limit_exceeded"
    huge = httpx.post(
        srv.url + "/v1/rpc",
        content=b'{"jsonrpc":"2.0","id":1,"method":"fs/write","params":{"path":"h","text":"'
        + b"x" * (17 * MB)
        + b'"}}',
        headers=srv.headers(),
        timeout=60,
    )
    assert huge.status_code == 413 and huge.json()["error"]["data"]["kind"] == "message_too_large"
    url = srv.url + "/v1/fs/file"
    assert httpx.get(url, headers=srv.headers()).status_code == 400
    assert httpx.get(url, params={"path": "missing"}, headers=srv.headers()).status_code == 404
    assert httpx.put(url, params={"path": "m", "mode": "9z"}, content=b"", headers=srv.headers()).status_code == 400
    assert httpx.get(url, params={"path": "big9"}).status_code == 401  # same token as /v1/rpc
    assert httpx.put(url, params={"path": "nope"}, content=b"x").status_code == 401
    assert not (root / "nope").exists()
    assert call(srv, "fs/roots")["roots"] == [str(root.resolve())]
    assert srv.proc.poll() is None and httpx.get(srv.url + "/v1/health").status_code == 200


@pytest.mark.anyio
async def test_the_python_sdk(srv, root: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from sandbox_agent.client import SandboxAgent

    local = tmp_path / "local"
    (local / "src").mkdir(parents=True)
    (local / "src" / "main.py").write_text("print('hi')\n")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * MB))
    async with await SandboxAgent.connect(srv.url, srv.token) as client:
        await client.fs_write(str(root / "a.txt"), "text", create_dirs=True)
        assert await client.fs_read_text(str(root / "a.txt")) == "text"
        await client.fs_write(str(root / "b.bin"), b"\x00\xff")
        assert await client.fs_read(str(root / "b.bin")) == b"\x00\xff"
        up = await client.fs_upload_dir(local, str(root / "repo"))
        assert up.files == 1 and (root / "repo" / "src" / "main.py").read_text() == "print('hi')\n"
        assert (await client.fs_upload_file(big, str(root / "big" / "copy.bin"), create_dirs=True)).size == 3 * MB
        assert await client.fs_download(str(root / "big" / "copy.bin"), tmp_path / "back.bin") == 3 * MB
        assert (tmp_path / "back.bin").read_bytes() == big.read_bytes()
        names = [e.name for e in (await client.fs_list(str(root))).entries]
        assert names == ["a.txt", "b.bin", "big", "repo"]
        with pytest.raises(Exception) as refused:
            await client.fs_download("/etc/passwd", tmp_path / "nope")
        assert getattr(refused.value, "kind", None) == "path_outside_roots"
        await client.fs_move(str(root / "a.txt"), str(root / "c.txt"))
        assert (await client.fs_stat(str(root / "c.txt"))).size == 4
        await client.fs_delete(str(root / "repo"), recursive=True)
        assert not (root / "repo").exists()


def test_default_roots_are_the_working_dir_and_each_sessions_cwd(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    work = tmp_path / "work"
    work.mkdir()
    target = str(work / "made.txt")
    assert kind(call(server, "fs/write", path=target, text="x")) == "path_outside_roots"
    roots = call(server, "fs/roots")["roots"]
    assert roots == [str(Path(__file__).resolve().parents[1])]  # the server's working dir
    assert call(server, "sessions/create", agent="mock", cwd=str(work))["cwd"] == str(work)
    assert call(server, "fs/write", path=target, text="x")["size"] == 1
    assert str(work.resolve()) in call(server, "fs/roots")["roots"]


def test_the_cli_calls_every_method(srv, root: Path) -> None:  # type: ignore[no-untyped-def]
    import json
    import subprocess
    import sys

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        common = ["--endpoint", srv.url, "--token", srv.token]
        return subprocess.run(
            [sys.executable, "-m", "sandbox_agent", "api", *args, *common], capture_output=True, text=True, timeout=60
        )

    wrote = cli("fs/write", f"path={root / 'cli.txt'}", "text=from the shell")
    assert wrote.returncode == 0, wrote.stderr
    assert json.loads(cli("fs/read", f"path={root / 'cli.txt'}").stdout)["text"] == "from the shell"
    ran = json.loads(cli("processes/run", '{"shell": "echo $((6*7))"}').stdout)
    assert ran["stdout"] == "42\n"
    assert json.loads(cli("processes/limits").stdout)["max_processes"] == 64
    assert json.loads(cli("terminals/list").stdout) == {"terminals": []}
    refused = cli("fs/read", "path=/etc/passwd")
    assert refused.returncode == 1 and "[path_outside_roots]" in refused.stderr and "Traceback" not in refused.stderr


def test_a_big_tar_streams_in_and_is_extracted(srv, root: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    archive = tmp_path / "big.tar"
    with tarfile.open(archive, "w") as tar:  # uncompressed random data: 30 MB on the wire, too big for JSON-RPC
        for i in range(3):
            data = os.urandom(10 * MB)
            info = tarfile.TarInfo(f"repo/part{i}/blob.bin")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

    def chunks() -> Iterator[bytes]:
        with archive.open("rb") as f:
            while piece := f.read(MB):
                yield piece

    url = srv.url + "/v1/fs/file"
    with httpx.Client(headers=srv.headers(), timeout=120) as http:
        before = rss_peak_kb(srv.proc.pid)
        put = http.put(url, params={"path": str(root / "up"), "extract": "tar"}, content=chunks())
        growth_mb = (rss_peak_kb(srv.proc.pid) - before) / 1024
        assert put.status_code == 200, put.text
        assert put.json() == {"path": str(root / "up"), "files": 3, "directories": 0, "bytes": 30 * MB}
        assert (root / "up/repo/part2/blob.bin").stat().st_size == 10 * MB
        assert growth_mb < 20, f"peak RSS grew {growth_mb:.1f} MB for a 30 MB tar"
        bad = http.put(url, params={"path": str(root / "bad"), "extract": "tar"}, content=b"not a tar at all")
        assert bad.status_code == 400 and bad.json()["error"]["data"]["kind"] == "fs_error"
        escape = _tar([(_file("../../evil"), b"x")])
        out = http.put(url, params={"path": str(root / "e"), "extract": "tar"}, content=base64.b64decode(escape))
        assert out.status_code == 403
        assert http.put(url, params={"path": "/etc", "extract": "tar"}, content=b"").status_code == 403
