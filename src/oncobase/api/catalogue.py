"""JSON API of the data catalogue (HealthDCAT-AP / DCAT-AP JSON-LD). Open: no sign-in.

The catalogue is the file the pipeline's ``catalogue`` step wrote (``<home>/share/
catalogue.jsonld``), or, when it is absent or was written for another public URL, built from
the store on the fly (see :func:`oncobase.share.catalogue.load_catalogue`). It holds aggregates
only (counts under 11 withheld), so reading it is not a person-level read and is not audited.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import JSONResponse

from oncobase.api.security import context_of
from oncobase.share.catalogue import MEDIA_TYPE, load_catalogue, read_published_catalogue
from oncobase.share.catalogue_check import CatalogueError
from oncobase.share.catalogue_views import find_dataset

router = APIRouter(tags=["catalogue"])

_JSONLD: dict[int | str, dict[str, Any]] = {
    200: {"content": {MEDIA_TYPE: {}}, "description": "HealthDCAT-AP JSON-LD"},
    503: {"description": "the catalogue cannot be built (the detail says why)"},
}


class JSONLDResponse(JSONResponse):
    media_type = MEDIA_TYPE


def read_catalogue_for(request: Request) -> dict[str, Any]:
    """The catalogue the web service serves (file of the pipeline, else built from the store)."""
    ctx = context_of(request)
    platform = ctx.settings.platform()
    published = read_published_catalogue(platform.home_path, platform.public_url)
    if published is not None:  # served even while a pipeline run holds the store
        return published
    try:
        with ctx.store.backend() as backend:
            return load_catalogue(backend, home=platform.home_path, base_url=platform.public_url)
    except CatalogueError as exc:  # e.g. a bad options file: say so, do not crash
        raise HTTPException(status_code=503, detail=f"catalogue unavailable: {exc}") from None


@router.get("/catalogue.jsonld", response_class=JSONLDResponse, responses=_JSONLD)
def catalogue_jsonld(request: Request) -> JSONResponse:
    """The whole catalogue at its stable URL (a dcat:Catalog with an inline @context)."""
    try:
        return JSONLDResponse(read_catalogue_for(request))
    except HTTPException as exc:  # outside /api/ errors are pages: answer JSON here too
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)


@router.get("/api/v1/catalogue", response_class=JSONLDResponse, responses=_JSONLD)
def catalogue(request: Request) -> JSONLDResponse:
    """The whole catalogue: every shareable dataset with its HealthDCAT-AP description."""
    return JSONLDResponse(read_catalogue_for(request))


@router.get(
    "/api/v1/catalogue/datasets/{dataset_id}",
    response_class=JSONLDResponse,
    responses={**_JSONLD, 404: {"description": "no such dataset"}},
)
def catalogue_dataset(
    request: Request,
    dataset_id: Annotated[str, Path(max_length=100, pattern=r"^[a-z0-9][a-z0-9_-]*$")],
) -> JSONLDResponse:
    """One dataset (``omop-<table>``, ``cohort-<name>``, ``stats-incidence`` …) as a JSON-LD
    document of its own; its ``@id`` is the stable IRI ``<public_url>/catalogue/datasets/<id>``."""
    node = find_dataset(read_catalogue_for(request), dataset_id)
    if node is None:
        raise HTTPException(status_code=404, detail="no such dataset in the catalogue")
    return JSONLDResponse(node)
