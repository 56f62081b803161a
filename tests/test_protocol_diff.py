"""What an amendment changes, and what that means for stored data (issue 17)."""

from __future__ import annotations

from alstrial.protocol import parse_protocol, reference_protocol_text
from alstrial.protocol.diff import protocol_diff
from tests.test_dictionary import FORMS, protocol_text


def test_each_change_says_what_becomes_of_stored_values() -> None:
    old = parse_protocol(protocol_text())
    new_forms = (
        FORMS.replace("max = 250", "max = 200")
        .replace('{code = "1", label = "present"}', '{code = "2", label = "widespread"}')
        .replace('[[forms.fields]]\nname = "pregnancy_test"', '[[forms.fields]]\nname = "gait"')
        + '\n[[forms]]\nname = "family_tree"\ntitle = "Family tree"\nscope = "subject"\n'
        '\n[[forms.fields]]\nname = "als_in_family"\nlabel = "ALS in the family"\n'
        'type = "yesno"\nrequired = true\n'
    )
    new = parse_protocol(protocol_text(new_forms))
    changes = {(c.where, c.what): c.consequence for c in protocol_diff(old, new)}
    assert changes[("form neuro_exam, field weight_kg", "max: 250 -> 200")] == (
        "stored values are kept even outside the new rule; a correction must meet it"
    )
    assert changes[("form neuro_exam, field fasciculations", "choice '1' (present) removed")] == (
        "stored values with this code are kept; new entries cannot choose it"
    )
    assert ("form neuro_exam, field pregnancy_test", "removed") in changes
    assert changes[("form neuro_exam, field gait", "added (yesno)")] == (
        "stored instances have no value for it"
    )
    assert any(w == "form family_tree" and what.startswith("added") for w, what in changes)
    none = protocol_diff(old, old)
    assert none == []
    back = {
        (c.where, c.what) for c in protocol_diff(old, parse_protocol(reference_protocol_text()))
    }
    assert ("visit W-1", "no longer schedules neuro_exam") in back
    assert ("form neuro_exam", "removed") in back
