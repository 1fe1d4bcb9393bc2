

# jsonschema (under nbformat and nbgrader) imports the optional rfc3987_syntax, which compiles
# a grammar for ~2 s per process, only to offer an IRI format no notebook schema uses: mark it
# absent in every process that imports the autograder
import sys as _sys

_sys.modules.setdefault("rfc3987_syntax", None)
del _sys
