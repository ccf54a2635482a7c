"""Pages of the data catalogue: browse and search (server-side), one page per dataset.

Each dataset's page lives at its stable IRI (``/catalogue/datasets/<id>``); a client asking
for ``application/ld+json`` there gets the dataset's JSON-LD instead of the page.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, Response

from oncobase.api.catalogue import read_catalogue_for
from oncobase.share.catalogue import MEDIA_TYPE
from oncobase.share.catalogue_views import dataset_view, find_dataset, search_catalogue
from oncobase.web.routes import render

router = APIRouter(include_in_schema=False)

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
_MAX_QUERY = 200


@router.get("/catalogue")
def catalogue_page(request: Request, q: str = "") -> Response:
    query = q.strip()
    error = None
    if len(query) > _MAX_QUERY:
        error, query = f"Search text is limited to {_MAX_QUERY} characters.", query[:_MAX_QUERY]
    doc = read_catalogue_for(request)
    found = search_catalogue(doc, query)
    return render(
        request,
        "catalogue.html",
        {
            "q": query,
            "error": error,
            "datasets": found,
            "total": len(doc.get("dcat:dataset", [])),
            "modified": str((doc.get("dct:modified") or {}).get("@value", "")),
        },
    )


@router.get("/catalogue/datasets/{dataset_id}")
def catalogue_dataset_page(request: Request, dataset_id: str) -> Response:
    node = find_dataset(read_catalogue_for(request), dataset_id) if _ID.match(dataset_id) else None
    if node is None:
        raise HTTPException(status_code=404, detail="no such dataset in the catalogue")
    accept = request.headers.get("accept", "")
    if MEDIA_TYPE in accept and "text/html" not in accept:
        return JSONResponse(node, media_type=MEDIA_TYPE)
    return render(request, "catalogue_dataset.html", {"d": dataset_view(node)})
