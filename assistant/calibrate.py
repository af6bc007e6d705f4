"""Choose the answerer's "found" threshold on data rather than by guess.

Answerable: dev questions whose best quote holds a gold answer, asked of the corpus.
Unanswerable: the same questions asked of an archive about something else (by default the
bundled Kazakhstan page, which none of the quiz questions is about). The threshold is the
lowest that lets at most 1 % of the unanswerable ones through (a false-answer budget, as
detection thresholds are set); it is reported with the share of answerable ones kept and
both score distributions.
"""
from __future__ import annotations

import numpy as np

from .evaluate import holds_answer
from .retrieve import DateWindow

OFFTOPIC_BUDGET = 0.01  # at most 1 % of questions the archive cannot answer get quotes anyway


def best_scores(assistant, questions, embed) -> list[tuple[float, bool]]:
    """(best quote score, whether a top-3 quote holds a gold answer) for each question,
    asked as of its date; declined answers count by their closest passages."""
    results = []
    for question in questions:
        result = assistant.ask(question.question, window=DateWindow(as_of=question.date),
                               embed=embed)
        quotes = (result.snippets or result.nearest)[:3]
        results.append((quotes[0].score if quotes else float("-inf"),
                        holds_answer(question, quotes)))
    return results


def budget_threshold(positives: list[float], negatives: list[float],
                     false_rate: float = OFFTOPIC_BUDGET) -> tuple[float, float, float]:
    """(threshold, share of positives kept, share of negatives let through): the lowest
    threshold that lets at most `false_rate` of the negatives through.

    >>> budget_threshold([0.9, 0.8, 0.5], [0.1, 0.2, 0.3, 0.4, 0.6], false_rate=0.2)
    (0.6, 0.6666666666666666, 0.2)
    """
    pos, neg = np.sort(np.asarray(positives)), np.sort(np.asarray(negatives))
    allowed = int(np.floor(false_rate * len(neg)))  # negatives that may score at or above
    threshold = float(neg[len(neg) - allowed]) if allowed else float(np.nextafter(neg[-1], np.inf))
    return threshold, float((pos >= threshold).mean()), float((neg >= threshold).mean())


def calibrate(corpus_assistant, offtopic_assistant, questions, embed) -> dict:
    answered = best_scores(corpus_assistant, questions, embed)
    positives = [score for score, correct in answered if correct]
    negatives = [score for score, _ in best_scores(offtopic_assistant, questions, embed)]
    threshold, tpr, fpr = budget_threshold(positives, negatives)
    quantiles = lambda xs: [round(float(q), 3) for q in np.quantile(xs, [0.05, 0.25, 0.5, 0.75, 0.95])]
    return {"threshold": round(threshold, 3), "kept_answerable": round(tpr, 3),
            "let_through_offtopic": round(fpr, 3), "answerable": len(positives),
            "offtopic": len(negatives), "answerable_quantiles": quantiles(positives),
            "offtopic_quantiles": quantiles(negatives)}
