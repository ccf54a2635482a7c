"""A small identity-record generator for the linkage tests, with its own noise model.

Deliberately different from ``oncobase.synth``: OCR-like typos (insert, delete, substitute,
transpose), phonetic respellings, case and particle spacing variants, compound family names
cut to one part, first names written with spaces or commas, year-off-by-one and digit typos
in birth dates, invalid date strings, transposed NIR digits, empty sex, twins and namesakes.
Test code (a Python loop is fine at test sizes).
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass

import pyarrow as pa

from oncobase.linkage.nir import nir_key

SURNAMES = [
    "Martin",
    "Bernard",
    "Thomas",
    "Petit",
    "Robert",
    "Richard",
    "Durand",
    "Dubois",
    "Moreau",
    "Laurent",
    "Simon",
    "Michel",
    "Lefèvre",
    "Leroy",
    "Roux",
    "David",
    "Bertrand",
    "Morel",
    "Fournier",
    "Girard",
    "Bonnet",
    "Dupont",
    "Lambert",
    "Fontaine",
    "Rousseau",
    "Vincent",
    "Muller",
    "Lefebvre",
    "Faure",
    "André",
    "Mercier",
    "Blanc",
    "Guérin",
    "Boyer",
    "Garnier",
    "Chevalier",
    "François",
    "Legrand",
    "Gauthier",
    "Garcia",
    "Perrin",
    "Robin",
    "Clément",
    "Morin",
    "Nicolas",
    "Henry",
    "Roussel",
    "Mathieu",
    "Gautier",
    "Masson",
    "Marchand",
    "Duval",
    "Denis",
    "Dumont",
    "Marie",
    "Lemaire",
    "Noël",
    "Meyer",
    "Dufour",
    "Meunier",
    "Brun",
    "Blanchard",
    "Giraud",
    "Joly",
    "Rivière",
    "Lucas",
    "Brunet",
    "Gaillard",
    "Barbier",
    "Arnaud",
    "Martinez",
    "Gérard",
    "Roche",
    "Renard",
    "Schmitt",
    "Roy",
    "Leroux",
    "Colin",
    "Vidal",
    "Caron",
    "Picard",
    "Roger",
    "Fabre",
    "Aubert",
    "Lemoine",
    "Renaud",
    "Dumas",
    "Lacroix",
    "Olivier",
    "Philippe",
    "Bourgeois",
    "Pierre",
    "Benoît",
    "Rey",
    "Leclerc",
    "Payet",
    "Rolland",
    "Leclercq",
    "Guillaume",
    "Lecomte",
    "Lopez",
    "Jean",
    "Dupuy",
    "Guillot",
    "Hubert",
    "Berger",
    "Carpentier",
    "Sanchez",
    "Dupuis",
    "Moulin",
    "Louis",
    "Deschamps",
    "Huet",
    "Vasseur",
    "Perez",
    "Boucher",
    "Fleury",
    "Royer",
    "Klein",
    "Jacquet",
    "Adam",
    "Paris",
    "Poirier",
    "Marty",
    "Aubry",
    "Guyot",
    "Carré",
    "Charles",
    "Renault",
    "Charpentier",
    "Ménard",
    "Maillard",
    "Baron",
    "Bertin",
    "Bailly",
    "Hervé",
    "Schneider",
    "Fernandez",
    "Le_Goff",
    "Le_Gall",
    "Le_Roux",
    "Collet",
    "Léger",
    "Bouvier",
    "Julien",
    "Prévost",
    "Millet",
    "Perrot",
    "Daniel",
    "Le_Bihan",
    "Cousin",
    "Germain",
    "Breton",
    "Besson",
    "Langlois",
    "Rémy",
    "Pelletier",
]
PARTICLE_NAMES = ("de_la_Fontaine", "de_Villiers", "du_Pont", "d'Estaing", "de_Saint-Exupéry")
COMPOUNDS = ("Martin-Dupont", "Durand-Leroy", "Petit-Moreau", "Garnier-Blanc", "Roux-Combaluzier")
MALE = [
    "Jean",
    "Pierre",
    "Michel",
    "André",
    "Philippe",
    "René",
    "Louis",
    "Alain",
    "Jacques",
    "Bernard",
    "Marcel",
    "Daniel",
    "Roger",
    "Robert",
    "Paul",
    "Claude",
    "Christian",
    "Henri",
    "Georges",
    "Nicolas",
    "François",
    "Patrick",
    "Gérard",
    "Christophe",
    "Joseph",
    "Julien",
    "Maurice",
    "Laurent",
    "Frédéric",
    "Éric",
    "Stéphane",
    "Pascal",
    "David",
    "Guy",
    "Gilles",
    "Thierry",
    "Sébastien",
    "Jean-Pierre",
    "Jean-Claude",
    "Jean-Marc",
    "Jean-Luc",
    "Yves",
    "Raymond",
    "Olivier",
    "Thomas",
    "Antoine",
    "Marc",
    "Lucien",
    "Guillaume",
    "Xavier",
    "Hugo",
    "Théo",
    "Mathis",
    "Raphaël",
    "Mathéo",
    "Maël",
    "Noé",
    "Gabriel",
]
FEMALE = [
    "Marie",
    "Jeanne",
    "Françoise",
    "Monique",
    "Catherine",
    "Nathalie",
    "Isabelle",
    "Jacqueline",
    "Anne",
    "Sylvie",
    "Martine",
    "Madeleine",
    "Nicole",
    "Suzanne",
    "Hélène",
    "Christine",
    "Marguerite",
    "Denise",
    "Louise",
    "Christiane",
    "Yvonne",
    "Valérie",
    "Sophie",
    "Sandrine",
    "Stéphanie",
    "Céline",
    "Véronique",
    "Chantal",
    "Renée",
    "Simone",
    "Germaine",
    "Odette",
    "Marie-Claude",
    "Marie-Thérèse",
    "Anne-Marie",
    "Marie-France",
    "Élodie",
    "Camille",
    "Léa",
    "Manon",
    "Chloé",
    "Emma",
    "Inès",
    "Jade",
    "Zoé",
    "Léna",
    "Clémence",
    "Océane",
    "Mélanie",
    "Aurélie",
    "Émilie",
    "Laëtitia",
    "Géraldine",
    "Brigitte",
]
RESPELL = (("PH", "F"), ("F", "PH"), ("Y", "I"), ("I", "Y"), ("EAU", "O"), ("AULT", "AUT"),
           ("C", "K"), ("QU", "K"), ("TH", "T"), ("EL", "ELLE"), ("ER", "EY"))  # fmt: skip
DEPS = [f"{d:02d}" for d in range(1, 96) if d != 20] + ["2A", "2B"]
SOURCES = ("CHU_A", "CHU_B", "CLCC_C", "LAB_D", "LAB_E", "REG_F")


@dataclass(frozen=True)
class Person:
    pid: int
    sex: str
    first: tuple[str, ...]
    birth_name: str
    used_name: str | None
    birth: tuple[int, int, int]
    birth_place: str
    postcode: str
    nir: str


def _nir(rng: random.Random, sex: str, y: int, m: int, place: str) -> str:
    body = f"{1 if sex == 'M' else 2}{y % 100:02d}{m:02d}{place}{rng.randrange(1, 999):03d}"
    return body + f"{nir_key(body):02d}"


def _place(rng: random.Random) -> str:
    dep = rng.choice(DEPS)
    return f"{dep}{rng.randrange(1, 600):03d}"


def _surname(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.04:
        return rng.choice(PARTICLE_NAMES).replace("_", " ")
    if r < 0.08:
        return rng.choice(COMPOUNDS)
    return rng.choice(SURNAMES).replace("_", " ")


def _firsts(rng: random.Random, sex: str, exclude: tuple[str, ...] = ()) -> tuple[str, ...]:
    pool = MALE if sex == "M" else FEMALE
    k = rng.choices((1, 2, 3), weights=(0.45, 0.4, 0.15))[0]
    names: list[str] = []
    while len(names) < k:
        name = rng.choice(pool)
        if name not in names and (names or name not in exclude):
            names.append(name)
    return tuple(names)


def make_persons(n: int, rng: random.Random) -> list[Person]:
    """``n`` persons, about 2 % twins and 2 % namesakes (same names, same year)."""
    people: list[Person] = []
    while len(people) < n:
        pid = len(people)
        sex = rng.choice("MF")
        y, m, d = rng.randrange(1925, 2006), rng.randrange(1, 13), rng.randrange(1, 29)
        place = _place(rng)
        birth_name = _surname(rng)
        used = _surname(rng) if sex == "F" and rng.random() < 0.5 else None
        postcode = f"{place[:2].replace('2A', '20').replace('2B', '20')}{rng.randrange(0, 999):03d}"
        first = _firsts(rng, sex)
        people.append(Person(pid, sex, first, birth_name, used, (y, m, d), place, postcode,
                             _nir(rng, sex, y, m, place)))  # fmt: skip
        r = rng.random()
        if r < 0.02 and len(people) < n:  # a twin: same date, place, family; other first names
            twin_sex = rng.choice("MF")
            people.append(Person(len(people), twin_sex, _firsts(rng, twin_sex, first), birth_name,
                                 None, (y, m, d), place, postcode,
                                 _nir(rng, twin_sex, y, m, place)))  # fmt: skip
        elif r < 0.04 and len(people) < n:  # a namesake: same names, same year, other date
            m2, d2 = rng.randrange(1, 13), rng.randrange(1, 29)
            if (m2, d2) == (m, d):
                d2 = d % 28 + 1
            place2 = _place(rng)
            people.append(Person(len(people), sex, first, birth_name, used, (y, m2, d2), place2,
                                 f"{rng.randrange(10, 95)}{rng.randrange(0, 999):03d}",
                                 _nir(rng, sex, y, m2, place2)))  # fmt: skip
    return people


def _typo(rng: random.Random, s: str) -> str:
    if len(s) < 3:
        return s
    i = rng.randrange(1, len(s) - 1)
    kind = rng.randrange(4)
    letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
    if kind == 0:
        return s[:i] + letter + s[i + 1 :]
    if kind == 1:
        return s[:i] + s[i + 1 :]
    if kind == 2:
        return s[:i] + letter + s[i:]
    return s[: i - 1] + s[i] + s[i - 1] + s[i + 1 :]


def _respell(rng: random.Random, s: str) -> str:
    up = s.upper()
    for a, b in rng.sample(RESPELL, len(RESPELL)):
        if a in up[1:]:
            j = up.index(a, 1)
            return s[:j] + b.lower() + s[j + len(a) :]
    return s


def _strip(s: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", s) if unicodedata.category(c) != "Mn")


def _case(rng: random.Random, s: str) -> str:
    r = rng.random()
    if r < 0.4:
        return s.upper()
    if r < 0.5:
        return s.lower()
    return s


def _family(rng: random.Random, name: str) -> str:
    r = rng.random()
    if "-" in name and r < 0.3:
        name = name.split("-", maxsplit=1)[0] if rng.random() < 0.5 else name.replace("-", " ")
    if " " in name and rng.random() < 0.3:
        name = name.replace(" ", "")
    if rng.random() < 0.06:
        name = _typo(rng, name)
    if rng.random() < 0.03:
        name = _respell(rng, name)
    if rng.random() < 0.3:
        name = _strip(name)
    return _case(rng, name)


def _first(rng: random.Random, names: tuple[str, ...]) -> str:
    out = list(names)
    r = rng.random()
    if len(out) > 1 and r < 0.3:
        out = out[:1]
    elif len(out) > 1 and r < 0.35:
        out = out[1:] + out[:1]
    if rng.random() < 0.04:
        out[0] = _typo(rng, out[0])
    if rng.random() < 0.1:
        out = [o.replace("-", " ") for o in out]
    sep = ", " if rng.random() < 0.2 else " "
    text = sep.join(out)
    if rng.random() < 0.3:
        text = _strip(text)
    return _case(rng, text)


def _date(rng: random.Random, birth: tuple[int, int, int]) -> str:
    y, m, d = birth
    r = rng.random()
    if r < 0.03:
        return ""
    if r < 0.035:
        return f"{y}-{m + 12:02d}-{d:02d}"  # invalid month: reported, not a crash
    if r < 0.055 and d <= 12 and d != m:
        m, d = d, m
    elif r < 0.085:
        text = list(f"{y:04d}{m:02d}{d:02d}")
        pos = rng.choice((2, 3, 7))
        text[pos] = str((int(text[pos]) + rng.randrange(1, 9)) % 10)
        y, m, d = int("".join(text[:4])), int("".join(text[4:6])), int("".join(text[6:]))
        if not (1 <= m <= 12 and 1 <= d <= 28):
            y, m, d = birth
    elif r < 0.095:
        y += rng.choice((-1, 1))
    return f"{y:04d}-{m:02d}-{d:02d}"


def _nir_noisy(rng: random.Random, nir: str) -> str:
    r = rng.random()
    if r < 0.45:
        return ""
    if r < 0.47:
        i = rng.randrange(5, 12)
        return nir[:i] + nir[i + 1] + nir[i] + nir[i + 2 :]
    if r < 0.5:
        return f"{nir[0]} {nir[1:3]} {nir[3:5]} {nir[5:7]} {nir[7:10]} {nir[10:13]} {nir[13:]}"
    return nir


def make_records(persons: list[Person], rng: random.Random, *, mean_records: float = 2.5
                 ) -> pa.Table:  # fmt: skip
    """Noisy records (INPUT columns + ``person``), 1 to 6 per person, shuffled."""
    rows: list[dict[str, str]] = []
    for p in persons:
        k = max(1, min(len(SOURCES), int(rng.expovariate(1 / mean_records)) + 1))
        for source in rng.sample(SOURCES, k):
            has_used = p.used_name is not None and rng.random() < 0.7
            last = _family(rng, p.used_name if has_used and p.used_name else p.birth_name)
            birth = ""
            if (has_used and rng.random() < 0.6) or (not has_used and rng.random() < 0.3):
                birth = _family(rng, p.birth_name)
            rows.append(
                {
                    "record_id": f"{source}-{len(rows):08d}",
                    "source": source,
                    "nir": _nir_noisy(rng, p.nir),
                    "last_name": last,
                    "birth_name": birth,
                    "first_names": _first(rng, p.first),
                    "sex": "" if rng.random() < 0.02 else p.sex,
                    "birth_date": _date(rng, p.birth),
                    "birth_place_code": "" if rng.random() < 0.1 else p.birth_place,
                    "postcode": f"{p.postcode[:2]}{rng.randrange(0, 999):03d}"
                    if rng.random() < 0.12
                    else p.postcode,
                    "person": str(p.pid),
                }
            )
    rng.shuffle(rows)
    return pa.Table.from_pylist(rows)


def generate(n_persons: int, *, seed: int = 11, mean_records: float = 2.5) -> pa.Table:
    rng = random.Random(seed)
    return make_records(make_persons(n_persons, rng), rng, mean_records=mean_records)
