"""The grammar behind the generated corpus: a probabilistic automaton over words.

Chapter: Practice › Language model. ``lessons_pkg.data.corpus`` samples and scores text with it;
the words come from ``lessons_pkg.data.lexicon``.

A :class:`State` says what kind of word comes next and what it has to agree with. In each state
:func:`options` lists the words allowed there, each with an unnormalised weight and the state it
leads to. One sentence walks through the states like this::

    start -> noun phrase (subject) -> after_subject -> [attractor phrase ->] verb
          -> object noun phrase | [adverb | location phrase] -> clause end -> "." or "and"/"but"

A noun phrase is a pronoun, or a determiner, up to two adjectives and a noun; its state carries
the role it plays, the number and noun classes still possible and, after "a"/"an", whether the
next word must start with a consonant or a vowel. The subject's number and class travel in the
:class:`Clause` until the verb has agreed with them.

Every weight is computed by exactly the same arithmetic, in the same order, as when the book's
pages were run: the probabilities (and so every generated text) depend on it to the last bit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from lessons_pkg.data.lexicon import (
    ADJECTIVES_COLOUR,
    ADJECTIVES_FIRST,
    ADVERBS,
    ALL,
    ATTRACTOR_PREPOSITIONS,
    CONJUNCTIONS,
    DETERMINERS,
    LOCATION_PREPOSITIONS,
    NOUNS,
    OBJECT_PRONOUNS,
    OBJECTS,
    SUBJECT_PRONOUNS,
    VERBS,
    VOWELS,
)

if TYPE_CHECKING:
    from lessons_pkg.data.corpus import CorpusConfig

# How likely each class is as a subject or an object (spread evenly over its nouns).
SUBJECT_CLASS_WEIGHTS = {"person": 0.35, "animal": 0.35, "food": 0.1, "thing": 0.12, "text": 0.08}
OTHER_CLASS_WEIGHTS = {c: 1.0 for c in ALL}
ATTRACTOR_CLASSES = frozenset({"person", "animal", "thing", "place"})
ADVERB_PROB = 0.2  # after a verb phrase
LOCATION_PROB = 0.3  # after an intransitive verb

Option = tuple[str, float, "State"]  # (word, unnormalised weight, next state)


class Clause(NamedTuple):
    """What the rest of a clause must agree with.

    The subject fields are filled once the subject is known and cleared once the verb has agreed
    with them.
    """

    conjunction_used: bool = False  # a second clause may not be followed by a third
    subject_number: str | None = None  # "sg" or "pl"
    subject_classes: frozenset[str] | None = None


class State(NamedTuple):
    """A state of the automaton.

    ``kind`` is one of "start" (a sentence begins), "np" (inside a noun phrase), "after_subject",
    "attr_prep", "verb", "object", "intransitive", "loc_prep", "phrase_done", "clause_end" and
    "conj". The other fields matter only for some kinds; the rest keep their defaults.
    """

    kind: str
    clause: Clause = Clause()
    first: bool = False  # "start": the first sentence of a text (no space before it)
    stage: str | None = None  # "np": "det", "adj1", "adj2" or "noun", the next slot
    role: str | None = None  # "np": "subj", "obj", "attr" (attractor) or "loc" (location)
    number: str = "any"  # "np": "sg", "pl" or "any"
    classes: frozenset[str] | None = None  # "np": noun classes allowed; "object": the verb's
    initial: str | None = None  # "np": "vowel" or "consonant" after "an"/"a"; None: either


TEXT_START = State("start", first=True)
SENTENCE_START = State("start")  # after a "."


def options(state: State, config: CorpusConfig) -> list[Option]:
    """(word, unnormalised weight, next state) for every word the grammar allows in ``state``."""
    ctx = state.clause
    match state.kind:
        case "start" | "conj":  # a sentence, or the clause after "and"/"but", opens with a subject
            return _noun_phrase(_phrase("subj", Clause(state.kind == "conj")), config)
        case "np":
            return _noun_phrase(state, config)
        case "after_subject":  # optional attractor phrase, else the verb
            p = config.attractor_prob
            opts = [(w, p / len(ATTRACTOR_PREPOSITIONS), State("attr_prep", ctx))
                    for w in ATTRACTOR_PREPOSITIONS]
            verbs = _verbs(ctx)
            total = sum(x for _, x, _ in verbs)
            return opts + [(w, x / total * (1 - p), s) for w, x, s in verbs]
        case "attr_prep":
            return _noun_phrase(_phrase("attr", ctx), config)
        case "verb":
            return _verbs(ctx)
        case "object":  # after a transitive verb
            return _noun_phrase(_phrase("obj", ctx, state.classes), config)
        case "intransitive":  # adverb, location phrase, or end of clause
            opts = _adverbs(ctx) + [
                (w, LOCATION_PROB / len(LOCATION_PREPOSITIONS), State("loc_prep", ctx))
                for w in LOCATION_PREPOSITIONS
            ]
            rest = 1 - ADVERB_PROB - LOCATION_PROB
            return opts + [(w, x * rest, s) for w, x, s in _clause_end(ctx, config)]
        case "loc_prep":
            return _noun_phrase(_phrase("loc", ctx, frozenset({"place"})), config)
        case "phrase_done":  # after an object or a location: adverb or end of clause
            return _adverbs(ctx) + [
                (w, x * (1 - ADVERB_PROB), s) for w, x, s in _clause_end(ctx, config)
            ]
        case "clause_end":
            return _clause_end(ctx, config)
    raise AssertionError(f"unknown state {state!r}")


def render(state: State, word: str) -> str:
    """``word`` as the text writes it in ``state``: a sentence's first word capitalised, every
    other word after a space, "." right after the last word."""
    if state.kind == "start":
        text = word[0].upper() + word[1:]
        return text if state.first else " " + text  # no space before the very first sentence
    return word if word == "." else " " + word


def _phrase(role: str, ctx: Clause, classes: frozenset[str] | None = None) -> State:
    """The state before the first word of a noun phrase."""
    return State("np", ctx, stage="det", role=role, classes=classes)


def _adverbs(ctx: Clause) -> list[Option]:
    return [(a, ADVERB_PROB / len(ADVERBS), State("clause_end", ctx)) for a in ADVERBS]


def _clause_end(ctx: Clause, config: CorpusConfig) -> list[Option]:
    if ctx.conjunction_used:
        return [(".", 1.0, SENTENCE_START)]
    p = config.conjunction_prob
    opts = [(c, p / len(CONJUNCTIONS), State("conj")) for c in CONJUNCTIONS]
    return opts + [(".", 1.0 - p, SENTENCE_START)]


def _verbs(ctx: Clause) -> list[Option]:
    """The verbs the subject may do, agreeing in number with it."""
    after = Clause(ctx.conjunction_used)  # agreement is done once the verb is written
    opts = []
    for verb in VERBS:
        if not verb.subjects & ctx.subject_classes:
            continue
        word = verb.singular if ctx.subject_number == "sg" else verb.plural
        if verb.objects is None:
            nxt = State("intransitive", after)
        else:
            nxt = State("object", after, classes=verb.objects)
        opts.append((word, verb.weight, nxt))
    return opts


def _noun_phrase(state: State, config: CorpusConfig) -> list[Option]:
    """Noun phrases: [pronoun] or determiner, up to two adjectives, noun."""
    classes = state.classes
    if classes is None:  # subjects exclude places
        classes = ALL - {"place"} if state.role == "subj" else ATTRACTOR_CLASSES
    if state.stage == "det":
        return _determiners(state, classes, config)
    a = config.adjective_prob
    if state.stage == "adj1":
        slots = (("first", a / 2), ("colour", a / 2), ("noun", 1 - a))
    elif state.stage == "adj2":
        slots = (("colour", a / 2), ("noun", 1 - a / 2))
    else:  # "noun"
        slots = (("noun", 1.0),)
    opts: list[Option] = []
    for slot, slot_w in slots:
        if slot_w <= 0:
            continue
        if slot == "noun":
            opts += _nouns(state, classes, slot_w)
        else:
            opts += _adjectives(state, classes, slot, slot_w)
    return opts


def _determiners(state: State, classes: frozenset[str], config: CorpusConfig) -> list[Option]:
    """The first word of a noun phrase: a pronoun (subjects and some objects) or a determiner."""
    role, ctx = state.role, state.clause
    opts: list[Option] = []
    pron_w = config.pronoun_prob
    if role == "subj":
        for pronoun in SUBJECT_PRONOUNS:
            nctx = Clause(ctx.conjunction_used, pronoun.number, pronoun.categories)
            opts.append((pronoun.word, pron_w / len(SUBJECT_PRONOUNS), State("verb", nctx)))
    elif role == "obj" and classes == OBJECTS:
        for word in OBJECT_PRONOUNS:
            opts.append((word, pron_w / len(OBJECT_PRONOUNS), State("phrase_done", ctx)))
    else:
        pron_w = 0.0
    total_det = sum(d.weight for d in DETERMINERS)
    for det in DETERMINERS:
        need = {"a": "consonant", "an": "vowel"}.get(det.word)
        nxt = State("np", ctx, stage="adj1", role=role, number=det.number, classes=classes,
                    initial=need)
        if _noun_phrase(nxt, config):  # drop a determiner that nothing could follow
            opts.append((det.word, (1 - pron_w) * det.weight / total_det, nxt))
    return opts


def _nouns(state: State, classes: frozenset[str], slot_w: float) -> list[Option]:
    """The noun that ends a noun phrase, of an allowed class, number and first letter."""
    weights = SUBJECT_CLASS_WEIGHTS if state.role == "subj" else OTHER_CLASS_WEIGHTS
    nouns = []
    for noun in NOUNS:
        if noun.category not in classes:
            continue
        for form, form_number in ((noun.singular, "sg"), (noun.plural, "pl")):
            if state.number in ("any", form_number) and _initial_ok(form, state.initial):
                nouns.append((form, weights[noun.category], form_number, noun.category))
    total = sum(w for _, w, _, _ in nouns)
    return [(form, slot_w * w / total, _after_noun(state.role, number, cls, state.clause))
            for form, w, number, cls in nouns]


def _adjectives(state: State, classes: frozenset[str], slot: str, slot_w: float) -> list[Option]:
    """An adjective of the slot ("first": size, age, mood; "colour"), narrowing the classes."""
    table = ADJECTIVES_FIRST if slot == "first" else ADJECTIVES_COLOUR
    next_stage = "adj2" if slot == "first" else "noun"
    adjs = [(adj.word, classes & adj.categories) for adj in table
            if classes & adj.categories and _initial_ok(adj.word, state.initial)]
    return [(word, slot_w / len(adjs),
             State("np", state.clause, stage=next_stage, role=state.role, number=state.number,
                   classes=narrowed))
            for word, narrowed in adjs]


def _after_noun(role: str, number: str, cls: str, ctx: Clause) -> State:
    if role == "subj":
        return State("after_subject", Clause(ctx.conjunction_used, number, frozenset({cls})))
    if role == "attr":
        return State("verb", ctx)
    return State("phrase_done", ctx)  # object or location


def _initial_ok(word: str, initial: str | None) -> bool:
    if initial is None:
        return True
    return (word[0] in VOWELS) == (initial == "vowel")
