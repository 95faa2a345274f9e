"""The "people" photo set: its manifest, its split by person, and the copier that puts it in
place from local clones (fixtures/people.py). The photos themselves are not in CI; the copier
is tested on a repository made here."""

import hashlib
import importlib.util
import json
import subprocess
from pathlib import Path

import pytest

from ml.pad_split import PEOPLE_MANIFEST, PEOPLE_SPLIT, SPLIT, people_photos

REPO = Path(__file__).resolve().parent.parent


def people_module():
    spec = importlib.util.spec_from_file_location("people", REPO / "fixtures" / "people.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_person_is_on_exactly_one_side():
    photos = json.loads(PEOPLE_MANIFEST.read_text())["photos"]
    persons = {entry["person"] for entry in photos.values()}
    parts = [set(PEOPLE_SPLIT[part]) for part in ("train", "validation", "test")]
    assert sum(len(p) for p in parts) == len(set().union(*parts))      # disjoint
    assert set().union(*parts) == persons
    names = [set(people_photos(part)) for part in ("train", "validation", "test")]
    assert sum(len(n) for n in names) == len(set().union(*names)) == len(photos)
    # no name shared with the offline fixture photos' split
    assert not set(photos) & {name for names in SPLIT.values() for name in names}


def test_the_manifest_pins_every_photo_by_checksum_and_source():
    data = json.loads(PEOPLE_MANIFEST.read_text())
    for name, entry in data["photos"].items():
        assert entry["from"] in data["sources"], name
        assert len(entry["sha256"]) == 64 and int(entry["sha256"], 16) >= 0, name
    for source in data["sources"].values():
        assert len(source["commit"]) == 40 and source["repository"].startswith("https://")


def _git(cwd, *args):
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def test_the_copier_reads_the_pinned_commit_and_refuses_a_changed_file(tmp_path):
    people = people_module()
    clone = tmp_path / "clone"
    clone.mkdir()
    _git(clone, "init", "-q")
    (clone / "data").mkdir()
    (clone / "data" / "a.jpg").write_bytes(b"first picture")
    _git(clone, "add", ".")
    _git(clone, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one")
    commit = _git(clone, "rev-parse", "HEAD")
    # a later commit changes the file: the copier must still read the pinned one
    (clone / "data" / "a.jpg").write_bytes(b"changed later")
    _git(clone, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-am", "two")
    data = {"sources": {"src": {"repository": "https://example.org/x", "commit": commit}},
            "photos": {"src_a.jpg": {"from": "src", "path": "data/a.jpg", "person": "p",
                                     "sha256": hashlib.sha256(b"first picture").hexdigest()}}}
    out = tmp_path / "out"
    assert people.copy({"src": clone}, out, data) == 1
    assert (out / "src_a.jpg").read_bytes() == b"first picture"
    assert people.copy({"src": clone}, out, data) == 0          # idempotent
    data["photos"]["src_a.jpg"]["sha256"] = "0" * 64
    with pytest.raises(SystemExit, match="unexpected SHA-256"):
        people.copy({"src": clone}, tmp_path / "other", data)
