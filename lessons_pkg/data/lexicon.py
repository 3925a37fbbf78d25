"""The words of the generated corpus (``lessons_pkg.data.corpus``), and what each may go with.

Chapter: Practice › Language model. Nouns fall into six classes: person, animal, food, thing,
text (something to read) and place. Adjectives, pronouns and verbs say which classes they accept,
so that "the hungry dog eats an apple" can be written and "the apple reads" cannot. The grammar
that strings these words into sentences is ``lessons_pkg.data.grammar``.

The order of every list is part of the corpus: the grammar offers words in this order, so the
random draws, and with them every generated text, depend on it.
"""

from __future__ import annotations

from typing import NamedTuple


class Noun(NamedTuple):
    singular: str
    plural: str
    category: str  # person, animal, food, thing, text or place


class Adjective(NamedTuple):
    word: str
    categories: frozenset[str]  # the nouns it may describe


class Determiner(NamedTuple):
    word: str
    number: str  # "sg", "pl" or "any"
    weight: float  # relative frequency


class Pronoun(NamedTuple):
    word: str
    number: str  # "sg" or "pl"
    categories: frozenset[str]  # the nouns it may stand for


class Verb(NamedTuple):
    singular: str  # "sees": after a singular subject
    plural: str  # "see"
    subjects: frozenset[str]  # categories of subject that may do it
    objects: frozenset[str] | None  # categories of object it takes; None: intransitive
    weight: float  # relative frequency


NOUNS: tuple[Noun, ...] = tuple(Noun(*entry) for entry in (
    ("girl", "girls", "person"),
    ("boy", "boys", "person"),
    ("teacher", "teachers", "person"),
    ("child", "children", "person"),
    ("woman", "women", "person"),
    ("man", "men", "person"),
    ("uncle", "uncles", "person"),
    ("artist", "artists", "person"),
    ("cat", "cats", "animal"),
    ("dog", "dogs", "animal"),
    ("bird", "birds", "animal"),
    ("mouse", "mice", "animal"),
    ("owl", "owls", "animal"),
    ("elephant", "elephants", "animal"),
    ("apple", "apples", "food"),
    ("cake", "cakes", "food"),
    ("egg", "eggs", "food"),
    ("orange", "oranges", "food"),
    ("pear", "pears", "food"),
    ("ball", "balls", "thing"),
    ("box", "boxes", "thing"),
    ("hat", "hats", "thing"),
    ("key", "keys", "thing"),
    ("umbrella", "umbrellas", "thing"),
    ("book", "books", "text"),
    ("letter", "letters", "text"),
    ("map", "maps", "text"),
    ("story", "stories", "text"),
    ("house", "houses", "place"),
    ("garden", "gardens", "place"),
    ("park", "parks", "place"),
    ("river", "rivers", "place"),
    ("tree", "trees", "place"),
))

ALL = frozenset({"person", "animal", "food", "thing", "text", "place"})
ANIMATE = frozenset({"person", "animal"})
INANIMATE = frozenset({"food", "thing", "text"})
COLOURABLE = frozenset({"animal", "food", "thing", "text", "place"})
OBJECTS = frozenset({"person", "animal", "food", "thing", "text"})  # what can be seen, had, ...

# Adjectives come in two slots, in English order: size/age/mood first, then colour.
ADJECTIVES_FIRST: tuple[Adjective, ...] = tuple(Adjective(*entry) for entry in (
    ("big", ALL),
    ("small", ALL),
    ("old", ALL),
    ("new", frozenset({"thing", "text", "place"})),
    ("young", ANIMATE),
    ("happy", ANIMATE),
    ("angry", ANIMATE),
    ("hungry", ANIMATE),
))
ADJECTIVES_COLOUR: tuple[Adjective, ...] = tuple(
    Adjective(c, COLOURABLE) for c in ("red", "blue", "green", "white", "black", "brown", "yellow")
)

DETERMINERS: tuple[Determiner, ...] = tuple(Determiner(*entry) for entry in (
    ("the", "any", 0.30),
    ("my", "any", 0.05),
    ("a", "sg", 0.16),
    ("an", "sg", 0.05),
    ("this", "sg", 0.05),
    ("that", "sg", 0.04),
    ("every", "sg", 0.03),
    ("some", "pl", 0.06),
    ("these", "pl", 0.04),
    ("those", "pl", 0.04),
    ("two", "pl", 0.04),
    ("three", "pl", 0.03),
    ("many", "pl", 0.03),
))

SUBJECT_PRONOUNS: tuple[Pronoun, ...] = (
    Pronoun("he", "sg", frozenset({"person"})),
    Pronoun("she", "sg", frozenset({"person"})),
    Pronoun("they", "pl", ANIMATE),
    Pronoun("it", "sg", frozenset({"animal", "food", "thing", "text"})),
)
OBJECT_PRONOUNS = ("him", "her", "them", "it")

VERBS: tuple[Verb, ...] = tuple(Verb(*entry) for entry in (
    ("sees", "see", ANIMATE, OBJECTS, 1.0),
    ("likes", "like", ANIMATE, OBJECTS, 1.0),
    ("finds", "find", ANIMATE, OBJECTS, 1.0),
    ("wants", "want", ANIMATE, OBJECTS, 1.0),
    ("watches", "watch", ANIMATE, OBJECTS, 1.0),
    ("has", "have", ANIMATE, OBJECTS, 1.0),
    ("eats", "eat", ANIMATE, frozenset({"food"}), 1.5),
    ("reads", "read", frozenset({"person"}), frozenset({"text"}), 1.0),
    ("writes", "write", frozenset({"person"}), frozenset({"text"}), 1.0),
    ("sleeps", "sleep", ANIMATE, None, 1.0),
    ("runs", "run", ANIMATE, None, 1.0),
    ("sings", "sing", ANIMATE, None, 1.0),
    ("jumps", "jump", ANIMATE, None, 1.0),
    ("plays", "play", ANIMATE, None, 1.0),
    ("laughs", "laugh", frozenset({"person"}), None, 1.0),
    ("falls", "fall", INANIMATE, None, 1.0),
    ("rolls", "roll", frozenset({"food", "thing"}), None, 1.0),
    ("breaks", "break", frozenset({"thing"}), None, 1.0),
))

ATTRACTOR_PREPOSITIONS = ("near", "behind", "beside")  # "the dog near the cats runs"
LOCATION_PREPOSITIONS = ("in", "on", "under", "near")  # "sleeps under the old tree"
ADVERBS = ("quickly", "slowly", "again", "today")
CONJUNCTIONS = ("and", "but")
VOWELS = frozenset("aeiou")
