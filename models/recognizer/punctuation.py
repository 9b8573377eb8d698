"""A question mark for recognizers that do not punctuate (pocketsphinx).

The turn policy ends a turn at once on a final that closes with "?" (a question asked:
the user now waits for the answer). Moonshine punctuates; pocketsphinx writes bare
lower-case words, so on its finals that rule never fired and a question the classifier
scored low waited out the longest end-of-turn silence (1.5 s). English marks most
questions in their first two words, which is what this reads: a wh-word with a verb
("what are", "where's", "how much") or a verb before its subject ("are you", "can i").
The policy's wording rules still hold the turn when the text stops on a word a finished
turn does not end on ("what are your").
"""

from __future__ import annotations

_WH_ALONE = frozenset("how why which whose what's where's who's how's when's".split())
"""Open a question whatever follows ("how much", "which one")."""
_WH = frozenset("what who whom where when".split())
"""Also open statements ("when i get there"): a question only before a verb ("what
are", "when does") or a noun they ask about ("what time", "what kind")."""
_AUX = frozenset(
    "is are am was were do does did can could would will should shall may might "
    "have has had".split()
)
_AFTER_WH = _AUX | {"time", "kind", "else"}
_IMPERATIVE = frozenset({"have"})
"""Opens a closing more often than a question: "have a nice day"."""
_SUBJECT = frozenset(
    "i you he she it we they there this that these those your my our his her their the a an "
    "anyone anybody someone somebody".split()
)


def mark_question(text: str) -> str:
    """`text` with "?" appended when its first words open an English question."""
    words = text.lower().split()
    if not words or text.rstrip().endswith("?"):
        return text
    first = words[0]
    second = words[1] if len(words) > 1 else ""
    question = (
        (first in _WH_ALONE and len(words) > 1)
        or (first in _WH and second in _AFTER_WH)
        or (first in _AUX and first not in _IMPERATIVE and second in _SUBJECT)
    )
    return text.rstrip() + "?" if question else text
