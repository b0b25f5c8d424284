"""Search: the query language, the corpus index, signals, fusion, counting and hits.

See the README's "How a query flows" for the order in which these modules are used.
"""

from .engine import SearchIndex, SearchResponse, connect_readonly  # noqa: F401
from .highlight import highlight_spans  # noqa: F401
