"""The README's and docs' examples, run as a reader on a fresh clone would run them.

Which fenced blocks are examples: those tagged `sh`, `bash`, `shell` or `python`. Blocks with
no language (formats, layouts, answers) are not. Every example is run, in its document's order,
unless the line right above its fence is `<!-- not run in tests: <why> -->` (the service itself,
an interactive prompt, a benchmark, training that rewrites a committed file): a new example is
run by default, and leaving one out takes a reason written where the reader sees it.

How they run: shell blocks with bash (-e, -o pipefail), Python blocks in one Python shell per
document (the venv's python, fed block after block, as a reader pastes them), all in a folder
laid out as a checkout (the repository's top-level entries linked in) holding a real photo as
`face.jpg`. The README is followed as a new integrator follows it: against the service `make
run` starts (`manage.py run_embedded`: a new SQLite database in an empty var/, its own Redis,
a Celery worker, gunicorn); the other documents run against a real gunicorn and Celery worker
on the test database. The only changes
made to a block are the placeholders a reader fills in by hand: `<api_key>`, `<api_secret>`,
`<app_code>` (from `create_api_app`'s output where the document runs it), `<biz_token>` (the
last one an example printed, else one issued here) and the base URL's port.
"""

import ast
import json
import queue
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from .conftest import GET_BIZ_TOKEN, REPO, _server_env, embedded_service
from .images import PHOTOS
from .vendor_client import vendor_sign

DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
EXAMPLE_LANGUAGES = {"sh", "bash", "shell", "python"}
NOT_RUN = re.compile(r"<!--\s*not run in tests:\s*(?P<reason>.*?)\s*-->", re.DOTALL)
DOCUMENTED_URL = "http://127.0.0.1:8000"
# A photo of one person, taken upright and larger than the 128 kB a single command-line
# argument may hold once in base64 (the trap of the single-image curl example).
FACE_PHOTO = PHOTOS / "obama.jpg"
BLOCK_TIMEOUT_S = 300


@dataclass(frozen=True)
class Example:
    document: Path
    line: int               # of the opening fence, 1-based
    language: str
    code: str
    not_run_reason: str | None

    @property
    def where(self) -> str:
        return f"{self.document.relative_to(REPO)}:{self.line}"


def fenced_blocks(document: Path) -> list[tuple[int, str, str, str]]:
    """(fence line, language, code, the text between the previous block and this one)."""
    lines = document.read_text(encoding="utf-8").splitlines()
    blocks: list[tuple[int, str, str, str]] = []
    before: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("```"):
            language = line[3:].strip().split(" ")[0]
            end = index + 1
            while end < len(lines) and not lines[end].startswith("```"):
                end += 1
            blocks.append((index + 1, language, "\n".join(lines[index + 1:end]) + "\n",
                           "\n".join(before)))
            before, index = [], end + 1
            continue
        before.append(line)
        index += 1
    return blocks


def examples_in(document: Path) -> list[Example]:
    examples = []
    for line, language, code, before in fenced_blocks(document):
        if language not in EXAMPLE_LANGUAGES:
            continue
        # the marker must close the text right above the fence (blank lines aside)
        marker = NOT_RUN.search(before.rstrip())
        reason = marker["reason"] if marker and marker.end() == len(before.rstrip()) else None
        examples.append(Example(document, line, language, code, reason))
    return examples


def runnable(document: Path) -> list[Example]:
    return [e for e in examples_in(document) if e.not_run_reason is None]


# ------------------------------------------------------------------ fast checks, no services

MARKDOWN_LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def test_every_relative_link_points_to_a_file_in_the_repository():
    broken = []
    for document in DOCUMENTS:
        text = document.read_text(encoding="utf-8")
        for target in MARKDOWN_LINK.findall(text):
            if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue    # a web address, or an anchor of the page itself
            resolved = (document.parent / target.split("#")[0]).resolve()
            if not resolved.is_relative_to(REPO) or not resolved.exists():
                broken.append(f"{document.relative_to(REPO)}: {target}")
        # a path written as code that leaves the repository exists on no fresh clone
        broken += [f"{document.relative_to(REPO)}: {path}"
                   for path in re.findall(r"`(\.\./[^`]*)`", text)]
    assert not broken, broken


def test_a_block_left_out_says_why_and_a_command_is_never_left_untagged():
    for document in DOCUMENTS:
        text = document.read_text(encoding="utf-8")
        markers = len(NOT_RUN.findall(text))
        reasons = [e.not_run_reason for e in examples_in(document) if e.not_run_reason is not None]
        assert markers == len(reasons), f"{document.name}: a marker that precedes no example"
        assert all(reasons), f"{document.name}: a marker without a reason"
        for line, language, code, _ in fenced_blocks(document):
            # an untagged block would silently escape the run
            assert language or not re.match(r"(\.venv/|python |curl |make )", code.strip()), \
                f"{document.name}:{line}: a command in a block without a language"


