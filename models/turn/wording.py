"""What the words of a partial transcript say about the turn, for the turn policy.

The classifier weighs the words with the audio; these two cues are kept as rules on top
of its scores because they are cheap to state, hold across speakers and recognisers,
and an error is cheap in one direction only:

- a turn rarely ends on an article, a linking conjunction, a preposition or a filler
  ("I'd like to book the", "so um"): at a pause after one the user is holding the floor,
  and waiting a little longer costs less than talking over them;
- a turn that only asks the agent to wait ("wait, stop", "hold on", "one second") is
  the user taking the floor to say something, not the whole of what they say; said over
  the agent, one that opens that way ("hold on, that's not...") is a take-over;
- words that are not backchannel tokens ("no, the other one") are a take-over in the
  making: a backchannel is one or two "yeah"s, "uh-huh"s and "I see"s;
- a transcript the recogniser closed with a question mark is a question asked: the
  user now waits for the answer. The recogniser heard the whole utterance, its rise
  included, where the classifier hears a rise on unfinished phrases too.

Other punctuation is ignored: recognisers differ in whether and how they punctuate,
and one that does not punctuate simply never triggers the question rule.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from omnivox.models.turn.features import is_backchannel_word, tokens

_ARTICLE = frozenset("the a an my your our their every".split())
_LINK = frozenset("and but or because cause if unless plus".split())
_PREPOSITION = frozenset("to of with from into onto than for at by about".split())
_FILLER = frozenset("um uh er erm uhm".split())
# A question may end on a preposition: "who is it for", "where are you from".
_QUESTION_START = frozenset("what who whom where which when why how".split())
_THANK_YOU = re.compile(r"\bthank\s+you\b", re.IGNORECASE)


_WAIT = frozenset("wait stop hold hang sec second moment minute".split())
_WAIT_FILLER = frozenset("on one a just please oh okay ok".split())


def _stem(word: str) -> str:
    # A recogniser hearing a word through an echo often gets its ending wrong
    # ("members" for "member"): compare words without a plural "s".
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def asks_to_wait(text: str, echoed: Collection[str] = ()) -> bool:
    """The transcript only asks the agent to stop or wait: "wait", "hold on", "stop,
    one second". ("No" and "sorry" are not in it: on their own they are answers.)
    Words among `echoed` (as in `content_words`) are the agent's own "one moment"."""
    words = {w for w in tokens(text) if _stem(w) not in echoed}
    return bool(words & _WAIT) and words <= _WAIT | _WAIT_FILLER


def _wait_opening(spoken: list[str]) -> int:
    """How many of the words `spoken` open with wait words and fillers only."""
    opening = 0
    while opening < len(spoken) and set(tokens(spoken[opening])) <= _WAIT | _WAIT_FILLER:
        opening += 1
    return opening


def opens_asking_to_wait(text: str, echoed: Collection[str] = ()) -> bool:
    """The transcript opens by asking the agent to stop or wait, whatever follows ("hold
    on, that's not what I asked", "stop the booking"): said over the agent, the user is
    taking the floor. A backchannel never opens that way."""
    spoken = text.split()
    return asks_to_wait(" ".join(spoken[: _wait_opening(spoken)]), echoed)


def after_asking_to_wait(text: str) -> str:
    """What the user says after opening with a request to wait ("Wait, stop. How much
    is a day pass?" gives "How much is a day pass?"); the text itself otherwise."""
    spoken = text.split()
    opening = _wait_opening(spoken)
    if opening == len(spoken) or not asks_to_wait(" ".join(spoken[:opening])):
        return text
    return " ".join(spoken[opening:])


def ends_unfinished(text: str) -> bool:
    """The transcript stops on a word a finished turn does not end on, or only asks
    the agent to wait."""
    words = tokens(text)
    if not words:
        return False
    if asks_to_wait(text):
        return True
    last = words[-1]
    if last in _ARTICLE or last in _LINK or last in _FILLER:
        return True
    return last in _PREPOSITION and words[0] not in _QUESTION_START


def asks_a_question(text: str) -> bool:
    """The transcript ends in a question mark and not on a word a finished turn does
    not end on ("What about the?" is still going)."""
    return text.rstrip().endswith("?") and not ends_unfinished(text)


def heard_words(text: str) -> str:
    """The transcript, or "" when it holds no word: a recogniser spells a murmur as
    single letters ("A.", "M. M. M."), and the classifier read Moonshine's "A." for an
    "uh-huh" over the agent as the article opening a sentence (0.81, a take-over)."""
    return text if any(len(w) > 1 for w in tokens(text)) else ""


def said_words(text: str) -> frozenset[str]:
    """The words of `text` as `content_words` compares them with a transcript's."""
    return frozenset(_stem(w) for w in tokens(text))


def content_words(text: str, echoed: Collection[str] = ()) -> int:
    """How many different words of the transcript are neither backchannel tokens nor
    fillers, nor among `echoed` (`said_words` of what the agent was saying: an echo the
    recogniser transcribed). Single letters do not count: a recogniser spells a murmur
    "m. m. m"; nor do repeats: one given a fraction of a word loops on it ("Thank.
    Thank. Thank"). "Thank you" is one backchannel token, as "thanks" is: counted as two
    words, it lowered the bar for a take-over on a misheard "I see"."""
    return len(
        {
            w
            for w in tokens(_THANK_YOU.sub("thanks", text))
            if len(w) > 1
            and not is_backchannel_word(w)
            and w not in _FILLER
            and _stem(w) not in echoed
        }
    )
