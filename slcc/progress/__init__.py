"""Pure reading of BuildKit's plain progress: typed records, parsing, failure attribution, printing."""
