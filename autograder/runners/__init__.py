"""The grading processes (:mod:`.grade`, :mod:`.worker`, :mod:`.dask_cluster`).

Importing this package makes one optional import of ``jsonschema`` fail on purpose:
``rfc3987_syntax``, which builds a Lark parser of RFC 3987 when imported (1.35 s of CPU, half
of what importing nbgrader costs a grading process: nbformat imports jsonschema, which
imports it when it is installed). jsonschema treats it as optional (``suppress(ImportError)``)
and only loses its check of the ``iri`` and ``iri-reference`` formats, which no notebook or
nbgrader schema uses. A process that imported it already keeps it.
"""
import sys

sys.modules.setdefault("rfc3987_syntax", None)
