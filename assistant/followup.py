"""Follow-up questions without a language model: carry the previous topic into a short one.

The topic of a question is what it names: runs of capitalised words and acronyms joined
by "of", "the", "and" ("the Secretary-General of the CSTO"), else its noun phrases ("the
prize"). A follow-up that names nothing itself and leans on the question before (a pronoun,
a leading "and", or just a few words) is searched with that topic carried in:

>>> resolve("And who leads it?", previous="Which countries applied to join the SCO?")
'Who leads the SCO?'
>>> resolve("What about the CSTO?", previous="Who is the Secretary-General of the SCO?")
'Who is the Secretary-General of the CSTO?'
>>> resolve("Who is Stanislav Zas?", previous="Who leads the SCO?")
'Who is Stanislav Zas?'
"""
from __future__ import annotations

import re

WORD = re.compile(r"\w[\w’'\-]*")
LEADING_CONJUNCTION = re.compile(r"^(?:and|but|so|also|then|okay|ok|well)\b[\s,]*", re.I)
WHAT_ABOUT = re.compile(r"^(?:and\s+)?(?:what|how)\s+about\s+(?P<topic>.*?)[\s?.!]*$", re.I)
SUBJECT_OBJECT = {"it", "they", "them", "he", "him", "she", "her"}
POSSESSIVE = {"its", "their", "his", "theirs"}
DEMONSTRATIVE = {"this", "that", "these", "those", "there"}
LINKING_VERBS = {"is", "was", "are", "were", "be", "mean", "means", "meant", "happen", "happened"}
# Capitalised because they start a question, or too common to be what it is about.
NOT_NAMES = {
    "who", "whom", "whose", "what", "which", "when", "where", "why", "how", "is", "are", "was",
    "were", "do", "does", "did", "has", "have", "had", "can", "could", "will", "would",
    "should", "may", "might", "the", "a", "an", "and", "but", "so", "also", "then", "in",
    "on", "at", "of", "to", "for", "tell", "me", "list", "name", "give", "show", "i", "okay",
    "ok", "well", "please", "since", "until", "after", "before",
} | SUBJECT_OBJECT | POSSESSIVE | DEMONSTRATIVE
CONNECTORS = {"of", "the", "and", "for", "de", "al"}
ARTICLES = {"the", "a", "an"}
STOPWORDS = NOT_NAMES | {"about", "with", "from", "by", "as", "be", "been", "or", "not",
                         "any", "some", "all", "than", "into", "over", "up", "out", "there"}
SHORT_FOLLOWUP_WORDS = 4  # "And when?", "Which countries are members?"
Span = tuple[int, int]


def is_name(word: str) -> bool:
    return word[:1].isupper() and word.lower() not in NOT_NAMES


def name_runs(question: str) -> list[Span]:
    """Spans of adjacent capitalised words, each with a "the" before it.

    >>> q = "Who is the Secretary-General of the CSTO?"
    >>> [q[s:e] for s, e in name_runs(q)]
    ['the Secretary-General', 'the CSTO']
    """
    words = list(WORD.finditer(question))
    runs: list[Span] = []
    for i, word in enumerate(words):
        if not is_name(word.group()):
            continue
        if runs and i > 0 and runs[-1][1] == words[i - 1].end() and is_name(words[i - 1].group()):
            runs[-1] = (runs[-1][0], word.end())
            continue
        start = word.start()
        if i > 0 and words[i - 1].group().lower() == "the":
            start = words[i - 1].start()
        runs.append((start, word.end()))
    return runs


def names(question: str) -> list[str]:
    """What a question names: runs joined when only "of", "the", "and" stand between.

    >>> names("Did Wang Yi meet Lavrov in the Shanghai Cooperation Organization?")
    ['Wang Yi', 'Lavrov', 'the Shanghai Cooperation Organization']
    """
    merged: list[Span] = []
    for start, end in name_runs(question):
        gap = question[merged[-1][1]:start].split() if merged else None
        if gap is not None and len(gap) <= 2 and all(w.lower() in CONNECTORS for w in gap):
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return [question[s:e] for s, e in merged]


def noun_phrases(question: str) -> list[str]:
    """ "the"/"a" and the content words after it: a topic for questions that name nothing.

    >>> noun_phrases("who won the national prize in music?")
    ['the national prize']
    """
    words = [w.group() for w in WORD.finditer(question)]
    phrases = []
    for i, word in enumerate(words):
        if word.lower() in ARTICLES:
            tail = []
            for following in words[i + 1:i + 4]:
                if following.lower() in STOPWORDS:
                    break
                tail.append(following)
            if tail:
                phrases.append(" ".join([word.lower(), *tail]))
    return phrases


def topic(question: str) -> str:
    """What a question is about, as a phrase to put in place of "it".

    >>> topic("Which countries applied to join the SCO?")
    'the SCO'
    """
    found = names(question) or noun_phrases(question)
    if not found:
        found = [" ".join(w for w in WORD.findall(question) if w.lower() not in STOPWORDS)]
    return found[0] if len(found) == 1 else ", ".join(found[:-1]) + " and " + found[-1]


def resolve(question: str, previous: str | None) -> str:
    """The question to search: `question` itself, or with the previous topic carried in.

    `previous` is the question searched on the turn before (itself already resolved), so
    a topic carries along a chain of follow-ups.
    """
    question = " ".join(question.split())
    if not previous or not question:
        return question
    about = WHAT_ABOUT.match(question)
    if about and about.group("topic"):
        return swap_topic(previous, about.group("topic"))
    if name_runs(question):
        return question
    carried = topic(previous)
    body = LEADING_CONJUNCTION.sub("", question)
    body = body[:1].upper() + body[1:] if body else question
    if not carried:
        return question
    words = [w.lower() for w in WORD.findall(body)]
    replaced = replace_pronoun(body, carried)
    if replaced != body:
        return replaced
    if body != question or len(words) <= SHORT_FOLLOWUP_WORDS or points_back(words):
        return f"{body} (about {carried})"
    return question


def points_back(words: list[str]) -> bool:
    """"that", "this", "there" standing for something ("what was that?"), not "this year"."""
    return any(w in DEMONSTRATIVE and (i + 1 == len(words) or words[i + 1] in LINKING_VERBS)
               for i, w in enumerate(words))


def replace_pronoun(question: str, carried: str) -> str:
    """The first "it", "they", "he"... replaced by the topic; "its" by the topic's."""
    for word in WORD.finditer(question):
        lowered = word.group().lower()
        if lowered in SUBJECT_OBJECT or lowered in POSSESSIVE:
            phrase = carried + ("'s" if lowered in POSSESSIVE else "")
            if word.start() == 0:
                phrase = phrase[:1].upper() + phrase[1:]
            return question[:word.start()] + phrase + question[word.end():]
    return question


def swap_topic(previous: str, new_topic: str) -> str:
    """The previous question asked of `new_topic` in place of the last thing it named."""
    runs = name_runs(previous)
    if not runs:
        return f"{previous} (about {new_topic})"
    start, end = runs[-1]
    return previous[:start] + new_topic + previous[end:]
