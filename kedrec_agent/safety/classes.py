"""Drug classes from the MeSH tree, for allergy cross-checks ("allergic to penicillins").

A DrugBank drug is placed in MeSH by its preferred name (``Amoxicillin`` is the MeSH
heading D000658, tree number D02.065.589.099.750.750.050...); a class such as Penicillins
(D010406) contains every heading whose tree number extends one of the class's.

Example:
    >>> classes = DrugClasses.from_settings()  # doctest: +SKIP
    >>> classes.member_of("Amoxicillin", "MESH:D010406")  # doctest: +SKIP
    True
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from kedrec_agent.config import Settings, get_settings
from kedrec_agent.data import bundle
from kedrec_agent.data.names import iter_mesh_terms, read_mesh_tree_numbers


@dataclass(frozen=True)
class DrugClasses:
    """MeSH headings by lower-cased name, and their tree numbers."""

    by_name: dict[str, str]
    trees: dict[str, list[str]]
    names: dict[str, str]

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> DrugClasses:
        """The bundle's MeSH tree (read once per process)."""
        settings = settings or get_settings()
        with _LOCK:
            if settings not in _CACHE:
                path = settings.data_file(bundle.MESH_TREE_NUMBERS)
                trees = {f"MESH:{m}": n for m, n in read_mesh_tree_numbers(path).items()}
                names = {
                    f"MESH:{m}": name
                    for m, name in iter_mesh_terms(settings.data_file(bundle.MESH_TERMS))
                }
                by_name = {name.lower(): mesh for mesh, name in names.items()}
                _CACHE[settings] = cls(by_name, trees, names)
            return _CACHE[settings]

    def heading(self, drug_name: str) -> str | None:
        """The MeSH heading id of a drug name, if MeSH has one of that name."""
        return self.by_name.get(drug_name.strip().lower())

    def member_of(self, drug_name: str, class_id: str) -> bool:
        """Whether the drug named ``drug_name`` falls under the MeSH heading ``class_id``."""
        heading = self.heading(drug_name)
        if heading is None:
            return False
        prefixes = self.trees.get(class_id, [])
        return any(
            number == prefix or number.startswith(prefix + ".")
            for number in self.trees.get(heading, [])
            for prefix in prefixes
        )

    def shared_class(self, drug_name: str, other_name: str) -> str | None:
        """The MeSH class two different drugs share closely, by name, if any.

        Either one's heading contains the other's (Ampicillin contains Amoxicillin), or
        both sit directly under the same heading (their parent); returns its name.
        """
        a, b = self.heading(drug_name), self.heading(other_name)
        if a is None or b is None or a == b:
            return None
        trees_a, trees_b = self.trees.get(a, []), self.trees.get(b, [])
        for x, y, owner in ((trees_a, trees_b, a), (trees_b, trees_a, b)):
            if any(m.startswith(n + ".") for n in x for m in y):
                return self.names.get(owner, owner)
        parents = {n.rsplit(".", 1)[0] for n in trees_a if "." in n} & {
            n.rsplit(".", 1)[0] for n in trees_b if "." in n
        }
        for mesh, numbers in self.trees.items():
            if parents & set(numbers):
                return self.names.get(mesh, mesh)
        return None


_LOCK = threading.Lock()
_CACHE: dict[Settings, DrugClasses] = {}
