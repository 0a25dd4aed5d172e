"""Word lists and patterns of free-text extraction (:mod:`~kedrec_agent.linking.extract`).

Data only, no logic:

* names never taken from free text (:data:`BLOCKED`) and the words that make a run of
  tokens a fragment (:data:`EDGE_WORDS`);
* the cue phrases by category (:data:`PHRASES`: NKDA, pseudo-negations, negations, family
  history, requests, allergy / medication / condition cues and terminating words), joined
  into one regular expression (:data:`CUES`);
* the patterns of sentence breaks, headings, blocks and words that bound a cue's scope
  (:mod:`~kedrec_agent.linking.cues`);
* the patterns of age and sex.

Example:
    >>> [m.lastgroup for m in CUES.finditer("no known drug allergies; denies fever")]
    ['nkda', 'negation']
"""

from __future__ import annotations

import re

from kedrec_agent.linking.normalize import normalize

# Vocabulary names (DrugBank synonyms, MeSH headings, symptoms) that are everyday words in
# notes: never taken from free text (exact linking still knows them).
BLOCKED = frozenset(
    normalize(word)
    for word in (
        *("water", "air", "light", "control", "normal", "positive", "negative", "man"),
        *("woman", "male", "female", "patient", "history", "today", "daily", "care", "home"),
        *("blood", "test", "acid", "salt", "sugar", "food", "day", "year", "week", "month"),
        *("old", "type", "mild", "severe", "acute", "chronic", "left", "right", "high", "low"),
        *("disease", "syndrome", "disorder", "infection", "progression", "sign", "symptom"),
        *("medication", "medicine", "drug", "allergy", "allergic", "tablet", "capsule"),
        *("oral", "dose", "unit", "body", "weight", "health", "oxygen", "alcohol", "level"),
        # lab analytes: "glucose 180", "sodium 134" are results, not medications
        *("glucose", "sodium", "potassium", "calcium", "magnesium", "chloride", "creatinine"),
        *("hemoglobin", "albumin", "bilirubin", "urea", "phosphate", "bicarbonate"),
        *("lactate", "troponin", "cholesterol", "triglyceride"),
        # adjectives that some tables list as disease names
        *("cardiovascular", "gastrointestinal", "hematologic", "cardiac", "renal", "hepatic"),
        *("pulmonary", "vascular", "block"),
    )
)
# A name that starts or ends with one of these is a fragment ("pain and").
EDGE_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "or",
        "of",
        "the",
        "with",
        "in",
        "on",
        "for",
        "to",
        "by",
        "at",
        "from",
        "no",
        "not",
    ]
)

PHRASES: dict[str, tuple[str, ...]] = {
    # order inside one regex alternation matters: longer phrases first (see CUES)
    "nkda": (
        r"nkda",
        r"nka",
        r"no\s+known\s+(?:drug\s+|medication\s+)?allerg(?:y|ies)",
        r"no\s+(?:drug\s+|medication\s+)?allergies",
        r"allergies\s*:\s*(?:none|nil|nkda|no\s+known)",
        r"denies\s+(?:any\s+)?(?:drug\s+)?allergies",
    ),
    "pseudo": (
        r"no\s+(?:significant\s+)?change",
        r"no\s+increase",
        r"no\s+decrease",
        r"no\s+further",
        r"not\s+only",
        r"not\s+necessarily",
        r"without\s+difficulty",
        r"no\s+longer\s+(?:has|have)\s+no",
    ),
    "negation": (
        r"no\s+(?:prior\s+|past\s+|previous\s+)?(?:history|hx|h/o)\s+of",
        r"no\s+evidence\s+of",
        r"no\s+signs?\s+of",
        r"negative\s+for",
        r"free\s+of",
        r"ruled\s+out",
        r"rules\s+out",
        r"no\s+longer",
        r"denies",
        r"denied",
        r"denying",
        r"without",
        r"never",
        r"stopped",
        r"discontinued",
        r"off",
        r"not",
        r"no",
    ),
    "family": (
        r"family\s+(?:medical\s+)?(?:history|hx)",
        r"fhx?",
        r"mother",
        r"father",
        r"brother",
        r"sister",
        r"siblings?",
        r"parents?",
        r"grandmother",
        r"grandfather",
        r"maternal",
        r"paternal",
    ),
    "request": (
        r"recommend(?:s|ed|ing|ation)?",
        r"suggest(?:s|ed|ing|ion)?",
        r"propos(?:e|es|ed|ing)",
        r"consider(?:s|ed|ing)?",
        r"prescribe",
        r"switch(?:ing)?\s+(?:him|her|them|the\s+patient\s+)?to",
        r"should\s+(?:i|we|he|she|they|the\s+patient)\s+(?:start|take|try|use|get|receive)",
        r"what\s+about",
    ),
    "allergy": (
        r"allergic\s+(?:reactions?\s+)?to",
        r"allerg(?:y|ies)\s+to",
        r"allerg(?:y|ies)",
        r"intoleran(?:t|ce)\s+(?:of|to)",
        r"anaphylaxis\s+(?:to|with|from)",
        r"hypersensitivity\s+to",
        r"(?:adverse\s+)?reactions?\s+to",
        r"sensitive\s+to",
    ),
    "medication": (
        r"started\s+on",
        r"treated\s+with",
        r"maintained\s+on",
        r"dose\s+of",
        r"on",
        r"taking",
        r"takes",
        r"take",
        r"took",
        r"receiving",
        r"receives",
        r"prescribed",
        r"uses",
        r"using",
        r"meds",
        r"medications?",
        r"medicines?",
        r"rx",
    ),
    "condition": (
        r"(?:past\s+)?medical\s+history(?:\s+of)?",
        r"diagnosed\s+with",
        r"presents?\s+with",
        r"suffers?\s+from",
        r"history\s+of",
        r"hx\s+of",
        r"h/o",
        r"pmh",
        r"with",
        r"has",
        r"have",
        r"had",
        r"diagnos[ei]s",
        r"dx",
        r"problems?",
        r"conditions?",
    ),
    "terminator": (
        r"but",
        r"however",
        r"although",
        r"though",
        r"except",
        r"aside\s+from",
        r"apart\s+from",
        r"yet",
        r"presents",
        r"reports",
        r"complains",
        r"currently",
        r"now",
        r"is",
        r"was",
        r"are",
        r"patient",
        r"pt",
        r"he",
        r"she",
    ),
}
# One alternation, categories in this order, so the leftmost-longest phrase wins
# ("no known drug allergies" is NKDA, not a negation; "treated with" is a medication cue).
CUE_ORDER = (
    *("nkda", "pseudo", "negation", "family", "request", "allergy", "medication", "condition"),
)
CUES = re.compile(
    r"(?<![\w/])(?:"
    + "|".join(f"(?P<{cat}>{'|'.join(PHRASES[cat])})" for cat in (*CUE_ORDER, "terminator"))
    + r")(?![\w/])",
    re.IGNORECASE,
)
CONTEXT_CUES = ("allergy", "medication", "condition")
ALLERGY_AFTER = re.compile(
    r"[\s-]*(?:allerg(?:y|ies|ic)|intoleran(?:t|ce)|hypersensitivity)\b", re.IGNORECASE
)
# a period is a break unless it sits between digits (2.5 mg)
SENTENCE_BREAK = re.compile(r"(?<!\d)\.|\.(?!\d)|[;!?\n]")
HEADING = re.compile(r"^[ \t]*([A-Za-z][A-Za-z /&()-]{0,40}?)[ \t]*:[ \t]*$", re.MULTILINE)
BLOCK_END = re.compile(r"\n[ \t]*\n")
WORDS = re.compile(r"\w+")
# Words between a cue and a terminating word that do not end the cue's scope.
FILLER = frozenset(
    (
        *("a", "an", "the", "any", "ever", "currently", "been", "being", "known", "prior"),
        *("previous", "personal", "significant", "recent", "recently", "other", "history", "of"),
    )
)

