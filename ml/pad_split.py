"""Which offline source photos (fixtures/photos, fixtures/README.md) each stage of the passive
decision may see. No photo is in two parts; a synthetic identity is made only from photos of
one part, so train, validation and test never share a source photo.

- train: our own member's fine-tuning (ml/finetune_pad.py): its live class and every attack
  species are rendered from these photos and identities made from them;
- validation: the fusion's weights and every operating threshold (ml/fit_fusion.py), plus the
  Silent-Face authors' attack samples F1 and F2;
- test: figures only (ml/evaluate.py, docs/LIVENESS.md), plus the authors' live sample T1.

Obama appears in all three parts through different photos: the parts hold photos apart, and
with nine people offline they cannot hold every person apart too.
"""

import json
from pathlib import Path

SPLIT = {
    "train": ["t1.jpg", "Tom_Hanks_54745.png", "obama3.jpg"],
    "validation": ["obama2.jpg", "biden.jpg"],
    "test": ["obama.jpg", "obama_partial_face.jpg"],
}

# The "people" set (fixtures/people.json, put in place by fixtures/people.py; not in CI): real
# press, stock and group photos of many people, split by *person* so that no one is in two
# parts. Train adds them to our own member's live class (and renders every attack species from
# them); validation adds them to the fusion's bona fide real photos (and its attacks); test only
# reports. The two group photos hold people of the train part (Angelina Jolie, Bradley Cooper),
# so they and those people are all in train.
PEOPLE_SPLIT = {
    "train": ["angelina_jolie", "bradley_cooper", "elon_musk", "group", "jack_dorsey",
              "kate_siegel", "katy_perry", "marissa_mayer", "matt_damon"],
    "validation": ["george_clooney", "jeff_bezos", "jennifer_aniston", "mark_zuckerberg",
                   "paul_rudd"],
    "test": ["leonardo_dicaprio", "scarlett_johansson", "shea_whigham", "sundar_pichai"],
}

PEOPLE_MANIFEST = Path(__file__).resolve().parent.parent / "fixtures" / "people.json"


def people_photos(part: str, manifest: Path = PEOPLE_MANIFEST) -> list[str]:
    """The people set's photo names whose person is in PEOPLE_SPLIT[part]."""
    photos = json.loads(manifest.read_text())["photos"]
    return sorted(name for name, entry in photos.items()
                  if entry["person"] in PEOPLE_SPLIT[part])