PYTHON_INVOCATION = re.compile(r"\.venv/bin/python\s+(-m\s+[\w.]+|[\w/]+\.py)((?:[^\n\\]|\\\n)*)")


def test_the_scripts_and_options_an_example_names_exist():
    """Examples not run here still name modules and scripts of the repository, with options
    they define: a cheap guard against a renamed file or option."""
    for document in DOCUMENTS:
        for example in examples_in(document):
            for invocation in PYTHON_INVOCATION.finditer(example.code):
                target, arguments = invocation[1], invocation[2]
                source = (REPO / target.removeprefix("-m").strip().replace(".", "/")
                          ).with_suffix(".py") if target.startswith("-m") else REPO / target
                assert source.exists(), f"{example.where}: {target} is not in the repository"
                if target == "manage.py":   # the options are the management command's
                    command, _, arguments = arguments.strip().partition(" ")
                    ours = list(REPO.glob(f"apps/*/management/commands/{command}.py"))
                    if not ours:
                        continue            # one of Django's own
                    source = ours[0]
                # options may be defined by a helper beside the script (bench/_harness.py)
                defined = "".join(p.read_text() for p in source.parent.glob("*.py"))
                for option in re.findall(r"\s(--[a-z][a-z-]*)", arguments.split("#")[0]):
                    assert f'"{option}"' in defined, f"{example.where}: {target}: no {option}"


# ------------------------------------------------------------------ running them


class PythonShell:
    """One Python process fed block after block into one namespace, as a reader pastes them
    into `.venv/bin/python`; a block's output is what it printed, or its traceback."""

    DONE = "\x00block-done:"
    DRIVER = (
        "import sys, traceback\n"
        "namespace = {'__name__': '__main__'}\n"
        "while True:\n"
        "    size = sys.stdin.readline()\n"
        "    if not size: break\n"
        "    code = sys.stdin.read(int(size))\n"
        "    try:\n"
        "        exec(compile(code, '<example>', 'exec'), namespace); status = 'ok'\n"
        "    except BaseException:\n"
        "        traceback.print_exc(file=sys.stdout); status = 'failed'\n"
        f"    print({DONE!r} + status, flush=True)\n")

    def __init__(self, python: Path, cwd: Path, env: dict, stderr: Path):
        # stderr (the models' libraries log there) to a file: the output is what was printed
        with open(stderr, "ab") as sink:
            self.process = subprocess.Popen(
                [str(python), "-u", "-c", self.DRIVER], cwd=cwd, env=env, text=True,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=sink)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(self.DONE + "exited\n")

    def run(self, code: str, timeout: float) -> tuple[bool, str]:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{len(code)}\n{code}")
        self.process.stdin.flush()
        output: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"a block ran past {timeout} s:\n{''.join(output)}") from None
            if line.startswith(self.DONE):
                return line.strip() == self.DONE + "ok", "".join(output)
            output.append(line)

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def checkout_like(folder: Path) -> Path:
    """A folder that reads as the checkout to a relative path (`.venv/bin/python`, `manage.py`,
    `fixtures/photos`) yet keeps what the examples write (meglive_data) out of the repository."""
    for entry in REPO.iterdir():
        if entry.name not in {".git", "var"}:
            (folder / entry.name).symlink_to(entry)
    shutil.copyfile(FACE_PHOTO, folder / "face.jpg")
    return folder


BIZ_TOKEN_PRINTED = re.compile(r"""["']biz_token["']:\s*["']([^"']+)["']""")


class Reader:
    """Runs one document's examples in order, filling in placeholders as a reader would."""

    def __init__(self, server_url: str, folder: Path, env: dict, credentials: dict):
        self.server_url, self.folder, self.env = server_url, folder, env
        self.values = {f"<{name}>": value for name, value in credentials.items()}
        self.python: PythonShell | None = None

    def fill_in(self, code: str) -> str:
        if "<biz_token>" in code and "<biz_token>" not in self.values:
            self.values["<biz_token>"] = self.issue_biz_token()
        for placeholder, value in self.values.items():
            code = code.replace(placeholder, value)
        return code.replace(DOCUMENTED_URL, self.server_url)

    def issue_biz_token(self) -> str:
        """For a document whose examples start from a biz_token obtained elsewhere."""
        sign = vendor_sign(self.values["<api_key>"], self.values["<api_secret>"])
        response = httpx.post(self.server_url + GET_BIZ_TOKEN, timeout=60, data={
            "sign": sign, "sign_version": "hmac_sha1", "liveness_type": "still",
            "comparison_type": "0", "uuid": "docs-example"},
            files={"image_ref1": ("face.jpg", FACE_PHOTO.read_bytes(), "image/jpeg")})
        assert response.status_code == 200, response.text
        return response.json()["biz_token"]

    def run(self, example: Example) -> str:
        code = self.fill_in(example.code)
        if example.language == "python":
            if self.python is None:
                self.python = PythonShell(REPO / ".venv" / "bin" / "python", self.folder,
                                          self.env, self.folder / "python-stderr.log")
            succeeded, output = self.python.run(code, BLOCK_TIMEOUT_S)
        else:
            finished = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", code],
                                      cwd=self.folder, env=self.env, capture_output=True,
                                      text=True, timeout=BLOCK_TIMEOUT_S)
            succeeded, output = finished.returncode == 0, finished.stdout
            if not succeeded:
                output += finished.stderr[-3000:]
        assert succeeded, f"{example.where} failed:\n{output[-4000:]}"
        self.learn(example, output)
        return output

    def learn(self, example: Example, output: str) -> None:
        """What a reader copies from one example's output into the next ones."""
        if "create_api_app" in example.code:
            printed = json.loads(output.strip().splitlines()[-1])
            self.values.update({f"<{name}>": printed[name]
                                for name in ("api_key", "api_secret", "app_code")})
        found = BIZ_TOKEN_PRINTED.findall(output)
        if found:
            self.values["<biz_token>"] = found[-1]

    def close(self) -> None:
        if self.python is not None:
            self.python.close()


