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

SPLIT = {
    "train": ["t1.jpg", "Tom_Hanks_54745.png", "obama3.jpg"],
    "validation": ["obama2.jpg", "biden.jpg"],
    "test": ["obama.jpg", "obama_partial_face.jpg"],
}
