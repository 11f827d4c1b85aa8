"""``python -m tests.infra.moto_server -H 127.0.0.1 -p PORT``: moto's server, taught to import Chalice's API.

``chalice deploy`` creates its REST API by importing a Swagger 2.0 document (ImportRestApi, then PutRestApi). API
Gateway accepts Swagger 2.0 and turns a route's ``security: [{"api_key": []}]`` into ``apiKeyRequired``; moto 5
imports OpenAPI 3 only, requires ``info.description`` and ignores ``security``. This wrapper closes exactly that
gap (and nothing else), so the deploy test can check the API Chalice deployed.
"""

from __future__ import annotations

from typing import Any

from moto.apigateway.models import APIGatewayBackend
from moto.server import main

_import_rest_api = APIGatewayBackend.import_rest_api
_put_rest_api = APIGatewayBackend.put_rest_api


def _as_openapi3(document: dict[str, Any]) -> dict[str, Any]:
    converted = {key: value for key, value in document.items() if key != "swagger"}
    converted["openapi"] = "3.0.1"
    converted["info"] = {"description": "", **document.get("info", {})}
    return converted


def import_rest_api(self: APIGatewayBackend, api_doc: dict[str, Any], fail_on_warnings: bool) -> Any:
    return _import_rest_api(self, _as_openapi3(api_doc), fail_on_warnings)


def put_rest_api(self: APIGatewayBackend, function_id: str, api_doc: dict[str, Any], fail_on_warnings: bool,
                 mode: str = "merge") -> Any:
    api = _put_rest_api(self, function_id, _as_openapi3(api_doc), fail_on_warnings, mode)
    for path, methods in api_doc.get("paths", {}).items():
        for method, operation in methods.items():
            if any("api_key" in requirement for requirement in operation.get("security", [])):
                resource = api.get_resource_for_path(path)
                resource.resource_methods[method.upper()].api_key_required = True
    return api


APIGatewayBackend.import_rest_api = import_rest_api  # type: ignore[method-assign]
APIGatewayBackend.put_rest_api = put_rest_api  # type: ignore[method-assign]

if __name__ == "__main__":
    main()
