"""The ALSFRS-R's questions and response wording, item by item, as the rater reads them.

Each item is scored 4 (normal) to 0; the wording of every score is the instrument's own
(Cedarbaum et al. 1999, Table 1, the revised scale with items 5a/5b and the three
respiratory items 10-12). The wording of item 12 agrees with the anchors in
``../shared/clinical-reference/README.md``; the others were not in the shared references and
are taken from the published scale.

References
----------
Cedarbaum JM, Stambler N, Malta E, et al. The ALSFRS-R: a revised ALS functional rating scale
that incorporates assessments of respiratory function. J Neurol Sci 1999;169:13-21.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ALSFRS_R_QUESTIONS", "AlsfrsQuestion", "question"]


@dataclass(frozen=True)
class AlsfrsQuestion:
    """One item of the ALSFRS-R: its key in the store, number, title and the wording of each
    score, ``responses[4 - score]`` (the scale lists 4 first)."""

    key: str
    number: str
    title: str
    responses: tuple[str, str, str, str, str]
    note: str = ""

    @property
    def choices(self) -> tuple[tuple[str, str], ...]:
        """``(score, "score: wording")`` from 4 down to 0, the order of the printed scale."""
        return tuple((str(4 - i), f"{4 - i}: {text}") for i, text in enumerate(self.responses))


ALSFRS_R_QUESTIONS: tuple[AlsfrsQuestion, ...] = (
    AlsfrsQuestion(
        "item_1",
        "1",
        "Speech",
        (
            "Normal speech processes",
            "Detectable speech disturbance",
            "Intelligible with repeating",
            "Speech combined with nonvocal communication",
            "Loss of useful speech",
        ),
    ),
    AlsfrsQuestion(
        "item_2",
        "2",
        "Salivation",
        (
            "Normal",
            "Slight but definite excess of saliva in mouth; may have nighttime drooling",
            "Moderately excessive saliva; may have minimal drooling",
            "Marked excess of saliva with some drooling",
            "Marked drooling; requires constant tissue or handkerchief",
        ),
    ),
    AlsfrsQuestion(
        "item_3",
        "3",
        "Swallowing",
        (
            "Normal eating habits",
            "Early eating problems: occasional choking",
            "Dietary consistency changes",
            "Needs supplemental tube feeding",
            "NPO (exclusively parenteral or enteral feeding)",
        ),
    ),
    AlsfrsQuestion(
        "item_4",
        "4",
        "Handwriting",
        (
            "Normal",
            "Slow or sloppy: all words are legible",
            "Not all words are legible",
            "Able to grip pen but unable to write",
            "Unable to grip pen",
        ),
    ),
    AlsfrsQuestion(
        "item_5a",
        "5a",
        "Cutting food and handling utensils (patients without gastrostomy)",
        (
            "Normal",
            "Somewhat slow and clumsy, but no help needed",
            "Can cut most foods, although clumsy and slow; some help needed",
            "Food must be cut by someone, but can still feed slowly",
            "Needs to be fed",
        ),
        note="answer 5a or 5b, not both",
    ),
    AlsfrsQuestion(
        "item_5b",
        "5b",
        "Cutting food and handling utensils (patients with gastrostomy)",
        (
            "Normal",
            "Clumsy but able to perform all manipulations independently",
            "Some help needed with closures and fasteners",
            "Provides minimal assistance to caregiver",
            "Unable to perform any aspect of task",
        ),
        note="answer 5a or 5b, not both",
    ),
    AlsfrsQuestion(
        "item_6",
        "6",
        "Dressing and hygiene",
        (
            "Normal function",
            "Independent and complete self-care with effort or decreased efficiency",
            "Intermittent assistance or substitute methods",
            "Needs attendant for self-care",
            "Total dependence",
        ),
    ),
    AlsfrsQuestion(
        "item_7",
        "7",
        "Turning in bed and adjusting bed clothes",
        (
            "Normal",
            "Somewhat slow and clumsy, but no help needed",
            "Can turn alone or adjust sheets, but with great difficulty",
            "Can initiate, but not turn or adjust sheets alone",
            "Helpless",
        ),
    ),
    AlsfrsQuestion(
        "item_8",
        "8",
        "Walking",
        (
            "Normal",
            "Early ambulation difficulties",
            "Walks with assistance",
            "Nonambulatory functional movement only",
            "No purposeful leg movement",
        ),
    ),
    AlsfrsQuestion(
        "item_9",
        "9",
        "Climbing stairs",
        (
            "Normal",
            "Slow",
            "Mild unsteadiness or fatigue",
            "Needs assistance",
            "Cannot do",
        ),
    ),
    AlsfrsQuestion(
        "item_10",
        "10",
        "Dyspnea",
        (
            "None",
            "Occurs when walking",
            "Occurs with one or more of: eating, bathing, dressing (ADL)",
            "Occurs at rest, difficulty breathing when either sitting or lying",
            "Significant difficulty, considering using mechanical respiratory support",
        ),
    ),
    AlsfrsQuestion(
        "item_11",
        "11",
        "Orthopnea",
        (
            "None",
            "Some difficulty sleeping at night due to shortness of breath; "
            "does not routinely use more than two pillows",
            "Needs extra pillows in order to sleep (more than two)",
            "Can only sleep sitting up",
            "Unable to sleep",
        ),
    ),
    AlsfrsQuestion(
        "item_12",
        "12",
        "Respiratory insufficiency",
        (
            "None",
            "Intermittent use of BiPAP",
            "Continuous use of BiPAP during the night",
            "Continuous use of BiPAP during the night and day",
            "Invasive mechanical ventilation by intubation or tracheostomy",
        ),
    ),
)

_BY_KEY = {q.key: q for q in ALSFRS_R_QUESTIONS}


def question(key: str) -> AlsfrsQuestion:
    """The item stored as ``key`` (``item_1`` ... ``item_12``, ``item_5a``, ``item_5b``).

    Raises
    ------
    KeyError
        For a key that is not an item of the ALSFRS-R.
    """
    return _BY_KEY[key]