def json_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def check_outcome(example: Example, output: str, folder: Path) -> None:
    """The outcome each kind of example promises its reader, beyond finishing without error."""
    code = example.code
    if "create_api_app" in code:
        assert set(json_lines(output)[-1]) == {"api_key", "api_secret", "app_code"}
    if "get_biz_token" in code:
        answer = ast.literal_eval(output.strip().splitlines()[-1])
        assert answer["biz_token"] and "error_message" not in answer, answer
    if "liveness-sdk capture" in code:
        assert (folder / "meglive_data").stat().st_size > 10_000
        assert json_lines(output)[-1]["challenge"]["liveness_type"]
    if "/sdk/verify" in code:
        first, confidences = output.strip().splitlines()[:2]
        assert first == "1000 SUCCESS", output[:2000]
        assert ast.literal_eval(confidences)["ref1"] > 0
        assert len(output) < 2_000, "the verify example prints the base64 best frame"
    if "lite/get_result" in code:
        answer = json.loads(output.strip().splitlines()[-1])
        assert answer["status"] == "NOT_STARTED" and answer["biz_info"]["biz_id"], answer
    if "face_liveness/v1" in code:
        answer = json.loads(output)
        assert answer["code"] == 200 and answer["success"] is True, answer
        assert isinstance(answer["data"], dict)
    if "-m ml.analyze" in code:
        assert all(analysis["faces"] for analysis in json_lines(output)
                   if "faces" in analysis)
    if "-m ml.compare" in code:
        comparison = next(c for c in json_lines(output) if "confidence" in c)
        assert comparison["confidence"] >= comparison["thresholds"]["1e-4"]   # two Obamas
    if "synthetic_identities(" in code:
        assert len(output.strip().splitlines()) == 3, output


README = REPO / "README.md"


@pytest.mark.slow
def test_the_readme_walkthrough_runs_on_the_embedded_default(embedded_env, tmp_path):
    """Issue 15: the README in order, as a new integrator follows it on a fresh machine: the
    service of `make run` (`manage.py run_embedded`: a new SQLite database in an empty var/,
    the Redis it starts itself, its Celery worker, gunicorn), then every example after it, the
    API app they use made by the README's own create_api_app, not by the test."""
    (tmp_path / "reader").mkdir()
    folder = checkout_like(tmp_path / "reader")
    with embedded_service(embedded_env) as service:
        reader = Reader(service.url, folder, {**embedded_env, "PYTHONUNBUFFERED": "1"}, {})
        try:
            for example in runnable(README):
                started = time.monotonic()
                output = reader.run(example)
                check_outcome(example, output, folder)
                print(f"{example.where}: {time.monotonic() - started:.1f} s")
        finally:
            reader.close()
        assert {"<api_key>", "<api_secret>", "<app_code>"} <= set(reader.values)
    assert service.process.returncode == 0, service.output[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("document", [d for d in DOCUMENTS if runnable(d) and d != README],
                         ids=lambda d: str(d.relative_to(REPO)))
def test_the_documents_examples_run_as_written(document, make_tenant, start_gunicorn, tmp_path):
    server = start_gunicorn(workers=2)
    folder = checkout_like(tmp_path)
    # credentials for documents that do not make their own (README runs create_api_app)
    tenant = make_tenant(name="docs-reader")
    reader = Reader(server.url, folder, {**_server_env(), "PYTHONUNBUFFERED": "1"},
                    {"api_key": tenant.api_key, "api_secret": tenant.api_secret,
                     "app_code": tenant.app_code})
    try:
        for example in runnable(document):
            started = time.monotonic()
            output = reader.run(example)
            check_outcome(example, output, folder)
            print(f"{example.where}: {time.monotonic() - started:.1f} s")
    finally:
        reader.close()
