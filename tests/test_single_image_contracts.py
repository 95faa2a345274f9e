"""Every single-image contract answers every failure kind of the shared flow, in its own format,
with a code and HTTP status its documentation lists (docs/SINGLE_IMAGE.md and the OpenAPI
document), so no failure a future caller raises can become a KeyError and a 500."""

import json
import re
import time
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from apps.single_image.contracts import BioDetection, Contract, FaceLiveness, ImageLiveness
from apps.single_image.failures import Failure, Kind
from apps.single_image.messages import Incoming, Parsed

DOCS = Path(__file__).resolve().parent.parent / "docs"

# contract, its section in SINGLE_IMAGE.md, its path and methods in openapi.yaml
CONTRACTS = [
    (BioDetection(), "## Seed 000", "/biap/face/bio-detection", ["post"]),
    (FaceLiveness(), "## Seed 001", "/api/face_liveness/v1", ["post"]),
    (ImageLiveness(), "## Seed 002", "/api/image_liveness", ["get", "post"]),
]


def documented_codes(section_title: str) -> dict[str, str]:
    """code -> HTTP status as the section's code table lists them ("same": the code itself)."""
    text = (DOCS / "SINGLE_IMAGE.md").read_text()
    section = text.split(section_title, 1)[1].split("\n## ", 1)[0]
    table: dict[str, str] = {}
    for row in re.findall(r"^\| *([0-9][0-9 /]*?) *\| *(\w+) *\|", section, flags=re.M):
        codes, status = row
        for code in codes.split("/"):
            table[code.strip()] = code.strip() if status == "same" else status
    return table


def incoming() -> Incoming:
    return Incoming(method="POST", content_type="application/json", body=b"{}", query={},
                    form={}, headers={}, client_ip="192.0.2.1", request_id="req-totality")


def schema_validator(document: dict, schema: dict) -> Draft202012Validator:
    """Validates against one schema of the OpenAPI document, its `#/components/...` refs
    resolved in that document."""
    registry = Registry().with_resource("urn:openapi", Resource.opaque(document))
    return Draft202012Validator({"$ref": "urn:openapi" + schema["$ref"]}, registry=registry)


@pytest.mark.parametrize("kind", list(Kind), ids=[kind.value for kind in Kind])
@pytest.mark.parametrize("contract,section,path,methods", CONTRACTS,
                         ids=[type(c[0]).__name__ for c in CONTRACTS])
def test_every_contract_answers_every_failure_kind_as_documented(contract, section, path,
                                                                 methods, kind):
    document = yaml.safe_load((DOCS / "openapi.yaml").read_text())
    status, body = contract.refuse(Failure(kind, "walked"), Parsed(request_id="r-1"),
                                   incoming(), time.perf_counter())
    json.dumps(body)                                   # the view serialises it as is
    code = str(body["code"])
    table = documented_codes(section)
    assert table.get(code) == str(status), (
        f"{type(contract).__name__} answers {kind} with {code}/{status}; "
        f"docs/SINGLE_IMAGE.md lists {table}")
    for method in methods:
        responses = document["paths"][path][method]["responses"]
        assert str(status) in responses, f"{method.upper()} {path}: {status} not in openapi"
        schema = responses[str(status)]["content"]["application/json"]["schema"]
        schema_validator(document, schema).validate(body)


@pytest.mark.parametrize("kind", [Kind.NO_FACE, Kind.FACE_UNANALYSABLE])
def test_seed000_answers_a_faceless_failure_as_its_documented_no_face_answer(kind):
    status, body = BioDetection().refuse(Failure(kind), Parsed(request_id="r-2",
                                                               values={"person_id": "p"}),
                                         incoming(), time.perf_counter())
    assert (status, body["code"], body["request_id"]) == (200, "200000", "r-2")
    assert body["data"] == {"person_id": "p", "bio_score": "0.0",
                            "have_face": kind == Kind.FACE_UNANALYSABLE, "is_alive": False,
                            "ref_thres": "0.471"}


def test_a_contract_without_an_answer_for_some_kind_is_refused_when_defined():
    with pytest.raises(TypeError, match="no_face"):
        class Incomplete(Contract):
            codes = {kind: (200, 1, "x") for kind in Kind if kind != Kind.NO_FACE}