# Age ("68-year-old", "68 yo", "age 68", "68M" at the start of a sentence) and sex (words,
# "Sex: F", "68F"; else the majority of he / she pronouns).
AGE = (
    re.compile(r"\b(\d{1,3})[\s-]*(?:years?|yrs?|y)[\s-]*old\b", re.IGNORECASE),
    re.compile(
        r"\b(\d{1,3})[\s-]*(?:yo|y/o|y\.o\.?|(?:years?|yrs?)\s+of\s+age)(?![A-Za-z])",
        re.IGNORECASE,
    ),
    re.compile(r"\bage[d]?\s*[:=]?\s*(\d{1,3})\b", re.IGNORECASE),
    re.compile(r"(?:^|[.;:\n]\s*|\ba\s+)(\d{1,3})\s?(?:yo\s?)?[MF]\b"),
)
SEX_EXPLICIT = re.compile(
    r"\b(?P<male>man|male|gentleman|boy)\b|\b(?P<female>woman|female|lady|girl)\b"
    r"|\b(?:sex|gender)\s*[:=]?\s*(?:(?P<m>M)|(?P<f>F))\b"
    r"|(?:^|[.;:\n]\s*|\ba\s+)\d{1,3}\s?(?:yo\s?)?(?-i:(?P<m2>M)|(?P<f2>F))\b",
    re.IGNORECASE,
)
# Pregnancy: stated ("pregnant", "12 weeks' gestation", "trying to conceive") or denied
# ("pregnancy test negative"); a past one ("previous pregnancy", "pregnancy loss") is neither.
PREGNANT = re.compile(
    r"\b(?:pregnant|pregnancy|gravid|(?:\d{1,2}\s*(?:weeks?|wks?)'?\s+(?:of\s+)?gestation)"
    r"|(?:trying|planning|plans|plan|wishes|wants|hoping)\s+(?:to\s+)?(?:conceive|get\s+pregnant"
    r"|become\s+pregnant|a\s+pregnancy))\b",
    re.IGNORECASE,
)
NOT_PREGNANT = re.compile(
    r"\b(?:negative\s+(?:urine\s+|serum\s+)?(?:pregnancy\s+test|(?:beta[\s-]*)?hcg)"
    r"|(?:pregnancy\s+test|(?:beta[\s-]*)?hcg)\s+(?:was\s+|is\s+)?negative|post-?menopausal"
    r"|hysterectomy)\b",
    re.IGNORECASE,
)
PAST_PREGNANCY = re.compile(
    r"\b(?:previous|prior|past|last|former|earlier|after|since|before)\s+(?:\w+\s+)?$",
    re.IGNORECASE,
)
"""Words just before "pregnancy" that make it a past one."""
PREGNANCY_LOSS = re.compile(r"[\s-]*loss(?:es)?\b", re.IGNORECASE)
"""Words just after "pregnancy" that make it a past one."""
PRONOUNS = re.compile(r"\b(?P<male>he|him|his)\b|\b(?P<female>she|her|hers)\b", re.IGNORECASE)
