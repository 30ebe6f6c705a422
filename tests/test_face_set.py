"""The bench's face set manifest: every photo is traceable to its source and licence, and the set
covers the variety the quality targets are judged on."""

import re

from bench import face_set

REQUIRED = [
    "light_skin",
    "young",
    "old",
    "woman",
    "man",
    "mouth_open",
    "broad_smile_teeth",
    "closed_mouth",
    "beard_or_moustache",
    "glasses",
    "side_light",
    "head_turned",
]


def test_every_face_names_its_source_licence_and_file():
    for face in face_set.load_manifest():
        assert face.licence, face.name
        if face.package is None:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+", face.repo), face.name
            assert re.fullmatch(r"[0-9a-f]{40}", face.commit), face.name
            assert re.fullmatch(r"[0-9a-f]{64}", face.sha256), face.name
            assert face.path, face.name


def test_the_set_has_the_variety_the_targets_are_judged_on():
    faces = face_set.load_manifest()
    names = [face.name for face in faces]
    assert len(set(names)) == len(names) >= 12
    with_attribute = lambda attribute: [face for face in faces if attribute in face.attributes]
    assert len(with_attribute("dark_skin")) >= 4
    for attribute in REQUIRED:
        assert with_attribute(attribute), attribute
    sizes = [face.face_px for face in faces]
    assert min(sizes) <= 130 and max(sizes) >= 550
